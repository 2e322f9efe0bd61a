"""The sandbox every medigan call runs in: the workspace, a seed, a fresh output folder.

medigan writes ``config/``, ``models/`` and ``output/`` into the working directory, imports
model packages as ``models.<id>.<package>``, prints progress bars, takes no seed and leaves its
output behind. Around each call :mod:`medgan_utils.hub.generate` uses

- :func:`medigan_session`: the workspace as working directory and first on ``sys.path``, any
  ``models`` module of yours set aside, nothing importable in the workspace but its checked
  ``models`` package, and no bytecode written (:mod:`medgan_utils.hub.policy`);
- :func:`seeded`: Python, NumPy and torch seeded, their states restored after;
- :func:`run_folder`: a new folder under the workspace's ``output/`` for medigan's files, held
  while the call runs and removed after it however it ends; folders left by killed processes
  are removed by the next call;
- :func:`quiet` and :func:`package_errors`: medigan's chatter held back, and any failure of
  medigan or the package's code as one :class:`~medgan_utils.errors.DataError`.

:data:`LOCK` makes it one call at a time per process (the working directory is global).
"""

from __future__ import annotations

import contextlib
import importlib
import io
import os
import random
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medgan_utils.errors import DataError, FolderBusyError
from medgan_utils.hub import policy
from medgan_utils.hub.packages import workspace
from medgan_utils.settings import claim_folder

__all__ = [
    "LOCK",
    "absolute_paths",
    "medigan_session",
    "package_errors",
    "quiet",
    "run_folder",
    "seeded",
]

LOCK = threading.RLock()  # medigan needs the process's working directory: one call at a time
_RUN_PREFIX = "run-"  # medigan's output folder of one call, under the workspace's output/


@contextlib.contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Seed Python, NumPy and torch (CPU and CUDA) inside the block; restore them after."""
    from medgan_utils.settings import set_seed

    cuda = torch.cuda.is_available() and torch.cuda.is_initialized()
    state = (random.getstate(), np.random.get_state(), torch.get_rng_state())
    cuda_state = torch.cuda.get_rng_state_all() if cuda else None
    set_seed(seed)
    try:
        yield
    finally:
        random.setstate(state[0])
        np.random.set_state(state[1])
        torch.set_rng_state(state[2])
        if cuda_state is not None:
            torch.cuda.set_rng_state_all(cuda_state)


def _is_models(name: str) -> bool:
    return name == "models" or name.startswith("models.")


@contextlib.contextmanager
def medigan_session() -> Iterator[Path]:
    """Run medigan inside the workspace: working directory, path and ``models`` swapped back.

    medigan writes ``config/``, ``models/`` and ``output/`` into the working directory and
    imports packages as ``models.<id>.<package>``. Inside the block the working directory
    is :func:`~medgan_utils.hub.packages.workspace` and ``models`` is its package; any
    ``models`` module you had is set aside and restored after, and the model packages
    imported inside are forgotten (the next call imports the checked files again). No
    bytecode is written inside the block, and none may lie in the workspace
    (:func:`~medgan_utils.hub.policy.check_workspace_imports`), so what runs is the source
    whose SHA-256 was checked.

    Raises:
        PackageChangedError: the workspace holds something importable besides ``models``.
    """
    with LOCK:
        ws = workspace()
        policy.check_workspace_imports(ws)
        theirs = {k: sys.modules.pop(k) for k in list(sys.modules) if _is_models(k)}
        cwd, no_bytecode = os.getcwd(), sys.dont_write_bytecode
        sys.dont_write_bytecode = True
        sys.path.insert(0, str(ws))
        importlib.invalidate_caches()
        os.chdir(ws)
        try:
            yield ws
        finally:
            os.chdir(cwd)
            sys.path.remove(str(ws))
            sys.dont_write_bytecode = no_bytecode
            for k in [k for k in sys.modules if _is_models(k)]:
                del sys.modules[k]
            sys.modules.update(theirs)


def absolute_paths(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """Path arguments naming existing files or folders, made absolute (medigan runs in the
    workspace); other arguments (``condition="lesion"``) are left alone."""
    out = {}
    for k, v in kwargs.items():
        pathlike = re.search(r"path|file|dir|input", k) and isinstance(v, (str, Path))
        if pathlike and str(v) and Path(v).exists():
            v = str(Path(v).resolve())
        out[k] = v
    return out


@contextlib.contextmanager
def quiet(enabled: bool) -> Iterator[None]:
    """Hold back what medigan prints to stderr (progress bars, logs); show it when the
    package or medigan failed (not for a refusal of ours: its message says it all)."""
    if not enabled:
        yield
        return
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stderr(buffer):
            yield
    except BaseException as err:
        if not isinstance(err, DataError) or err.__cause__ is not None:
            sys.stderr.write(buffer.getvalue())
        raise


@contextlib.contextmanager
def package_errors(model_id: str) -> Iterator[None]:
    """Any exception from medigan or the package's code as a DataError naming the model (the
    original is its ``__cause__``): a failing package is bad input, not a bug of ours."""
    try:
        yield
    except DataError:
        raise
    except Exception as err:
        raise DataError(model_id, f"its package failed: {type(err).__name__}: {err}") from err


@contextlib.contextmanager
def run_folder(ws: Path) -> Iterator[Path]:
    """A new folder under the workspace's ``output/`` for one medigan call, removed after it
    however it ends. It is held with :func:`~medgan_utils.settings.claim_folder` while the
    call runs, so the folders of calls whose process was killed (no ``finally`` ran) are
    told apart from running ones and removed first; nothing else in ``output/`` is touched."""
    output = ws / "output"
    output.mkdir(exist_ok=True)
    for stale in output.glob(f"{_RUN_PREFIX}*"):
        if stale.is_dir() and not stale.is_symlink():
            try:
                with claim_folder(stale):
                    shutil.rmtree(stale)
            except FolderBusyError:
                continue  # another process is generating into it now
    tmp = Path(tempfile.mkdtemp(dir=output, prefix=_RUN_PREFIX))
    try:
        with claim_folder(tmp):
            yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
