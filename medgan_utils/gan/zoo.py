"""Trained generators on disk: the shipped models, export/import, and seeded generation.

A generator is stored as a folder with ``generator.safetensors`` (weights) and
``generator.json`` (its :class:`~medgan_utils.gan.models.DCGANConfig` plus provenance).
safetensors holds tensors only, so loading a model never runs code from the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from medgan_utils.errors import DataError
from medgan_utils.gan.models import DCGANConfig, Generator
from medgan_utils.settings import PRETRAINED, atomic_path
from medgan_utils.weights import load_state, read_json

__all__ = [
    "DEFAULT_MODEL",
    "SHIPPED_MODELS",
    "MAX_IMAGES",
    "list_models",
    "model_path",
    "save_generator",
    "load_generator",
    "generate",
    "export_pngs",
    "synthetic_stem",
    "interpolate",
    "latent_noise",
]

# name -> folder under medgan_utils/pretrained (weights committed; model card beside them)
SHIPPED_MODELS: dict[str, str] = {
    "brain-mri-dcgan-64": "brain_mri_dcgan_64",
    "brain-mri-lesion-dcgan-64": "brain_mri_lesion_dcgan_64",
}
DEFAULT_MODEL = "brain-mri-dcgan-64"
MAX_IMAGES = 10_000  # per call: 10k 128x128 fp32 images are 650 MB


def list_models() -> dict[str, Path]:
    """The shipped models whose weights are on disk, name -> folder."""
    return {
        name: PRETRAINED / sub
        for name, sub in SHIPPED_MODELS.items()
        if (PRETRAINED / sub / "generator.safetensors").exists()
    }


def model_path(model: str | Path) -> Path:
    """Resolve a shipped model name, a run folder or a ``generator.safetensors`` path."""
    if str(model) in SHIPPED_MODELS:
        folder = PRETRAINED / SHIPPED_MODELS[str(model)]
    else:
        folder = Path(model)
        if folder.suffix == ".safetensors":
            folder = folder.parent
    if not (folder / "generator.safetensors").exists():
        known = ", ".join(SHIPPED_MODELS)
        raise DataError(
            model,
            f"not a model: expected a shipped model name ({known}) or a folder with "
            "generator.safetensors and generator.json",
        )
    return folder


def save_generator(
    G: Generator, config: DCGANConfig, folder: str | Path, info: dict[str, Any] | None = None
) -> Path:
    """Write ``generator.safetensors`` and ``generator.json`` into ``folder``, atomically."""
    from safetensors.torch import save_file

    folder = Path(folder)
    state = {k: v.detach().float().cpu().contiguous() for k, v in G.state_dict().items()}
    state.update({k: v for k, v in G.state_dict().items() if not v.is_floating_point()})
    with atomic_path(folder / "generator.safetensors") as tmp:
        save_file(state, str(tmp))
    meta = {"model_config": config.to_dict(), **(info or {})}
    with atomic_path(folder / "generator.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return folder


def load_generator(
    model: str | Path, device: str | torch.device = "cpu"
) -> tuple[Generator, dict[str, Any]]:
    """Load a generator in eval mode, with its ``generator.json`` metadata.

    Args:
        model: a shipped model name (see :data:`SHIPPED_MODELS`), a folder, or the path
            of its ``generator.safetensors``.

    Raises:
        DataError: unknown model, missing or unreadable JSON, corrupt weights, or weights
            that do not fit the configuration; the message names the file.
    """
    folder = model_path(model)
    config, meta = read_json(
        folder / "generator.json",
        lambda d: DCGANConfig.from_dict(d["model_config"]),
        "model config",
    )
    G = load_state(Generator(config), folder / "generator.safetensors", "weights")
    return G.to(device).eval(), meta


def latent_noise(
    n: int, latent_dim: int, seed: int, truncation: float | None = None
) -> torch.Tensor:
    """The noise of ``n`` images for ``seed``: ``(n, latent_dim)``, drawn on the CPU.

    Row ``i`` is the same whatever ``n``: torch's CPU ``randn`` fills blocks of 16 values
    differently from shorter tails, so we always draw a multiple of 16 rows and slice.
    With ``truncation``, values with ``|z| > truncation`` are redrawn from the same seeded
    stream until none is left (the truncation trick: more typical, less diverse samples).
    """
    rng = torch.Generator().manual_seed(seed)
    rows = -(-n // 16) * 16
    z = torch.randn(rows, latent_dim, generator=rng)[:n].clone()
    if truncation is not None:
        if truncation <= 0:
            raise ValueError(f"truncation must be positive, got {truncation}")
        for _ in range(1000):
            outside = z.abs() > truncation
            if not outside.any():
                break
            z[outside] = torch.randn(int(outside.sum()), generator=rng)
    return z


@torch.no_grad()
def generate(
    G: Generator,
    n: int,
    seed: int = 0,
    labels: torch.Tensor | int | None = None,
    batch_size: int = 256,
) -> torch.Tensor:
    """Generate ``n`` images from seeded noise; the same seed gives the same images.

    The noise is drawn on the CPU from one ``torch.Generator`` seeded with ``seed``, so
    image ``i`` gets the same noise whatever ``n``, ``batch_size`` or device (the generator
    runs in eval mode: BatchNorm uses its running statistics). The same call on the same
    machine gives bit-identical images; other batchings agree to float rounding.

    Args:
        G: a generator (:func:`load_generator`).
        n: number of images, 1 to :data:`MAX_IMAGES`.
        seed: noise seed.
        labels: class of each image for a conditional generator: an int for all, or ``(n,)``.

    Returns:
        ``(n, C, S, S)`` float32 CPU tensor in ``[-1, 1]``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_IMAGES:
        raise ValueError(f"number of images must be between 1 and {MAX_IMAGES}, got {n!r}")
    config = G.config
    noise = latent_noise(n, config.latent_dim, seed)
    if isinstance(labels, int):
        labels = torch.full((n,), labels, dtype=torch.long)
    if config.conditional and labels is None:
        raise ValueError(f"a conditional generator needs labels in 0..{config.num_classes - 1}")
    device = next(G.parameters()).device
    G.eval()
    out = []
    for i in range(0, n, batch_size):
        y = labels[i : i + batch_size].to(device) if labels is not None else None
        out.append(G(noise[i : i + batch_size].to(device), y).float().cpu())
    return torch.cat(out)


def slerp(a: torch.Tensor, b: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation between noise vectors ``a`` and ``b`` ``(D,)`` at ``t`` ``(T,)``.

    Gaussian noise concentrates near a sphere of radius ``sqrt(D)``; a straight line
    between two samples passes closer to the origin, where the generator saw no inputs,
    so GAN papers (and this course) walk along the great circle instead.

    Returns:
        ``(T, D)``.
    """
    cos = torch.dot(a / a.norm(), b / b.norm()).clamp(-1.0, 1.0)
    omega = torch.arccos(cos)
    if omega.abs() < 1e-6:  # (anti)parallel: fall back to a straight line
        return (1 - t)[:, None] * a + t[:, None] * b
    return (
        torch.sin((1 - t) * omega)[:, None] * a + torch.sin(t * omega)[:, None] * b
    ) / torch.sin(omega)


@torch.no_grad()
def interpolate(
    G: Generator, seed_a: int, seed_b: int, steps: int = 8, label: int | None = None
) -> torch.Tensor:
    """Images along the path between the noise of ``seed_a`` and ``seed_b``.

    The end points are the first images :func:`generate` gives for those seeds.

    Returns:
        ``(steps, C, S, S)`` float32 CPU tensor in ``[-1, 1]``.
    """
    if steps < 2:
        raise ValueError(f"steps must be at least 2, got {steps}")
    d = G.config.latent_dim
    a, b = (latent_noise(1, d, s)[0] for s in (seed_a, seed_b))
    z = slerp(a, b, torch.linspace(0, 1, steps))
    labels = torch.full((steps,), label, dtype=torch.long) if label is not None else None
    device = next(G.parameters()).device
    G.eval()
    return G(z.to(device), labels.to(device) if labels is not None else None).float().cpu()


def synthetic_stem(model: str, seed: int) -> str:
    """``synthetic_<model>_seed<seed>``: how exported files of ``model`` and ``seed`` begin
    (image ``i`` adds ``_<i:04d>``), any character of ``model`` other than letters, digits,
    ``-`` and ``_`` written ``-``."""
    safe = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in model)
    return f"synthetic_{safe}_seed{seed}"


def export_pngs(
    images: torch.Tensor, out: str | Path, model: str, seed: int, nrow: int = 8
) -> list[Path]:
    """Write each image and a grid as PNG files marked synthetic, into a new or empty folder.

    Files are ``synthetic_<model>_seed<seed>_<i>.png`` and ``grid.png``; each carries PNG
    text chunks ``synthetic=true``, ``model`` and ``seed``. The bytes depend only on the
    images, so the same seed gives identical files. Each file is written atomically.

    Args:
        images: ``(N, C, S, S)`` in ``[-1, 1]``.

    Returns:
        The paths written, images first, ``grid.png`` last.
    """
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    from medgan_utils.viz import make_grid, to_uint8

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise DataError(out, "is not empty; choose a new --out so no file is overwritten")
    info = PngInfo()
    for key, value in (("synthetic", "true"), ("model", model), ("seed", str(seed))):
        info.add_text(key, value)
    pixels = to_uint8(images)
    paths = []
    for i, img in enumerate(pixels):
        array = img[0] if img.shape[0] == 1 else img.transpose(1, 2, 0)
        paths.append(out / f"{synthetic_stem(model, seed)}_{i:04d}.png")
        with atomic_path(paths[-1]) as tmp:
            Image.fromarray(array).save(tmp, format="PNG", pnginfo=info)
    paths.append(out / "grid.png")
    with atomic_path(paths[-1]) as tmp:
        Image.fromarray(make_grid(images, nrow)).save(tmp, format="PNG", pnginfo=info)
    return paths
