"""Reading a file or a folder of medical images: the dispatcher over the format readers.

:func:`read_path` picks a reader by extension (or the DICOM preamble), walks folders in
sorted order, decides whether subfolders are classes, skips or raises on bad files and
warns once about skipped files and mixed sizes or modes. The formats live in their own
modules: :mod:`~medgan_utils.data.images` (Pillow), :mod:`~medgan_utils.data.dicom`
(pydicom), :mod:`~medgan_utils.data.nifti` (nibabel) and :mod:`~medgan_utils.data.npz`
(MedMNIST). Each reader returns :class:`~medgan_utils.data.slices.RawSlice` objects at the
file's own resolution; resizing and stacking into tensors is
:mod:`medgan_utils.data.dataset`'s job.

Error reasons have the form ``"what went wrong"`` or ``"what went wrong: detail"``;
``read_path(..., on_error="skip")`` groups skipped files by the part before ``": "``.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from pydicom.dataset import Dataset

from medgan_utils.data.dicom import dicom_slices, read_dicom_dataset
from medgan_utils.data.images import IMAGE_SUFFIXES, read_image_and_mode
from medgan_utils.data.nifti import read_nifti
from medgan_utils.data.npz import read_npz
from medgan_utils.data.slices import RawSlice, ReadResult
from medgan_utils.errors import DataError

__all__ = ["read_path", "warn_skipped"]


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
    Single-frame DICOM files are read as series
    (:func:`~medgan_utils.data.dicom.read_dicom_series`). Mixed image sizes or modes are fine
    (the dataset resizes) and give one warning.

    Args:
        path: a file or a folder.
        on_error: ``"raise"`` stops at the first unreadable or unsupported file with a
            :class:`DataError` naming it; ``"skip"`` leaves such files out, lists them in
            :attr:`~medgan_utils.data.slices.ReadResult.skipped` and warns once with the
            counts per reason.
        axis, min_foreground: passed to :func:`~medgan_utils.data.nifti.read_nifti`.
        npz_split: passed to :func:`~medgan_utils.data.npz.read_npz` as ``split``.
        subject_pattern: passed to :func:`~medgan_utils.data.images.read_image_file`.
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
        "image": lambda f: read_image_and_mode(f, subject_pattern),
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
                    dicoms.append((file, read_dicom_dataset(file)))
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
        found += dicom_slices(dicoms, None if on_error == "raise" else skipped)
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


def warn_skipped(skipped: Sequence[tuple[str, str]], root: str | Path) -> None:
    """Issue the one warning that ``on_error="skip"`` promises: counts per reason."""
    if not skipped:
        return
    reasons = Counter(reason for _, reason in skipped).most_common()
    detail = "; ".join(f"{n} x {reason}" for reason, n in reasons)
    warnings.warn(f"{root}: skipped {len(skipped)} file(s): {detail}", stacklevel=3)
