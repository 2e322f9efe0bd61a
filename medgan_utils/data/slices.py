"""What every reader returns, and the intensity mapping onto ``[-1, 1]`` they share.

A reader turns a file into :class:`RawSlice` objects: one 2-D image ``(H, W)`` float32 in
``[-1, 1]`` at the file's own resolution, with a :class:`SliceMeta` saying where it came
from. :func:`~medgan_utils.data.readers.read_path` gathers them into a :class:`ReadResult`;
:class:`~medgan_utils.data.dataset.MedicalImageDataset` resizes and stacks them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from medgan_utils.errors import DataError

__all__ = [
    "SliceMeta",
    "RawSlice",
    "ReadResult",
    "LUMA",
    "scale_to_unit",
    "robust_range",
    "check_finite",
]

# ITU-R 601-2 luma, the weights of Pillow's RGB -> "L" conversion, for colour arrays
# that do not come through Pillow (DICOM, npz).
LUMA = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class SliceMeta:
    """Where one 2-D image came from.

    Attributes:
        source: path of the file the slice was read from (or ``builtin:...``).
        subject: subject / patient id; slices of one subject never cross splits.
        slice_index: index of the slice in its volume, series or frame stack (0 for 2-D files).
        groups: group attributes used by audits, e.g. ``{"site": "B"}``.
    """

    source: str
    subject: str
    slice_index: int = 0
    groups: Mapping[str, str] = field(default_factory=dict)


@dataclass
class RawSlice:
    """One 2-D image as read: ``image`` is ``(H, W)`` float32 in ``[-1, 1]``, display-oriented.

    ``eight_bit`` says that the source held 8-bit values mapped by a fixed range (8-bit
    PNG/JPEG, MedMNIST's uint8 arrays): once resized, the image may be stored as uint8
    (:func:`~medgan_utils.data.dataset.encode_images`) without losing what the file held.
    """

    image: np.ndarray
    meta: SliceMeta
    label: str | None = None
    eight_bit: bool = False


@dataclass
class ReadResult:
    """What :func:`~medgan_utils.data.readers.read_path` found: the slices, and the files
    skipped with the reason."""

    slices: list[RawSlice]
    skipped: list[tuple[str, str]] = field(default_factory=list)
    sizes: dict[str, int] = field(default_factory=dict)  # "HxW" of the slices as read: count
    modes: dict[str, int] = field(default_factory=dict)  # Pillow mode, "NIfTI", ...: files


def scale_to_unit(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map ``[lo, hi]`` linearly onto ``[-1, 1]`` and clip; ``hi <= lo`` (constant) gives -1."""
    if not hi > lo:
        return np.full(x.shape, -1.0, dtype=np.float32)
    return np.clip(2.0 * (x - lo) / (hi - lo) - 1.0, -1.0, 1.0).astype(np.float32)


def robust_range(x: np.ndarray) -> tuple[float, float]:
    """The 0.5th and 99.5th percentiles of ``x``, or its min and max where those coincide."""
    lo, hi = np.percentile(x, [0.5, 99.5])
    return (float(lo), float(hi)) if hi > lo else (float(x.min()), float(x.max()))


def check_finite(path: Path, x: np.ndarray) -> None:
    """Raise :class:`DataError` naming ``path`` when ``x`` holds NaN or infinite values."""
    bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
    if bad:
        raise DataError(path, f"contains NaN or infinite values: {bad} of {np.size(x)}")
