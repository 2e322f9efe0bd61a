"""Reading MedMNIST-style ``.npz`` files (``train_images``, ``train_labels``, ...) into slices.

MedMNIST has no subject ids: each image is its own subject, and MedMNIST's own split
(``train``/``val``/``test``) is what keeps test images out of training.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from medgan_utils.data.slices import LUMA, RawSlice, SliceMeta, check_finite, scale_to_unit
from medgan_utils.errors import DataError

__all__ = ["read_npz"]


def read_npz(path: str | Path, split: str = "train") -> list[RawSlice]:
    """Read a MedMNIST-style ``.npz`` (``train_images``, ``train_labels``, ``val_*``, ``test_*``).

    Images are ``(N, H, W)`` or ``(N, H, W, 3)``; uint8 maps ``0..255`` onto ``[-1, 1]``
    (other dtypes are min-max scaled per image) and colour becomes ITU-R 601 luma.
    Labels ``(N,)`` or ``(N, 1)`` become class names that are the integer as a string
    (``"0"``, ``"1"``, ...); multi-label files (e.g. ChestMNIST's ``(N, 14)``) are read
    unlabelled with a warning. MedMNIST has no subject ids, so each image is its own
    subject ``"{stem}:{split}:{i}"``: a subject-level split is not possible, and
    ``split`` (MedMNIST's own split) is the way to keep test images out of training.

    Args:
        path: the ``.npz`` file.
        split: ``"train"``, ``"val"``, ``"test"`` or ``"all"`` (the three in that order).
    """
    path = Path(path)
    if split not in ("train", "val", "test", "all"):
        raise ValueError(f"split must be 'train', 'val', 'test' or 'all', got {split!r}")
    try:
        npz = np.load(path)  # lazy: only the requested split is read
    except Exception as e:  # zipfile/pickle errors differ by damage
        raise DataError(path, f"not an .npz file numpy can read: {e}") from None
    with npz:
        names = [s for s in ("train", "val", "test") if split in (s, "all")]
        if split == "all":
            names = [s for s in names if f"{s}_images" in npz.files]
        if not names or any(f"{s}_images" not in npz.files for s in names):
            have = ", ".join(sorted(npz.files)) or "none"
            raise DataError(path, f"no '{split}_images' array: the file has {have}")
        return [s for name in names for s in _npz_split(path, npz, name)]


def _npz_split(path: Path, npz: Mapping[str, np.ndarray], split: str) -> list[RawSlice]:
    images, labels = npz[f"{split}_images"], npz.get(f"{split}_labels")
    if labels is not None and labels.ndim > 1 and labels.shape[1] > 1:
        warnings.warn(
            f"{path}: {labels.shape[1]} labels per image; reading unlabelled", stacklevel=3
        )
        labels = None
    out = []
    for i, x in enumerate(images):
        x = x.astype(np.float64) @ LUMA if x.ndim == 3 else x.astype(np.float64)
        check_finite(path, x)
        image = (
            scale_to_unit(x, 0, 255)
            if images.dtype == np.uint8
            else scale_to_unit(x, x.min(), x.max())
        )
        label = None if labels is None else str(int(np.ravel(labels[i])[0]))
        out.append(RawSlice(image, SliceMeta(str(path), f"{path.stem}:{split}:{i}"), label))
    return out
