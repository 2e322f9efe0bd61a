"""Public datasets by name: loaded from ``$MEDGAN_HOME/datasets/<name>/``, fetched if missing.

:func:`load_public` reads a dataset of :data:`~medgan_utils.data.catalog_public.PUBLIC_DATASETS`
into a :class:`~medgan_utils.data.dataset.MedicalImageDataset` through the usual readers:

- MedMNIST (``pneumoniamnist``, ``chestmnist``, ...): the published ``.npz`` of the smallest
  side at least ``image_size`` (64 for 32 and 64 px, 128 for 128 px) is downloaded on first
  use (:func:`~medgan_utils.data.fetch.ensure_file`, MD5 checked) and resized as any file
  is. Labels become MedMNIST's class names; ChestMNIST (14 labels per image) is read
  unlabelled. MedMNIST has **no subject ids**: each image is its own subject, so splits and
  evaluation floors are by image, and MedMNIST's own ``split`` keeps test images out.
- ``brain-tumor-mri`` (Kaggle): the folders ``Training/`` and ``Testing/`` with a subfolder
  per class, as the archive unpacks; fetched with ``kagglehub`` when it is installed.
- ``ixi`` and ``brats``: NIfTI volumes unpacked by hand (see ``how_to_get``), one sequence
  at a time, subjects from the file names (IXI's hospital becomes the ``site`` group).

Anything missing raises :class:`~medgan_utils.errors.DatasetNotAvailableError` saying what
to fetch, from where and where to put it. :func:`catalog_rows` is ``medgan data list``.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Any, Literal

from medgan_utils.data.catalog_public import PUBLIC_DATASETS, PublicDataset
from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.data.fetch import dataset_folder, ensure_file
from medgan_utils.data.limits import PixelBudget
from medgan_utils.data.nifti import read_nifti
from medgan_utils.data.readers import read_path, warn_skipped
from medgan_utils.data.slices import RawSlice, ReadResult
from medgan_utils.errors import DataError, DatasetNotAvailableError, TotalPixelBudgetError
from medgan_utils.settings import network_allowed

__all__ = [
    "catalog_rows",
    "fetch_public",
    "file_size_for",
    "get_public",
    "how_to_get",
    "is_public",
    "load_public",
    "locate",
]

_BUDGET = {"max_pixels", "max_total_pixels"}
_OPTIONS = {  # reader options each layout accepts, beyond its own keywords
    "medmnist": _BUDGET,
    "class-folders": _BUDGET | {"subject_pattern"},
    "nifti": _BUDGET | {"axis", "min_foreground"},
}


def is_public(name: object) -> bool:
    """Whether ``name`` is a public dataset's name (any case)."""
    return isinstance(name, str) and name.lower() in PUBLIC_DATASETS


def get_public(name: str) -> PublicDataset:
    """The facts of the public dataset ``name`` (any case).

    Raises:
        DataError: an unknown name; the message lists the known ones.
    """
    if not is_public(name):
        raise DataError(name, f"no such public dataset; known: {', '.join(PUBLIC_DATASETS)}")
    return PUBLIC_DATASETS[name.lower()]


def how_to_get(dataset: PublicDataset) -> str:
    """The dataset's recipe with ``{folder}`` filled in (``$MEDGAN_HOME/datasets/<name>``)."""
    return dataset.how_to_get.format(folder=dataset_folder(dataset.name))


def file_size_for(dataset: PublicDataset, image_size: int) -> int:
    """The published image side to download for ``image_size``: the smallest at least as
    large (downscaling keeps detail), else the largest. E.g. 32 -> 64, 64 -> 64, 128 -> 128.

    Raises:
        DataError: the dataset is not published as files of given sizes.
    """
    if not dataset.sizes:
        raise DataError(dataset.name, "is not published at fixed sizes; it is read as it is")
    return next((s for s in dataset.sizes if s >= image_size), dataset.sizes[-1])


def load_public(
    name: str,
    image_size: int = 64,
    *,
    split: str | None = None,
    size: int | None = None,
    sequence: str | None = None,
    n_subjects: int | None = None,
    on_error: Literal["raise", "skip"] = "raise",
    progress: bool = True,
    base_url: str | None = None,
    **reader_options: Any,
) -> MedicalImageDataset:
    """Load the public dataset ``name``, downloading it first if it can be and is missing.

    Args:
        name: a key of :data:`~medgan_utils.data.catalog_public.PUBLIC_DATASETS`.
        image_size: side of the output images (32, 64 or 128).
        split: MedMNIST ``"train"`` (default), ``"val"``, ``"test"`` or ``"all"``;
            ``brain-tumor-mri`` ``"train"`` (default), ``"test"`` or ``"all"``; IXI and
            BraTS have no official split: ``"all"`` (default; split by subject with
            :func:`~medgan_utils.data.dataset.subject_split`).
        size: MedMNIST: the published side to read (28, 64, 128, 224) instead of
            :func:`file_size_for`'s choice.
        sequence: IXI ``"T1"`` (default), ``"T2"``, ``"PD"``; BraTS ``"t1"`` (default),
            ``"t1ce"``, ``"t2"``, ``"flair"``.
        n_subjects: IXI and BraTS: read the first ``n_subjects`` volumes (sorted by name).
        on_error: as in :func:`~medgan_utils.data.readers.read_path`.
        progress: show a progress bar while downloading.
        base_url: download from ``{base_url}/{file}`` (else ``$MEDGAN_DATASETS_URL``, else
            the official URL).
        **reader_options: the pixel budget (``max_pixels``, ``max_total_pixels``); NIfTI
            sets also ``axis`` and ``min_foreground``; ``brain-tumor-mri`` ``subject_pattern``.

    Returns:
        A :class:`~medgan_utils.data.dataset.MedicalImageDataset` of ``(1, image_size,
        image_size)`` images in ``[-1, 1]``.

    Raises:
        DataError: an unknown name (listing the known ones), split, size, sequence or option.
        DatasetNotAvailableError: missing and not downloadable now (offline, no kagglehub,
            an account needed, a failed download): the message says what to fetch where.
    """
    dataset = get_public(name)
    given = {"size": size, "sequence": sequence, "n_subjects": n_subjects}
    own = {"medmnist": {"size"}, "class-folders": set(), "nifti": {"sequence", "n_subjects"}}
    unknown = set(reader_options) - _OPTIONS[dataset.layout]
    unknown |= {k for k, v in given.items() if v is not None} - own[dataset.layout]
    if unknown:
        allowed = ", ".join(sorted(_OPTIONS[dataset.layout] | own[dataset.layout]))
        raise DataError(name, f"does not take {', '.join(sorted(unknown))} (it takes {allowed})")
    if dataset.layout == "medmnist":
        file = ensure_file(
            dataset,
            size or file_size_for(dataset, image_size),
            progress=progress,
            base_url=base_url,
        )
        result = read_path(file, on_error=on_error, npz_split=split or "train", **reader_options)
        _name_classes(dataset, result.slices, file)
    elif dataset.layout == "class-folders":
        result = _read_class_folders(dataset, split or "train", on_error, reader_options)
    else:
        result = _read_volumes(dataset, split, sequence, n_subjects, on_error, reader_options)
    return MedicalImageDataset.from_slices(result, image_size)


def fetch_public(
    name: str, size: int | None = None, *, progress: bool = True, base_url: str | None = None
) -> list[Path]:
    """Download (or find) a public dataset's files without loading them.

    Args:
        name: a public dataset's name.
        size: MedMNIST: the published side (default 64).
        progress, base_url: as in :func:`load_public`.

    Returns:
        The files (MedMNIST) or the folder (the other sets) now on disk.

    Raises:
        DataError, DatasetNotAvailableError: as in :func:`load_public`.
    """
    dataset = get_public(name)
    if dataset.layout == "medmnist":
        return [ensure_file(dataset, size or 64, progress=progress, base_url=base_url)]
    if size is not None:
        raise DataError(name, f"size is for MedMNIST files; {dataset.title} is read as it is")
    if dataset.layout == "class-folders":
        return [_class_folders_root(dataset) or _kaggle_download(dataset)]
    if not _volume_files(dataset, dataset.sequences[0]):
        raise DatasetNotAvailableError(name, _missing(dataset))
    return [dataset_folder(dataset.name)]


def locate(dataset: PublicDataset) -> list[Path]:
    """What of ``dataset`` is on disk: MedMNIST files (by size), or the folder of the others."""
    if dataset.layout == "medmnist":
        folder = dataset_folder(dataset.name)
        return [folder / f.name for f in dataset.files.values() if (folder / f.name).is_file()]
    if dataset.layout == "class-folders":
        root = _class_folders_root(dataset)
        return [root] if root else []
    found = any(_volume_files(dataset, s) for s in dataset.sequences)
    return [dataset_folder(dataset.name)] if found else []


def catalog_rows() -> list[dict[str, Any]]:
    """One row per public dataset for ``medgan data list``: name, title, modality, task,
    classes, sizes, split sizes, licence, how it is fetched, what is cached, bytes on disk."""
    rows = []
    for d in PUBLIC_DATASETS.values():
        here = locate(d)
        if d.layout == "medmnist":
            names = {f.name: s for s, f in d.files.items()}
            cached = ", ".join(str(names[p.name]) for p in here) or "no"
        else:
            cached = "yes" if here else "no"
        rows.append(
            {
                "name": d.name,
                "title": d.title,
                "modality": d.modality,
                "task": d.task,
                "classes": list(d.classes),
                "sizes": list(d.sizes),
                "splits": dict(d.splits),
                "unit": d.unit,
                "licence": d.licence,
                "fetch": "download" if d.files else ("kagglehub" if d.kaggle else "by hand"),
                "cached": cached,
                "bytes_on_disk": sum(_bytes(p) for p in here),
                "folder": str(dataset_folder(d.name)),
            }
        )
    return rows


# --------------------------------------------------------------------------- MedMNIST


def _name_classes(dataset: PublicDataset, slices: list[RawSlice], file: Path) -> None:
    """Replace the reader's labels (``"0"``, ``"1"``, ...) by MedMNIST's class names."""
    for s in slices:
        if s.label is None:
            continue
        if not (s.label.isdigit() and int(s.label) < len(dataset.classes)):
            raise DataError(
                file, f"label {s.label} is not one of the {len(dataset.classes)} classes"
            )
        s.label = dataset.classes[int(s.label)]


# --------------------------------------------------------------------------- class folders


def _class_folders_root(dataset: PublicDataset) -> Path | None:
    """The folder at most two levels below ``$MEDGAN_HOME/datasets/<name>`` that holds every
    split folder (``Training/``, ``Testing/``), or None."""
    folder = dataset_folder(dataset.name)
    if not folder.is_dir():
        return None
    for candidate in [folder, *sorted(folder.glob("*")), *sorted(folder.glob("*/*"))]:
        if all((candidate / f).is_dir() for f in dataset.split_folders.values()):
            return candidate
    return None


def _read_class_folders(
    dataset: PublicDataset,
    split: str,
    on_error: Literal["raise", "skip"],
    options: dict[str, Any],
) -> ReadResult:
    names = list(dataset.split_folders) if split == "all" else [split]
    if any(n not in dataset.split_folders for n in names):
        have = ", ".join([*dataset.split_folders, "all"])
        raise DataError(dataset.name, f"has no split {split!r} (it has {have})")
    root = _class_folders_root(dataset) or _kaggle_download(dataset)
    slices: list[RawSlice] = []
    skipped: list[tuple[str, str]] = []
    for n in names:
        part = read_path(
            root / dataset.split_folders[n], on_error=on_error, class_folders=True, **options
        )
        slices += part.slices
        skipped += part.skipped
    return ReadResult(slices, skipped)


def _kaggle_download(dataset: PublicDataset) -> Path:
    """Download ``dataset.kaggle`` with kagglehub into ``$MEDGAN_HOME/datasets/<name>``
    (through a temporary folder beside it, renamed when complete)."""
    folder = dataset_folder(dataset.name)
    if folder.is_dir() and any(folder.iterdir()):
        wanted = " and ".join(f"{f}/" for f in dataset.split_folders.values())
        raise DataError(
            folder,
            f"holds no {wanted} (as the archive unpacks); move them here, or empty the folder "
            f"and fetch again. To get it: {how_to_get(dataset)}",
        )
    try:
        import kagglehub  # optional: `pip install kagglehub`
    except ImportError:
        raise DatasetNotAvailableError(
            dataset.name,
            f"not in {folder}, and kagglehub is not installed. To get it: {how_to_get(dataset)}",
        ) from None
    if not network_allowed():
        raise DatasetNotAvailableError(
            dataset.name,
            f"not in {folder}, and downloads are off (MEDGAN_OFFLINE); it would be downloaded "
            f"with kagglehub from {dataset.homepage}. To get it: {how_to_get(dataset)}",
        )
    folder.parent.mkdir(parents=True, exist_ok=True)
    part = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{dataset.name}.", suffix=".part"))
    try:
        kagglehub.dataset_download(dataset.kaggle, output_dir=str(part))
        if folder.is_dir():
            folder.rmdir()  # empty, checked above
        os.replace(part, folder)
    except Exception as err:  # kagglehub raises many types (HTTP, auth, archive errors)
        raise DatasetNotAvailableError(
            dataset.name,
            f"kagglehub could not download {dataset.kaggle} ({err}); nothing was kept. "
            f"To get it: {how_to_get(dataset)}",
        ) from None
    finally:
        shutil.rmtree(part, ignore_errors=True)
    root = _class_folders_root(dataset)
    if root is None:
        raise DataError(folder, f"kagglehub's download holds no {dataset.split_folders} folders")
    return root


# --------------------------------------------------------------------------- NIfTI volumes


def _volume_files(dataset: PublicDataset, sequence: str) -> list[Path]:
    folder = dataset_folder(dataset.name)
    if not folder.is_dir():
        return []
    return sorted(folder.rglob(dataset.pattern.format(sequence=sequence)), key=lambda p: p.name)


def _missing(dataset: PublicDataset, sequence: str | None = None) -> str:
    what = dataset.pattern.format(sequence=sequence or dataset.sequences[0])
    return f"no {what} files below {dataset_folder(dataset.name)}. To get it: {how_to_get(dataset)}"


def _read_volumes(
    dataset: PublicDataset,
    split: str | None,
    sequence: str | None,
    n_subjects: int | None,
    on_error: Literal["raise", "skip"],
    options: dict[str, Any],
) -> ReadResult:
    """Slice every volume of one sequence, one pixel budget for the whole read."""
    if split not in (None, "all"):
        raise DataError(
            dataset.name,
            f"{dataset.title} has no official split: load split='all' and split it by subject "
            "with medgan_utils.data.dataset.subject_split",
        )
    by_lower = {s.lower(): s for s in dataset.sequences}
    if sequence is not None and sequence.lower() not in by_lower:
        raise DataError(dataset.name, f"no sequence {sequence!r} (it has {dataset.sequences})")
    sequence = by_lower[sequence.lower()] if sequence else dataset.sequences[0]
    if n_subjects is not None and n_subjects < 1:
        raise DataError(dataset.name, f"n_subjects must be at least 1, got {n_subjects}")
    files = _volume_files(dataset, sequence)[:n_subjects]
    if not files:
        raise DatasetNotAvailableError(dataset.name, _missing(dataset, sequence))
    folder = dataset_folder(dataset.name)
    budget = PixelBudget(options.get("max_pixels"), options.get("max_total_pixels"), root=folder)
    axis, min_foreground = options.get("axis", "axial"), options.get("min_foreground", 0.1)
    slices: list[RawSlice] = []
    skipped: list[tuple[str, str]] = []
    for file in files:
        try:
            found = read_nifti(file, axis, min_foreground, budget)
        except DataError as e:  # as read_path does: skip, or stop at the first bad file
            if on_error == "raise" or isinstance(e, TotalPixelBudgetError):
                raise
            skipped.append((e.path, e.reason.split(": ", 1)[0]))
            continue
        match = re.match(dataset.subject_regex, file.name)
        if match:
            groups = {"site": match["site"]} if "site" in match.groupdict() else {}
            for s in found:
                s.meta = replace(s.meta, subject=match["subject"], groups=groups)
        slices += found
    if not slices:
        raise DataError(folder, f"no {sequence} volume could be read")
    warn_skipped(skipped, folder)
    return ReadResult(slices, skipped)


def _bytes(path: Path) -> int:
    """Bytes of a file, or of every file below a folder (links not followed)."""
    if path.is_file():
        return path.stat().st_size
    return sum(p.lstat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())
