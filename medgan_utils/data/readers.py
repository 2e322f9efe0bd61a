"""Readers that turn medical image files into 2-D slices in ``[-1, 1]``.

Each reader knows its format's intensity conventions (DICOM rescale and windowing,
MONOCHROME1 inversion, 16-bit PNG/TIFF, NIfTI orientation) and returns
:class:`RawSlice` objects at the file's own resolution. Resizing and stacking into
tensors is :mod:`medgan_utils.data.dataset`'s job.

Error reasons have the form ``"what went wrong"`` or ``"what went wrong: detail"``;
``read_path(..., on_error="skip")`` groups skipped files by the part before ``": "``.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import nibabel as nib
import numpy as np
import pydicom
from PIL import Image, ImageSequence, UnidentifiedImageError
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.multival import MultiValue
from pydicom.pixels import apply_color_lut, apply_modality_lut

from medgan_utils.errors import DataError

__all__ = [
    "SliceMeta",
    "RawSlice",
    "ReadResult",
    "IMAGE_SUFFIXES",
    "read_image_file",
    "read_dicom_file",
    "read_dicom_series",
    "read_nifti",
    "load_nifti_volume",
    "read_npz",
    "read_path",
]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp")
_AXES = {"sagittal": 0, "coronal": 1, "axial": 2}
# ITU-R 601-2 luma, the weights of Pillow's RGB -> "L" conversion, for colour arrays
# that do not come through Pillow (DICOM, npz).
_LUMA = np.array([0.299, 0.587, 0.114])


@dataclass(frozen=True)
class SliceMeta:
    """Where one 2-D image came from.

    Attributes:
        source: path of the file the slice was read from (or ``builtin:...``).
        subject: subject / patient id; slices of one subject never cross splits.
        slice_index: index of the slice in its volume, series or frame stack (0 for 2-D files).
        groups: group attributes used by audits, e.g. ``{"site": "B"}``.
    """

    source: str
    subject: str
    slice_index: int = 0
    groups: Mapping[str, str] = field(default_factory=dict)


@dataclass
class RawSlice:
    """One 2-D image as read: ``image`` is ``(H, W)`` float32 in ``[-1, 1]``, display-oriented."""

    image: np.ndarray
    meta: SliceMeta
    label: str | None = None


@dataclass
class ReadResult:
    """What :func:`read_path` found: the slices, and the files skipped with the reason."""

    slices: list[RawSlice]
    skipped: list[tuple[str, str]] = field(default_factory=list)


def _scale(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Map ``[lo, hi]`` linearly onto ``[-1, 1]`` and clip; ``hi <= lo`` (constant) gives -1."""
    if not hi > lo:
        return np.full(x.shape, -1.0, dtype=np.float32)
    return np.clip(2.0 * (x - lo) / (hi - lo) - 1.0, -1.0, 1.0).astype(np.float32)


def _robust_range(x: np.ndarray) -> tuple[float, float]:
    """The 0.5th and 99.5th percentiles of ``x``, or its min and max where those coincide."""
    lo, hi = np.percentile(x, [0.5, 99.5])
    return (float(lo), float(hi)) if hi > lo else (float(x.min()), float(x.max()))


def _check_finite(path: Path, x: np.ndarray) -> None:
    bad = int(np.size(x) - np.count_nonzero(np.isfinite(x)))
    if bad:
        raise DataError(path, f"contains NaN or infinite values: {bad} of {np.size(x)}")


# -- PNG / JPEG / TIFF / BMP ---------------------------------------------------------------


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
    return _read_image(Path(path), subject_pattern)[0]


def _read_image(path: Path, subject_pattern: str | None) -> tuple[list[RawSlice], str]:
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
        _check_finite(path, x)
        return _scale(x, float(x.min()), float(x.max()))
    x = np.asarray(page if page.mode == "L" else page.convert("L"), dtype=np.float32)
    return _scale(x, 0.0, 255.0)


# -- DICOM ---------------------------------------------------------------------------------


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
    return _dicom_slices([(Path(path), _read_dataset(Path(path)))])


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
    return _dicom_slices([(Path(p), _read_dataset(Path(p))) for p in paths])


def _read_dataset(path: Path) -> Dataset:
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


def _dicom_slices(
    items: list[tuple[Path, Dataset]], skipped: list[tuple[str, str]] | None = None
) -> list[RawSlice]:
    """Group, order, decode and window DICOM datasets; decode errors raise or go to skipped."""
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
        fallback = _robust_range(np.concatenate(unwindowed)) if unwindowed else (0.0, 0.0)
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
    x = x.astype(np.float32) @ _LUMA.astype(np.float32) if colour else apply_modality_lut(x, ds)
    _check_finite(path, x)
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
        return _scale(x, *fallback)
    c, w, function = window
    if function == "SIGMOID":
        with np.errstate(over="ignore"):  # exp overflow far below the window: y = -1
            return (2.0 / (1.0 + np.exp(-4.0 * (x - c) / w)) - 1.0).astype(np.float32)
    if function == "LINEAR_EXACT":
        return _scale(x, c - w / 2, c + w / 2)
    return _scale(x, c - 0.5 - (w - 1) / 2, c - 0.5 + (w - 1) / 2)


# -- NIfTI ---------------------------------------------------------------------------------


def load_nifti_volume(path: str | Path) -> np.ndarray:
    """Load a NIfTI volume in RAS+ orientation (``nib.as_closest_canonical``).

    Returns:
        ``(X, Y, Z)`` float32 in the file's own units (scl_slope applied, not rescaled):
        x runs left -> right, y posterior -> anterior, z inferior -> superior. A 2-D image
        gets ``Z = 1``; trailing axes of size 1 are squeezed.

    Raises:
        DataError: NaN/inf voxels (with their count), or a 4-D volume with several volumes
            (pass a 3-D volume, e.g. one extracted with ``nibabel.funcs.four_to_three``).
    """
    path = Path(path)
    try:
        img = nib.as_closest_canonical(nib.load(path))
        data = np.asarray(img.get_fdata(dtype=np.float32))
    except Exception as e:  # nibabel raises many types on a corrupt file
        raise DataError(path, f"not a NIfTI file nibabel can read: {e}") from None
    while data.ndim > 3 and data.shape[-1] == 1:
        data = data[..., 0]
    if data.ndim == 2:
        data = data[:, :, None]
    if data.ndim != 3:
        n = int(np.prod(data.shape[3:]))
        raise DataError(path, f"4-D volume with {n} volumes; pass a 3-D volume")
    _check_finite(path, data)
    return data


def read_nifti(
    path: str | Path, axis: str | int = "axial", min_foreground: float = 0.1
) -> list[RawSlice]:
    """Slice a NIfTI volume (``.nii``/``.nii.gz``) into display-oriented 2-D images.

    Orientation (nilearn's neurological convention): the volume is made RAS+ and each
    slice is ``np.rot90``-ed, so axial slices have anterior at the top and the subject's
    left on the image's left; coronal slices superior at the top, left on the left;
    sagittal slices superior at the top, anterior on the right.

    Intensity: one scaling per volume, so slices stay comparable: ``[lo, hi]`` maps onto
    ``[-1, 1]``, clipped. ``hi`` is the 99.5th percentile of the non-zero voxels (zero is
    the usual background of skull-stripped and masked images and would drag it down).
    ``lo`` is 0, so zero signal stays black, unless the volume has negative values (CT
    in HU), where it is the 0.5th percentile of the non-zero voxels.

    Background: a slice is skipped when the fraction of its pixels above
    ``lo + 0.1 * (hi - lo)`` is below ``min_foreground`` (``0`` keeps every slice).

    Args:
        path: the NIfTI file.
        axis: ``"axial"`` (z, 2), ``"coronal"`` (y, 1), ``"sagittal"`` (x, 0), or 0/1/2.
        min_foreground: minimum foreground fraction of a kept slice, in ``[0, 1]``.

    Returns:
        Kept slices, float32 in ``[-1, 1]``; ``slice_index`` is the index along ``axis``
        in the canonical volume; subject is the BIDS ``sub-XXX`` part of the name, else
        the name without ``.nii``/``.nii.gz``.
    """
    path = Path(path)
    if axis not in _AXES and axis not in (0, 1, 2):
        raise ValueError(f"axis must be one of {list(_AXES)} or 0, 1, 2, got {axis!r}")
    ax = _AXES[axis] if isinstance(axis, str) else int(axis)
    data = load_nifti_volume(path)
    nonzero = data[data != 0]
    lo, hi = np.percentile(nonzero, [0.5, 99.5]) if nonzero.size else (0.0, 0.0)
    lo = min(float(lo), 0.0)
    if not hi > lo:  # e.g. only negative voxels
        lo, hi = float(data.min()), float(data.max())
    volume = np.moveaxis(_scale(data, lo, hi), ax, 0)  # (slices, first, second axis left)
    foreground = (volume > -0.8).mean(axis=(1, 2))  # lo + 0.1 * (hi - lo) after scaling
    name = path.name.removesuffix(".gz").removesuffix(".nii")
    bids = re.search(r"(sub-[A-Za-z0-9]+)", name)
    subject = bids.group(1) if bids else name
    slices = [
        RawSlice(np.ascontiguousarray(np.rot90(volume[k])), SliceMeta(str(path), subject, k))
        for k in range(len(volume))
        if foreground[k] >= min_foreground
    ]
    if not slices:
        raise DataError(path, f"every slice is background (min_foreground={min_foreground})")
    return slices


# -- MedMNIST .npz -------------------------------------------------------------------------


def read_npz(path: str | Path, split: str = "train") -> list[RawSlice]:
    """Read a MedMNIST-style ``.npz`` (``train_images``, ``train_labels``, ``val_*``, ``test_*``).

    Images are ``(N, H, W)`` or ``(N, H, W, 3)``; uint8 maps ``0..255`` onto ``[-1, 1]``
    (other dtypes are min-max scaled per image) and colour becomes ITU-R 601 luma.
    Labels ``(N,)`` or ``(N, 1)`` become class names that are the integer as a string
    (``"0"``, ``"1"``, ...); multi-label files (e.g. ChestMNIST's ``(N, 14)``) are read
    unlabelled with a warning. MedMNIST has no subject ids, so each image is its own
    subject ``"{stem}:{split}:{i}"``: a subject-level split is not possible, and
    ``split`` (MedMNIST's own split) is the way to keep test images out of training.

    Args:
        path: the ``.npz`` file.
        split: ``"train"``, ``"val"``, ``"test"`` or ``"all"`` (the three in that order).
    """
    path = Path(path)
    if split not in ("train", "val", "test", "all"):
        raise ValueError(f"split must be 'train', 'val', 'test' or 'all', got {split!r}")
    try:
        npz = np.load(path)  # lazy: only the requested split is read
    except Exception as e:  # zipfile/pickle errors differ by damage
        raise DataError(path, f"not an .npz file numpy can read: {e}") from None
    with npz:
        names = [s for s in ("train", "val", "test") if split in (s, "all")]
        if split == "all":
            names = [s for s in names if f"{s}_images" in npz.files]
        if not names or any(f"{s}_images" not in npz.files for s in names):
            have = ", ".join(sorted(npz.files)) or "none"
            raise DataError(path, f"no '{split}_images' array: the file has {have}")
        return [s for name in names for s in _npz_split(path, npz, name)]


def _npz_split(path: Path, npz: Mapping[str, np.ndarray], split: str) -> list[RawSlice]:
    images, labels = npz[f"{split}_images"], npz.get(f"{split}_labels")
    if labels is not None and labels.ndim > 1 and labels.shape[1] > 1:
        warnings.warn(
            f"{path}: {labels.shape[1]} labels per image; reading unlabelled", stacklevel=3
        )
        labels = None
    out = []
    for i, x in enumerate(images):
        x = x.astype(np.float64) @ _LUMA if x.ndim == 3 else x.astype(np.float64)
        _check_finite(path, x)
        image = _scale(x, 0, 255) if images.dtype == np.uint8 else _scale(x, x.min(), x.max())
        label = None if labels is None else str(int(np.ravel(labels[i])[0]))
        out.append(RawSlice(image, SliceMeta(str(path), f"{path.stem}:{split}:{i}"), label))
    return out


# -- files and folders ---------------------------------------------------------------------


def read_path(
    path: str | Path,
    *,
    on_error: Literal["raise", "skip"] = "raise",
    axis: str | int = "axial",
    min_foreground: float = 0.1,
    npz_split: str = "train",
    subject_pattern: str | None = None,
    class_folders: bool | None = None,
) -> ReadResult:
    """Read a file, or every supported file in a folder, into 2-D slices.

    Files are dispatched by extension: ``.png .jpg .jpeg .tif .tiff .bmp`` (Pillow),
    ``.dcm`` or any file with the ``DICM`` preamble at byte 128 (DICOM), ``.nii``/``.nii.gz``
    (NIfTI), ``.npz`` (MedMNIST). A folder is walked in sorted order, ignoring hidden files
    and folders and ``DICOMDIR`` indexes. If all its entries are folders, each is a class
    and its name the label of everything below it (the layout of MedNIST and the public
    brain-tumour MRI sets: point at ``Training/``, not at its parent); otherwise the folder
    is unlabelled and read recursively. Folder trees holding DICOM files are never read as
    classes (their subfolders are patients, studies and series) unless ``class_folders=True``.
    Single-frame DICOM files are read as series (:func:`read_dicom_series`). Mixed image
    sizes or modes are fine (``data.py`` resizes) and give one warning.

    Args:
        path: a file or a folder.
        on_error: ``"raise"`` stops at the first unreadable or unsupported file with a
            :class:`DataError` naming it; ``"skip"`` leaves such files out, lists them in
            :attr:`ReadResult.skipped` and warns once with the counts per reason.
        axis, min_foreground: passed to :func:`read_nifti`.
        npz_split: passed to :func:`read_npz` as ``split``.
        subject_pattern: passed to :func:`read_image_file`.
        class_folders: ``None`` decides as described above; ``True`` or ``False`` forces
            class subfolders on (when all entries are folders) or off.

    Raises:
        DataError: a bad file under ``"raise"``, or nothing readable at all.
    """
    root = Path(path)
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if not root.exists():
        raise DataError(root, "no such file or folder")
    groups: list[tuple[str | None, list[Path]]] = [(None, [root])]
    if root.is_dir():
        entries = [p for p in sorted(root.iterdir()) if not p.name.startswith(".")]
        classes = bool(entries) and all(p.is_dir() for p in entries)
        if class_folders is None:
            # A DICOM export nests patient/study/series folders, not classes.
            classes = classes and not any(_is_dicom(f) for f in _walk(root))
        else:
            classes = class_folders and classes
        groups = [(p.name, _walk(p)) for p in entries] if classes else [(None, _walk(root))]
    readers: dict[str, Callable[[Path], tuple[list[RawSlice], str]]] = {
        "image": lambda f: _read_image(f, subject_pattern),
        "nifti": lambda f: (read_nifti(f, axis, min_foreground), "NIfTI"),
        "npz": lambda f: (read_npz(f, npz_split), "npz"),
    }
    slices: list[RawSlice] = []
    skipped: list[tuple[str, str]] = []
    modes: Counter[str] = Counter()
    for label, files in groups:
        found: list[RawSlice] = []
        dicoms: list[tuple[Path, Dataset]] = []
        for file in files:
            try:
                kind = _kind(file)
                if kind == "dicom":  # read as series once the folder is done
                    dicoms.append((file, _read_dataset(file)))
                    modes[str(dicoms[-1][1].get("PhotometricInterpretation", "DICOM"))] += 1
                    continue
                new, mode = readers[kind](file)
            except DataError as e:
                if on_error == "raise":
                    raise
                skipped.append((e.path, e.reason))
                continue
            found += new
            modes[mode] += 1
        found += _dicom_slices(dicoms, None if on_error == "raise" else skipped)
        for s in found:
            s.label = label if label is not None else s.label
        slices += found
    # Group skipped files by the generic part of the reason, before any ": detail".
    skipped = [(p, reason.split(": ", 1)[0]) for p, reason in skipped]
    if not slices:
        counts = Counter(r for _, r in skipped).most_common()
        detail = "; ".join(f"{n} x {r}" for r, n in counts)
        raise DataError(
            root, f"no images could be read: {detail}" if skipped else "no images found"
        )
    from medgan_utils.data.dataset import warn_skipped  # here: data imports this module

    warn_skipped(skipped, root)
    _warn_mixed(slices, modes, root)
    return ReadResult(slices, skipped)


def _walk(folder: Path) -> list[Path]:
    """Files below ``folder`` in sorted order, without hidden ones and DICOMDIR indexes."""
    return sorted(
        p
        for p in folder.rglob("*")
        if p.is_file()
        and p.name != "DICOMDIR"
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )


def _is_dicom(file: Path) -> bool:
    try:
        return _kind(file) == "dicom"
    except (DataError, OSError):
        return False


def _kind(file: Path) -> str:
    name = file.name.lower()
    if name.endswith((".nii", ".nii.gz")):
        return "nifti"
    if name.endswith(".npz"):
        return "npz"
    if name.endswith(IMAGE_SUFFIXES):
        return "image"
    if name.endswith(".dcm"):
        return "dicom"
    with open(file, "rb") as f:
        if f.read(132)[128:] == b"DICM":
            return "dicom"
    raise DataError(file, 'not a supported image format: use on_error="skip" to leave it out')


def _warn_mixed(slices: list[RawSlice], modes: Counter[str], root: Path) -> None:
    """One warning when images come in several sizes or modes."""
    sizes = Counter("x".join(map(str, s.image.shape)) for s in slices)
    parts = [
        f"{len(c)} {what} ({', '.join(f'{k}: {n}' for k, n in c.most_common(4))}"
        + (", ...)" if len(c) > 4 else ")")
        for what, c in (("sizes", sizes), ("modes", modes))
        if len(c) > 1
    ]
    if parts:
        warnings.warn(
            f"{root}: images come in {' and '.join(parts)}; each is converted to grayscale, "
            "padded to square and resized",
            stacklevel=3,
        )
