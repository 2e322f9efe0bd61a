"""Generate with any catalog model through medigan, seeded and sandboxed, and build datasets.

Every model, ours included, runs through ``medigan.Generators(...).generate``. Around
each call this module

- checks the model is in the catalog, its pip dependencies are installed (or installs them
  with medigan's installer when asked to) and its package is on disk and unchanged
  (:func:`medgan_utils.hub.packages.ensure_package`);
- seeds Python, NumPy and torch (medigan's generate functions take no seed) and restores
  their previous states afterwards, so one seed gives the same images;
- runs medigan from the workspace folder, with its ``models`` package first on the path and
  any other ``models`` module put aside, so medigan never writes into your folder and never
  imports your ``models.py``.

Synthetic datasets are folders of PNG files (named ``synthetic_...``, PNG chunk
``synthetic=true``) with a ``manifest.csv`` (file, model id, seed, index, label);
:func:`build_synthetic_dataset` writes them and :mod:`medgan_utils.data.synthetic` reads them
back (:func:`~medgan_utils.data.synthetic.load_synthetic_dataset`).
"""

from __future__ import annotations

import contextlib
import csv
import importlib
import io
import os
import random
import re
import shutil
import sys
import tempfile
import threading
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medgan_utils.data.synthetic import FIELDS, MANIFEST
from medgan_utils.errors import DataError, MissingDependenciesError
from medgan_utils.exports import safe_name
from medgan_utils.hub.catalog import (
    Catalog,
    import_medigan,
    load_catalog,
    medigan_generators,
    missing_dependencies,
)
from medgan_utils.hub.packages import ensure_package, workspace

__all__ = [
    "seeded",
    "medigan_session",
    "fetch_model",
    "generate",
    "build_synthetic_dataset",
    "medigan_dataloader",
    "as_tensor",
]

_LOCK = threading.RLock()  # medigan needs the process's working directory: one call at a time


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
    imported inside are forgotten (the next call imports the checked files again).
    """
    with _LOCK:
        ws = workspace()
        theirs = {k: sys.modules.pop(k) for k in list(sys.modules) if _is_models(k)}
        cwd = os.getcwd()
        sys.path.insert(0, str(ws))
        importlib.invalidate_caches()
        os.chdir(ws)
        try:
            yield ws
        finally:
            os.chdir(cwd)
            sys.path.remove(str(ws))
            for k in [k for k in sys.modules if _is_models(k)]:
                del sys.modules[k]
            sys.modules.update(theirs)


def _catalog(catalog: Catalog | str | Path | None) -> Catalog:
    return catalog if isinstance(catalog, Catalog) else load_catalog(catalog)


def fetch_model(
    model_id: str, catalog: Catalog | str | Path | None = None, timeout: float = 60.0
) -> Path:
    """Download (or build), check and unpack a model's package; return its folder."""
    catalog = _catalog(catalog)
    model_id = catalog.resolve(model_id)
    entry = catalog.entries[model_id]
    return ensure_package(model_id, entry, local=catalog.local.get(model_id), timeout=timeout)


def _prepare(
    model_id: str, catalog: Catalog, install_dependencies: bool, timeout: float
) -> tuple[str, dict[str, Any]]:
    model_id = catalog.resolve(model_id)
    entry = catalog.entries[model_id]
    missing = missing_dependencies(entry)
    if missing and not install_dependencies:
        names = " ".join(f"'{m.split(' (')[0]}'" for m in missing)
        raise MissingDependenciesError(
            model_id,
            f"needs pip packages that are not installed: {', '.join(missing)}. Install them "
            f"(pip install {names}) or opt in to medigan's installer with "
            "install_dependencies=True / --install-dependencies",
        )
    ensure_package(model_id, entry, local=catalog.local.get(model_id), timeout=timeout)
    return model_id, entry


def _absolute(kwargs: Mapping[str, Any]) -> dict[str, Any]:
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
def _quiet(enabled: bool) -> Iterator[None]:
    """Hold back what medigan prints to stderr (progress bars, logs); show it on failure."""
    if not enabled:
        yield
        return
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stderr(buffer):
            yield
    except BaseException:
        sys.stderr.write(buffer.getvalue())
        raise


def _batch_key(path: Path) -> tuple[int, str]:
    m = re.match(r"batch_(\d+)_", path.name)
    return (int(m.group(1)) if m else -1, path.name)


def _collect(tmp: Path, out: Path, model_id: str, seed: int) -> list[Path]:
    """Move medigan's output files into ``out``, named and marked by the rule of
    :mod:`medgan_utils.exports`: ``synthetic_<model>_seed<seed>_<i>``; PNG files keep their
    own text chunks and gain ``synthetic``, ``model``, ``seed`` and ``source_name``."""
    from PIL import Image
    from PIL.PngImagePlugin import PngInfo

    from medgan_utils.exports import synthetic_marks, synthetic_name
    from medgan_utils.settings import atomic_path

    files = sorted((p for p in tmp.rglob("*") if p.is_file()), key=_batch_key)
    paths = []
    for i, src in enumerate(files):
        dest = out / synthetic_name(model_id, seed, i, src.suffix.lower())
        if src.suffix.lower() == ".png":
            with Image.open(src) as im:
                info = PngInfo()
                marks = synthetic_marks(model_id, seed, source_name=src.name)
                for key, value in {**getattr(im, "text", {}), **marks}.items():
                    info.add_text(key, str(value))
                with atomic_path(dest) as part:
                    im.save(part, format="PNG", pnginfo=info)
        else:  # other formats cannot carry the mark; the name still does
            shutil.move(src, dest)
        paths.append(dest)
    return paths


def generate(
    model_id: str,
    n: int = 8,
    seed: int = 0,
    *,
    out: str | Path | None = None,
    catalog: Catalog | str | Path | None = None,
    install_dependencies: bool = False,
    timeout: float = 60.0,
    progress: bool = False,
    **kwargs: Any,
) -> list[Any]:
    """Generate ``n`` images with a catalog model through ``medigan.Generators``, seeded.

    Args:
        model_id: a catalog id (also medigan's short forms such as ``"1"``).
        n: number of samples.
        seed: seeds every random generator around medigan's call.
        out: a new or empty folder: files are written there (``save_images=True``);
            without it the images come back as arrays.
        catalog: a :class:`~medgan_utils.hub.catalog.Catalog` or catalog file; default
            :func:`~medgan_utils.hub.catalog.load_catalog`.
        install_dependencies: let medigan's installer ``pip install`` missing dependencies.
        timeout: seconds any download wait may take.
        progress: show medigan's progress bar and messages (else they are shown only when
            the call fails).
        **kwargs: the model's extra generate arguments (``ModelCard.generate_args``), e.g.
            ``condition=1`` or ``input_path="my_images/"``; existing paths are made absolute.

    Returns:
        Without ``out``: what medigan returns, a list of arrays (``(S, S, C)`` uint8 for the
        project's models) or tuples (image, mask, ..., label). With ``out``: the files.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"number of images must be a positive integer, got {n!r}")
    catalog = _catalog(catalog)
    target = Path(out).resolve() if out is not None else None
    if target is not None and target.exists() and any(target.iterdir()):
        raise DataError(target, "is not empty; choose a new --out so no file is overwritten")
    kwargs = _absolute(kwargs)
    with _LOCK:  # one install and one medigan call at a time in this process
        model_id, entry = _prepare(model_id, catalog, install_dependencies, timeout)
        with medigan_session() as ws, seeded(seed), _quiet(not progress):
            (ws / "output").mkdir(exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=ws / "output", prefix=f"{model_id}."))
            try:
                result = medigan_generators({model_id: entry}).generate(
                    model_id=model_id,
                    num_samples=n,
                    output_path=f"{tmp}/",
                    save_images=target is not None,
                    install_dependencies=install_dependencies,
                    **kwargs,
                )
                if target is None:
                    return list(result or [])
                target.mkdir(parents=True, exist_ok=True)
                return _collect(tmp, target, model_id, seed)
            finally:
                shutil.rmtree(tmp, ignore_errors=True)


def medigan_dataloader(
    model_id: str,
    n: int,
    seed: int = 0,
    *,
    catalog: Catalog | str | Path | None = None,
    batch_size: int = 8,
    install_dependencies: bool = False,
    **kwargs: Any,
) -> torch.utils.data.DataLoader:
    """medigan's own ``Generators.get_as_torch_dataloader``, seeded and sandboxed.

    The images are generated now, in memory; batches are dicts with ``"sample"`` (and
    ``"label"`` / ``"mask"`` where the model gives them), as medigan's ``SyntheticDataset``
    returns them.
    """
    import_medigan()
    catalog = _catalog(catalog)
    kwargs = _absolute(kwargs)
    with _LOCK:
        model_id, entry = _prepare(model_id, catalog, install_dependencies, 60.0)
        with medigan_session(), seeded(seed), _quiet(True):
            return medigan_generators({model_id: entry}).get_as_torch_dataloader(
                model_id=model_id,
                num_samples=n,
                batch_size=batch_size,
                install_dependencies=install_dependencies,
                prefetch_factor=None,  # medigan's default (2) is an error without workers
                **kwargs,
            )


def as_tensor(images: Sequence[Any]) -> torch.Tensor:
    """medigan's output (uint8 ``(H, W[, C])`` arrays, or tuples with the image first) as
    one ``(N, C, H, W)`` float tensor in ``[-1, 1]``, the range the rest of the package uses."""
    arrays = [np.asarray(x[0] if isinstance(x, tuple) else x) for x in images]
    x = torch.as_tensor(np.stack([a if a.ndim == 3 else a[..., None] for a in arrays]))
    return x.permute(0, 3, 1, 2).float() / 127.5 - 1.0


# ------------------------------------------------------------------ synthetic datasets


def build_synthetic_dataset(
    models: Sequence[str],
    n: int,
    out: str | Path,
    seed: int = 0,
    *,
    catalog: Catalog | str | Path | None = None,
    conditions: Mapping[str, Sequence[Any]] | None = None,
    class_of: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Path:
    """Generate ``n`` images per model (per class for conditional models) with a manifest.

    Files go to ``out/<model>/[<label>/]synthetic_<model>_seed<seed>_<i>.png``;
    ``out/manifest.csv`` lists ``file, model_id, seed, index, label`` (``label`` empty for
    unconditional models).

    Args:
        models: catalog ids.
        n: images per model, or per class of a conditional model.
        out: a new or empty folder.
        seed: every (model, class) call is seeded with it.
        conditions: classes to generate per model id; default the card's classes for
            conditional models of ours (medigan's cards do not list classes).
        class_of: the class an unconditional model's images belong to, by model id (one
            generator per class, e.g. ``{"brain-mri-lesion-dcgan-64": "lesion"}``); it is
            written to the manifest's ``label`` column.
        **kwargs: passed to every :func:`generate` call.

    Returns:
        The manifest's path.
    """
    catalog, out = _catalog(catalog), Path(out)
    if out.exists() and any(out.iterdir()):
        raise DataError(out, "is not empty; choose a new folder for the dataset")
    rows = []
    for model in models:
        card = catalog.card(model)
        given = (conditions or {}).get(model, (conditions or {}).get(card.model_id))
        labels: list[str | None] = list(given) if given is not None else [*card.classes] or [None]
        for label in labels:
            extra = {**kwargs, **({"condition": label} if label is not None else {})}
            sub = out / safe_name(card.model_id)
            sub = sub / str(label) if label is not None else sub
            files = generate(card.model_id, n, seed, out=sub, catalog=catalog, **extra)
            named = (class_of or {}).get(model, (class_of or {}).get(card.model_id, ""))
            for i, f in enumerate(files):
                label_text = named if label is None else str(label)
                rows.append((f.relative_to(out).as_posix(), card.model_id, seed, i, label_text))
    manifest = out / MANIFEST
    with manifest.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(FIELDS)
        writer.writerows(rows)
    return manifest
