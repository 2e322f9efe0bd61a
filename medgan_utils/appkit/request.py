"""A request for images, checked on the server whatever the widgets or a link allowed.

A :class:`GenerationRequest` names the model, the number of images, the seed, and the class
and truncation where the model takes them; it is the cache key of its images. Requests come
from the sidebar (:func:`validate_request`) or a shared link (:func:`query_request`, the
inverse of :func:`query_params`). Anything invalid raises :class:`InvalidRequest` with a
short message that is safe to show.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from medgan_utils.hub.catalog import Catalog
from medgan_utils.hub.entries import ModelCard, class_options

__all__ = [
    "MAX_COUNT",
    "MAX_SEED",
    "TRUNCATIONS",
    "InvalidRequest",
    "GenerationRequest",
    "supports_truncation",
    "max_count",
    "check_integer",
    "validate_request",
    "query_request",
    "query_params",
    "random_seed",
]

MAX_COUNT = 64  # images per request
MAX_SEED = 2**32 - 1
MAX_PIXELS = MAX_COUNT * 256 * 256  # per request: 64 images of 256 x 256 (4 MB of uint8)
TRUNCATIONS = (2.0, 1.5, 1.0, 0.7, 0.5)  # offered truncation thresholds (|z| <= t)


class InvalidRequest(ValueError):
    """A request the app refuses; the message is short and safe to show to users."""


def supports_truncation(card: ModelCard) -> bool:
    """Truncation needs our own noise: offered for our unconditional and conditional DCGANs."""
    return card.source == "medgan-utils"


def max_count(card: ModelCard) -> int:
    """Images one request may ask of this model: :data:`MAX_COUNT`, fewer for large images."""
    h, w = card.image_size
    return max(1, min(MAX_COUNT, MAX_PIXELS // max(h * w, 1)))


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
    """A seed drawn from the operating system's randomness, in ``0..MAX_SEED``."""
    return secrets.randbelow(MAX_SEED + 1)
