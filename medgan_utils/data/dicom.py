"""Reading DICOM files and series with pydicom into 2-D slices in ``[-1, 1]``.

Stored values go through the modality LUT (rescale slope/intercept) and the header's VOI
window (linear, linear-exact or sigmoid); MONOCHROME1 is inverted so bright is always
``+1``. Single-frame files are grouped by series and put in anatomical order; files
without a window share one percentile window per series.

Headers are read first (pixel data deferred) and checked before any decoding: the size
``Rows x Columns x NumberOfFrames x SamplesPerPixel`` against the pixel budget
(:mod:`medgan_utils.data.limits`), and the values the reader uses (orientation, position,
instance number, window, rescale) for being numbers of the right count, so a bad file is a
:class:`~medgan_utils.errors.DataError` naming it, which ``on_error="skip"`` can leave out.
"""

from __future__ import annotations

import warnings
import zlib
from collections.abc import Iterable
from io import BytesIO
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileDataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.filereader import read_dataset, read_file_meta_info
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut
from pydicom.uid import DeflatedExplicitVRLittleEndian

from medgan_utils.data.limits import PixelBudget, check_regular_file
from medgan_utils.data.slices import (
    LUMA,
    RawSlice,
    SliceMeta,
    check_finite,
    robust_range,
    scale_to_unit,
)
from medgan_utils.errors import DataError

__all__ = ["read_dicom_file", "read_dicom_series", "read_dicom_dataset", "dicom_slices"]


def read_dicom_file(path: str | Path, budget: PixelBudget | None = None) -> list[RawSlice]:
    """Read one DICOM file with pydicom; each frame of a multi-frame file is one slice.

    Stored values go through the modality LUT (rescale slope/intercept), then the first
    ``WindowCenter``/``WindowWidth`` of the header (DICOM's linear VOI function, or its
    sigmoid when ``VOILUTFunction`` says so) maps the window onto ``[-1, 1]``. Without a
    window the 0.5th-99.5th percentiles of the file are used. MONOCHROME1 is inverted
    after windowing, so bright (high attenuation) is always ``+1``; colour becomes
    grayscale (ITU-R 601 luma). Compressed transfer syntaxes are decoded by pydicom's
    plugins (RLE, JPEG-LS, JPEG 2000 and most JPEG).

    Args:
        path: a DICOM file (with the ``DICM`` preamble).
        budget: the pixel budget (default: a fresh
            :class:`~medgan_utils.data.limits.PixelBudget` for this file).

    Returns:
        One :class:`RawSlice` per frame, ``(Rows, Columns)`` float32 in ``[-1, 1]``;
        subject = PatientID, else StudyInstanceUID, else the file stem.

    Raises:
        DataError: not DICOM, no pixel data, truncated pixel data, a failed decode
            (naming the transfer syntax and pydicom's message), a header value the reader
            cannot use, or a size over the pixel budget
            (:class:`~medgan_utils.errors.PixelBudgetError`).
    """
    return dicom_slices([(Path(path), read_dicom_dataset(Path(path), budget))])


def read_dicom_series(
    paths: Iterable[str | Path], budget: PixelBudget | None = None
) -> list[RawSlice]:
    """Read single-frame DICOM files as series, each in anatomical order.

    Files are grouped by ``SeriesInstanceUID`` and ordered by ``ImagePositionPatient``
    projected on the slice normal (the cross product of ``ImageOrientationPatient``'s
    row and column directions), else by ``InstanceNumber``, else by file name. Headers
    without a window share one percentile window per series. Intensities as in
    :func:`read_dicom_file`. A multi-frame file among ``paths`` is read on its own.

    Args:
        paths: the files.
        budget: one pixel budget for all of them (default: a fresh
            :class:`~medgan_utils.data.limits.PixelBudget`).

    Returns:
        Slices series by series; ``slice_index`` = position in the series' order.
    """
    budget = budget or PixelBudget()
    return dicom_slices([(Path(p), read_dicom_dataset(Path(p), budget)) for p in paths])


def read_dicom_dataset(path: Path, budget: PixelBudget | None = None) -> Dataset:
    """Read a DICOM file's header, pixel data deferred, and check it before any decoding.

    Args:
        path: a DICOM file (with the ``DICM`` preamble).
        budget: the pixel budget to claim ``Rows x Columns x NumberOfFrames x
            SamplesPerPixel`` from (default: a fresh one for this file).

    Raises:
        DataError: not a regular file, not DICOM, a corrupt header, no pixel data, header
            values the reader cannot use (each named), or (as
            :class:`~medgan_utils.errors.PixelBudgetError`) a size over the pixel budget.
    """
    check_regular_file(path)
    budget = budget or PixelBudget(root=path)
    try:
        meta = read_file_meta_info(path)
        claimed = False
        if meta.get("TransferSyntaxUID") == DeflatedExplicitVRLittleEndian:
            ds, claimed = _read_deflated(path, meta, budget)
        else:  # pixel data over 1 MB is read only when decoded, after the checks below
            ds = pydicom.dcmread(str(path), defer_size=_DEFER_BYTES)
    except DataError:
        raise
    except InvalidDicomError:
        raise DataError(path, "not a DICOM file") from None
    except Exception as e:  # pydicom raises many types on a corrupt header
        raise DataError(path, f"corrupt DICOM header: {e}") from None
    if not any(k in ds for k in _PIXEL_KEYWORDS):
        raise DataError(path, "no pixel data")
    if not claimed:  # a large deflated file was claimed while inflating
        _claim_pixels(path, ds, budget)
    _check_values(path, ds)
    return ds


_DEFER_BYTES = 2**20
_PIXEL_KEYWORDS = ("PixelData", "FloatPixelData", "DoubleFloatPixelData")
_PIXEL_TAGS = (0x7FE00008, 0x7FE00009, 0x7FE00010)
# A deflated file's header is inflated in one step of this size at most; what follows is
# inflated only up to what the header's pixel data needs, plus the slack below.
_DEFLATE_HEAD_BYTES = 16 * 2**20
_DEFLATE_SLACK_BYTES = 2**20


def _read_deflated(path: Path, meta: FileMetaDataset, budget: PixelBudget) -> tuple[Dataset, bool]:
    """Inflate a Deflated Explicit VR Little Endian data set no further than its header needs.

    pydicom inflates such a data set with one unbounded ``zlib.decompress`` before looking
    at any element, so a file of a few hundred KB can take gigabytes before its header is
    seen. Here the data set is inflated in steps: first its header (at most
    ``_DEFLATE_HEAD_BYTES``), which is checked against the budget; then only the bytes its
    pixel data needs. pydicom then parses the inflated bytes as it would have.

    Returns:
        The data set, and whether its size was claimed from the budget already.
    """
    length = meta.get("FileMetaInformationGroupLength")
    if length is None:
        raise DataError(path, "corrupt DICOM header: deflated, without a file meta group length")
    inflater = zlib.decompressobj(-zlib.MAX_WBITS)
    with open(path, "rb") as f:
        preamble = f.read(128)
        f.seek(132 + 12 + int(length))  # preamble, "DICM", (0002,0000) element, the group
        data = inflater.decompress(f.read(), _DEFLATE_HEAD_BYTES)
    claimed = False
    if not inflater.eof and len(data) == _DEFLATE_HEAD_BYTES:  # more to come: header first
        reached: list[int] = []

        def at_pixels(tag: int, vr: str | None, length: int) -> bool:
            if tag in _PIXEL_TAGS:
                reached.append(tag)
            return bool(reached)

        with warnings.catch_warnings():  # a header cut short warns; refused just below
            warnings.simplefilter("ignore")
            header = read_dataset(BytesIO(data), False, True, stop_when=at_pixels)
        if not reached:
            raise DataError(path, f"deflated DICOM header over {_DEFLATE_HEAD_BYTES:,} bytes")
        needed = _claim_pixels(path, header, budget) + _DEFLATE_SLACK_BYTES
        rest = inflater.decompress(inflater.unconsumed_tail, needed + 1)
        if len(rest) > needed:
            raise DataError(
                path,
                f"deflated data inflates to more than its header's pixel data needs "
                f"({needed:,} bytes after the header; a decompression bomb?)",
            )
        data, claimed = data + rest, True
    dataset = read_dataset(BytesIO(data), False, True)
    return FileDataset(str(path), dataset, preamble, meta, False), claimed


def _claim_pixels(path: Path, ds: Dataset, budget: PixelBudget) -> int:
    """Claim ``NumberOfFrames x Rows x Columns`` of ``SamplesPerPixel`` from the budget.

    Returns:
        The bytes the pixel data takes at ``BitsAllocated`` (8 without it).
    """
    try:
        size = [int(ds.get(k) or 1) for k in ("NumberOfFrames", "SamplesPerPixel", "BitsAllocated")]
        rows, columns = int(ds.Rows), int(ds.Columns)
    except Exception as e:  # a missing element or a value that is not a number
        raise DataError(path, f"no usable image size in the header: {e}") from None
    frames, samples, bits = size
    if min(rows, columns, frames, samples, bits) < 1:
        raise DataError(path, f"header claims an empty image: {frames} x {rows} x {columns}")
    budget.claim(path, (frames, rows, columns), samples)
    return frames * rows * columns * samples * -(-bits // 8)


def _is_multiframe(ds: Dataset) -> bool:
    return int(ds.get("NumberOfFrames") or 1) > 1


def _numbers(path: Path, ds: Dataset, keyword: str, count: int | None) -> list[float] | None:
    """The header's ``keyword`` as finite numbers (``count`` of them), None when absent."""
    if keyword not in ds or ds[keyword].value in (None, ""):
        return None
    value = ds[keyword].value
    values = list(value) if isinstance(value, MultiValue | list | tuple) else [value]
    try:
        numbers = [float(v) for v in values]
    except (TypeError, ValueError):
        numbers = []
    if not numbers or not np.all(np.isfinite(numbers)):
        raise DataError(path, f"{keyword} is not a number: {value!r}")
    if count is not None and len(numbers) != count:
        raise DataError(path, f"{keyword} has {len(numbers)} values, DICOM requires {count}")
    return numbers


def _check_values(path: Path, ds: Dataset) -> None:
    """Check the header values the reader uses, so each bad one names the file."""
    try:
        for keyword, count in (
            ("ImageOrientationPatient", 6),
            ("ImagePositionPatient", 3),
            ("InstanceNumber", 1),
            ("RescaleSlope", 1),
            ("RescaleIntercept", 1),
        ):
            _numbers(path, ds, keyword, count)
        _window(path, ds)
    except DataError:
        raise
    except Exception as e:  # pydicom converts values on access and may fail there
        raise DataError(path, f"unreadable header value: {e}") from None


def _series_order(items: list[tuple[Path, Dataset]]) -> list[tuple[Path, Dataset]]:
    """Sort one series' files by position along the slice normal, instance, or name."""
    if all("ImagePositionPatient" in d and "ImageOrientationPatient" in d for _, d in items):
        iop = np.asarray(items[0][1].ImageOrientationPatient, dtype=float)
        normal = np.cross(iop[:3], iop[3:])
        return sorted(
            items, key=lambda it: float(np.dot(normal, np.asarray(it[1].ImagePositionPatient)))
        )
    if all(d.get("InstanceNumber") is not None for _, d in items):
        return sorted(items, key=lambda it: float(it[1].InstanceNumber))
    return sorted(items, key=lambda it: it[0].name)


def dicom_slices(
    items: list[tuple[Path, Dataset]], skipped: list[tuple[str, str]] | None = None
) -> list[RawSlice]:
    """Group, order, decode and window DICOM datasets; decode errors raise or go to skipped.

    Args:
        items: ``(path, dataset)`` pairs from :func:`read_dicom_dataset`.
        skipped: where ``(path, reason)`` of files that fail to decode go; ``None`` raises.

    Returns:
        Slices series by series, ``(Rows, Columns)`` float32 in ``[-1, 1]``.
    """
    series: dict[str, list[tuple[Path, Dataset]]] = {}
    for path, ds in items:  # a multi-frame file, or a file without series UID, stands alone
        uid = None if _is_multiframe(ds) else ds.get("SeriesInstanceUID")
        series.setdefault(str(uid or path), []).append((path, ds))
    out: list[RawSlice] = []
    for members in series.values():
        decoded: list[tuple[Path, Dataset, np.ndarray]] = []
        for path, ds in _series_order(members):
            try:
                decoded.append((path, ds, _dicom_frames(path, ds)))
            except DataError as e:
                if skipped is None:
                    raise
                skipped.append((e.path, e.reason))
        unwindowed = [f.ravel() for path, ds, f in decoded if _window(path, ds) is None]
        fallback = robust_range(np.concatenate(unwindowed)) if unwindowed else (0.0, 0.0)
        index = 0
        for path, ds, frames in decoded:
            subject = str(ds.get("PatientID") or ds.get("StudyInstanceUID") or path.stem)
            sign = -1 if ds.get("PhotometricInterpretation") == "MONOCHROME1" else 1
            for frame in frames:
                image = sign * _apply_window(frame, _window(path, ds), fallback)
                out.append(RawSlice(image, SliceMeta(str(path), subject, index)))
                index += 1
    return out


def _dicom_frames(path: Path, ds: Dataset) -> np.ndarray:
    """Decoded pixels in modality units (grayscale), ``(frames, Rows, Columns)`` float32."""
    syntax = ds.file_meta.get("TransferSyntaxUID")
    try:
        x = ds.pixel_array
    except Exception as e:  # each decoder plugin raises its own types
        msg = " ".join(str(e).split())
        if syntax is not None and syntax.is_compressed:
            raise DataError(path, f"cannot decode {syntax.name} pixel data: {msg}") from None
        raise DataError(path, f"truncated or corrupt DICOM pixel data: {msg}") from None
    colour = int(ds.get("SamplesPerPixel") or 1) > 1
    if ds.get("PhotometricInterpretation") == "PALETTE COLOR":
        try:
            x, colour = apply_color_lut(x, ds), True
        except Exception as e:  # no or a broken lookup table; pydicom raises several types
            msg = " ".join(str(e).split())
            raise DataError(path, f"PALETTE COLOR without a usable palette: {msg}") from None
    try:
        if not _is_multiframe(ds):
            x = x[None]
        x = x.astype(np.float32) @ LUMA.astype(np.float32) if colour else apply_modality_lut(x, ds)
    except Exception as e:  # pixels that do not match the header (shape, LUT)
        msg = " ".join(str(e).split())
        raise DataError(path, f"pixel data does not match its header: {msg}") from None
    check_finite(path, x)
    return x.astype(np.float32)


def _window(path: Path, ds: Dataset) -> tuple[float, float, str] | None:
    """The header's first (centre, width, VOI function), or None without a usable one.

    Raises:
        DataError: a centre or width that is not a number.
    """
    centre = _numbers(path, ds, "WindowCenter", None)
    width = _numbers(path, ds, "WindowWidth", None)
    if centre is None or width is None or not width[0] > 1:
        return None
    return centre[0], width[0], str(ds.get("VOILUTFunction") or "LINEAR").upper()


def _apply_window(
    x: np.ndarray, window: tuple[float, float, str] | None, fallback: tuple[float, float]
) -> np.ndarray:
    """Map a window onto ``[-1, 1]`` (PS3.3 C.11.2.1.2); percentile ``fallback`` without one.

    Written out rather than with ``pydicom.pixels.apply_windowing``, whose output range
    depends on the stored bit depth and would have to be re-derived to reach ``[-1, 1]``.
    """
    if window is None:
        return scale_to_unit(x, *fallback)
    c, w, function = window
    if function == "SIGMOID":
        with np.errstate(over="ignore"):  # exp overflow far below the window: y = -1
            return (2.0 / (1.0 + np.exp(-4.0 * (x - c) / w)) - 1.0).astype(np.float32)
    if function == "LINEAR_EXACT":
        return scale_to_unit(x, c - w / 2, c + w / 2)
    return scale_to_unit(x, c - 0.5 - (w - 1) / 2, c - 0.5 + (w - 1) / 2)
