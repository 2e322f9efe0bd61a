"""Reading PNG, JPEG, TIFF and BMP files with Pillow into 2-D slices in ``[-1, 1]``.

8-bit images keep absolute intensities (fixed range ``0..255``); 16-bit, 32-bit and float
images (often 12-bit data stored as 16-bit) are scaled by their own range. Each page's size
is checked against the pixel budget (:mod:`medgan_utils.data.limits`) from its header,
before it is decoded.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageSequence, UnidentifiedImageError

from medgan_utils.data.limits import PixelBudget, check_regular_file
from medgan_utils.data.slices import RawSlice, SliceMeta, check_finite, scale_to_unit
from medgan_utils.errors import DataError

__all__ = ["IMAGE_SUFFIXES", "read_image_file", "read_image_and_mode"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")


def read_image_file(
    path: str | Path, subject_pattern: str | None = None, budget: PixelBudget | None = None
) -> list[RawSlice]:
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
        budget: the pixel budget to claim each page from (default: a fresh
            :class:`~medgan_utils.data.limits.PixelBudget` for this file).

    Returns:
        One :class:`RawSlice` per page, ``(H, W)`` float32 in ``[-1, 1]``,
        ``slice_index`` = page.

    Raises:
        DataError: not a regular file, not an image, a corrupt image, or (as
            :class:`~medgan_utils.errors.PixelBudgetError`) a page over the pixel budget.
    """
    return read_image_and_mode(Path(path), subject_pattern, budget)[0]


def read_image_and_mode(
    path: Path, subject_pattern: str | None, budget: PixelBudget | None = None
) -> tuple[list[RawSlice], str]:
    """:func:`read_image_file`, also returning the Pillow mode of the first page."""
    check_regular_file(path)
    budget = budget or PixelBudget(root=path)
    subject = path.stem
    if subject_pattern is not None:
        match = re.search(subject_pattern, path.name)
        if match is None:
            raise DataError(path, f"subject_pattern {subject_pattern!r} does not match the name")
        subject = match.group(1) if match.re.groups else match.group(0)
    try:
        with warnings.catch_warnings():
            # Pillow warns from MAX_IMAGE_PIXELS on: noise here, the budget decides below.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            img = Image.open(path)  # reads the header only
        with img:
            mode, pages = img.mode, []
            for page in ImageSequence.Iterator(img):
                budget.claim(path, page.size[::-1], len(page.getbands()))  # before decoding
                pages.append(_page_to_unit(page, path))  # (image, eight_bit)
    except Image.DecompressionBombError as e:  # Pillow's own ceiling, checked in open
        budget.refuse(path, _pillow_pixels(e), 2 * (Image.MAX_IMAGE_PIXELS or 0), _PILLOW)
    except UnidentifiedImageError:
        raise DataError(path, "not an image Pillow can read") from None
    except DataError:
        raise
    except OSError as e:
        raise DataError(path, f"truncated or corrupt image file: {e}") from None
    except Exception as e:  # Pillow's decoders raise many types on crafted files
        raise DataError(path, f"corrupt image file: {type(e).__name__}: {e}") from None
    meta = [SliceMeta(str(path), subject, i) for i in range(len(pages))]
    return [RawSlice(p, m, eight_bit=e) for (p, e), m in zip(pages, meta, strict=True)], mode


_PILLOW = "Pillow's own limit, 2 x PIL.Image.MAX_IMAGE_PIXELS"


def _pillow_pixels(error: Exception) -> int | None:
    """The pixel count in Pillow's bomb message, ``"Image size (N pixels) exceeds ..."``."""
    match = re.search(r"\((\d+) pixels\)", str(error))
    return int(match.group(1)) if match else None


def _page_to_unit(page: Image.Image, path: Path) -> tuple[np.ndarray, bool]:
    """The page as ``(H, W)`` float32 in ``[-1, 1]``, and whether it held 8-bit values."""
    if page.mode.startswith("I") or page.mode == "F":  # I;16, I;16B, I (int32), F (float32)
        x = np.asarray(page, dtype=np.float64)
        check_finite(path, x)
        return scale_to_unit(x, float(x.min()), float(x.max())), False
    x = np.asarray(page if page.mode == "L" else page.convert("L"), dtype=np.float32)
    # scale_to_unit(x, 0, 255) step by step, in place: the same float32 values (0..255 need
    # no clipping) in a quarter of the time, which counts on thousands of files.
    np.multiply(x, 2.0, out=x)
    np.divide(x, 255.0, out=x)
    np.subtract(x, 1.0, out=x)
    return x, True
