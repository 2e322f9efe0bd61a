"""Reading NIfTI volumes with nibabel: RAS+ orientation, display-oriented 2-D slices.

A volume is made canonical (RAS+), scaled once onto ``[-1, 1]`` so its slices stay
comparable, and sliced along one axis; nearly empty (background) slices are left out.
The shape in the header (``.nii`` or ``.nii.gz``: nibabel reads only the header on load)
is checked against the pixel budget (:mod:`medgan_utils.data.limits`) before the voxels
are read.
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import nibabel as nib
import numpy as np
from nibabel.spatialimages import SpatialImage

from medgan_utils.data.limits import PixelBudget, check_regular_file
from medgan_utils.data.slices import RawSlice, SliceMeta, check_finite, scale_to_unit
from medgan_utils.errors import DataError

__all__ = ["load_nifti_volume", "read_nifti"]

_AXES = {"sagittal": 0, "coronal": 1, "axial": 2}


def load_nifti_volume(path: str | Path, budget: PixelBudget | None = None) -> np.ndarray:
    """Load a NIfTI volume in RAS+ orientation (``nib.as_closest_canonical``).

    Args:
        path: the NIfTI file.
        budget: the pixel budget to claim the header's shape from, before any voxel is
            read (default: a fresh :class:`~medgan_utils.data.limits.PixelBudget`).

    Returns:
        ``(X, Y, Z)`` float32 in the file's own units (scl_slope applied, not rescaled):
        x runs left -> right, y posterior -> anterior, z inferior -> superior. A 2-D image
        gets ``Z = 1``; trailing axes of size 1 are squeezed.

    Raises:
        DataError: not a regular file or not NIfTI; NaN/inf voxels (with their count); a
            4-D volume with several volumes (pass a 3-D volume, e.g. one extracted with
            ``nibabel.funcs.four_to_three``); or (as
            :class:`~medgan_utils.errors.PixelBudgetError`) a shape over the pixel budget.
    """
    path = Path(path)
    check_regular_file(path)
    budget = budget or PixelBudget(root=path)
    try:
        img = nib.load(path)  # the header only; voxels stay on disk until get_fdata
    except Exception as e:  # nibabel raises many types on a corrupt file
        raise DataError(path, f"not a NIfTI file nibabel can read: {e}") from None
    if not isinstance(img, SpatialImage):
        raise DataError(path, f"not a NIfTI image: nibabel reads it as {type(img).__name__}")
    shape = tuple(int(n) for n in img.shape)
    while len(shape) > 3 and shape[-1] == 1:
        shape = shape[:-1]
    if len(shape) > 3:
        n = math.prod(shape[3:])
        raise DataError(path, f"4-D volume with {n} volumes; pass a 3-D volume")
    if not 2 <= len(shape) <= 3 or min(shape) < 1:
        raise DataError(path, f"header claims an unusable shape {shape}")
    budget.claim(path, shape)  # before as_closest_canonical, which may read the voxels
    try:
        img = nib.as_closest_canonical(img)
        data = np.asarray(img.get_fdata(dtype=np.float32))
    except Exception as e:  # nibabel raises many types on a corrupt file
        raise DataError(path, f"not a NIfTI file nibabel can read: {e}") from None
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim == 2:
        data = data[:, :, None]
    check_finite(path, data)
    return data


def read_nifti(
    path: str | Path,
    axis: str | int = "axial",
    min_foreground: float = 0.1,
    budget: PixelBudget | None = None,
) -> list[RawSlice]:
    """Slice a NIfTI volume (``.nii``/``.nii.gz``) into display-oriented 2-D images.

    Orientation (nilearn's neurological convention): the volume is made RAS+ and each
    slice is ``np.rot90``-ed, so axial slices have anterior at the top and the subject's
    left on the image's left; coronal slices superior at the top, left on the left;
    sagittal slices superior at the top, anterior on the right.

    Intensity: one scaling per volume, so slices stay comparable: ``[lo, hi]`` maps onto
    ``[-1, 1]``, clipped. ``hi`` is the 99.5th percentile of the non-zero voxels (zero is
    the usual background of skull-stripped and masked images and would drag it down).
    ``lo`` is 0, so zero signal stays black, unless the volume has negative values (CT
    in HU), where it is the 0.5th percentile of the non-zero voxels.

    Background: a slice is skipped when the fraction of its pixels above
    ``lo + 0.1 * (hi - lo)`` is below ``min_foreground`` (``0`` keeps every slice).

    Args:
        path: the NIfTI file.
        axis: ``"axial"`` (z, 2), ``"coronal"`` (y, 1), ``"sagittal"`` (x, 0), or 0/1/2.
        min_foreground: minimum foreground fraction of a kept slice, in ``[0, 1]``.
        budget: passed to :func:`load_nifti_volume`.

    Returns:
        Kept slices, float32 in ``[-1, 1]``; ``slice_index`` is the index along ``axis``
        in the canonical volume; subject is the BIDS ``sub-XXX`` part of the name, else
        the name without ``.nii``/``.nii.gz``.
    """
    path = Path(path)
    if axis not in _AXES and axis not in (0, 1, 2):
        raise ValueError(f"axis must be one of {list(_AXES)} or 0, 1, 2, got {axis!r}")
    ax = _AXES[axis] if isinstance(axis, str) else int(axis)
    data = load_nifti_volume(path, budget)
    nonzero = data[data != 0]
    lo, hi = np.percentile(nonzero, [0.5, 99.5]) if nonzero.size else (0.0, 0.0)
    lo = min(float(lo), 0.0)
    if not hi > lo:  # e.g. only negative voxels
        lo, hi = float(data.min()), float(data.max())
    volume = np.moveaxis(scale_to_unit(data, lo, hi), ax, 0)  # (slices, first, second axis left)
    foreground = (volume > -0.8).mean(axis=(1, 2))  # lo + 0.1 * (hi - lo) after scaling
    name = path.name.removesuffix(".gz").removesuffix(".nii")
    bids = re.search(r"(sub-[A-Za-z0-9]+)", name)
    subject = bids.group(1) if bids else name
    slices = [
        RawSlice(np.ascontiguousarray(np.rot90(volume[k])), SliceMeta(str(path), subject, k))
        for k in range(len(volume))
        if foreground[k] >= min_foreground
    ]
    if not slices:
        raise DataError(path, f"every slice is background (min_foreground={min_foreground})")
    return slices
