"""Model cards: a Markdown page per trained generator, written from its recorded metadata.

Everything on the card comes from ``generator.json`` (written by training) and, where
given, evaluation results; nothing is typed in by hand, so the card cannot drift from the
model it describes.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .settings import atomic_path

__all__ = ["model_card", "write_model_card"]

INTENDED_USE = (
    "Teaching and method development: learning how GANs are trained, evaluated and audited, "
    "and producing synthetic images to test data pipelines."
)
OUT_OF_SCOPE = (
    "Any clinical or diagnostic use; claims about real patient populations; training "
    "models meant for real patients without validation on real data."
)


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def model_card(name: str, meta: dict[str, Any], metrics: dict[str, Any] | None = None) -> str:
    """Render the Markdown card of generator ``name`` from its ``generator.json`` ``meta``.

    Args:
        name: the model's name (shipped name or run folder name).
        meta: the contents of ``generator.json``.
        metrics: optional evaluation results, name -> text such as
            ``"23.1 (real-vs-real floor 4.2)"``.
    """
    cfg = meta.get("model_config", {})
    train = meta.get("train_config", {})
    history = meta.get("history") or []
    last = history[-1] if history else {}
    size = cfg.get("image_size", "?")
    lines = [
        f"# Model card: {name}",
        "",
        f"A DCGAN generator (Radford et al., 2015) of {size}x{size} images with "
        f"{cfg.get('channels', 1)} channel(s). **Every image it produces is synthetic.**",
        "",
        "## Intended use",
        INTENDED_USE,
        "",
        "## Out of scope",
        OUT_OF_SCOPE,
        "",
        "## Training data",
        f"- dataset: `{meta.get('data', '?')}` {json.dumps(meta.get('data_options', {}))}, "
        f"{meta.get('n_images', '?')} images",
    ]
    if str(meta.get("data", "")).startswith("builtin"):
        lines.append(
            "- the built-in set is derived from one brain (the MNI152 2009a T1 template shipped "
            "by nilearn) with simulated subject and scanner variation: not patient data"
        )
    lines += [
        "",
        "## Training",
        f"- command: `{' '.join(meta.get('command', [])) or '?'}`",
        f"- hardware: {meta.get('hardware', '?')}; precision {meta.get('precision', '?')}",
        f"- wall time: {_fmt(meta.get('wall_time_s', '?'))} s for {meta.get('epochs', '?')} epochs",
        "- architecture: " + ", ".join(f"{k}={v}" for k, v in cfg.items()),
        "- optimisation: " + ", ".join(f"{k}={v}" for k, v in train.items()),
    ]
    if meta.get("notes"):
        lines.append(f"- notes: {meta['notes']}")
    if last:
        lines.append(
            "- last epoch: " + ", ".join(f"{k} {_fmt(v)}" for k, v in last.items() if k != "epoch")
        )
    lines += ["", "## Evaluation"]
    if metrics:
        lines += [f"- {k}: {v}" for k, v in metrics.items()]
    else:
        lines.append("Not evaluated yet: run `medgan metrics` and regenerate this card.")
    lines += [
        "",
        "## Limitations",
        "- Trained on a small, template-derived set: it reproduces that set's anatomy and "
        "simulated variation, nothing more.",
        "- GAN samples can contain artefacts that look anatomical; never read them clinically.",
        "",
        "## Licence",
        "MIT, like the project. The MNI152 2009a template is distributed by nilearn under its "
        "own permissive licence (McConnell Brain Imaging Centre).",
        "",
    ]
    return "\n".join(lines)


def write_model_card(
    folder: str | Path, name: str | None = None, metrics: dict[str, Any] | None = None
) -> Path:
    """Write ``MODEL_CARD.md`` into a generator folder from its ``generator.json``."""
    folder = Path(folder)
    meta = json.loads((folder / "generator.json").read_text())
    path = folder / "MODEL_CARD.md"
    with atomic_path(path) as tmp:
        tmp.write_text(model_card(name or folder.name, meta, metrics))
    return path
