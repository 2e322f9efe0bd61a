"""Tests for medgan_utils.data.nifti: canonical orientation, slicing, scaling and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from medical_files import SHAPE, bright_volume, nifti

from medgan_utils.data.nifti import load_nifti_volume, read_nifti
from medgan_utils.errors import DataError


@pytest.mark.parametrize(
    "axis, index, shape, row_col",
    [
        ("axial", 6, (12, 10), (12 - 1 - 10, 1)),  # anterior at top, left on the left
        ("coronal", 10, (8, 10), (8 - 1 - 6, 1)),  # superior at top, left on the left
        ("sagittal", 1, (8, 12), (8 - 1 - 6, 10)),  # superior at top, anterior on the right
    ],
)
def test_nifti_display_orientation(
    tmp_path: Path, axis: str, index: int, shape: tuple[int, int], row_col: tuple[int, int]
) -> None:
    slices = read_nifti(nifti(tmp_path / "v.nii.gz", bright_volume()), axis, min_foreground=0)
    s = next(s for s in slices if s.meta.slice_index == index)
    assert s.image.shape == shape
    assert np.unravel_index(np.argmax(s.image), shape) == row_col


def test_nifti_flipped_affine_is_canonicalised(tmp_path: Path) -> None:
    data = bright_volume()
    reference = read_nifti(nifti(tmp_path / "ras.nii", data), min_foreground=0)
    # Stored with x and y reversed (LPS-like), the same anatomy must give the same images.
    lps = nifti(tmp_path / "lps.nii", data[::-1, ::-1, :], np.diag([-1.0, -1.0, 1.0, 1.0]))
    flipped = read_nifti(lps, min_foreground=0)
    for a, b in zip(reference, flipped, strict=True):
        np.testing.assert_array_equal(a.image, b.image)
    assert load_nifti_volume(lps).shape == SHAPE
    np.testing.assert_array_equal(load_nifti_volume(lps), data)


def test_nifti_background_slices_and_volume_scaling(tmp_path: Path) -> None:
    data = np.zeros((10, 10, 6), np.float32)
    data[:5, 0, 1] = 100.0  # 5% foreground: skipped at min_foreground=0.1
    data[:, :2, 2] = 100.0  # 20%
    data[:, :5, 3] = 50.0  # 50%, darker: volume scaling keeps it darker
    path = nifti(tmp_path / "bg.nii.gz", data)
    slices = read_nifti(path, min_foreground=0.1)
    assert [s.meta.slice_index for s in slices] == [2, 3]
    assert slices[0].image.max() == 1.0 and slices[1].image.max() < 0.5
    assert [s.meta.slice_index for s in read_nifti(path, min_foreground=0.04)] == [1, 2, 3]
    assert len(read_nifti(path, "axial", min_foreground=0)) == 6
    np.testing.assert_array_equal(read_nifti(path, 2)[0].image, slices[0].image)
    with pytest.raises(DataError, match="every slice is background"):
        read_nifti(path, min_foreground=0.9)


def test_nifti_negative_values_start_at_low_percentile(tmp_path: Path) -> None:
    data = np.full((8, 8, 3), -1000.0, np.float32)  # CT-like: air at -1000 HU
    data[2:6, 2:6, :] = 40.0
    (s,) = read_nifti(nifti(tmp_path / "ct.nii", data), min_foreground=0.2)[:1]
    assert s.image.min() == -1.0 and s.image.max() == 1.0


def test_nifti_subject_ids(tmp_path: Path) -> None:
    data = bright_volume()
    assert read_nifti(nifti(tmp_path / "sub-07_T1w.nii.gz", data))[0].meta.subject == "sub-07"
    assert read_nifti(nifti(tmp_path / "brain.nii", data))[0].meta.subject == "brain"


def test_nifti_nan_and_4d(tmp_path: Path) -> None:
    data = bright_volume()
    data[0, 0, :2] = np.nan
    with pytest.raises(DataError, match=r"nan\.nii: contains NaN or infinite values: 2 of"):
        read_nifti(nifti(tmp_path / "nan.nii", data))
    four = np.stack([bright_volume()] * 3, axis=-1)
    with pytest.raises(DataError, match=r"4-D volume with 3 volumes"):
        read_nifti(nifti(tmp_path / "t3.nii", four))
    single = read_nifti(nifti(tmp_path / "t1.nii", four[..., :1]), min_foreground=0)
    assert len(single) == SHAPE[2]
