"""Tests for medgan_utils.data.readers: read_path's dispatch, folders, classes, skips, warnings."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
from medical_files import (
    SHAPE,
    bright_volume,
    dicom,
    dicom_copy,
    medmnist,
    needs_undecodable_jpeg,
    nifti,
    png,
    user_warnings,
)
from pydicom.uid import generate_uid

from medgan_utils.data.readers import read_path
from medgan_utils.errors import DataError


def test_class_subfolders_give_labels(tmp_path: Path) -> None:
    png(tmp_path / "glioma" / "g2.png")
    png(tmp_path / "glioma" / "g1.jpg")
    png(tmp_path / "notumor" / "n1.png")
    (tmp_path / ".DS_Store").write_bytes(b"\0\1")
    (tmp_path / "notumor" / ".hidden.png").write_text("x")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = read_path(tmp_path)
    assert [(Path(s.meta.source).name, s.label) for s in result.slices] == [
        ("g1.jpg", "glioma"),
        ("g2.png", "glioma"),
        ("n1.png", "notumor"),
    ]
    assert result.skipped == []


def test_flat_folder_with_nested_dicom_series_and_preamble(tmp_path: Path) -> None:
    (tmp_path / "patient").mkdir()
    uid = generate_uid()
    # No .dcm extension: found by the DICM preamble. IM0 sits beside a folder: flat layout.
    for name, z in [("IM0", 2.0), ("patient/IM1", 0.0), ("patient/IM2", 1.0)]:
        dicom_copy(tmp_path / name, SeriesInstanceUID=uid, ImagePositionPatient=[0.0, 0.0, z])
    result = read_path(tmp_path)
    assert [Path(s.meta.source).name for s in result.slices] == ["IM1", "IM2", "IM0"]
    assert [s.meta.slice_index for s in result.slices] == [0, 1, 2]
    assert all(s.label is None for s in result.slices)


def test_unknown_file_raises_or_is_skipped_with_one_warning(tmp_path: Path) -> None:
    png(tmp_path / "a.png")
    png(tmp_path / "sub" / "b.png")
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "broken1.png").write_text("not a png")
    (tmp_path / "sub" / "broken2.png").write_text("not a png")
    with pytest.raises(DataError, match=r"broken1\.png: not an image Pillow can read"):
        read_path(tmp_path)
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        result = read_path(tmp_path, on_error="skip")
    (message,) = user_warnings(record)
    assert "skipped 3 file(s)" in message
    assert "2 x not an image Pillow can read" in message
    assert "1 x not a supported image format" in message
    assert len(result.slices) == 2
    assert (str(tmp_path / "notes.txt"), "not a supported image format") in result.skipped


@needs_undecodable_jpeg
def test_skip_mode_groups_dicom_errors(tmp_path: Path) -> None:
    for name in ("MR_small.dcm", "MR_truncated.dcm", "JPEG-lossy.dcm", "rtplan.dcm"):
        shutil.copy(dicom(name), tmp_path / name)
    with pytest.warns(UserWarning, match="skipped 3 file") as record:
        result = read_path(tmp_path, on_error="skip")
    assert len(result.slices) == 1
    reasons = sorted(r for _, r in result.skipped)
    assert reasons == [
        "cannot decode JPEG Extended (Process 2 and 4) pixel data",
        "no pixel data",
        "truncated or corrupt DICOM pixel data",
    ]
    assert len(user_warnings(list(record))) == 1


def test_empty_and_unreadable_folders(tmp_path: Path) -> None:
    (tmp_path / ".DS_Store").write_bytes(b"x")
    with pytest.raises(DataError, match="no images found"):
        read_path(tmp_path)
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="no images could be read: 1 x not a supported"):
        read_path(tmp_path, on_error="skip")
    with pytest.raises(DataError, match="no such file"):
        read_path(tmp_path / "missing")


def test_mixed_sizes_and_modes_warn_once(tmp_path: Path) -> None:
    png(tmp_path / "a.png", (8, 8))
    png(tmp_path / "b.png", (16, 8), "RGB")
    png(tmp_path / "c.png", (16, 8))
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        read_path(tmp_path)
    (message,) = user_warnings(record)
    assert "2 sizes (16x8: 2, 8x8: 1)" in message and "2 modes (L: 2, RGB: 1)" in message


def test_single_files_dispatch(tmp_path: Path) -> None:
    assert len(read_path(png(tmp_path / "x.bmp")).slices) == 1
    assert len(read_path(medmnist(tmp_path / "m.npz"), npz_split="test").slices) == 3
    volume = nifti(tmp_path / "v.nii.gz", bright_volume())
    assert len(read_path(volume, axis="coronal", min_foreground=0).slices) == SHAPE[1]
    assert len(read_path(dicom("rtdose.dcm")).slices) == 15


def test_dicom_patient_folders_are_not_classes(tmp_path: Path) -> None:
    # A DICOM export: root/<patient>/<file>. Every entry is a folder, yet these are patients.
    for patient in ("p01", "p02"):
        (tmp_path / patient).mkdir()
        series = generate_uid()
        dicom_copy(tmp_path / patient / "IM0.dcm", PatientID=patient, SeriesInstanceUID=series)
    result = read_path(tmp_path)
    assert [(s.meta.subject, s.label) for s in result.slices] == [("p01", None), ("p02", None)]
    forced = read_path(tmp_path, class_folders=True)
    assert [s.label for s in forced.slices] == ["p01", "p02"]
