"""What the Streamlit app computes, as plain functions; ``app/streamlit_app.py`` lays them out.

- **Choosing a model** over the unified catalog (:func:`model_choices`): the shipped models
  are ready at once; medigan's models are listed with modality, image size and "downloads on
  first use", or "needs input images" for image-to-image models.
- **Validating a request** (:func:`validate_request`) on the server, whatever the widgets or
  the URL allowed: the model, 1 to :data:`MAX_COUNT` images (fewer for large images), the
  seed, the class and the truncation.
- **Generating** (:func:`generate_pngs`): our generators chunk by chunk (the page shows each
  chunk as it comes) from the noise :func:`medgan_utils.gan.zoo.generate` draws, medigan's models
  through :func:`medgan_utils.hub.generate.generate`. Images are PNG bytes marked synthetic
  (PNG text chunks and file names, as ``medgan generate`` writes them).
- **Downloads**: :func:`build_zip` (PNGs, ``grid.png``, ``manifest.csv`` and the model card,
  :func:`card_markdown`).
- **Messages**: :func:`user_message` turns any error into one short sentence; the details
  belong in the server log.

The views beyond generation (metrics, interpolation, memorization, the visual Turing test)
are in :mod:`medgan_utils.appkit.views`. Nothing here imports Streamlit, so the CLI, notebooks
and tests use the same functions.
"""

from __future__ import annotations

import csv
import io
import os
import re
import secrets
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from medgan_utils.errors import DataError
from medgan_utils.gan.zoo import latent_noise
from medgan_utils.hub.catalog import Catalog, load_catalog
from medgan_utils.hub.entries import ModelCard, matches

if TYPE_CHECKING:
    from medgan_utils.gan.models import Generator

__all__ = [
    "MAX_COUNT",
    "MAX_SEED",
    "CHUNK",
    "ETHICS",
    "InvalidRequest",
    "GenerationRequest",
    "ModelChoice",
    "LoadedModel",
    "catalog_key",
    "load_app_catalog",
    "modality_choices",
    "modality_of",
    "model_choices",
    "class_options",
    "missing_packages",
    "catalog_table",
    "supports_truncation",
    "max_count",
    "check_integer",
    "validate_request",
    "query_request",
    "query_params",
    "random_seed",
    "load_model",
    "chunk_bounds",
    "generate_pngs",
    "png_bytes",
    "decode_pngs",
    "file_name",
    "zip_name",
    "manifest_csv",
    "build_zip",
    "card_markdown",
    "user_message",
]

MAX_COUNT = 64  # images per request
MAX_SEED = 2**32 - 1
CHUNK = 16  # images per generator call: the page shows each chunk as soon as it is ready
MAX_PIXELS = MAX_COUNT * 256 * 256  # per request: 64 images of 256 x 256 (4 MB of uint8)
TRUNCATIONS = (2.0, 1.5, 1.0, 0.7, 0.5)  # offered truncation thresholds (|z| <= t)
MODELS_ENV = "MEDGAN_APP_MODELS"  # more run folders to serve: "my-run=runs/brain64,other=..."
ALL_MODALITIES = "All modalities"
MODALITIES = {
    "MRI": "mri",
    "Mammography": "mammography",
    "X-ray": "x-ray",
    "Endoscopy": "endoscopy",
}
READY, DOWNLOADS, NEEDS_INPUT = "ready", "downloads on first use", "needs input images"
ETHICS = (
    "Every image this app generates is **synthetic**: made by a GAN, not taken from a patient. "
    "The files you download say so in their names and PNG metadata. For teaching and method "
    "development only, never for diagnosis; check the model card and the memorization view "
    "before you use the images anywhere."
)


class InvalidRequest(ValueError):
    """A request the app refuses; the message is short and safe to show to users."""


# --------------------------------------------------------------------------- the catalog


@dataclass(frozen=True)
class ModelChoice:
    """One entry of the model picker."""

    model_id: str
    label: str  # what the picker shows: id, modality, image size, status
    status: str  # READY, DOWNLOADS or NEEDS_INPUT
    card: ModelCard = field(compare=False, repr=False)

    @property
    def ours(self) -> bool:
        return self.card.source == "medgan-utils"


def catalog_key() -> tuple[str | None, str | None]:
    """What selects the app's catalog: ``$MEDGAN_CATALOG`` and ``$MEDGAN_APP_MODELS``."""
    return os.environ.get("MEDGAN_CATALOG") or None, os.environ.get(MODELS_ENV) or None


def load_app_catalog(
    catalog: str | None = None, models: str | None = None, timeout: float = 5.0
) -> tuple[Catalog, list[str]]:
    """The unified catalog the app serves, and problems worth a warning.

    Args:
        catalog: a medigan ``global.json`` (default: cached or downloaded, see
            :func:`~medgan_utils.hub.catalog.load_catalog`).
        models: more of our run folders to serve, ``"id=folder,id2=folder2"``; folders that
            hold no generator are left out and reported.
        timeout: seconds the catalog download may take (once per server start).
    """
    from medgan_utils.gan.zoo import model_path

    local, problems = {}, []
    for item in filter(None, (s.strip() for s in (models or "").split(","))):
        model_id, _, folder = item.partition("=")
        try:
            local[model_id.strip()] = model_path(folder.strip())
        except DataError as err:
            problems.append(f"{MODELS_ENV}: '{item}' left out ({err.reason})")
    try:
        cat = load_catalog(catalog, local_models=local, timeout=timeout)
    except DataError as err:  # an unreadable catalog file: serve our models only
        problems.append(f"the catalog {catalog} could not be read ({err.reason})")
        cat = load_catalog(catalog=None, local_models=local, download=False)
    if cat.note:
        problems.append(
            "medigan's official models are not listed: its catalog could not be downloaded "
            "(the network is unreachable or downloads are off). The shipped models work offline."
        )
    return cat, problems


def _status(card: ModelCard) -> str:
    if card.needs_input:
        return NEEDS_INPUT
    return READY if card.source == "medgan-utils" or card.on_disk else DOWNLOADS


def modality_of(card: ModelCard) -> str:
    """The modality group the picker shows (``"MRI"``, ``"Mammography"``, ...)."""
    for label, query in MODALITIES.items():
        if matches(query, card.modality):
            return label
    return card.modality[0] if card.modality else "modality not recorded"


def modality_choices(catalog: Catalog) -> list[str]:
    """:data:`ALL_MODALITIES`, then the modality groups that have at least one model."""
    cards = catalog.cards()
    groups = [m for m, q in MODALITIES.items() if any(matches(q, c.modality) for c in cards)]
    return [ALL_MODALITIES, *groups]


def model_choices(catalog: Catalog, modality: str = ALL_MODALITIES) -> list[ModelChoice]:
    """The picker's entries: our models first, then medigan's, filtered by modality group."""
    query = MODALITIES.get(modality)
    cards = catalog.search(modality=query) if query else catalog.cards()
    cards.sort(key=lambda c: (c.source != "medgan-utils", c.model_id))
    out = []
    for card in cards:
        status = _status(card)
        h, w = card.image_size
        size = f"{h}x{w}" if h else "size not recorded"
        if status == DOWNLOADS and card.package_size:
            status_text = f"{status} ({card.package_size / 1e6:.0f} MB)"
        else:
            status_text = status
        label = f"{card.model_id} · {modality_of(card)} · {size} · {status_text}"
        out.append(ModelChoice(card.model_id, label, status, card))
    return out


def missing_packages(card: ModelCard) -> list[str]:
    """The pip packages a medigan model needs that this server lacks (none for ours)."""
    from medgan_utils.hub.catalog import missing_dependencies

    return [] if card.source == "medgan-utils" else missing_dependencies(card.entry)


def catalog_table(choices: Sequence[ModelChoice]) -> list[dict[str, str]]:
    """One row per model of the picker: what it is and whether it can run here."""
    rows = []
    for c in choices:
        h, w = c.card.image_size
        missing = missing_packages(c.card)
        rows.append(
            {
                "model": c.model_id,
                "source": c.card.source,
                "modality": modality_of(c.card),
                "type": c.card.generator_type,
                "size": f"{h}x{w}" if h else "?",
                "status": c.status,
                "missing packages": ", ".join(m.split(" (")[0] for m in missing) or "-",
            }
        )
    return rows


def class_options(card: ModelCard) -> list[str]:
    """Classes a conditional model takes (``[]`` for unconditional models).

    Our models list their class names; medigan's conditional models describe theirs in the
    catalog's ``inputs`` text (``"condition: ... Either 0, 1 or None ..."``).
    """
    if not card.conditional:
        return []
    if card.classes:
        return list(card.classes)
    for text in card.entry.get("description", {}).get("inputs") or []:
        m = re.search(r"condition:.*?[Ee]ither ([\d, ]+?),? or None", str(text))
        if m:
            return re.findall(r"\d+", m.group(1))
    return []


def supports_truncation(card: ModelCard) -> bool:
    """Truncation needs our own noise: offered for our unconditional and conditional DCGANs."""
    return card.source == "medgan-utils"


def max_count(card: ModelCard) -> int:
    """Images one request may ask of this model: :data:`MAX_COUNT`, fewer for large images."""
    h, w = card.image_size
    return max(1, min(MAX_COUNT, MAX_PIXELS // max(h * w, 1)))


# --------------------------------------------------------------------------- requests


@dataclass(frozen=True)
class GenerationRequest:
    """A validated request: the cache key of its images (model, count, seed, options)."""

    model_id: str
    count: int
    seed: int
    label: str | None = None  # class name (ours) or condition (medigan); None: balanced
    truncation: float | None = None  # resample noise values beyond this |z|; None: off

    def describe(self) -> str:
        extra = [f"class {self.label}"] if self.label is not None else []
        extra += [f"truncation {self.truncation}"] if self.truncation is not None else []
        return f"{self.model_id}, seed {self.seed}" + "".join(f", {e}" for e in extra)


def check_integer(value: Any, what: str, low: int, high: int) -> int:
    """``value`` as an int in ``low..high``: ints, integral floats and digit strings (from
    URLs) pass; booleans, fractions, NaN and anything else raise :class:`InvalidRequest`."""
    if isinstance(value, bool):
        raise InvalidRequest(f"{what} must be a whole number, not {value!r}")
    if isinstance(value, str):
        value = value.strip()
        if not re.fullmatch(r"[+-]?\d{1,20}", value):
            raise InvalidRequest(f"{what} must be a whole number, got {value[:20]!r}")
        value = int(value)
    elif isinstance(value, (float, np.floating)):
        if not np.isfinite(value) or value != int(value):
            raise InvalidRequest(f"{what} must be a whole number, got {value!r}")
        value = int(value)
    elif not isinstance(value, (int, np.integer)):
        raise InvalidRequest(f"{what} must be a whole number")
    if not low <= int(value) <= high:
        raise InvalidRequest(f"{what} must be between {low} and {high}, got {value}")
    return int(value)


def validate_request(
    catalog: Catalog,
    model_id: Any,
    count: Any,
    seed: Any,
    label: Any = None,
    truncation: Any = None,
) -> GenerationRequest:
    """Check everything a request asks for, whatever the widgets (or the URL) allowed.

    Raises:
        InvalidRequest: with a short message for the user.
    """
    if not isinstance(model_id, str) or model_id not in catalog:
        raise InvalidRequest(f"unknown model {str(model_id)[:60]!r}: pick one from the list")
    card = catalog.card(model_id)
    if card.needs_input:
        raise InvalidRequest(
            f"{model_id} translates or inpaints input images; this app generates from noise "
            "only (use medigan or `medgan generate` with the model's input arguments)"
        )
    count = check_integer(count, "the number of images", 1, max_count(card))
    seed = check_integer(seed, "the seed", 0, MAX_SEED)
    classes = class_options(card)
    if label is not None and str(label) not in classes:
        known = ", ".join(classes) or "none: the model is not conditional"
        raise InvalidRequest(f"unknown class {str(label)[:40]!r} for {model_id} ({known})")
    if truncation is not None:
        if not supports_truncation(card):
            raise InvalidRequest("truncation is offered for the project's own models only")
        try:
            truncation = float(truncation)
        except (TypeError, ValueError):
            raise InvalidRequest("truncation must be a number") from None
        if not 0.1 <= truncation <= 3.0:
            raise InvalidRequest(f"truncation must be between 0.1 and 3, got {truncation}")
    label = None if label is None else str(label)
    return GenerationRequest(model_id, count, seed, label, truncation)


def query_request(catalog: Catalog, params: Mapping[str, str]) -> GenerationRequest | None:
    """The request of a shared link (``?model=...&n=16&seed=3[&label=...][&truncation=1]``).

    Returns ``None`` when the link asks for nothing. Raises :class:`InvalidRequest` for a
    link that asks for something invalid.
    """
    if not {"model", "n", "seed"} <= set(params):
        return None
    return validate_request(
        catalog,
        params["model"],
        params["n"],
        params["seed"],
        params.get("label"),
        params.get("truncation"),
    )


def query_params(request: GenerationRequest) -> dict[str, str]:
    """The URL query that reproduces ``request`` (the inverse of :func:`query_request`)."""
    out = {"model": request.model_id, "n": str(request.count), "seed": str(request.seed)}
    if request.label is not None:
        out["label"] = request.label
    if request.truncation is not None:
        out["truncation"] = str(request.truncation)
    return out


def random_seed() -> int:
    return secrets.randbelow(MAX_SEED + 1)


# --------------------------------------------------------------------------- generation


@dataclass
class LoadedModel:
    """A model ready to generate: our generator in memory, or medigan's package on disk."""

    model_id: str
    card: ModelCard
    catalog: Catalog = field(repr=False)
    generator: Generator | None = field(default=None, repr=False)
    meta: dict[str, Any] = field(default_factory=dict, repr=False)
    folder: Path | None = None

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
        with torch.no_grad():  # a first forward pass sets up the kernels: the first click is fast
            y = torch.zeros(CHUNK, dtype=torch.long) if G.config.conditional else None
            G(torch.zeros(CHUNK, G.config.latent_dim), y)
        return LoadedModel(model_id, card, catalog, G, meta, Path(folder))
    missing = missing_dependencies(catalog.entries[model_id])
    if missing:
        raise MissingDependenciesError(model_id, f"needs {', '.join(missing)}")
    return LoadedModel(model_id, card, catalog, folder=fetch_model(model_id, catalog))


def chunk_bounds(model: LoadedModel, count: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of each generator call: :data:`CHUNK` images for ours, all at once
    for medigan's (medigan generates a whole request in one call)."""
    step = CHUNK if model.ours else count
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


def png_bytes(pixels: np.ndarray, text: Mapping[str, str] | None = None) -> bytes:
    """A ``uint8`` image ``(H, W)``, ``(C, H, W)`` or ``(H, W, C)`` as PNG bytes with text
    chunks ``text`` (in order; ``medgan generate`` writes ``synthetic``, ``model``, ``seed``)."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    a = np.asarray(pixels)
    if a.ndim == 3 and a.shape[0] in (1, 3, 4) and a.shape[-1] not in (1, 3, 4):
        a = a.transpose(1, 2, 0)
    if a.ndim == 3 and a.shape[-1] == 1:
        a = a[..., 0]
    info = PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, str(value))
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="PNG", pnginfo=info)
    return buf.getvalue()


def _marks(model_id: str, request: GenerationRequest, label: str | None) -> dict[str, str]:
    text = {"synthetic": "true", "model": model_id, "seed": str(request.seed)}
    if label is not None:
        text["label"] = label
    if request.truncation is not None:
        text["truncation"] = str(request.truncation)
    return text


def _as_uint8(image: Any) -> np.ndarray:
    """One image medigan returned (array, or a tuple with the image first) as ``uint8``."""
    a = np.asarray(image[0] if isinstance(image, tuple) else image)
    if a.dtype != np.uint8:
        a = a.astype(np.float64)
        a = np.clip(a * 255 if a.max() <= 1.0 else a, 0, 255).round().astype(np.uint8)
    return a


@torch.no_grad()
def generate_pngs(
    model: LoadedModel, request: GenerationRequest, start: int, stop: int
) -> list[bytes]:
    """Images ``start..stop-1`` of ``request`` as PNG bytes marked synthetic.

    Image ``i`` is the same whichever chunk computes it (ours: ``G`` on rows of the full
    request's noise, exactly as ``zoo.generate(G, count, seed, batch_size=CHUNK)``).
    """
    from medgan_utils.viz import to_uint8

    if not 0 <= start < stop <= request.count:
        raise InvalidRequest(f"no images {start}..{stop} in a request of {request.count}")
    labels = image_labels(model, request)[start:stop]
    if model.ours:
        G = model.generator
        z = latent_noise(request.count, G.config.latent_dim, request.seed, request.truncation)
        y = None
        if G.config.conditional:
            index = {c: i for i, c in enumerate(class_options(model.card))}
            y = torch.tensor([index[c] for c in labels], dtype=torch.long)
        device = next(G.parameters()).device
        G.eval()
        pixels = to_uint8(G(z[start:stop].to(device), None if y is None else y.to(device)))
    else:
        from medgan_utils.hub.generate import generate

        kwargs = {"condition": int(request.label)} if request.label is not None else {}
        images = generate(
            model.model_id, request.count, request.seed, catalog=model.catalog, **kwargs
        )
        if len(images) < stop:
            raise DataError(model.model_id, f"gave {len(images)} images, {stop} were asked for")
        pixels = [_as_uint8(x) for x in images[start:stop]]
    return [
        png_bytes(p, _marks(model.model_id, request, lab))
        for p, lab in zip(pixels, labels, strict=True)
    ]


def decode_pngs(pngs: Sequence[bytes]) -> torch.Tensor:
    """PNG bytes (one size) as ``(N, C, H, W)`` float32 in ``[-1, 1]``."""
    from PIL import Image

    arrays = [np.asarray(Image.open(io.BytesIO(b))) for b in pngs]
    x = np.stack([a[None] if a.ndim == 2 else a.transpose(2, 0, 1) for a in arrays])
    return torch.from_numpy(x.astype(np.float32) / 127.5 - 1.0)


# --------------------------------------------------------------------------- downloads


def _safe(model_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in model_id)


def file_name(request: GenerationRequest, index: int) -> str:
    """``synthetic_<model>_seed<seed>_<i>.png``, the names ``medgan generate`` writes."""
    return f"synthetic_{_safe(request.model_id)}_seed{request.seed}_{index:04d}.png"


def zip_name(request: GenerationRequest) -> str:
    return f"synthetic_{_safe(request.model_id)}_seed{request.seed}_n{request.count}.zip"


def manifest_csv(model: LoadedModel, request: GenerationRequest) -> str:
    """``file, model_id, seed, index, label`` (the columns of
    :func:`~medgan_utils.hub.generate.build_synthetic_dataset`) plus ``truncation`` and
    ``synthetic``; the unzipped folder loads with ``load_synthetic_dataset``."""
    from medgan_utils.hub.generate import FIELDS

    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*FIELDS, "truncation", "synthetic"])
    trunc = "" if request.truncation is None else str(request.truncation)
    for i, label in enumerate(image_labels(model, request)):
        row = [file_name(request, i), request.model_id, request.seed, i, label or ""]
        writer.writerow([*row, trunc, "true"])
    return out.getvalue()


def card_markdown(catalog: Catalog, model_id: str, demote: int = 0) -> str:
    """The model card as Markdown: ours from its ``MODEL_CARD.md`` (or written from its
    ``generator.json``), medigan's from what the catalog records.

    Args:
        demote: levels to add to every heading (``2`` turns ``#`` into ``###``), to show the
            card inside a page.
    """
    import json

    from medgan_utils.ethics.cards import model_card

    card = catalog.card(model_id)
    folder = catalog.local.get(card.model_id)
    if folder is not None:
        path = Path(folder) / "MODEL_CARD.md"
        meta = json.loads((Path(folder) / "generator.json").read_text())
        text = path.read_text() if path.exists() else model_card(card.model_id, meta)
    else:
        text = (
            f"# Model card: {card.model_id}\n\n{card.title}\n\n"
            "**Every image this model produces is synthetic.** This card is what medigan's "
            "catalog records about the model (Osuala et al., 2023); read the publication "
            "before using its images.\n\n```text\n" + card.to_text() + "\n```\n"
        )
    if demote:
        text = re.sub(r"^(#+) ", lambda m: "#" * (len(m.group(1)) + demote) + " ", text, flags=re.M)
    return text


def build_zip(
    model: LoadedModel, request: GenerationRequest, pngs: Sequence[bytes], nrow: int = 8
) -> bytes:
    """A ZIP of the request's PNGs, ``grid.png``, ``manifest.csv`` and ``MODEL_CARD.md``.

    The same request gives the same bytes (fixed file dates, fixed order).
    """
    from medgan_utils.viz import make_grid

    if len(pngs) != request.count:
        raise ValueError(f"{len(pngs)} images for a request of {request.count}")
    members = {file_name(request, i): png for i, png in enumerate(pngs)}
    grid = make_grid(decode_pngs(pngs), nrow)
    members["grid.png"] = png_bytes(grid, _marks(request.model_id, request, None))
    members["manifest.csv"] = manifest_csv(model, request).encode()
    members["MODEL_CARD.md"] = card_markdown(model.catalog, model.model_id).encode()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = (
                zipfile.ZIP_STORED if name.endswith(".png") else zipfile.ZIP_DEFLATED
            )
            info.external_attr = 0o644 << 16
            zf.writestr(info, data)
    return buf.getvalue()


# --------------------------------------------------------------------------- messages


def user_message(err: BaseException, model_id: str = "the model") -> str:
    """One short sentence for the user; the details belong in the server log."""
    from medgan_utils.errors import (
        MissingDependenciesError,
        ModelNotAvailableError,
        PackageIntegrityError,
    )

    if isinstance(err, InvalidRequest):
        return f"Not generated: {err}."
    if isinstance(err, ModelNotAvailableError):
        return (
            f"{model_id} is not on this server yet and cannot be downloaded now: the network is "
            "unreachable (or downloads are off). medigan's models download on first use; try "
            "again when the server is online, or pick one of the shipped models."
        )
    if isinstance(err, MissingDependenciesError):
        return f"{model_id} needs Python packages this server does not have ({err.reason})."
    if isinstance(err, PackageIntegrityError):
        return f"{model_id} failed its integrity check, so it was not run."
    return f"Could not generate with {model_id}. The server log has the details."
