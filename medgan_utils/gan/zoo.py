"""Trained generators on disk: the shipped models, export/import, and seeded generation.

A generator is stored as a folder with ``generator.safetensors`` (weights) and
``generator.json`` (its :class:`~medgan_utils.gan.models.DCGANConfig` plus provenance, read
as a :class:`~medgan_utils.gan.record.GeneratorRecord`).
safetensors holds tensors only, so loading a model never runs code from the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from medgan_utils import registry
from medgan_utils.errors import DataError
from medgan_utils.gan.models import DCGANConfig, Generator
from medgan_utils.gan.record import GeneratorRecord
from medgan_utils.settings import atomic_path, check_seed
from medgan_utils.weights import build_and_load, first_non_finite

__all__ = [
    "CONDITIONAL_MODEL",
    "DEFAULT_MODEL",
    "SHIPPED_MODELS",
    "MAX_IMAGES",
    "list_models",
    "model_path",
    "check_served_id",
    "save_generator",
    "load_generator",
    "load_record",
    "generate",
    "interpolate",
    "latent_noise",
]

# name -> folder under medgan_utils/pretrained, from the registry (which pins their SHA-256)
SHIPPED_MODELS: dict[str, str] = {a.name: a.folder for a in registry.artefacts("generator")}
DEFAULT_MODEL = "brain-mri-dcgan-64"
#: The shipped class-conditional generator: one model for both classes of the labelled set
#: (label 0 = lesion, 1 = no_lesion), trained with a matching-aware discriminator.
CONDITIONAL_MODEL = "brain-mri-conditional-64"
MAX_IMAGES = 10_000  # per call: 10k 128x128 fp32 images are 650 MB


def list_models() -> dict[str, Path]:
    """The shipped models whose weights are on disk, name -> folder."""
    return {
        a.name: a.path
        for a in registry.artefacts("generator")
        if (a.path / "generator.safetensors").exists()
    }


def model_path(model: str | Path) -> Path:
    """Resolve a shipped model name, a run folder or a ``generator.safetensors`` path.

    Raises:
        DataError: not a model, or a shipped model whose files differ from the ones the
            project ships (:func:`medgan_utils.registry.verify_file`).
    """
    if str(model) in SHIPPED_MODELS:
        folder = registry.artefact(str(model)).path
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
    for name in ("generator.safetensors", "generator.json"):
        registry.verify_file(folder / name)  # shipped files only; once per process
    return folder


def check_served_id(model_id: str, folder: str | Path) -> None:
    """Refuse to serve the run ``folder`` under the id of a shipped model.

    The app (and anything else that names run folders) calls this before listing a run:
    a run called ``brain-mri-dcgan-64`` would otherwise replace the shipped model for every
    visitor. Ids are compared ignoring case, surrounding blanks and ``_``/``-``; the
    shipped model's own folder may keep its id.

    Raises:
        DataError: ``model_id`` is (or reads as) a shipped model's id; the message names it.
    """

    def key(name: str) -> str:
        return name.strip().casefold().replace("_", "-")

    for name in SHIPPED_MODELS:
        if key(model_id) != key(name):
            continue
        shipped = registry.artefact(name).path
        if Path(folder).resolve() != shipped.resolve():
            raise DataError(
                model_id,
                f"is the id of the shipped model {name}; serve {folder} under another id",
            )


def save_generator(
    G: Generator, config: DCGANConfig, folder: str | Path, info: dict[str, Any] | None = None
) -> Path:
    """Write ``generator.safetensors`` and ``generator.json`` into ``folder``, atomically.

    Raises:
        DataError: a weight is NaN or inf (a run that diverged); nothing is written, so an
            earlier good generator in ``folder`` stays.
    """
    from safetensors.torch import save_file

    folder = Path(folder)
    state = {k: v.detach().float().cpu().contiguous() for k, v in G.state_dict().items()}
    state.update({k: v for k, v in G.state_dict().items() if not v.is_floating_point()})
    bad = first_non_finite(state)
    if bad is not None:
        raise DataError(
            folder / "generator.safetensors",
            f"refusing to save weights holding NaN or inf ({bad}): the training diverged",
        )
    with atomic_path(folder / "generator.safetensors") as tmp:
        save_file(state, str(tmp))
    meta = {"model_config": config.to_dict(), **(info or {})}
    with atomic_path(folder / "generator.json") as tmp:
        tmp.write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return folder


def load_generator(
    model: str | Path, device: str | torch.device = "cpu"
) -> tuple[Generator, GeneratorRecord]:
    """Load a generator in eval mode, with its ``generator.json`` record.

    Args:
        model: a shipped model name (see :data:`SHIPPED_MODELS`), a folder, or the path
            of its ``generator.safetensors``.

    Returns:
        ``(G, record)``: the generator and its
        :class:`~medgan_utils.gan.record.GeneratorRecord` (typed attributes; also a
        read-only mapping with the JSON's keys, ``record["epochs"]``).

    Raises:
        DataError: unknown model, missing, unreadable or malformed JSON, corrupt weights,
            weights that do not fit the configuration or hold NaN or inf, or a shipped
            model whose files differ from the recorded SHA-256
            (:mod:`medgan_utils.registry`); the message names the file.
    """
    folder = model_path(model)
    record = GeneratorRecord.read(folder / "generator.json")
    # the shapes are checked from the file's header first: a generator.json asking for a
    # huge width is refused before anything is allocated
    G = build_and_load(
        lambda: Generator(record.model_config), folder / "generator.safetensors", "weights"
    )
    return G.to(device).eval(), record


def load_record(model: str | Path) -> GeneratorRecord:
    """The ``generator.json`` record of a shipped model name, a run folder or a
    ``generator.safetensors`` path, without loading the weights.

    Raises:
        DataError: as :func:`model_path`, or a missing, unreadable or malformed
            ``generator.json``; the message names the file.
    """
    return GeneratorRecord.read(model_path(model) / "generator.json")


def latent_noise(
    n: int, latent_dim: int, seed: int, truncation: float | None = None
) -> torch.Tensor:
    """The noise of ``n`` images for ``seed``: ``(n, latent_dim)``, drawn on the CPU.

    Row ``i`` is the same whatever ``n``: torch's CPU ``randn`` fills blocks of 16 values
    differently from shorter tails, so we always draw a multiple of 16 rows and slice.
    With ``truncation``, values with ``|z| > truncation`` are redrawn from the same seeded
    stream until none is left (the truncation trick: more typical, less diverse samples).

    Raises:
        ValueError: ``seed`` is not a whole number in ``0..MAX_SEED``
            (:func:`~medgan_utils.settings.check_seed`).
    """
    rng = torch.Generator().manual_seed(check_seed(seed))
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
    *,
    start: int = 0,
    stop: int | None = None,
    truncation: float | None = None,
) -> torch.Tensor:
    """Generate images ``start..stop-1`` of ``n`` from seeded noise: the one seeded path.

    The noise is :func:`latent_noise` ``(n, seed, truncation)``, drawn on the CPU from one
    ``torch.Generator`` seeded with ``seed``, so image ``i`` gets the same noise whichever
    ``start``/``stop`` chunk computes it, and (without truncation) whatever ``n``,
    ``batch_size`` or device (the generator runs in eval mode: BatchNorm uses its running
    statistics). The same call on the same machine gives bit-identical images; other
    batchings agree to float rounding. The CLI, the notebooks, the dashboards and the app
    (chunk by chunk, ``batch_size=16``) all generate through this function.

    Args:
        G: a generator (:func:`load_generator`).
        n: images in the whole request, 1 to :data:`MAX_IMAGES`.
        seed: noise seed.
        labels: class of each image for a conditional generator: an int for all, or ``(n,)``
            for the whole request (rows ``start..stop-1`` are used).
        batch_size: images per forward pass.
        start: first image to generate (default 0).
        stop: one past the last image (default ``n``).
        truncation: redraw noise values beyond this ``|z|`` (the truncation trick); ``None``:
            off.

    Returns:
        ``(stop - start, C, S, S)`` float32 CPU tensor in ``[-1, 1]``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_IMAGES:
        raise ValueError(f"number of images must be between 1 and {MAX_IMAGES}, got {n!r}")
    stop = n if stop is None else stop
    if not 0 <= start < stop <= n:
        raise ValueError(f"no images {start}..{stop} in a request of {n}")
    config = G.config
    noise = latent_noise(n, config.latent_dim, seed, truncation)[start:stop]
    if isinstance(labels, int):
        labels = torch.full((stop - start,), labels, dtype=torch.long)
    elif labels is not None:
        labels = torch.as_tensor(labels, dtype=torch.long)[start:stop]
    if config.conditional and labels is None:
        raise ValueError(f"a conditional generator needs labels in 0..{config.num_classes - 1}")
    if labels is not None and config.conditional and len(labels):
        low, high = int(labels.min()), int(labels.max())
        if low < 0 or high >= config.num_classes:
            bad = low if low < 0 else high
            raise ValueError(f"label {bad} is not a class: use 0..{config.num_classes - 1}")
    device = next(G.parameters()).device
    G.eval()
    out = []
    for i in range(0, stop - start, batch_size):
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
