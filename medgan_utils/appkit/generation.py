"""Generating the app's images: load a model once, then generate a request chunk by chunk.

- :func:`load_model`: one of our generators in memory (warmed up, so the first click is
  fast), or medigan's package fetched (downloaded on first use) and checked.
- :func:`chunk_bounds`: the generator calls of a request. Ours generate
  :data:`CHUNK_PIXELS` pixels per call (a whole request of 64 x 64 images at once, 16 images
  of 128 x 128), and the page shows each chunk as soon as it is ready; medigan's generate a
  request in one call.
- :func:`generate_pngs`: images ``start..stop-1`` of a request as PNG bytes marked synthetic.
  Ours come from :func:`medgan_utils.gan.zoo.generate` (``start``/``stop``/``truncation``),
  the one seeded path of the project, so image ``i`` is the same whichever chunk computes it;
  images up to 64 x 64 come in one pass, as ``medgan generate`` makes them, so the app's files
  equal the CLI's. medigan's come from
  :func:`medgan_utils.hub.generate.generate`. Names and marks follow
  :mod:`medgan_utils.exports`.
"""

from __future__ import annotations

import io
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from medgan_utils.appkit.request import MAX_COUNT, GenerationRequest, InvalidRequest
from medgan_utils.errors import DataError
from medgan_utils.exports import png_bytes, synthetic_marks
from medgan_utils.hub.catalog import Catalog
from medgan_utils.hub.entries import ModelCard, class_options

if TYPE_CHECKING:
    from medgan_utils.gan.models import Generator

__all__ = [
    "CHUNK_PIXELS",
    "LoadedModel",
    "load_model",
    "chunk_size",
    "chunk_bounds",
    "image_labels",
    "generate_pngs",
    "decode_pngs",
]

# Pixels per generator call: 64 images of 64 x 64 (a whole request), 16 of 128 x 128. One pass
# is faster than several (and leaves the CPU to the browser while it runs); larger images come
# in chunks that the page shows as soon as each is ready.
CHUNK_PIXELS = 64 * 64 * 64


@dataclass
class LoadedModel:
    """A model ready to generate: our generator in memory, or medigan's package on disk."""

    model_id: str
    card: ModelCard
    catalog: Catalog = field(repr=False)
    generator: Generator | None = field(default=None, repr=False)
    meta: Mapping[str, Any] = field(default_factory=dict, repr=False)  # our GeneratorRecord
    folder: Path | None = None
    # One pass at a time per model: sessions queue for the CPU instead of splitting it (and
    # memory holds one batch's activations, not one per session).
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    @property
    def ours(self) -> bool:
        return self.generator is not None


def load_model(catalog: Catalog, model_id: str) -> LoadedModel:
    """Load one of our generators, or fetch (download on first use) and check medigan's.

    Raises:
        ModelNotAvailableError: not on disk and cannot be downloaded now.
        MissingDependenciesError: the model needs pip packages that are not installed.
        DataError: a broken model or package.
    """
    from medgan_utils.errors import MissingDependenciesError
    from medgan_utils.gan.zoo import load_generator
    from medgan_utils.hub.catalog import missing_dependencies
    from medgan_utils.hub.generate import fetch_model

    model_id = catalog.resolve(model_id)
    card = catalog.card(model_id)
    folder = catalog.local.get(model_id)
    if folder is not None:
        G, meta = load_generator(folder)
        loaded = LoadedModel(model_id, card, catalog, G, meta, Path(folder))
        with torch.no_grad():  # a first forward pass sets up the kernels: the first click is fast
            n = chunk_size(loaded)
            y = torch.zeros(n, dtype=torch.long) if G.config.conditional else None
            G(torch.zeros(n, G.config.latent_dim), y)
        return loaded
    missing = missing_dependencies(catalog.entries[model_id])
    if missing:
        raise MissingDependenciesError(model_id, f"needs {', '.join(missing)}")
    return LoadedModel(model_id, card, catalog, folder=fetch_model(model_id, catalog))


def chunk_size(model: LoadedModel) -> int:
    """Images per call of our generator: :data:`CHUNK_PIXELS` worth, at least 1, at most
    :data:`~medgan_utils.appkit.request.MAX_COUNT` (a whole request)."""
    G = model.generator
    size = G.config.image_size if G is not None else max(model.card.image_size)
    return max(1, min(MAX_COUNT, CHUNK_PIXELS // max(size * size, 1)))


def chunk_bounds(model: LoadedModel, count: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of each generator call: :func:`chunk_size` images for ours, all at
    once for medigan's (medigan generates a whole request in one call)."""
    step = chunk_size(model) if model.ours else count
    return [(i, min(i + step, count)) for i in range(0, count, step)]


def image_labels(model: LoadedModel, request: GenerationRequest) -> list[str | None]:
    """The class of each image (``None`` for unconditional models); ``label=None`` on a
    conditional model of ours gives a balanced set (classes in turn)."""
    classes = class_options(model.card)
    if request.label is not None:
        return [request.label] * request.count
    if model.ours and classes:
        return [classes[i % len(classes)] for i in range(request.count)]
    return [None] * request.count


def _as_uint8(image: Any) -> np.ndarray:
    """One image medigan returned (array, or a tuple with the image first) as ``uint8``."""
    a = np.asarray(image[0] if isinstance(image, tuple) else image)
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        a = np.clip(a * 255 if a.max() <= 1.0 else a, 0, 255).round().astype(np.uint8)
    return a


def generate_pngs(
    model: LoadedModel, request: GenerationRequest, start: int, stop: int
) -> list[bytes]:
    """Images ``start..stop-1`` of ``request`` as PNG bytes marked synthetic.

    Image ``i`` is the same whichever chunk computes it: ours are
    ``zoo.generate(G, count, seed, labels, chunk_size(model), start=start, stop=stop,
    truncation=truncation)``; for requests of one chunk (64 x 64 images) these are byte for
    byte the files ``medgan generate`` writes.
    """
    from medgan_utils.viz import to_uint8

    if not 0 <= start < stop <= request.count:
        raise InvalidRequest(f"no images {start}..{stop} in a request of {request.count}")
    labels = image_labels(model, request)
    G = model.generator
    pixels: Sequence[np.ndarray]
    if G is not None:  # ours
        from medgan_utils.gan.zoo import generate

        y = None
        if G.config.conditional:
            index = {c: i for i, c in enumerate(class_options(model.card))}
            y = torch.tensor([index[str(c)] for c in labels], dtype=torch.long)
        with model.lock:
            images = generate(
                G,
                request.count,
                request.seed,
                y,
                chunk_size(model),
                start=start,
                stop=stop,
                truncation=request.truncation,
            )
        pixels = list(to_uint8(images))
    else:
        from medgan_utils.hub.generate import generate as medigan_generate

        kwargs: dict[str, Any] = {}
        if request.label is not None:
            kwargs["condition"] = int(request.label)
        given = medigan_generate(
            model.model_id, request.count, request.seed, catalog=model.catalog, **kwargs
        )
        if len(given) < stop:
            raise DataError(model.model_id, f"gave {len(given)} images, {stop} were asked for")
        pixels = [_as_uint8(x) for x in given[start:stop]]
    return [
        png_bytes(p, synthetic_marks(model.model_id, request.seed, lab, request.truncation))
        for p, lab in zip(pixels, labels[start:stop], strict=True)
    ]


def decode_pngs(pngs: Sequence[bytes]) -> torch.Tensor:
    """PNG bytes (one size) as ``(N, C, H, W)`` float32 in ``[-1, 1]``."""
    from PIL import Image

    arrays = [np.asarray(Image.open(io.BytesIO(b))) for b in pngs]
    x = np.stack([a[None] if a.ndim == 2 else a.transpose(2, 0, 1) for a in arrays])
    return torch.from_numpy(x.astype(np.float32) / 127.5 - 1.0)
