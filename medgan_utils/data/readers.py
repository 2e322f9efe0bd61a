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

import itertools
import os
import stat
import sys
import warnings
from collections import Counter, deque
from collections.abc import Callable, Generator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from pydicom.dataset import Dataset

from medgan_utils.data.dicom import dicom_slices, read_dicom_dataset
from medgan_utils.data.images import IMAGE_SUFFIXES, read_image_and_mode
from medgan_utils.data.limits import PixelBudget, check_regular_file, file_kind
from medgan_utils.data.nifti import read_nifti
from medgan_utils.data.npz import read_npz
from medgan_utils.data.slices import RawSlice, ReadResult
from medgan_utils.errors import DataError, TotalPixelBudgetError

__all__ = [
    "PROGRESS_ENV",
    "PROGRESS_MIN_FILES",
    "list_files",
    "read_path",
    "warn_mixed",
    "warn_skipped",
    "skipped_text",
]

PROGRESS_ENV = "MEDGAN_PROGRESS"  # "0" hides the bar of long reads, "1" always shows it
PROGRESS_MIN_FILES = 300  # reads of fewer files show no bar unless asked
_POOL_MIN_FILES = 16  # fewer files are read in the calling thread: a pool would not pay

T = TypeVar("T")
R = TypeVar("R")


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
    workers: int | None = None,
    progress: bool | None = None,
    transform: Callable[[RawSlice], RawSlice] | None = None,
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
        workers: threads that read files at once (default: the CPUs this process may use,
            at most 8; ``1`` reads in the calling thread). The result is the same, in the
            same order, whatever the number; which file a read over ``max_total_pixels``
            names may differ.
        progress: a progress bar over the files (tqdm, on stderr). Default: shown for
            reads of :data:`PROGRESS_MIN_FILES` files or more when stderr is a terminal,
            unless env ``MEDGAN_PROGRESS=0`` (``MEDGAN_PROGRESS=1`` shows it always).
        transform: applied to every slice right after its file is read, in the reading
            thread (e.g. resizing, so that full-size slices are never all held at once);
            the result's slices are what it returns.

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
        walked, left_out = _walk_stat(root)
        files = [root.joinpath(*parts) for parts, _ in walked]
        entries = [p for p in sorted(root.iterdir()) if not p.name.startswith(".")]
        classes = bool(entries) and all(p.is_dir() for p in entries)
        if class_folders is None:
            # A DICOM export nests patient/study/series folders, not classes.
            classes = classes and not any(_is_dicom(f) for f in files)
        else:
            classes = class_folders and classes
        by_top: dict[str, list[Path]] = {}
        for (parts, _), f in zip(walked, files, strict=True):
            by_top.setdefault(parts[0], []).append(f)
        groups = [(p.name, by_top.get(p.name, [])) for p in entries] if classes else [(None, files)]
    else:
        check_regular_file(root)
    readers: dict[str, Callable[[Path], tuple[list[RawSlice], str]]] = {
        "image": lambda f: read_image_and_mode(f, subject_pattern, budget),
        "nifti": lambda f: (read_nifti(f, axis, min_foreground, budget), "NIfTI"),
        "npz": lambda f: (read_npz(f, npz_split, budget), "npz"),
    }

    def read_one(file: Path) -> _FileRead | DataError:
        """One file, in a reading thread: its slices (transformed) or the error to handle."""
        try:
            kind = _kind(file)
            if kind == "dicom":  # read as series once the folder is done
                ds = read_dicom_dataset(file, budget)
                return _FileRead([], str(ds.get("PhotometricInterpretation", "DICOM")), [], ds)
            found, mode = readers[kind](file)
        except DataError as e:
            return e
        sizes = [_size_text(s) for s in found]
        return _FileRead([transform(s) for s in found] if transform else found, mode, sizes)

    tasks = [(label, file) for label, files in groups for file in files]
    slices: list[RawSlice] = []
    skipped: list[tuple[str, str]] = list(left_out)
    modes: Counter[str] = Counter()
    sizes: Counter[str] = Counter()
    found: list[RawSlice] = []
    dicoms: list[tuple[Path, Dataset]] = []

    def end_group(label: str | None) -> None:
        """Add the group's slices, its DICOM series last, labelled with the group's class."""
        nonlocal found, dicoms
        series = dicom_slices(dicoms, None if on_error == "raise" else skipped)
        sizes.update(_size_text(s) for s in series)
        found += [transform(s) for s in series] if transform else series
        for s in found:
            s.label = label if label is not None else s.label
        slices.extend(found)
        found, dicoms = [], []

    from tqdm.auto import tqdm

    n_workers = _workers(workers, len(tasks))
    show = _show_progress(progress, len(tasks))
    with (
        tqdm(total=len(tasks), desc=f"reading {root}", unit="file", disable=not show) as bar,
        closing(_in_order(read_one, [file for _, file in tasks], n_workers)) as reads,
    ):
        for i, ((label, file), read) in enumerate(zip(tasks, reads, strict=True)):
            bar.update(1)
            if isinstance(read, DataError):
                if on_error == "raise" or isinstance(read, TotalPixelBudgetError):
                    raise read
                skipped.append((read.path, read.reason))
            elif read.dicom is not None:
                dicoms.append((file, read.dicom))
                modes[read.mode] += 1
            else:
                found += read.slices
                sizes.update(read.sizes)
                modes[read.mode] += 1
            if i + 1 == len(tasks) or tasks[i + 1][0] != label:
                end_group(label)
    # Group skipped files by the generic part of the reason, before any ": detail".
    skipped = [(p, reason.split(": ", 1)[0]) for p, reason in skipped]
    if not slices:
        counts = Counter(r for _, r in skipped).most_common()
        detail = "; ".join(f"{n} x {r}" for r, n in counts)
        raise DataError(
            root, f"no images could be read: {detail}" if skipped else "no images found"
        )
    warn_skipped(skipped, root)
    warn_mixed(sizes, modes, root)
    return ReadResult(slices, skipped, dict(sizes), dict(modes))


@dataclass
class _FileRead:
    """What a reading thread returns for one file."""

    slices: list[RawSlice]
    mode: str
    sizes: list[str]  # "HxW" of each slice before the transform
    dicom: Dataset | None = None  # a DICOM file's header, decoded with its series later


def _size_text(s: RawSlice) -> str:
    return "x".join(map(str, s.image.shape))


def _workers(workers: int | None, n_files: int) -> int:
    """Threads for a read of ``n_files`` files: 1 (the calling thread) for small reads."""
    if workers is None:
        try:
            workers = min(len(os.sched_getaffinity(0)), 8)
        except AttributeError:  # pragma: no cover - macOS and Windows have no affinity
            workers = min(os.cpu_count() or 1, 8)
    elif isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a whole number of at least 1, got {workers!r}")
    return 1 if n_files < _POOL_MIN_FILES else workers


def _in_order(
    fn: Callable[[T], R], items: Sequence[T], workers: int, per_task: int = 8
) -> Generator[R, None, None]:
    """``fn(item)`` for every item, in order, computed by ``workers`` threads.

    Threads rather than processes: Pillow's decoders, numpy and torch release the GIL for
    the work that counts, and nothing is pickled. On this project's shared 2-core machine,
    3,000 JPEGs (256 x 256 to 64 x 64) took 2.5-3.8 s with two threads and 6.0 s with two
    processes (their start included). Each task reads ``per_task`` files (fewer hand-overs
    between threads, which cost most on a busy machine), and a few tasks are read ahead,
    never the whole folder.

    torch runs with one intra-op thread meanwhile, in the workers and the calling thread:
    per image, torch's own threads cost far more than they save (on a busy 2-core machine a
    256 x 256 copy took 6 ms with two OpenMP threads and 0.02 ms with one, and the plain
    loop of issue 16 took 46 s instead of 3). ``torch.set_num_threads`` in a thread also
    sets the default for threads started later, so the caller's count is restored at the end.
    """
    import torch

    threads = torch.get_num_threads()  # the caller's, read before any worker sets 1
    torch.set_num_threads(1)
    pool = None
    try:
        if workers <= 1:
            yield from map(fn, items)
            return
        pool = ThreadPoolExecutor(
            workers, "medgan-read", initializer=torch.set_num_threads, initargs=(1,)
        )
        tasks = (items[i : i + per_task] for i in range(0, len(items), per_task))
        pending: deque[Future[list[R]]] = deque(
            pool.submit(list, map(fn, task)) for task in itertools.islice(tasks, 2 * workers)
        )
        while pending:
            results = pending.popleft().result()
            for task in itertools.islice(tasks, 1):
                pending.append(pool.submit(list, map(fn, task)))
            yield from results
    finally:  # also when the caller stops early (an error under on_error="raise")
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        torch.set_num_threads(threads)


def _show_progress(progress: bool | None, n_files: int) -> bool:
    if progress is not None:
        return progress
    env = os.environ.get(PROGRESS_ENV, "").strip().lower()
    if env in {"0", "false", "no", "off"}:
        return False
    if env in {"1", "true", "yes", "on"}:
        return True
    return n_files >= PROGRESS_MIN_FILES and sys.stderr.isatty()


def list_files(path: str | Path) -> tuple[list[tuple[str, int, int]], list[tuple[str, str]]]:
    """The files :func:`read_path` would read, with their sizes and times: a read's fingerprint.

    Args:
        path: a file or a folder, as given to :func:`read_path`.

    Returns:
        ``(path relative to `path` as posix, size in bytes, mtime in ns)`` of every regular
        file (links followed), in the order read (``(".", size, mtime)`` for a file), and
        ``(path, reason)`` of what :func:`read_path` leaves out unopened.

    Raises:
        DataError: ``path`` does not exist or cannot be read.
    """
    root = Path(path)
    if not root.is_dir():
        try:
            st = os.stat(root)
        except OSError as e:
            raise DataError(root, f"cannot read it: {e.strerror or e}") from None
        return [(".", st.st_size, st.st_mtime_ns)], []
    found, left_out = _walk_stat(root)
    return [("/".join(parts), st.st_size, st.st_mtime_ns) for parts, st in found], left_out


def _walk_stat(
    root: Path,
) -> tuple[list[tuple[tuple[str, ...], os.stat_result]], list[tuple[str, str]]]:
    """Regular files below ``root`` in sorted order, as path parts, each with its ``stat``
    (links followed), and ``(path, reason)`` of what is left out.

    Hidden entries and ``DICOMDIR`` indexes are ignored without a word. Left out with a
    reason: anything that is not a regular file or a folder (FIFOs, sockets, devices:
    ``stat`` tells, nothing is opened), broken links, unreadable folders, symlinked
    folders that lead outside ``root``, and a second path to a folder already read.
    Entries are listed with ``os.scandir`` and files named by their parts, not as ``Path``
    objects: the cache checks a folder of thousands of files this way on every read.
    """
    real_root = root.resolve()
    seen = {real_root}
    files: list[tuple[tuple[str, ...], os.stat_result]] = []
    left_out: list[tuple[str, str]] = []

    def visit(folder: Path, parts: tuple[str, ...]) -> None:
        try:
            with os.scandir(folder) as it:
                names = sorted(e.name for e in it)
        except OSError as e:
            left_out.append((str(folder), f"unreadable folder: {e.strerror or e}"))
            return
        for name in names:
            if name.startswith(".") or name == "DICOMDIR":
                continue
            try:
                st = os.stat(os.path.join(folder, name))  # follows links
            except OSError as e:
                reason = f"broken link or unreadable entry: {e.strerror or e}"
                left_out.append((str(folder / name), reason))
                continue
            mode = st.st_mode
            if stat.S_ISREG(mode):
                files.append(((*parts, name), st))
                continue
            p = folder / name
            if not stat.S_ISDIR(mode):
                left_out.append((str(p), f"not a regular file: {file_kind(mode)}, not opened"))
            elif not (real := p.resolve()).is_relative_to(real_root):
                left_out.append((str(p), f"symlinked folder leads outside the folder read: {real}"))
            elif real in seen:
                left_out.append((str(p), f"folder already read through another path: {real}"))
            else:
                seen.add(real)
                visit(p, (*parts, name))

    visit(root, ())
    return sorted(files, key=lambda f: f[0]), left_out


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


def warn_mixed(sizes: Mapping[str, int], modes: Mapping[str, int], root: str | Path) -> None:
    """One warning when images come in several sizes or modes.

    Args:
        sizes: how many slices came in each ``"HxW"``.
        modes: how many files came in each mode (Pillow's, ``"NIfTI"``, ...).
        root: the file or folder read, named first.
    """
    parts = [
        f"{len(c)} {what} ({', '.join(f'{k}: {n}' for k, n in c.most_common(4))}"
        + (", ...)" if len(c) > 4 else ")")
        for what, c in (("sizes", Counter(sizes)), ("modes", Counter(modes)))
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
