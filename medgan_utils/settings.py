"""Where the project keeps its files, the course's quick mode, seeding and devices.

Two environment variables steer every entry point (CLI, notebooks, app, tests):

- ``MEDGAN_HOME``: folder for caches (built-in dataset, downloads) and runs.
  Default: ``~/.cache/medgan``.
- ``MEDGAN_QUICK``: when set to ``1`` (or ``true``/``yes``), notebooks and examples
  shrink epochs and dataset sizes so that CI can execute the whole book in minutes.
- ``MEDGAN_OFFLINE``: when set, nothing is downloaded (medigan's catalog and models).
"""

from __future__ import annotations

import json
import os
import random
import socket
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch

from medgan_utils.errors import DataError, FolderBusyError

try:  # POSIX; Windows has no fcntl and falls back to an exclusively created file
    import fcntl
except ImportError:  # pragma: no cover - not on the platforms CI runs
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "CLAIM_FILE",
    "MAX_SEED",
    "PRETRAINED",
    "SUPPORTED_SIZES",
    "atomic_path",
    "check_seed",
    "claim_folder",
    "cpu_has_bf16",
    "data_home",
    "is_empty_folder",
    "network_allowed",
    "pick_device",
    "pick_precision",
    "quick_mode",
    "set_seed",
]

SUPPORTED_SIZES = (32, 64, 128)  # image sizes the networks and the built-in set support
# Seeds are 0..2**32-1 everywhere (CLI, app, notebooks): NumPy's seed range, so two seeds
# never share a stream (torch would wrap -1 onto 2**64-1 and give the same images).
MAX_SEED = 2**32 - 1
CLAIM_FILE = ".medgan-claim"  # held while a process writes into an output folder
PRETRAINED = Path(__file__).resolve().parent / "pretrained"  # the shipped weights
# Recorded full-mode results the chapters show (shipped, so an installed package has them).
RECORDED = Path(__file__).resolve().parent / "recorded"


def data_home() -> Path:
    """Return the cache folder (``$MEDGAN_HOME`` or ``~/.cache/medgan``), creating it."""
    root = Path(os.environ.get("MEDGAN_HOME", Path.home() / ".cache" / "medgan")).expanduser()
    root.mkdir(parents=True, exist_ok=True)
    return root


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


def quick_mode() -> bool:
    """Whether ``MEDGAN_QUICK`` asks for the small, fast variant of every experiment."""
    return _flag("MEDGAN_QUICK")


def network_allowed() -> bool:
    """False when ``MEDGAN_OFFLINE`` is set (the test suite sets it): nothing is downloaded."""
    return not _flag("MEDGAN_OFFLINE")


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success.

    Readers never see a half-written file: a crash or an exception leaves the old file
    (if any) untouched and removes the temporary one.

    Example:
        >>> with atomic_path("out/grid.png") as tmp:  # doctest: +SKIP
        ...     image.save(tmp, format="PNG")
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        # mkstemp creates 0600 files; give the result the permissions open() would have.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


# --------------------------------------------------------------------------- output folders


def is_empty_folder(folder: str | Path) -> bool:
    """Whether ``folder`` is missing or holds nothing but a :func:`claim_folder` claim."""
    folder = Path(folder)
    return not folder.exists() or all(p.name == CLAIM_FILE for p in folder.iterdir())


@contextmanager
def claim_folder(folder: str | Path) -> Iterator[Path]:
    """Hold the output folder ``folder`` exclusively while the block runs: one writer.

    ``medgan train``, ``medgan generate`` and the exports write into a folder inside this
    block. A second process (or thread) that claims the same folder meanwhile gets a
    :class:`~medgan_utils.errors.FolderBusyError` naming the holder (pid, host, command)
    at once, instead of mixing its files with the first one's.

    The claim is the file :data:`CLAIM_FILE` in ``folder``, locked with ``flock``. The
    operating system drops the lock when its process ends, however it ends, so a crashed or
    killed run never blocks the folder: the next claim takes the left-over file over (it is
    deleted when the block ends normally). ``flock`` rather than ``O_EXCL`` alone because an
    exclusively created file outlives a crash and its pid may be reused; rather than the
    ``filelock`` package because that keeps the lock file after release, and an output
    folder must end holding only its outputs. Where ``fcntl`` does not exist (Windows), the
    file is created with ``O_EXCL`` and the error says which file to delete after a crash.

    Args:
        folder: created (with its parents) if missing; removed again if the block fails
            and leaves it empty.

    Yields:
        ``folder`` as a :class:`~pathlib.Path`.

    Raises:
        FolderBusyError: another writer holds ``folder``. DataError: ``folder`` is a file,
            or cannot be created or written.
    """
    folder = Path(folder)
    created = not folder.exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except FileExistsError as err:
        raise DataError(folder, "is a file, not a folder; choose another --out") from err
    except OSError as err:
        raise DataError(folder, f"cannot create this folder ({err.strerror or err})") from err
    path = folder / CLAIM_FILE
    try:
        fd = _take_claim(path, folder)
    except DataError:
        if created:
            _remove_if_empty(folder)
        raise
    done = False
    try:
        yield folder
        done = True
    finally:
        path.unlink(missing_ok=True)  # while still locked: a waiting opener sees it is gone
        os.close(fd)
        if created and not done:
            _remove_if_empty(folder)  # a failed start leaves nothing behind


def _remove_if_empty(folder: Path) -> None:
    try:
        folder.rmdir()
    except OSError:  # not empty (or gone): leave it
        pass


def _take_claim(path: Path, folder: Path) -> int:
    """Open and lock ``path``; return its descriptor (see :func:`claim_folder`)."""
    me = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv)}
    me["since"] = time.strftime("%Y-%m-%d %H:%M:%S")
    while True:
        flags = os.O_RDWR | os.O_CREAT | (0 if fcntl is not None else os.O_EXCL)
        try:
            fd = os.open(path, flags, 0o644)
        except FileExistsError as err:  # no fcntl: the file itself is the claim
            raise FolderBusyError(
                folder, f"{_holder(path)}; if that process has ended, delete {path}"
            ) from err
        except OSError as err:
            raise DataError(folder, f"cannot write here ({err.strerror or err})") from err
        if fcntl is None:
            break
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as err:
            os.close(fd)
            raise FolderBusyError(folder, _holder(path)) from err
        except OSError as err:
            os.close(fd)
            raise DataError(
                folder, f"cannot lock {path} ({err.strerror or err}): use a local folder"
            ) from err
        # The holder may have released and deleted the file between our open and our lock:
        # then we hold a lock on a file no one else can find; try again.
        try:
            same = os.path.samestat(os.fstat(fd), os.stat(path))
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    os.ftruncate(fd, 0)
    os.write(fd, (json.dumps(me) + "\n").encode())
    return fd


def _holder(path: Path) -> str:
    """Who holds the claim ``path``, in words, from what its holder wrote into it."""
    try:
        who = json.loads(path.read_text())
        what = f"pid {who['pid']} on {who['host']} since {who['since']}: {who['command']}"
    except (OSError, ValueError, KeyError, TypeError):
        what = "starting"
    return f"another medgan process is writing here ({what}); wait for it or choose another --out"


# --------------------------------------------------------------------------- seeds, devices


def check_seed(seed: object, name: str = "seed") -> int:
    """``seed`` if it is a whole number in ``0..MAX_SEED``; else a ValueError naming ``name``.

    Example:
        >>> check_seed(3)
        3
    """
    if (
        isinstance(seed, bool)
        or not isinstance(seed, int | np.integer)
        or not 0 <= seed <= MAX_SEED
    ):
        raise ValueError(f"{name} must be a whole number from 0 to {MAX_SEED}, got {seed!r}")
    return int(seed)


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices): the project's one seeding helper."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def pick_device(name: str = "auto") -> torch.device:
    """CUDA if available, then Apple's MPS, then the CPU; or the device ``name``.

    Raises:
        ValueError: ``name`` is not a device (``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``,
            ``"xpu"``), or names one this machine does not have.
    """
    if name != "auto":
        return _check_device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _check_device(name: str) -> torch.device:
    """``torch.device(name)`` if this machine has that device; else a ValueError naming it."""
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError) as err:
        raise ValueError(
            f"device {name!r} is not a device: use auto, cpu, cuda, cuda:N, mps or xpu"
        ) from err
    if device.type == "cpu":
        return device
    # torch.cuda and torch.xpu have is_available() and device_count(); torch.backends.mps
    # only is_available() (a Mac has one).
    backends = {"cuda": torch.cuda, "xpu": getattr(torch, "xpu", None)}
    backends["mps"] = getattr(torch.backends, "mps", None)
    backend = backends.get(device.type)
    if backend is None or not backend.is_available():
        raise ValueError(f"device {name!r} is not available on this machine; use auto or cpu")
    count = backend.device_count() if hasattr(backend, "device_count") else 1
    if device.index is not None and device.index >= count:
        raise ValueError(f"device {name!r}: this machine has {count} {device.type} device(s)")
    return device


def cpu_has_bf16() -> bool:
    """Whether this CPU has native bf16 units (AMX or AVX512-BF16), where bf16 autocast pays."""
    # torch has no public query; these private helpers exist since torch 2.1 (AMX/AVX512-BF16).
    cpu = torch.cpu
    return any(
        getattr(cpu, f, lambda: False)()
        for f in ("_is_amx_tile_supported", "_is_avx512_bf16_supported")
    )


def pick_precision(device: torch.device, requested: str = "auto") -> torch.dtype | None:
    """The autocast dtype for ``device`` (``None`` means plain fp32).

    "auto": bf16 on GPUs and CPUs with native bf16 units (AMX/AVX512-BF16: about 2x faster
    than fp32 for a 64x64 DCGAN on such CPUs), fp16 on GPUs without bf16, else fp32.
    """
    if requested == "fp32":
        return None
    if requested in ("bf16", "fp16"):
        return torch.bfloat16 if requested == "bf16" else torch.float16
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_bf16():
        return torch.bfloat16
    return None
