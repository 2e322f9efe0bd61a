"""Tiny medical files for the reader tests: pydicom's test files and edited copies, NIfTI
volumes, MedMNIST ``.npz`` files and PNGs, written to a test's ``tmp_path``."""

from __future__ import annotations

import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file


def dicom(name: str) -> str:
    path = get_testdata_file(name)
    assert path is not None, f"pydicom test file {name} missing"
    return path


def decodes(name: str) -> bool:
    try:
        _ = pydicom.dcmread(dicom(name)).pixel_array
    except Exception:  # any decoder failure
        return False
    return True


# 12-bit JPEG Extended needs GDCM, which is not a dependency: here it must fail cleanly.
needs_undecodable_jpeg = pytest.mark.skipif(
    decodes("JPEG-lossy.dcm"), reason="a plugin here decodes 12-bit JPEG Extended"
)


def user_warnings(record: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in record if issubclass(w.category, UserWarning)]


def dicom_copy(
    dest: Path, source: str = "MR_small.dcm", pixels: np.ndarray | None = None, **elements: object
) -> Path:
    """Copy a pydicom test file, optionally replacing pixels and header elements."""
    ds = pydicom.dcmread(dicom(source))
    if pixels is not None:
        ds.PixelData = pixels.astype(ds.pixel_array.dtype).tobytes()
    for key, value in elements.items():
        if value is None:
            delattr(ds, key)
        else:
            setattr(ds, key, value)
    ds.save_as(dest)
    return dest


SHAPE = (10, 12, 8)  # x: left -> right, y: posterior -> anterior, z: inferior -> superior
VOXEL = (1, 10, 6)  # left, anterior, superior


def nifti(path: Path, data: np.ndarray, affine: np.ndarray | None = None) -> Path:
    nib.save(
        nib.Nifti1Image(data.astype(np.float32), np.eye(4) if affine is None else affine), path
    )
    return path


def bright_volume() -> np.ndarray:
    data = np.zeros(SHAPE, np.float32)
    data[2:8, 2:10, :] = 100.0  # a block of "tissue" so every slice has foreground
    data[VOXEL] = 1000.0
    return data


def medmnist(path: Path) -> Path:
    rng = np.random.default_rng(0)
    np.savez(
        path,
        train_images=rng.integers(0, 256, (4, 8, 8), dtype=np.uint8),
        train_labels=np.array([[0], [1], [2], [1]]),
        val_images=np.full((2, 8, 8), 255, np.uint8),
        val_labels=np.array([3, 0]),
        test_images=np.full((3, 8, 8, 3), (255, 0, 0), np.uint8),
        test_labels=np.array([[1], [1], [0]]),
    )
    return path


def png(path: Path, size: tuple[int, int] = (8, 8), mode: str = "L") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size[::-1], 128).save(path)
    return path
