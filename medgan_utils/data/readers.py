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

Hostile input is refused before it costs anything: every header is checked against one
pixel budget (:mod:`~medgan_utils.data.limits`) before decoding, non-regular files (FIFOs,
devices) are never opened, and symlinked folders are followed only inside the folder read.
"""

from __future__ import annotations

import os
import stat
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal

from pydicom.dataset import Dataset

from medgan_utils.data.dicom import dicom_slices, read_dicom_dataset
from medgan_utils.data.images import IMAGE_SUFFIXES, read_image_and_mode
from medgan_utils.data.limits import PixelBudget, check_regular_file, file_kind
from medgan_utils.data.nifti import read_nifti
from medgan_utils.data.npz import read_npz
from medgan_utils.data.slices import RawSlice, ReadResult
from medgan_utils.errors import DataError, TotalPixelBudgetError

__all__ = ["read_path", "warn_skipped", "skipped_text"]


def read_path(
    path: str | Path,
    *,
    on_error: Literal["raise", "skip"] = "raise",
    axis: str | int = "axial",
    min_foreground: float = 0.1,
    npz_split: str = "train",
    subject_pattern: str | None = None,
    class_folders: bool | None = None,
    max_pixels: int | None = None,
    max_total_pixels: int | None = None,
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

    Left out with a warning that names them, whatever ``on_error`` says (they are never
    opened): FIFOs, sockets and devices inside the folder, broken links, unreadable
    subfolders, and symlinked subfolders whose target resolves outside the folder read.
    Symlinked subfolders inside it are followed, each real folder read once (a second
    path to it is left out with a warning): a dataset folder cannot pull in files from
    elsewhere on the machine, nor loop forever through a link to its own parent.
    Symlinked *files* are read wherever they point (one file each, no traversal), as
    before. A FIFO or device given as ``path`` itself raises :class:`DataError` at once.

    Every file's header is checked against one pixel budget before decoding
    (:mod:`medgan_utils.data.limits`): a file over ``max_pixels`` raises
    :class:`~medgan_utils.errors.PixelBudgetError` (``on_error="skip"`` leaves it out), a
    read over ``max_total_pixels`` in all raises
    :class:`~medgan_utils.errors.TotalPixelBudgetError` whatever ``on_error`` says.

    Args:
        path: a file or a folder.
        on_error: ``"raise"`` stops at the first unreadable or unsupported file with a
            :class:`DataError` naming it; ``"skip"`` leaves such files out, lists them in
            :attr:`~medgan_utils.data.slices.ReadResult.skipped` and warns once, naming
            them, with the counts per reason.
        axis, min_foreground: passed to :func:`~medgan_utils.data.nifti.read_nifti`.
        npz_split: passed to :func:`~medgan_utils.data.npz.read_npz` as ``split``.
        subject_pattern: passed to :func:`~medgan_utils.data.images.read_image_file`.
        class_folders: ``None`` decides as described above; ``True`` or ``False`` forces
            class subfolders on (when all entries are folders) or off.
        max_pixels: the most pixel values one file may decode (default: env
            ``MEDGAN_MAX_PIXELS``, else ``2**28``).
        max_total_pixels: the most pixels the whole read may keep (default: env
            ``MEDGAN_MAX_TOTAL_PIXELS``, else ``2**31``).

    Raises:
        DataError: a bad file under ``"raise"``, a FIFO or device as ``path``, a read over
            the total pixel budget, or nothing readable at all.
    """
    root = Path(path)
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if not root.exists():
        raise DataError(root, "no such file or folder")
    budget = PixelBudget(max_pixels, max_total_pixels, root=root)
    groups: list[tuple[str | None, list[Path]]] = [(None, [root])]
    left_out: list[tuple[str, str]] = []  # never opened, whatever on_error says
    if root.is_dir():
        files, left_out = _walk(root)
        entries = [p for p in sorted(root.iterdir()) if not p.name.startswith(".")]
        classes = bool(entries) and all(p.is_dir() for p in entries)
        if class_folders is None:
            # A DICOM export nests patient/study/series folders, not classes.
            classes = classes and not any(_is_dicom(f) for f in files)
        else:
            classes = class_folders and classes
        groups = (
            [
                (p.name, [f for f in files if f.relative_to(root).parts[0] == p.name])
                for p in entries
            ]
            if classes
            else [(None, files)]
        )
    else:
        check_regular_file(root)
    readers: dict[str, Callable[[Path], tuple[list[RawSlice], str]]] = {
        "image": lambda f: read_image_and_mode(f, subject_pattern, budget),
        "nifti": lambda f: (read_nifti(f, axis, min_foreground, budget), "NIfTI"),
        "npz": lambda f: (read_npz(f, npz_split, budget), "npz"),
    }
    slices: list[RawSlice] = []
    skipped: list[tuple[str, str]] = list(left_out)
    modes: Counter[str] = Counter()
    for label, files in groups:
        found: list[RawSlice] = []
        dicoms: list[tuple[Path, Dataset]] = []
        for file in files:
            try:
                kind = _kind(file)
                if kind == "dicom":  # read as series once the folder is done
                    dicoms.append((file, read_dicom_dataset(file, budget)))
                    modes[str(dicoms[-1][1].get("PhotometricInterpretation", "DICOM"))] += 1
                    continue
                new, mode = readers[kind](file)
            except DataError as e:
                if on_error == "raise" or isinstance(e, TotalPixelBudgetError):
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


def _walk(root: Path) -> tuple[list[Path], list[tuple[str, str]]]:
    """Regular files below ``root`` in sorted order, and ``(path, reason)`` of what is left out.

    Hidden entries and ``DICOMDIR`` indexes are ignored without a word. Left out with a
    reason: anything that is not a regular file or a folder (FIFOs, sockets, devices:
    ``stat`` tells, nothing is opened), broken links, unreadable folders, symlinked
    folders that lead outside ``root``, and a second path to a folder already read.
    """
    real_root = root.resolve()
    seen = {real_root}
    files: list[Path] = []
    left_out: list[tuple[str, str]] = []

    def visit(folder: Path) -> None:
        try:
            entries = sorted(folder.iterdir())
        except OSError as e:
            left_out.append((str(folder), f"unreadable folder: {e.strerror or e}"))
            return
        for p in entries:
            if p.name.startswith(".") or p.name == "DICOMDIR":
                continue
            try:
                mode = os.stat(p).st_mode  # follows links
            except OSError as e:
                left_out.append((str(p), f"broken link or unreadable entry: {e.strerror or e}"))
                continue
            if stat.S_ISREG(mode):
                files.append(p)
            elif not stat.S_ISDIR(mode):
                left_out.append((str(p), f"not a regular file: {file_kind(mode)}, not opened"))
            elif not (real := p.resolve()).is_relative_to(real_root):
                left_out.append((str(p), f"symlinked folder leads outside the folder read: {real}"))
            elif real in seen:
                left_out.append((str(p), f"folder already read through another path: {real}"))
            else:
                seen.add(real)
                visit(p)

    visit(root)
    return sorted(files), left_out


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


def warn_skipped(skipped: Sequence[tuple[str, str]], root: str | Path, names: int = 5) -> None:
    """Issue the one warning that ``on_error="skip"`` promises: counts and names per reason.

    Args:
        skipped: ``(path, reason)`` of every file left out.
        root: the file or folder read, named first.
        names: how many file names to give per reason before ``"and N more"``.
    """
    if not skipped:
        return
    warnings.warn(
        f"{root}: skipped {len(skipped)} file(s): {skipped_text(skipped, names)}", stacklevel=3
    )


def skipped_text(skipped: Sequence[tuple[str, str]], names: int = 5) -> str:
    """``"2 x reason (a.png, b.png); 1 x other (c.dcm)"``: counts per reason, and the first
    ``names`` files of each."""
    by_reason: dict[str, list[str]] = {}
    for path, reason in skipped:
        by_reason.setdefault(reason, []).append(path)
    parts = []
    for reason, paths in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
        listed = ", ".join(paths[:names]) + (
            f", and {len(paths) - names} more" if len(paths) > names else ""
        )
        parts.append(f"{len(paths)} x {reason} ({listed})")
    return "; ".join(parts)
