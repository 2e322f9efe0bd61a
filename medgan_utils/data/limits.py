"""What every reader refuses before decoding: files that are not regular files, and files
whose headers claim more pixels than the pixel budget allows.

A compressed image can claim far more pixels than its size suggests: an 8 KB PNG of
30000 x 30000 1-bit pixels decodes to 900 M pixels, a deflated DICOM or a ``.nii.gz`` of a
few hundred KB to gigabytes. Every reader reads its header first (Pillow's lazy
``Image.open``, pydicom's header, nibabel's header, the ``.npy`` headers inside an
``.npz``) and asks one :class:`PixelBudget` before decoding anything:

- **per file** (``max_pixels``, env ``MEDGAN_MAX_PIXELS``, default ``2**28`` = 268 M): the
  pixel values one file decodes, width x height x samples per pixel x frames or slices
  (a 16384 x 16384 grayscale image, a 512 x 512 x 1024 volume); over it the file raises
  :class:`~medgan_utils.errors.PixelBudgetError` naming the file, its header size and the
  budget, and ``on_error="skip"`` leaves it out;
- **per read** (``max_total_pixels``, env ``MEDGAN_MAX_TOTAL_PIXELS``, default ``2**31`` =
  2.1 G, 8 GiB as float32): the pixels a whole file or folder read keeps, width x height x
  frames or slices summed over its files; over it the read stops with
  :class:`~medgan_utils.errors.TotalPixelBudgetError`, even with ``on_error="skip"``
  (skipping files one by one would silently keep an arbitrary part of the folder).

Pass ``max_pixels=`` / ``max_total_pixels=`` to
:func:`~medgan_utils.data.readers.read_path` (or
:func:`~medgan_utils.data.load.load_dataset`), or set the environment variables, to read
bigger data. Pillow keeps its own ceiling for PNG/JPEG/TIFF/BMP (``2 *
PIL.Image.MAX_IMAGE_PIXELS``, 179 M pixels), reported with the same error.
"""

from __future__ import annotations

import math
import os
import stat
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from medgan_utils.errors import DataError, PixelBudgetError, TotalPixelBudgetError

__all__ = [
    "DEFAULT_MAX_PIXELS",
    "DEFAULT_MAX_TOTAL_PIXELS",
    "PixelBudget",
    "check_regular_file",
    "file_kind",
]

DEFAULT_MAX_PIXELS = 2**28
DEFAULT_MAX_TOTAL_PIXELS = 2**31
_ENV = {"max_pixels": "MEDGAN_MAX_PIXELS", "max_total_pixels": "MEDGAN_MAX_TOTAL_PIXELS"}


def _limit(name: str, value: int | None, default: int) -> int:
    """``value``, else the environment variable for ``name``, else ``default``; positive."""
    source, raw = name, str(value)
    env = os.environ.get(_ENV[name], "").strip()
    if value is None:
        if not env:
            return default
        source, raw = _ENV[name], env
    try:
        limit = int(raw)  # "268435456" or "268_435_456"; not "1e9", not True
    except ValueError:
        limit = 0
    if limit <= 0:
        raise DataError(source, f"must be a positive whole number of pixels, got {raw!r}")
    return limit


class PixelBudget:
    """The pixels one read may decode: checked from headers, before any decoding.

    One budget serves one read (a file or a folder): readers call :meth:`claim` with the
    size a header claims before they decode it, and the budget counts what the read has
    claimed so far.

    Args:
        max_pixels: the most pixel values one file may decode (width x height x samples x
            frames or slices); default ``MEDGAN_MAX_PIXELS``, else :data:`DEFAULT_MAX_PIXELS`.
        max_total_pixels: the most pixels (width x height x frames or slices) the whole read
            may keep; default ``MEDGAN_MAX_TOTAL_PIXELS``, else
            :data:`DEFAULT_MAX_TOTAL_PIXELS`.
        root: the file or folder being read, named when the total is exceeded.

    Raises:
        DataError: a limit (or its environment variable) that is not a positive integer.

    Example:
        >>> budget = PixelBudget(max_pixels=64 * 64)
        >>> budget.claim("scan.png", (64, 64))
    """

    def __init__(
        self,
        max_pixels: int | None = None,
        max_total_pixels: int | None = None,
        root: str | Path | None = None,
    ) -> None:
        self.max_pixels = _limit("max_pixels", max_pixels, DEFAULT_MAX_PIXELS)
        self.max_total_pixels = _limit(
            "max_total_pixels", max_total_pixels, DEFAULT_MAX_TOTAL_PIXELS
        )
        self.root = None if root is None else str(root)
        self.used = 0  # pixels claimed by the read so far
        # Readers in several threads share one budget (read_path's pool): the total is
        # counted under a lock, and each thread counts the file it reads on its own.
        self._lock = threading.Lock()
        self._reading = threading.local()  # .file, .values: the file being read, its values

    def claim(self, path: str | Path, shape: Sequence[int], samples: int = 1) -> None:
        """Count a decode of ``shape`` pixels of ``samples`` values each from ``path``.

        Claims from the same file add up (the pages of a TIFF, the arrays of an ``.npz``);
        threads may claim at once, each reading its own files.

        Args:
            path: the file whose header claims the size.
            shape: the pixel dimensions the header claims, e.g. ``(frames, rows, columns)``.
            samples: values per pixel (3 for RGB).

        Raises:
            PixelBudgetError: the file would decode more than ``max_pixels`` values.
            TotalPixelBudgetError: the read would keep more than ``max_total_pixels``.
        """
        dims = [int(d) for d in shape]
        if any(d < 0 for d in dims) or samples < 1:
            raise DataError(path, f"header claims an impossible size {_size(dims, samples)}")
        pixels = math.prod(dims)
        reading = self._reading
        if str(path) != getattr(reading, "file", None):
            reading.file, reading.values = str(path), 0
        reading.values += pixels * samples
        values = reading.values
        if values > self.max_pixels:
            in_all = "" if values == pixels * samples else ", with earlier parts"
            raise PixelBudgetError(
                path,
                f"over the pixel budget: header claims {_size(dims, samples)}{in_all}"
                f" = {values:,} pixel values, more than {self.max_pixels:,} per"
                f" file (a decompression bomb?); to read it, raise the budget with"
                f" {_ENV['max_pixels']}={values} or max_pixels={values}",
            )
        with self._lock:
            total = self.used + pixels
            if total <= self.max_total_pixels:
                self.used = total
        if total > self.max_total_pixels:
            raise TotalPixelBudgetError(
                self.root or path,
                f"over the total pixel budget: with {path} ({pixels:,} pixels) the files read"
                f" claim {total:,} pixels, more than {self.max_total_pixels:,} per"
                f" read; read a smaller folder, or raise the budget with"
                f" {_ENV['max_total_pixels']} or max_total_pixels",
            )

    def refuse(self, path: str | Path, pixels: int | None, limit: int, who: str) -> NoReturn:
        """Raise the :class:`PixelBudgetError` for a file that a library's own limit refused.

        Args:
            path: the file.
            pixels: the size the library read from the header, if it said.
            limit: that library's limit.
            who: its name and how to raise it, e.g. ``"2 x PIL.Image.MAX_IMAGE_PIXELS"``.
        """
        claimed = "more pixels" if pixels is None else f"{pixels:,} pixels"
        ours = pixels is None or pixels > self.max_pixels
        raise PixelBudgetError(
            path,
            f"over the pixel budget: header claims {claimed}, more than {who} = {limit:,}"
            + (f" and than the budget of {self.max_pixels:,} per file" if ours else "")
            + f" (a decompression bomb?); to read it, raise {who.split()[-1]}"
            + (f" and {_ENV['max_pixels']} or max_pixels" if ours else ""),
        )


def _size(dims: Sequence[int], samples: int) -> str:
    return " x ".join(map(str, dims)) + (f" x {samples} samples" if samples > 1 else "")


def file_kind(mode: int) -> str:
    """What a ``st_mode`` is, in words: ``"a FIFO"``, ``"a socket"``, ``"a folder"``, ..."""
    for test, name in (
        (stat.S_ISREG, "a regular file"),
        (stat.S_ISDIR, "a folder"),
        (stat.S_ISFIFO, "a FIFO (named pipe)"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def check_regular_file(path: str | Path) -> None:
    """Raise :class:`DataError` unless ``path`` (links followed) is a regular file.

    Checked with ``stat`` before opening: opening a FIFO for reading blocks until a writer
    comes, and a device can stream forever.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError as e:
        raise DataError(path, f"cannot read it: {e.strerror or e}") from None
    if not stat.S_ISREG(mode):
        raise DataError(path, f"not a regular file: {file_kind(mode)}; not opened")
