"""Tests for medgan_utils.data.dicom: rescale, windowing, MONOCHROME1, codecs, series order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from medical_files import dicom, dicom_copy, needs_undecodable_jpeg
from pydicom.pixels import apply_modality_lut
from pydicom.uid import generate_uid

from medgan_utils.data.dicom import read_dicom_file, read_dicom_series
from medgan_utils.errors import DataError


def test_mr_small_uses_header_window() -> None:
    ds = pydicom.dcmread(dicom("MR_small.dcm"))
    c, w = float(ds.WindowCenter), float(ds.WindowWidth)
    (s,) = read_dicom_file(dicom("MR_small.dcm"))
    expected = np.clip(2 * (ds.pixel_array - c + 0.5) / (w - 1), -1, 1)  # PS3.3 linear VOI
    np.testing.assert_allclose(s.image, expected, atol=1e-5)
    assert s.image.shape == (64, 64) and s.image.dtype == np.float32
    assert s.meta.subject == "4MR1" and s.meta.slice_index == 0


def test_window_centre_maps_to_zero_and_outside_clips(tmp_path: Path) -> None:
    pixels = np.full((64, 64), 600, np.int16)  # MR_small: centre 600, width 1600
    pixels[0, 0], pixels[0, 1] = -400, 2000
    image = read_dicom_file(dicom_copy(tmp_path / "w.dcm", pixels=pixels))[0].image
    assert abs(image[5, 5]) < 1e-3
    assert image[0, 0] == -1.0 and image[0, 1] == 1.0


@pytest.mark.parametrize("function", ["LINEAR_EXACT", "SIGMOID"])
def test_other_voi_functions(tmp_path: Path, function: str) -> None:
    pixels = np.full((64, 64), 600, np.int16)
    pixels[0, 0], pixels[0, 1] = -30000, 30000
    path = dicom_copy(tmp_path / "v.dcm", pixels=pixels, VOILUTFunction=function)
    image = read_dicom_file(path)[0].image
    assert abs(image[5, 5]) < 1e-6
    assert image[0, 0] == pytest.approx(-1.0) and image[0, 1] == pytest.approx(1.0)


def test_subject_falls_back_to_study_uid(tmp_path: Path) -> None:
    path = dicom_copy(tmp_path / "anon.dcm", PatientID="", StudyInstanceUID="1.2.3")
    assert read_dicom_file(path)[0].meta.subject == "1.2.3"


def test_ct_rescale_is_applied_before_window(tmp_path: Path) -> None:
    ds = pydicom.dcmread(dicom("CT_small.dcm"))  # slope 1, intercept -1024
    pixels = ds.pixel_array.copy()
    pixels[0, 0], pixels[0, 1] = 1024 + 40, 0  # 40 HU (the centre), -1024 HU (air)
    path = dicom_copy(tmp_path / "ct.dcm", "CT_small.dcm", pixels, WindowCenter=40, WindowWidth=400)
    image = read_dicom_file(path)[0].image
    assert abs(image[0, 0]) < 0.01 and image[0, 1] == -1.0


def test_no_window_uses_percentiles() -> None:
    ds = pydicom.dcmread(dicom("CT_small.dcm"))
    hu = apply_modality_lut(ds.pixel_array, ds).astype(np.float64)
    lo, hi = np.percentile(hu, [0.5, 99.5])
    image = read_dicom_file(dicom("CT_small.dcm"))[0].image
    np.testing.assert_allclose(image, np.clip(2 * (hu - lo) / (hi - lo) - 1, -1, 1), atol=1e-5)
    assert image.min() == -1.0 and image.max() == 1.0


@pytest.mark.parametrize(
    "name", ["MR_small_RLE.dcm", "MR_small_jpeg_ls_lossless.dcm", "MR_small_jp2klossless.dcm"]
)
def test_compressed_equals_uncompressed(name: str) -> None:
    reference = read_dicom_file(dicom("MR_small.dcm"))[0].image
    np.testing.assert_array_equal(read_dicom_file(dicom(name))[0].image, reference)


def test_monochrome1_is_inverted(tmp_path: Path) -> None:
    reference = read_dicom_file(dicom("MR_small.dcm"))[0].image
    path = dicom_copy(tmp_path / "m1.dcm", PhotometricInterpretation="MONOCHROME1")
    np.testing.assert_array_equal(read_dicom_file(path)[0].image, -reference)


def test_multiframe_rgb_gives_grayscale_frames() -> None:
    slices = read_dicom_file(dicom("SC_rgb_rle_2frame.dcm"))
    assert [s.meta.slice_index for s in slices] == [0, 1]
    assert all(s.image.shape == (100, 100) for s in slices)
    assert len(read_dicom_file(dicom("rtdose.dcm"))) == 15


@pytest.mark.parametrize(
    "name, message",
    [
        ("MR_truncated.dcm", "truncated or corrupt DICOM pixel data"),
        pytest.param(
            "JPEG-lossy.dcm",
            r"cannot decode JPEG Extended \(Process 2 and 4\) pixel data: ",
            marks=needs_undecodable_jpeg,
        ),
        ("rtplan.dcm", "no pixel data"),
    ],
)
def test_bad_dicom_raises(name: str, message: str) -> None:
    with pytest.raises(DataError, match=f"{name}: {message}"):
        read_dicom_file(dicom(name))


def test_non_dicom_raises(tmp_path: Path) -> None:
    (tmp_path / "x.dcm").write_bytes(b"not dicom at all" * 20)
    with pytest.raises(DataError, match=r"x\.dcm: not a DICOM file"):
        read_dicom_file(tmp_path / "x.dcm")


def test_series_ordered_by_position_along_normal(tmp_path: Path) -> None:
    sagittal = [0, 1, 0, 0, 0, -1]  # rows along y, columns along -z: normal is -x
    uid, other = generate_uid(), generate_uid()
    for name, x, value in [("a", 5.0, 100), ("b", -3.0, 300), ("c", 0.0, 200)]:
        dicom_copy(
            tmp_path / f"{name}.dcm",
            pixels=np.full((64, 64), value),
            SeriesInstanceUID=uid,
            ImageOrientationPatient=sagittal,
            ImagePositionPatient=[x, 0.0, 0.0],
            InstanceNumber=1,
        )
    dicom_copy(tmp_path / "z.dcm", SeriesInstanceUID=other)
    slices = read_dicom_series(sorted(tmp_path.iterdir()))
    assert [Path(s.meta.source).name for s in slices] == ["a.dcm", "c.dcm", "b.dcm", "z.dcm"]
    assert [s.meta.slice_index for s in slices] == [0, 1, 2, 0]
    # One percentile window for the whole series keeps the slices comparable.
    assert slices[0].image[0, 0] < slices[1].image[0, 0] < slices[2].image[0, 0]


def test_series_falls_back_to_instance_number(tmp_path: Path) -> None:
    uid = generate_uid()
    for name, number in [("a", 3), ("b", 1), ("c", 2)]:
        dicom_copy(
            tmp_path / f"{name}.dcm",
            SeriesInstanceUID=uid,
            InstanceNumber=number,
            ImagePositionPatient=None,
        )
    slices = read_dicom_series(sorted(tmp_path.iterdir()))
    assert [Path(s.meta.source).name for s in slices] == ["b.dcm", "c.dcm", "a.dcm"]
