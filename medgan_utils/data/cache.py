"""Reading a file or folder into a compact dataset, and the on-disk cache of such reads.

:func:`read_dataset` reads with :func:`~medgan_utils.data.readers.read_path` (a thread
pool), resizes each slice right after its file is decoded and stores it compactly
(:func:`~medgan_utils.data.dataset.encode_images`: uint8 when the sources are 8-bit, else
float16), so full-size images are never all in memory. It then keeps the result in
``$MEDGAN_HOME/reads`` as one ``.npy`` file of codes and one JSON file of labels and
metadata; the next read of the same files opens the ``.npy`` memory-mapped
(``np.load(mmap_mode="r")``) and reads no image file at all, so a dataset larger than
memory is decoded item by item.

A cached read is used only when everything that decides its pixels is the same: the
resolved path, every file below it with its size and modification time (ns), what is left
out unopened, the image size, ``on_error``, the reader options (NIfTI axis, pixel budget,
...), :data:`CACHE_VERSION` and the package version. Anything else (a file touched, added,
removed or changed; another version) rebuilds the cache; a cache that cannot be read
(truncated, corrupt, half-written) is rebuilt with a warning, never used. Files are
written atomically (temporary file in the same folder, then ``os.replace``), the ``.npy``
first: the JSON records its size and time, so the pair cannot be mixed up.

A file can change without changing its size or time stamp only within the file system's
time resolution (a few ms, 2 s on FAT), so, as git does, a read is not cached while any of
its files is younger than :data:`SETTLE_SECONDS`: its next change could keep the same
stamp. Not detected: damage inside the ``.npy``'s pixel data (checking it would mean
reading the whole file, which memory-mapping avoids).

Example:
    >>> ds = read_dataset("Training/", image_size=64)   # doctest: +SKIP
    >>> ds.cache_note                                    # doctest: +SKIP
    'read from /home/me/.cache/medgan/reads/Training-64px-....npy (uint8, memory-mapped)'
"""

from __future__ import annotations

import hashlib
import inspect
import json
import mmap
import os
import threading
import time
import warnings
from functools import lru_cache
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from medgan_utils.data.dataset import (
    MedicalImageDataset,
    decode_images,
    encode_images,
    label_classes,
    resize_square,
)
from medgan_utils.data.limits import PixelBudget
from medgan_utils.data.readers import list_files, read_path, warn_mixed, warn_skipped
from medgan_utils.data.slices import RawSlice, SliceMeta
from medgan_utils.errors import DataError
from medgan_utils.settings import SUPPORTED_SIZES, atomic_path, data_home

__all__ = ["CACHE_VERSION", "SETTLE_SECONDS", "cache_dir", "clear_cache", "read_dataset"]

# Bump when reading, resizing or the stored format changes what a read gives: every
# cache made before is then rebuilt.
CACHE_VERSION = 1
# A read whose newest file is younger than this is not cached (see the module's docstring).
SETTLE_SECONDS = 2.0
# Codes are kept in blocks of this many bytes (about 1,000 images of 64 x 64 as uint8).
_BLOCK_BYTES = 4 << 20
# read_path's options that do not change what is read.
_NOT_IN_KEY = {"path", "workers", "progress", "transform"}


def cache_dir() -> Path:
    """The folder of cached reads, ``$MEDGAN_HOME/reads`` (not created here)."""
    return data_home() / "reads"


def read_dataset(
    path: str | Path,
    image_size: int = 64,
    *,
    on_error: Literal["raise", "skip"] = "raise",
    cache: bool = True,
    workers: int | None = None,
    progress: bool | None = None,
    **options: Any,
) -> MedicalImageDataset:
    """Read a file or folder into a dataset of compactly stored images, through the cache.

    Args:
        path: a file or folder :func:`~medgan_utils.data.readers.read_path` reads.
        image_size: side of the square output images (32, 64 or 128).
        on_error: as in :func:`~medgan_utils.data.readers.read_path`.
        cache: use and write the cache in :func:`cache_dir`; ``False`` reads the files
            and writes nothing.
        workers, progress: threads and progress bar of the read
            (:func:`~medgan_utils.data.readers.read_path`); they do not change the result.
        **options: the reader options of :func:`~medgan_utils.data.readers.read_path`
            (``axis``, ``min_foreground``, ``npz_split``, ``subject_pattern``,
            ``class_folders``, ``max_pixels``, ``max_total_pixels``).

    Returns:
        A :class:`~medgan_utils.data.dataset.MedicalImageDataset` holding ``(N, S, S)``
        uint8 codes (every source 8-bit) or float16 (any other), memory-mapped when read
        from the cache; items and :attr:`~MedicalImageDataset.images` are float32
        ``(1, S, S)`` in ``[-1, 1]``, the same whether cached or not. Against resizing the
        float32 slices (:func:`~medgan_utils.data.dataset.resize_square`), images of 8-bit
        sources are within ``1/255`` (plus ``2**-11`` when others make the read float16),
        the others within ``2**-11``. ``cache_note`` says whether the cache was read or
        written.

    Raises:
        DataError: as :func:`~medgan_utils.data.readers.read_path`.
    """
    root = Path(path)
    if image_size not in SUPPORTED_SIZES:
        raise ValueError(f"image_size must be one of {SUPPORTED_SIZES}, got {image_size}")
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    if not root.exists():
        raise DataError(root, "no such file or folder")
    if not cache:
        ds, _ = _read(root, image_size, on_error, workers, progress, options)
        ds.cache_note = "not used (cache=False)"
        return ds
    now = time.time_ns()
    slot, key, newest = _key(root, image_size, on_error, options)
    try:
        folder = cache_dir()
    except OSError as e:  # MEDGAN_HOME cannot be made: read as if cache=False
        warnings.warn(f"no cache: {e}; reading without it", stacklevel=2)
        ds, _ = _read(root, image_size, on_error, workers, progress, options)
        ds.cache_note = f"not used ({e.strerror or e})"
        return ds
    npy = folder / f"{_safe(root)}-{image_size}px-{slot}.npy"
    ds_cached = _open(npy, key, root, image_size)
    if ds_cached is not None:
        return ds_cached
    ds, warned = _read(root, image_size, on_error, workers, progress, options)
    if newest > now - SETTLE_SECONDS * 1e9:
        ds.cache_note = f"not written: a file changed less than {SETTLE_SECONDS:g} s before"
        return ds
    record = _record(ds, root, warned)
    record |= {"format": CACHE_VERSION, "key": key, "source": str(root.resolve())}
    ds.cache_note = _write(npy, ds.code_blocks, record)
    return ds


def clear_cache() -> tuple[int, int]:
    """Remove every cached read; a read afterwards reads its files again.

    Returns:
        The number of files removed and their bytes.
    """
    folder = cache_dir()
    removed = size = 0
    if folder.is_dir():
        for p in folder.iterdir():
            if p.is_file() and not p.is_symlink():
                size += p.stat().st_size
                p.unlink(missing_ok=True)
                removed += 1
    return removed, size


# --------------------------------------------------------------------------- reading


def _read(
    root: Path,
    size: int,
    on_error: Literal["raise", "skip"],
    workers: int | None,
    progress: bool | None,
    options: dict[str, Any],
) -> tuple[MedicalImageDataset, dict[str, Any]]:
    """Read the files; return the dataset and the sizes and modes the read warned about."""

    blocks = _Blocks(size)

    def compact(s: RawSlice) -> RawSlice:  # in the reading thread, right after decoding
        code = encode_images(resize_square(s.image, size)[0], s.eight_bit)
        return RawSlice(blocks.put(code), s.meta, s.label, s.eight_bit)

    result = read_path(
        root, on_error=on_error, workers=workers, progress=progress, transform=compact, **options
    )
    slices = result.slices
    dtype = np.dtype(np.uint8 if all(s.image.dtype == np.uint8 for s in slices) else np.float16)
    per = max(1, _BLOCK_BYTES // (size * size * dtype.itemsize))
    ordered = []  # the same codes in the order read, block by block
    for start in range(0, len(slices), per):
        part = slices[start : start + per]
        block = _mapped_empty((len(part), size, size), dtype)
        for j, s in enumerate(part):
            code = s.image
            block[j] = code if code.dtype == dtype else decode_images(code).numpy()
            s.image = block[j]  # a filling block goes once no slice points into it
        ordered.append(block)
    blocks.free.clear()
    classes, labels = label_classes([s.label for s in slices], slices[0].meta.source)
    meta = [s.meta for s in slices]
    ds = MedicalImageDataset(ordered, labels, meta, classes, result.skipped)
    return ds, {"sizes": result.sizes, "modes": result.modes}


def _record(ds: MedicalImageDataset, root: Path, warned: dict[str, Any]) -> dict[str, Any]:
    """What the cache's JSON holds beside the codes: labels, metadata, skipped files, and
    the sizes and modes that the read warned about."""
    meta = ds.meta
    return {
        "image_size": ds.image_size,
        "dtype": ds.code_blocks[0].dtype.name,
        "count": len(meta),
        "classes": ds.classes,
        "labels": ds.labels.tolist(),
        "sources": [_relative(m.source, root) for m in meta],
        "subjects": [m.subject for m in meta],
        "slice_index": [m.slice_index for m in meta],
        "groups": [dict(m.groups) for m in meta],
        "skipped": [[_relative(p, root), reason] for p, reason in ds.skipped],
        **warned,
    }


def _mapped_empty(shape: tuple[int, int, int], dtype: np.dtype) -> np.ndarray:
    """``np.empty`` in memory of its own (an anonymous ``mmap``), given back when freed.

    glibc's ``malloc`` serves blocks of a few MB from its heap once a block that size was
    freed, and a freed heap block is rarely returned: the codes would then stay in memory
    beside the decoded images (12 MB of 47 for 3,000 images at 64 px).
    """
    nbytes = max(1, int(np.prod(shape)) * np.dtype(dtype).itemsize)
    return np.frombuffer(mmap.mmap(-1, nbytes), dtype, count=int(np.prod(shape))).reshape(shape)


class _Blocks:
    """Where the reading threads put each slice's codes: a few large blocks, filled in turn.

    A small array per slice would stay in the allocator's heap once freed (glibc keeps
    small chunks), so a read of 3,000 images would end up holding their codes twice;
    these blocks are given back to the system as soon as no slice points into them.
    """

    def __init__(self, size: int) -> None:
        self.size = size
        self.lock = threading.Lock()
        self.free: dict[np.dtype, tuple[np.ndarray, int]] = {}  # dtype -> (block, next slot)

    def put(self, code: np.ndarray) -> np.ndarray:
        """Copy ``code`` ``(S, S)`` into a block; return the block's view holding it."""
        with self.lock:
            block, used = self.free.get(code.dtype, (None, 0))
            if block is None or used == len(block):
                n = max(1, _BLOCK_BYTES // code.nbytes)
                block, used = _mapped_empty((n, self.size, self.size), code.dtype), 0
            self.free[code.dtype] = (block, used + 1)
        block[used] = code
        return block[used]


def _relative(path: str, root: Path) -> str:
    """``path`` relative to ``root`` (posix), so that the cache serves ``root`` however named.

    String operations, not ``Path``: thousands of names are converted on every read.
    """
    base = str(root)
    if path == base:
        return "."
    prefix = "" if base == "." else os.path.join(base, "")  # Path(".") / "a" is "a"
    if path.startswith(prefix):
        return path[len(prefix) :].replace(os.sep, "/")
    return str(Path(path).absolute())


def _absolute(paths: list[str], root: Path) -> list[str]:
    """The inverse of :func:`_relative`: ``str(root / path)`` for each path."""
    base = str(root)
    prefix = "" if base == "." else os.path.join(base, "")
    out = []
    for path in paths:
        if path == ".":
            out.append(base)
        elif os.path.isabs(path):
            out.append(path)
        else:
            out.append(prefix + (path if os.sep == "/" else path.replace("/", os.sep)))
    return out


def _key(root: Path, size: int, on_error: str, options: dict[str, Any]) -> tuple[str, str, int]:
    """The cache slot of this read (one file name per source and options), its full key and
    the newest file's mtime (ns).

    Raises:
        TypeError: an option :func:`read_path` does not take.
        DataError: a pixel budget that is not a positive whole number.
    """
    bound = inspect.signature(read_path).bind(root, on_error=on_error, **options)
    bound.apply_defaults()
    chosen = {k: v for k, v in bound.arguments.items() if k not in _NOT_IN_KEY}
    budget = PixelBudget(chosen["max_pixels"], chosen["max_total_pixels"])  # env included
    chosen |= {"max_pixels": budget.max_pixels, "max_total_pixels": budget.max_total_pixels}
    where = {
        "source": str(root.resolve()),
        "image_size": size,
        "options": {
            k: v if isinstance(v, int | float | str | None) else repr(v) for k, v in chosen.items()
        },
    }
    files, left_out = list_files(root)
    what = {
        **where,
        "format": CACHE_VERSION,
        "package": _package_version(),
        "files": files,
        "left_out": [[_relative(p, root), reason] for p, reason in left_out],
    }
    newest = max((mtime for _, _, mtime in files), default=0)
    return _digest(where)[:16], _digest(what), newest


def _digest(value: object) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True).encode()).hexdigest()


@lru_cache(maxsize=1)
def _package_version() -> str:
    try:
        return metadata.version("medgan-utils")
    except metadata.PackageNotFoundError:  # run from a checkout that is not installed
        return "unknown"


def _safe(root: Path) -> str:
    """The folder's or file's name, as a file-name-safe prefix for its cache files."""
    name = root.resolve().name or "root"
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)[:40]


# --------------------------------------------------------------------------- the files


def _open(npy: Path, key: str, root: Path, size: int) -> MedicalImageDataset | None:
    """The cached read at ``npy`` if it matches ``key`` and is intact, else ``None``.

    A cache for other files or another version is left to be rebuilt without a word; one
    that cannot be read is rebuilt with a warning.
    """
    record_path = npy.with_suffix(".json")
    if not record_path.is_file():
        return None
    try:
        record = json.loads(record_path.read_text())
        if record.get("format") != CACHE_VERSION or record.get("key") != key:
            return None
        st = npy.stat()
        if [st.st_size, st.st_mtime_ns] != record["npy"]:
            raise ValueError("the .npy file is not the one written with this record")
        codes = np.load(npy, mmap_mode="r", allow_pickle=False)
        n = record["count"]
        if codes.shape != (n, size, size) or codes.dtype.name != record["dtype"]:
            raise ValueError(f"holds {codes.dtype} {codes.shape}, expected {record['dtype']}")
        columns = ("sources", "subjects", "slice_index", "groups", "labels")
        if any(len(record[c]) != n for c in columns):
            raise ValueError("the metadata does not list every image")
        meta = [
            SliceMeta(src, str(subject), int(k), dict(groups))
            for src, subject, k, groups in zip(
                _absolute(record["sources"], root),
                record["subjects"],
                record["slice_index"],
                record["groups"],
                strict=True,
            )
        ]
        labels = torch.tensor(record["labels"], dtype=torch.long)
        paths = _absolute([p for p, _ in record["skipped"]], root)
        skipped = [(p, str(r)) for p, (_, r) in zip(paths, record["skipped"], strict=True)]
        ds = MedicalImageDataset(codes, labels, meta, list(record["classes"]), skipped)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        warnings.warn(f"{npy}: unreadable cache ({e}); reading the files again", stacklevel=3)
        return None
    warn_skipped(ds.skipped, root)  # the warnings the files gave when read
    warn_mixed(record.get("sizes", {}), record.get("modes", {}), root)
    ds.cache_note = f"read from {npy} ({codes.dtype}, memory-mapped)"
    return ds


def _write(npy: Path, blocks: list[np.ndarray], record: dict[str, Any]) -> str:
    """Write the codes, then the record naming the ``.npy``'s size and time; say what was done.

    The ``.npy`` is written block by block under one header (numpy's format 1.0), so the
    codes are never copied into one array. A failure (read-only or full disk) warns and
    leaves no cache behind; the read stands.
    """
    record_path = npy.with_suffix(".json")
    dtype = blocks[0].dtype
    header = {
        "descr": np.lib.format.dtype_to_descr(dtype),
        "fortran_order": False,
        "shape": (sum(len(b) for b in blocks), *blocks[0].shape[1:]),
    }
    try:
        npy.parent.mkdir(parents=True, exist_ok=True)
        record_path.unlink(missing_ok=True)  # a rewrite cut short leaves no record at all
        with atomic_path(npy) as tmp, open(tmp, "wb") as f:
            np.lib.format.write_array_header_1_0(f, header)
            for block in blocks:
                f.write(np.ascontiguousarray(block).data)
        st = npy.stat()
        record["npy"] = [st.st_size, st.st_mtime_ns]
        with atomic_path(record_path) as tmp:
            tmp.write_text(json.dumps(record), encoding="utf-8")
    except OSError as e:
        warnings.warn(f"{npy}: could not write the cache ({e}); read without it", stacklevel=3)
        return f"not written ({e.strerror or e})"
    return f"written to {npy} ({dtype})"
