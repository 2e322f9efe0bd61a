"""Reading DICOM files and series with pydicom into 2-D slices in ``[-1, 1]``.

Stored values go through the modality LUT (rescale slope/intercept) and the header's VOI
window (linear, linear-exact or sigmoid); MONOCHROME1 is inverted so bright is always
``+1``. Single-frame files are grouped by series and put in anatomical order; files
without a window share one percentile window per series.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut

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


def read_dicom_file(path: str | Path) -> list[RawSlice]:
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

    Returns:
        One :class:`RawSlice` per frame, ``(Rows, Columns)`` float32 in ``[-1, 1]``;
        subject = PatientID, else StudyInstanceUID, else the file stem.

    Raises:
        DataError: not DICOM, no pixel data, truncated pixel data, or a failed decode
            (naming the transfer syntax and pydicom's message).
    """
    return dicom_slices([(Path(path), read_dicom_dataset(Path(path)))])


def read_dicom_series(paths: Iterable[str | Path]) -> list[RawSlice]:
    """Read single-frame DICOM files as series, each in anatomical order.

    Files are grouped by ``SeriesInstanceUID`` and ordered by ``ImagePositionPatient``
    projected on the slice normal (the cross product of ``ImageOrientationPatient``'s
    row and column directions), else by ``InstanceNumber``, else by file name. Headers
    without a window share one percentile window per series. Intensities as in
    :func:`read_dicom_file`. A multi-frame file among ``paths`` is read on its own.

    Returns:
        Slices series by series; ``slice_index`` = position in the series' order.
    """
    return dicom_slices([(Path(p), read_dicom_dataset(Path(p))) for p in paths])


def read_dicom_dataset(path: Path) -> Dataset:
    """Read a DICOM file's dataset; raise :class:`DataError` unless it has pixel data."""
    try:
        ds = pydicom.dcmread(path)
    except InvalidDicomError:
        raise DataError(path, "not a DICOM file") from None
    except Exception as e:  # pydicom raises many types on a corrupt header
        raise DataError(path, f"corrupt DICOM header: {e}") from None
    if not any(k in ds for k in ("PixelData", "FloatPixelData", "DoubleFloatPixelData")):
        raise DataError(path, "no pixel data")
    return ds


def _is_multiframe(ds: Dataset) -> bool:
    return int(ds.get("NumberOfFrames") or 1) > 1


def _series_order(items: list[tuple[Path, Dataset]]) -> list[tuple[Path, Dataset]]:
    """Sort one series' files by position along the slice normal, instance, or name."""
    if all("ImagePositionPatient" in d and "ImageOrientationPatient" in d for _, d in items):
        iop = np.asarray(items[0][1].ImageOrientationPatient, dtype=float)
        normal = np.cross(iop[:3], iop[3:])
        return sorted(
            items, key=lambda it: float(np.dot(normal, np.asarray(it[1].ImagePositionPatient)))
        )
    if all(d.get("InstanceNumber") is not None for _, d in items):
        return sorted(items, key=lambda it: int(it[1].InstanceNumber))
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
        unwindowed = [f.ravel() for _, ds, f in decoded if _window(ds) is None]
        fallback = robust_range(np.concatenate(unwindowed)) if unwindowed else (0.0, 0.0)
        index = 0
        for path, ds, frames in decoded:
            subject = str(ds.get("PatientID") or ds.get("StudyInstanceUID") or path.stem)
            sign = -1 if ds.get("PhotometricInterpretation") == "MONOCHROME1" else 1
            for frame in frames:
                image = sign * _apply_window(frame, _window(ds), fallback)
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
    colour = int(ds.get("SamplesPerPixel", 1)) > 1
    if ds.get("PhotometricInterpretation") == "PALETTE COLOR":
        x, colour = apply_color_lut(x, ds), True
    if not _is_multiframe(ds):
        x = x[None]
    x = x.astype(np.float32) @ LUMA.astype(np.float32) if colour else apply_modality_lut(x, ds)
    check_finite(path, x)
    return x.astype(np.float32)


def _window(ds: Dataset) -> tuple[float, float, str] | None:
    """The header's first (centre, width, VOI function), or None without a usable one."""
    centre, width = ds.get("WindowCenter"), ds.get("WindowWidth")
    if centre is None or width is None:
        return None
    centre = centre[0] if isinstance(centre, MultiValue) else centre
    width = width[0] if isinstance(width, MultiValue) else width
    if not float(width) > 1:
        return None
    return float(centre), float(width), str(ds.get("VOILUTFunction") or "LINEAR").upper()


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
