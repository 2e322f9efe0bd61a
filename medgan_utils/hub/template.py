"""The ``__init__.py`` of every medigan model package this project builds.

:mod:`medgan_utils.hub.export` copies this file, unchanged, into a package beside
``dcgan.py`` (a standalone copy of :mod:`medgan_utils.gan.models`), ``generator.safetensors``
and ``generator.json``. medigan imports the package and calls :func:`generate` with the
four base arguments of its model-package format. The file therefore imports nothing from
``medgan_utils``: only torch, numpy, Pillow, safetensors and the package's own ``dcgan``.
Inside ``medgan_utils`` it is never imported as a package module; it is data for the builder.

Every image it returns or writes is synthetic; written files say so in their names
(``synthetic_...png``) and in a PNG text chunk ``synthetic=true``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import torch


def _load(model_file: Path, meta: dict[str, Any], device: torch.device) -> Any:
    """The generator of ``generator.safetensors`` in eval mode."""
    from safetensors.torch import load_file

    from .dcgan import DCGANConfig, Generator  # the package's copy of the architecture

    with torch.random.fork_rng(devices=[]):  # the random init must not move the seeded RNG
        G = Generator(DCGANConfig.from_dict(meta["model_config"]))
    G.load_state_dict(load_file(str(model_file)))
    return G.to(device).eval()


def _labels(condition: Any, n: int, classes: list[str]) -> torch.Tensor | None:
    """Class indices ``(n,)``: one class (index or name), or balanced when ``None``."""
    if not classes:
        if condition is not None:
            raise ValueError(
                f"this model is unconditional; condition must be None, got {condition}"
            )
        return None
    if condition is None:  # a balanced set, as medigan's conditional DCGANs do
        return torch.arange(n) % len(classes)
    index = classes.index(condition) if isinstance(condition, str) else int(condition)
    if not 0 <= index < len(classes):
        raise ValueError(f"condition must be one of {classes} or 0..{len(classes) - 1}")
    return torch.full((n,), index, dtype=torch.long)


@torch.no_grad()
def generate(
    model_file: str,
    num_samples: int,
    output_path: str,
    save_images: bool,
    condition: int | str | None = None,
    gpu_id: int | None = None,
) -> list[Any] | None:
    """Generate ``num_samples`` synthetic images (medigan's base arguments first).

    Noise comes from torch's global random generator, so seed it (medigan passes no seed).

    Args:
        model_file: path of ``generator.safetensors`` (medigan passes it).
        num_samples: number of images; 0 gives none.
        output_path: folder for the PNG files when ``save_images``.
        save_images: write PNG files (and return ``None``) instead of returning arrays.
        condition: for a conditional model, a class index or name; ``None`` gives a
            balanced set of all classes.
        gpu_id: CUDA device index; default the first GPU if there is one, else the CPU.

    Returns:
        Without ``save_images``: a list of ``(S, S, C)`` uint8 arrays, or for a
        conditional model a list of ``(array, class name)`` tuples (medigan reads the
        name as the label).
    """
    cuda = torch.cuda.is_available()
    device = torch.device(f"cuda:{gpu_id or 0}" if cuda else "cpu")
    weights = Path(model_file)
    meta = json.loads(weights.with_suffix(".json").read_text())
    conditional = bool(meta["model_config"].get("num_classes"))
    classes = list(meta.get("classes") or []) if conditional else []  # one-class models
    labels = _labels(condition, num_samples, classes)
    # Drawn on the CPU (any device gives the same noise), a multiple of 16 rows and sliced,
    # as medgan_utils.gan.zoo.latent_noise does: torch fills short tails differently.
    rows = -(-num_samples // 16) * 16
    z = torch.randn(rows, meta["model_config"].get("latent_dim", 100))[:num_samples]
    G = _load(weights, meta, device)
    images = []
    for i in range(0, num_samples, 256):
        y = labels[i : i + 256].to(device) if labels is not None else None
        images.append(G(z[i : i + 256].to(device), y).float().cpu())
    x = torch.cat(images) if images else torch.zeros(0, G.config.channels, 1, 1)
    pixels = np.round((x.clamp(-1, 1).numpy() + 1.0) * 127.5).astype(np.uint8)
    pixels = pixels.transpose(0, 2, 3, 1)  # (N, S, S, C)
    names = [classes[int(k)] for k in labels] if labels is not None else [None] * num_samples
    if save_images:
        _save(pixels, names, Path(output_path), weights.parent.name)
        return None
    return [(p, c) if c is not None else p for p, c in zip(pixels, names, strict=True)]


def _save(pixels: np.ndarray, names: list[str | None], out: Path, package: str) -> None:
    """Write ``synthetic_<package>_<i>[_<class>].png`` files marked synthetic."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    out.mkdir(parents=True, exist_ok=True)
    for i, (img, name) in enumerate(zip(pixels, names, strict=True)):
        info = PngInfo()
        info.add_text("synthetic", "true")
        info.add_text("model", package)
        if name is not None:
            info.add_text("label", name)
        suffix = f"_{name}" if name is not None else ""
        array = img[..., 0] if img.shape[-1] == 1 else img
        Image.fromarray(array).save(out / f"synthetic_{package}_{i:04d}{suffix}.png", pnginfo=info)
