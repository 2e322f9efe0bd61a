"""Generate with any catalog model through medigan, seeded and sandboxed, and build datasets.

Every model, ours included, runs through ``medigan.Generators(...).generate``. Around
each call this module

- checks the model is in the catalog, its pip dependencies are installed (or installs them
  with medigan's installer when asked to) and its package is on disk, unchanged and allowed
  to run (:func:`medgan_utils.hub.packages.ensure_package`; the rules are
  :mod:`medgan_utils.hub.policy`: downloaded code runs for medigan's official catalog, other
  packages only with ``allow_unofficial=True`` or ``MEDGAN_ALLOW_UNOFFICIAL_CODE=1``);
- asks for at most :data:`~medgan_utils.gan.zoo.MAX_IMAGES` images per call, as our own
  models do, and refuses a call that gives none;
- runs medigan in the sandbox of :mod:`medgan_utils.hub.sandbox`: seeded (medigan's generate
  functions take no seed; the previous random states are restored after), from the
  workspace folder with its ``models`` package first on the path, any other ``models``
  module put aside and no bytecode read or written (so medigan never writes into your
  folder, never imports your ``models.py`` and runs the checked source);
- lets medigan write into a fresh folder under the workspace's ``output/`` (images go to disk
  in medigan's batches of 32 when ``out`` is given, not all into memory), moves them to
  ``out`` one by one and removes that folder after the call, however it ends (one left by a
  killed process is removed by the next call).

Synthetic datasets are folders of PNG files (named ``synthetic_...``, PNG chunk
``synthetic=true``) with a ``manifest.csv`` (file, model id, seed, index, label);
:func:`build_synthetic_dataset` writes them and :mod:`medgan_utils.data.synthetic` reads them
back (:func:`~medgan_utils.data.synthetic.load_synthetic_dataset`).
"""

from __future__ import annotations

import contextlib
import csv
import re
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from medgan_utils.data.synthetic import FIELDS, MANIFEST
from medgan_utils.errors import (
    DataError,
    MissingDependenciesError,
    UntrustedCodeError,
)
from medgan_utils.exports import safe_name
from medgan_utils.gan.zoo import MAX_IMAGES
from medgan_utils.hub import policy
from medgan_utils.hub.catalog import (
    Catalog,
    import_medigan,
    load_catalog,
    medigan_generators,
    missing_dependencies,
)
from medgan_utils.hub.packages import ensure_package
from medgan_utils.hub.sandbox import (
    LOCK,
    absolute_paths,
    medigan_session,
    package_errors,
    quiet,
    run_folder,
    seeded,
)
from medgan_utils.settings import (
    CLAIM_FILE,
    atomic_path,
    check_seed,
    claim_folder,
    is_empty_folder,
)

__all__ = [
    "seeded",
    "medigan_session",
    "fetch_model",
    "generate",
    "build_synthetic_dataset",
    "medigan_dataloader",
    "as_tensor",
]


def _catalog(catalog: Catalog | str | Path | None) -> Catalog:
    return catalog if isinstance(catalog, Catalog) else load_catalog(catalog)


def fetch_model(
    model_id: str,
    catalog: Catalog | str | Path | None = None,
    timeout: float = 60.0,
    *,
    allow_unofficial: bool | None = None,
) -> Path:
    """Download (or build), check and unpack a model's package; return its folder.

    Args:
        model_id: a catalog id (also medigan's short forms such as ``"1"``).
        catalog: a :class:`~medgan_utils.hub.catalog.Catalog` or catalog file.
        timeout: seconds any download wait may take.
        allow_unofficial: accept packages from outside medigan's official catalog (default
            ``$MEDGAN_ALLOW_UNOFFICIAL_CODE``).

    Raises:
        DataError: an id that is not valid or not in the catalog; every refusal of
            :func:`~medgan_utils.hub.packages.ensure_package` (all are ``DataError``).
    """
    catalog = _catalog(catalog)
    model_id = catalog.resolve(model_id)
    return ensure_package(
        model_id,
        catalog.entries[model_id],
        local=catalog.local.get(model_id),
        official=model_id in catalog.official,
        allow_unofficial=allow_unofficial,
        timeout=timeout,
    )


def _prepare(
    model_id: str,
    catalog: Catalog,
    install_dependencies: bool,
    timeout: float,
    allow_unofficial: bool | None,
) -> tuple[str, dict[str, Any]]:
    model_id = catalog.resolve(model_id)
    entry = catalog.entries[model_id]
    missing = missing_dependencies(entry)
    trusted = model_id in catalog.local or model_id in catalog.official
    if missing and install_dependencies and not trusted:
        if not policy.unofficial_allowed(allow_unofficial):
            raise UntrustedCodeError(
                model_id,
                f"installing its dependencies ({', '.join(missing)}) runs pip on a list from a "
                "catalog that is not medigan's official one: install them yourself, or allow "
                f"it with {policy.ALLOW_ENV}=1, --allow-unofficial-code or allow_unofficial=True",
            )
    if missing and not install_dependencies:
        names = " ".join(f"'{m.split(' (')[0]}'" for m in missing)
        raise MissingDependenciesError(
            model_id,
            f"needs pip packages that are not installed: {', '.join(missing)}. Install them "
            f"(pip install {names}) or opt in to medigan's installer with "
            "install_dependencies=True / --install-dependencies",
        )
    fetch_model(model_id, catalog, timeout, allow_unofficial=allow_unofficial)
    return model_id, entry


def _check_count(n: object) -> int:
    """``n`` if it is a whole number of images from 1 to :data:`~medgan_utils.gan.zoo.MAX_IMAGES`
    (the cap of our own generation, the CLI's ``-n``)."""
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_IMAGES:
        raise ValueError(f"number of images must be between 1 and {MAX_IMAGES}, got {n!r}")
    return n


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

    files = sorted(
        (p for p in tmp.rglob("*") if p.is_file() and p.name != CLAIM_FILE), key=_batch_key
    )
    if not files:
        raise DataError(model_id, "its package wrote no image files: nothing was generated")
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
            src.unlink()  # one image at a time: the workspace never holds them all twice
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
    allow_unofficial: bool | None = None,
    **kwargs: Any,
) -> list[Any]:
    """Generate ``n`` images with a catalog model through ``medigan.Generators``, seeded.

    Args:
        model_id: a catalog id (also medigan's short forms such as ``"1"``).
        n: number of samples, 1 to :data:`~medgan_utils.gan.zoo.MAX_IMAGES`.
        seed: seeds every random generator around medigan's call (``0..2**32-1``).
        out: a new or empty folder, held for this call alone: files are written there
            (``save_images=True``, in medigan's batches); without it the images come back as
            arrays, all in memory.
        catalog: a :class:`~medgan_utils.hub.catalog.Catalog` or catalog file; default
            :func:`~medgan_utils.hub.catalog.load_catalog`.
        install_dependencies: let medigan's installer ``pip install`` missing dependencies.
        timeout: seconds any download wait may take.
        progress: show medigan's progress bar and messages (else they are shown only when
            the call fails).
        allow_unofficial: run a package from outside medigan's official catalog (default
            ``$MEDGAN_ALLOW_UNOFFICIAL_CODE``; see :mod:`medgan_utils.hub.policy`).
        **kwargs: the model's extra generate arguments (``ModelCard.generate_args``), e.g.
            ``condition=1`` or ``input_path="my_images/"``; existing paths are made absolute.

    Returns:
        Without ``out``: what medigan returns, a list of arrays (``(S, S, C)`` uint8 for the
        project's models) or tuples (image, mask, ..., label). With ``out``: the files.

    Raises:
        ValueError: ``n`` or ``seed`` out of range.
        DataError: ``out`` not empty or held by another writer; the package gave no images;
            the model or its package refused (:func:`fetch_model`).
    """
    n, seed = _check_count(n), check_seed(seed)
    catalog = _catalog(catalog)
    target = Path(out).resolve() if out is not None else None
    if target is not None and not is_empty_folder(target):
        raise DataError(target, "is not empty; choose a new --out so no file is overwritten")
    kwargs = absolute_paths(kwargs)
    claim = claim_folder(target) if target is not None else contextlib.nullcontext()
    with LOCK:  # one install and one medigan call at a time in this process
        model_id, entry = _prepare(
            model_id, catalog, install_dependencies, timeout, allow_unofficial
        )
        with claim, medigan_session() as ws, seeded(seed), quiet(not progress):
            with run_folder(ws) as tmp, package_errors(model_id):
                result = medigan_generators({model_id: entry}).generate(
                    model_id=model_id,
                    num_samples=n,
                    output_path=f"{tmp}/",
                    save_images=target is not None,
                    install_dependencies=install_dependencies,
                    **kwargs,
                )
                if target is not None:
                    return _collect(tmp, target, model_id, seed)
                images = list(result or [])
                if not images:
                    raise DataError(model_id, "its package returned no images")
                return images


def medigan_dataloader(
    model_id: str,
    n: int,
    seed: int = 0,
    *,
    catalog: Catalog | str | Path | None = None,
    batch_size: int = 8,
    install_dependencies: bool = False,
    allow_unofficial: bool | None = None,
    **kwargs: Any,
) -> torch.utils.data.DataLoader:
    """medigan's own ``Generators.get_as_torch_dataloader``, seeded and sandboxed.

    The ``n`` images (1 to :data:`~medgan_utils.gan.zoo.MAX_IMAGES`) are generated now, in
    memory; batches are dicts with ``"sample"`` (and ``"label"`` / ``"mask"`` where the model
    gives them), as medigan's ``SyntheticDataset`` returns them.

    Raises:
        DataError: the package failed (medigan's dataset fails on a package that gives no
            images), or was refused (:func:`fetch_model`).
    """
    import_medigan()
    n, seed = _check_count(n), check_seed(seed)
    catalog = _catalog(catalog)
    kwargs = absolute_paths(kwargs)
    with LOCK:
        model_id, entry = _prepare(model_id, catalog, install_dependencies, 60.0, allow_unofficial)
        with medigan_session() as ws, seeded(seed), quiet(True), run_folder(ws) as tmp:
            with package_errors(model_id):
                loader = medigan_generators({model_id: entry}).get_as_torch_dataloader(
                    model_id=model_id,
                    num_samples=n,
                    output_path=f"{tmp}/",  # else medigan leaves a folder under output/ each call
                    batch_size=batch_size,
                    install_dependencies=install_dependencies,
                    prefetch_factor=None,  # medigan's default (2) is an error without workers
                    **kwargs,
                )
    return loader


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
    n, catalog, out = _check_count(n), _catalog(catalog), Path(out)
    if not is_empty_folder(out):
        raise DataError(out, "is not empty; choose a new folder for the dataset")
    rows = []
    with claim_folder(out):
        for model in models:
            card = catalog.card(model)
            given = (conditions or {}).get(model, (conditions or {}).get(card.model_id))
            labels: list[str | None] = [*card.classes] or [None]
            for label in list(given) if given is not None else labels:
                extra = {**kwargs, **({"condition": label} if label is not None else {})}
                sub = out / safe_name(card.model_id)
                sub = sub / safe_name(str(label)) if label is not None else sub
                files = generate(card.model_id, n, seed, out=sub, catalog=catalog, **extra)
                named = (class_of or {}).get(model, (class_of or {}).get(card.model_id, ""))
                for i, f in enumerate(files):
                    label_text = named if label is None else str(label)
                    rows.append((f.relative_to(out).as_posix(), card.model_id, seed, i, label_text))
        manifest = out / MANIFEST
        with atomic_path(manifest) as tmp, tmp.open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(FIELDS)
            writer.writerows(rows)
    return manifest
