"""Tests for medgan_utils.data.readers: pixel values, orientation and errors, on tiny files."""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pydicom
import pytest
from PIL import Image
from pydicom.data import get_testdata_file
from pydicom.pixels import apply_modality_lut
from pydicom.uid import generate_uid

from medgan_utils.data.readers import (
    load_nifti_volume,
    read_dicom_file,
    read_dicom_series,
    read_image_file,
    read_nifti,
    read_npz,
    read_path,
)
from medgan_utils.errors import DataError


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


# -- PNG / JPEG / TIFF / BMP ---------------------------------------------------------------


def test_8bit_uses_fixed_range(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(np.array([[0, 255], [100, 100]], np.uint8)).save(path)
    (s,) = read_image_file(path)
    assert s.image.dtype == np.float32 and s.image.shape == (2, 2)
    assert s.image[0, 0] == -1.0 and s.image[0, 1] == 1.0
    assert s.image[1, 0] == pytest.approx(100 / 127.5 - 1)
    assert s.meta.subject == "a" and s.meta.slice_index == 0 and s.label is None


@pytest.mark.parametrize(
    "name, array",
    [
        ("png16.png", np.arange(0, 4096, 16, dtype=np.uint16).reshape(16, 16)),  # I;16
        ("big.tif", np.arange(0, 4096, 16, dtype=">u2").reshape(16, 16)),  # I;16B
        ("int32.tif", np.arange(-100, 156, dtype=np.int32).reshape(16, 16)),  # I
        ("float.tif", np.linspace(-3.0, 7.0, 256, dtype=np.float32).reshape(16, 16)),  # F
    ],
)
def test_high_bit_depth_is_min_max_scaled(tmp_path: Path, name: str, array: np.ndarray) -> None:
    Image.fromarray(array).save(tmp_path / name)
    image = read_image_file(tmp_path / name)[0].image
    a = array.astype(np.float64)
    expected = 2 * (a - a.min()) / (a.max() - a.min()) - 1
    np.testing.assert_allclose(image, expected, atol=1e-5)
    assert image.min() == -1.0 and image.max() == 1.0  # 12 bits used: not nearly black


def test_constant_16bit_is_background_without_warnings(tmp_path: Path) -> None:
    Image.fromarray(np.full((4, 4), 700, np.uint16)).save(tmp_path / "c.png")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        image = read_image_file(tmp_path / "c.png")[0].image
    assert np.all(image == -1.0)


def test_colour_becomes_luma(tmp_path: Path) -> None:
    rgb = np.zeros((2, 2, 3), np.uint8)
    rgb[0, 0] = (255, 0, 0)
    rgb[1, 1] = (255, 255, 255)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    Image.fromarray(rgb).convert("RGBA").save(tmp_path / "rgba.png")
    Image.fromarray(rgb).save(tmp_path / "rgb.bmp")
    pal = Image.new("P", (2, 2))
    pal.putpalette([0, 0, 0, 255, 0, 0, 255, 255, 255])
    pal.putdata([1, 0, 0, 2])
    pal.save(tmp_path / "pal.png")
    for name in ("rgb.png", "rgba.png", "rgb.bmp", "pal.png"):
        image = read_image_file(tmp_path / name)[0].image
        assert image.shape == (2, 2)
        assert image[0, 0] == pytest.approx(76 / 127.5 - 1), name  # ITU-R 601: 0.299 * 255
        assert image[1, 1] == 1.0 and image[0, 1] == -1.0, name


def test_jpeg_reads_grayscale(tmp_path: Path) -> None:
    Image.fromarray(np.full((8, 6, 3), 200, np.uint8)).save(tmp_path / "x.jpg", quality=95)
    image = read_image_file(tmp_path / "x.jpg")[0].image
    assert image.shape == (8, 6)
    np.testing.assert_allclose(image, 200 / 127.5 - 1, atol=0.02)


def test_multipage_tiff_gives_one_slice_per_page(tmp_path: Path) -> None:
    pages = [Image.fromarray(np.full((4, 4), v, np.uint8)) for v in (0, 128, 255)]
    pages[0].save(tmp_path / "stack.tif", save_all=True, append_images=pages[1:])
    slices = read_image_file(tmp_path / "stack.tif")
    assert [s.meta.slice_index for s in slices] == [0, 1, 2]
    assert [float(s.image[0, 0]) for s in slices] == pytest.approx(
        [-1.0, 128 / 127.5 - 1, 1.0], abs=1e-6
    )


def test_subject_pattern(tmp_path: Path) -> None:
    path = tmp_path / "pat042_slice7.png"
    Image.fromarray(np.zeros((2, 2), np.uint8)).save(path)
    assert read_image_file(path, subject_pattern=r"pat(\d+)_")[0].meta.subject == "042"
    with pytest.raises(DataError, match="pat042_slice7.png.*does not match"):
        read_image_file(path, subject_pattern=r"sub-(\w+)")


def test_not_an_image_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "fake.png").write_text("hello")
    with pytest.raises(DataError, match=r"fake\.png: not an image Pillow can read"):
        read_image_file(tmp_path / "fake.png")
    data = tmp_path / "ok.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)).save(data)
    (tmp_path / "cut.png").write_bytes(data.read_bytes()[:200])
    with pytest.raises(DataError, match=r"cut\.png"):
        read_image_file(tmp_path / "cut.png")


# -- DICOM ---------------------------------------------------------------------------------


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


# -- NIfTI ---------------------------------------------------------------------------------

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


# -- MedMNIST .npz -------------------------------------------------------------------------


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


def test_npz_labels_and_splits(tmp_path: Path) -> None:
    path = medmnist(tmp_path / "organ.npz")
    train = read_npz(path)
    assert [s.label for s in train] == ["0", "1", "2", "1"]
    assert train[1].meta.subject == "organ:train:1"
    raw = np.load(path)["train_images"][2]
    np.testing.assert_allclose(train[2].image, raw / 127.5 - 1, atol=1e-6)
    val = read_npz(path, "val")
    assert [s.label for s in val] == ["3", "0"] and np.all(val[0].image == 1.0)
    test = read_npz(path, "test")
    np.testing.assert_allclose(test[0].image, 0.299 * 255 / 127.5 - 1, atol=1e-6)
    every = read_npz(path, "all")
    assert len(every) == 9 and every[4].meta.subject == "organ:val:0"


def test_npz_errors(tmp_path: Path) -> None:
    np.savez(tmp_path / "odd.npz", images=np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(DataError, match=r"odd\.npz: no 'train_images' array: the file has images"):
        read_npz(tmp_path / "odd.npz")
    np.savez(
        tmp_path / "chest.npz",
        train_images=np.zeros((2, 4, 4), np.uint8),
        train_labels=np.zeros((2, 14)),
    )
    with pytest.warns(UserWarning, match="14 labels per image"):
        assert [s.label for s in read_npz(tmp_path / "chest.npz")] == [None, None]


# -- read_path -----------------------------------------------------------------------------


def png(path: Path, size: tuple[int, int] = (8, 8), mode: str = "L") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size[::-1], 128).save(path)
    return path


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
