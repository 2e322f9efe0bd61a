"""Where the project keeps its files, and the course's quick mode.

Two environment variables steer every entry point (CLI, notebooks, app, tests):

- ``MEDGAN_HOME``: folder for caches (built-in dataset, downloads) and runs.
  Default: ``~/.cache/medgan``.
- ``MEDGAN_QUICK``: when set to ``1`` (or ``true``/``yes``), notebooks and examples
  shrink epochs and dataset sizes so that CI can execute the whole book in minutes.
- ``MEDGAN_OFFLINE``: when set, nothing is downloaded (medigan's catalog and models).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["data_home", "quick_mode", "network_allowed", "atomic_path"]


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
