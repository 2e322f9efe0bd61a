"""Reading MedMNIST-style ``.npz`` files (``train_images``, ``train_labels``, ...) into slices.

MedMNIST has no subject ids: each image is its own subject, and MedMNIST's own split
(``train``/``val``/``test``) is what keeps test images out of training. The arrays' shapes
and types are read from their ``.npy`` headers and checked (against the pixel budget of
:mod:`medgan_utils.data.limits` too) before any array is loaded.
"""

from __future__ import annotations

import warnings
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from medgan_utils.data.limits import PixelBudget, check_regular_file
from medgan_utils.data.slices import LUMA, RawSlice, SliceMeta, check_finite, scale_to_unit
from medgan_utils.errors import DataError

__all__ = ["read_npz"]

Header = tuple[tuple[int, ...], np.dtype]


def read_npz(
    path: str | Path, split: str = "train", budget: PixelBudget | None = None
) -> list[RawSlice]:
    """Read a MedMNIST-style ``.npz`` (``train_images``, ``train_labels``, ``val_*``, ``test_*``).

    Images are ``(N, H, W)``, ``(N, H, W, 1)``, ``(N, H, W, 3)`` or ``(N, H, W, 4)`` (alpha
    ignored) of numbers; uint8 maps ``0..255`` onto ``[-1, 1]`` (other dtypes are min-max
    scaled per image) and colour becomes ITU-R 601 luma. Labels ``(N,)`` or ``(N, 1)`` of
    whole numbers become class names that are the integer as a string (``"0"``, ``"1"``,
    ...); multi-label files (e.g. ChestMNIST's ``(N, 14)``) are read unlabelled with a
    warning. MedMNIST has no subject ids, so each image is its own subject
    ``"{stem}:{split}:{i}"``: a subject-level split is not possible, and ``split``
    (MedMNIST's own split) is the way to keep test images out of training.

    Args:
        path: the ``.npz`` file.
        split: ``"train"``, ``"val"``, ``"test"`` or ``"all"`` (the three in that order).
        budget: the pixel budget the image arrays are claimed from, from their headers
            (default: a fresh :class:`~medgan_utils.data.limits.PixelBudget`).

    Raises:
        DataError: not a regular file or not an ``.npz``; no such split; images or labels
            of the wrong shape or type, or as many labels as images (each named); or (as
            :class:`~medgan_utils.errors.PixelBudgetError`) images over the pixel budget.
    """
    path = Path(path)
    if split not in ("train", "val", "test", "all"):
        raise ValueError(f"split must be 'train', 'val', 'test' or 'all', got {split!r}")
    check_regular_file(path)
    budget = budget or PixelBudget(root=path)
    headers = _npy_headers(path)
    names = [s for s in ("train", "val", "test") if split in (s, "all")]
    if split == "all":
        names = [s for s in names if f"{s}_images" in headers]
    if not names or any(f"{s}_images" not in headers for s in names):
        have = ", ".join(sorted(headers)) or "none"
        raise DataError(path, f"no '{split}_images' array: the file has {have}")
    labelled = {name: _check_split(path, headers, name, budget) for name in names}
    try:
        with np.load(path) as npz:  # lazy: only the arrays asked for are read
            return [s for name in names for s in _npz_split(path, npz, name, labelled[name])]
    except DataError:
        raise
    except Exception as e:  # zipfile/zlib errors differ by damage
        raise DataError(path, f"not an .npz file numpy can read: {e}") from None


def _npy_headers(path: Path) -> dict[str, Header]:
    """The shape and dtype of every array in an ``.npz``, from the ``.npy`` headers alone.

    Read with ``zipfile`` and ``np.lib.format`` rather than ``np.load(mmap_mode=...)``:
    numpy ignores ``mmap_mode`` for ``.npz`` files and reads a member whole when it is
    accessed, so only the headers (the first ~128 bytes of each member, inflated or not)
    give the shapes without reading the data.
    """
    headers: dict[str, Header] = {}
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if not info.filename.endswith(".npy"):
                    continue
                with archive.open(info) as f:
                    version = np.lib.format.read_magic(f)
                    # Version 3.0 differs from 2.0 only in allowing UTF-8 field names.
                    read = (
                        np.lib.format.read_array_header_1_0
                        if version == (1, 0)
                        else np.lib.format.read_array_header_2_0
                    )
                    shape, _, dtype = read(f)
                headers[info.filename.removesuffix(".npy")] = (tuple(shape), dtype)
    except Exception as e:  # zipfile and np.lib.format raise many types on damage
        raise DataError(path, f"not an .npz file numpy can read: {e}") from None
    return headers


def _check_split(
    path: Path, headers: Mapping[str, Header], split: str, budget: PixelBudget
) -> bool:
    """Check one split's arrays from their headers and claim its images from the budget.

    Returns:
        Whether the split's labels are read (one per image); False without labels or for
        multi-label files (with a warning).
    """
    shape, dtype = headers[f"{split}_images"]
    channels = shape[3] if len(shape) == 4 else 1
    if len(shape) not in (3, 4) or channels not in (1, 3, 4) or min(shape[1:3], default=0) < 1:
        raise DataError(
            path, f"{split}_images has shape {shape}: expected (N, H, W) or (N, H, W, 1|3|4)"
        )
    if dtype.kind not in "biuf":
        raise DataError(path, f"{split}_images holds {dtype} values, not numbers")
    budget.claim(path, shape[:3], channels)
    if f"{split}_labels" not in headers:
        return False
    label_shape, label_dtype = headers[f"{split}_labels"]
    if label_dtype.kind not in "biuf":
        raise DataError(path, f"{split}_labels holds {label_dtype} values, not class numbers")
    if not 1 <= len(label_shape) <= 2 or label_shape[0] != shape[0]:
        n = label_shape[0] if label_shape else 0
        raise DataError(
            path,
            f"{split}_labels has shape {label_shape}: expected one label per image, "
            f"{shape[0]} images but {n} labels",
        )
    if len(label_shape) == 2 and label_shape[1] != 1:
        warnings.warn(
            f"{path}: {label_shape[1]} labels per image; reading unlabelled", stacklevel=4
        )
        return False
    return True


def _npz_split(
    path: Path, npz: Mapping[str, np.ndarray], split: str, labelled: bool
) -> list[RawSlice]:
    images = npz[f"{split}_images"]
    labels = np.ravel(npz[f"{split}_labels"]) if labelled else None
    if labels is not None and labels.dtype.kind == "f":
        whole = np.isfinite(labels) & (labels == np.round(labels))
        if not whole.all():
            bad = labels[~whole][0]
            raise DataError(path, f"{split}_labels holds values that are not class numbers: {bad}")
    out = []
    for i, x in enumerate(images):
        if x.ndim == 3:
            x = x[..., 0] if x.shape[-1] == 1 else x[..., :3].astype(np.float64) @ LUMA
        x = x.astype(np.float64)
        check_finite(path, x)
        image = (
            scale_to_unit(x, 0, 255)
            if images.dtype == np.uint8
            else scale_to_unit(x, x.min(), x.max())
        )
        label = None if labels is None else str(int(labels[i]))
        meta = SliceMeta(str(path), f"{path.stem}:{split}:{i}")
        out.append(RawSlice(image, meta, label, eight_bit=images.dtype == np.uint8))
    return out
