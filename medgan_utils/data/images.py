"""Reading PNG, JPEG, TIFF and BMP files with Pillow into 2-D slices in ``[-1, 1]``.

8-bit images keep absolute intensities (fixed range ``0..255``); 16-bit, 32-bit and float
images (often 12-bit data stored as 16-bit) are scaled by their own range.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from medgan_utils.data.slices import RawSlice, SliceMeta, check_finite, scale_to_unit
from medgan_utils.errors import DataError

__all__ = ["IMAGE_SUFFIXES", "read_image_file", "read_image_and_mode"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def read_image_file(path: str | Path, subject_pattern: str | None = None) -> list[RawSlice]:
    """Read a PNG, JPEG, TIFF or BMP file with Pillow.

    Colour (RGB, RGBA, palette) becomes grayscale by Pillow's ITU-R 601-2 luma conversion;
    alpha is ignored. 8-bit images map the fixed range ``0..255`` onto ``[-1, 1]``, so
    absolute intensities stay comparable across images. 16-bit, 32-bit integer and float
    images are min-max scaled per image, so a 12-bit image stored as 16-bit spans
    ``[-1, 1]``; a constant image is ``-1`` everywhere.

    Args:
        path: the image file; each page of a multi-page TIFF is one slice.
        subject_pattern: a regex searched in the file name; its first group (or the whole
            match) is the subject id. Default: the file stem.

    Returns:
        One :class:`RawSlice` per page, ``(H, W)`` float32 in ``[-1, 1]``,
        ``slice_index`` = page.
    """
    return read_image_and_mode(Path(path), subject_pattern)[0]


def read_image_and_mode(path: Path, subject_pattern: str | None) -> tuple[list[RawSlice], str]:
    """:func:`read_image_file`, also returning the Pillow mode of the first page."""
    subject = path.stem
    if subject_pattern is not None:
        match = re.search(subject_pattern, path.name)
        if match is None:
            raise DataError(path, f"subject_pattern {subject_pattern!r} does not match the name")
        subject = match.group(1) if match.re.groups else match.group(0)
    try:
        with Image.open(path) as img:
            mode = img.mode
            pages = [_page_to_unit(page, path) for page in ImageSequence.Iterator(img)]
    except UnidentifiedImageError:
        raise DataError(path, "not an image Pillow can read") from None
    except OSError as e:
        raise DataError(path, f"truncated or corrupt image file: {e}") from None
    meta = [SliceMeta(str(path), subject, i) for i in range(len(pages))]
    return [RawSlice(p, m) for p, m in zip(pages, meta, strict=True)], mode


def _page_to_unit(page: Image.Image, path: Path) -> np.ndarray:
    if page.mode.startswith("I") or page.mode == "F":  # I;16, I;16B, I (int32), F (float32)
        x = np.asarray(page, dtype=np.float64)
        check_finite(path, x)
        return scale_to_unit(x, float(x.min()), float(x.max()))
    x = np.asarray(page if page.mode == "L" else page.convert("L"), dtype=np.float32)
    return scale_to_unit(x, 0.0, 255.0)
