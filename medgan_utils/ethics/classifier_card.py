"""The model card of a lesion classifier: the same sections as a generator's card.

:func:`classifier_card` fills :data:`~medgan_utils.ethics.cards.SECTIONS` from a classifier's
metadata (written by :func:`~medgan_utils.downstream.classifier.save_classifier`) and the
``evaluation.json`` and ``audit.json`` beside it; :func:`~medgan_utils.ethics.cards.card_for`
calls it for classifiers, so ``medgan card lesion-classifier-synthetic`` prints it.
"""

from __future__ import annotations

import json
from pathlib import Path

from medgan_utils.ethics._card_parts import (
    code,
    energy_section,
    fmt,
    recorded,
    render,
    subgroup_section,
)

__all__ = ["classifier_card", "classifier_file", "is_classifier"]


def classifier_file(model: str | Path) -> Path:
    """The checkpoint of a shipped classifier name, or ``model`` itself as a path."""
    from medgan_utils.downstream.classifier import SHIPPED_CLASSIFIERS
    from medgan_utils.settings import PRETRAINED

    name = str(model)
    return PRETRAINED / SHIPPED_CLASSIFIERS[name] if name in SHIPPED_CLASSIFIERS else Path(model)


def is_classifier(model: str | Path) -> bool:
    """Whether ``model`` names a shipped classifier or a classifier checkpoint file."""
    from medgan_utils.downstream.classifier import SHIPPED_CLASSIFIERS

    path = Path(model)
    return str(model) in SHIPPED_CLASSIFIERS or (
        path.suffix == ".safetensors" and path.is_file() and path.name != "generator.safetensors"
    )


def classifier_card(model: str | Path, name: str | None = None) -> str:
    """The card of a lesion classifier (a shipped name or a ``save_classifier`` file), every
    section of :data:`~medgan_utils.ethics.cards.SECTIONS`, from its metadata and the
    ``evaluation.json`` and ``audit.json`` beside it.

    Raises:
        DataError: not a classifier checkpoint, or unreadable JSON.
    """
    from medgan_utils.downstream.classifier import load_classifier

    path = classifier_file(model)
    net, meta = load_classifier(path)
    folder = path.parent
    evaluation, audit = recorded(folder)
    shipped = str(model) != str(path)
    where = f"medgan_utils/pretrained/{folder.name}" if shipped else str(folder)
    cfg = net.config
    sources = meta.get("synthetic_sources")
    data = [
        f"- trained on: {meta.get('trained_on', 'not recorded')}",
        *([f"- sources (one generator per class): {json.dumps(sources)}"] if sources else []),
        f"- images: {meta.get('n_synthetic', '?')} for training, "
        f"{meta.get('n_synthetic_val', '?')} held out for early stopping",
        f"- classes: {', '.join(meta.get('classes', []))}; positive class "
        f"`{meta.get('positive_class', '?')}`",
    ]
    history = meta.get("history") or []
    training = [
        f"- command: {code(meta['command']) if meta.get('command') else 'not recorded'}",
        f"- hardware: {meta.get('hardware', 'not recorded')}",
        f"- wall time: {fmt(meta.get('wall_time_s', '?'))} s for {len(history)} epochs "
        "(early stopping on the held-out images' AUROC; decision threshold by Youden's J)",
        f"- architecture: {cfg.arch}, width {cfg.width}, {cfg.image_size}x{cfg.image_size} "
        f"input, {sum(p.numel() for p in net.parameters()):,} parameters",
        "- optimisation: "
        + ", ".join(f"{k}={v}" for k, v in (meta.get("fit_config") or {}).items()),
    ]
    metrics = [
        "- on its held-out synthetic images: "
        + ", ".join(f"{k} {fmt(v)}" for k, v in (meta.get("synthetic_val_metrics") or {}).items())
    ]
    real = (evaluation or {}).get("real_test")
    if real:
        metrics.append(
            "- on real scans ("
            + str(evaluation.get("call", ""))
            + "): "
            + ", ".join(
                f"{k} {fmt(v['value'])} [{fmt(v['low'])}, {fmt(v['high'])}]"
                for k, v in real.items()
            )
        )
        if evaluation.get("reading"):
            metrics.append(f"- reading: {evaluation['reading']}")
    else:
        metrics.append(
            "- Not measured on real scans: run `medgan finetune --real builtin-labelled "
            "--strategy pretrain --pretrained MODEL` or `medgan audit --model MODEL`."
        )
    body = {
        "Intended use": [
            "Teaching: the starting point that chapter 6 fine-tunes on a few real scans, to "
            "measure what pre-training on synthetic scans adds."
        ],
        "Out-of-scope use": [
            "Any clinical or diagnostic use; lesion detection on real patients; any use "
            "without fine-tuning and validation on real data."
        ],
        "Data": data,
        "Training": training,
        "Metrics": metrics,
        "Subgroup results": subgroup_section(audit, f"`{where}`"),
        "Memorization": [
            "Not applicable: a classifier outputs a lesion probability, not images. "
            "(Membership inference against classifiers exists, but it was not assessed.)"
        ],
        "Energy": energy_section(meta),
        "Limitations": [
            "- Trained on synthetic images only, from one generator per class: it can learn "
            "to tell the generators apart (their artefacts) rather than lesions; compare its "
            "score on held-out synthetic images with its score on real scans.",
            f"- {cfg.image_size}x{cfg.image_size} single slices of virtual subjects derived "
            "from one template brain with simulated lesions; no real population or pathology.",
            "- Its decision threshold was chosen on synthetic images; on real scans the "
            "threshold needs choosing again (chapter 6 fine-tunes it).",
        ],
        "Licence": [
            "- weights: MIT, like the project",
            "- training data: synthetic images of the shipped generators (MNI152 template "
            "distributed by nilearn under its own permissive licence)",
        ],
    }
    title = name or (str(model) if str(model) == path.name or "/" not in str(model) else path.stem)
    intro = (
        f"A ResNet-style lesion classifier of {cfg.image_size}x{cfg.image_size} grey-scale "
        f"slices (one logit: `{meta.get('positive_class', 'positive')}`). Written by "
        f"`medgan card {model}` from its metadata and the files beside it."
    )
    return render(title, intro, body)
