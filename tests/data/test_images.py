"""Tests for medgan_utils.data.images: PNG/JPEG/TIFF/BMP pixel values, subjects and errors."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medgan_utils.data.images import read_image_file
from medgan_utils.errors import DataError


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
