"""medigan model packages of the project's models: build, describe, export.

A medigan model package holds an ``__init__.py`` whose ``generate(model_file, num_samples,
output_path, save_images, ...)`` makes images, plus its weights; a catalog entry
(``execution`` / ``selection`` / ``description``) says how to call it. For a model trained
with this project the package is :mod:`medgan_utils.hub.template` as ``__init__.py``, a
standalone copy of :mod:`medgan_utils.gan.models` as ``dcgan.py``, and the safetensors weights
with their ``generator.json``: it needs torch, numpy, Pillow and safetensors, not
medgan-utils. :func:`export_medigan` zips one with its metadata, ready to contribute to
medigan. Installing and checking packages is :mod:`medgan_utils.hub.packages`'s job (it
imports this module; this module imports nothing from it).
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medgan_utils.errors import DataError, PackageIntegrityError
from medgan_utils.registry import sha256_file
from medgan_utils.settings import atomic_path

__all__ = [
    "META",
    "WEIGHTS",
    "Export",
    "catalog_entry",
    "build_package",
    "package_code",
    "PACKAGE_DATA",
    "export_medigan",
    "read_package_metadata",
    "standalone_models_source",
]

WEIGHTS, META = "generator.safetensors", "generator.json"  # a package's files beside the code
PACKAGE_DATA = (WEIGHTS, META, "metadata.json", "README.md")  # what else an exported zip holds
DEPENDENCIES = ["torch", "numpy", "safetensors", "Pillow"]
_MODEL_ID = re.compile(r"^\d{5}_[A-Za-z0-9_-]{7,24}$")  # medigan: 5 digits, 13-30 chars


# ---------------------------------------------------------------- building our packages


def _gan_siblings(source: str) -> list[str]:
    """The modules of :mod:`medgan_utils.gan` that ``source`` imports (``blocks``, ...)."""
    return re.findall(r"^from medgan_utils\.gan\.(\w+) import ", source, re.M)


def standalone_models_source() -> str:
    """:mod:`medgan_utils.gan.models` as a file that imports nothing from ``medgan_utils``:
    ``SUPPORTED_SIZES`` written out, and its sibling modules in :mod:`medgan_utils.gan`
    (:func:`package_code` ships them beside it) imported relatively."""
    from medgan_utils import settings
    from medgan_utils.gan import models

    source = inspect.getsource(models)
    line = "from medgan_utils.settings import SUPPORTED_SIZES\n"
    source = re.sub(
        r"^from medgan_utils\.gan\.(\w+) import ", r"from .\1 import ", source, flags=re.M
    )
    if line not in source or re.search(
        r"^(from|import) medgan_utils(?!\.settings import SUPPORTED_SIZES$)", source, re.M
    ):
        raise RuntimeError("medgan_utils.gan.models changed its imports: update this function")
    return source.replace(line, f"SUPPORTED_SIZES = {tuple(settings.SUPPORTED_SIZES)!r}\n")


def package_code() -> dict[str, bytes]:
    """The code files of the packages this project builds, by name: ``__init__.py`` (the
    template), ``dcgan.py`` (:func:`standalone_models_source`) and the modules of
    :mod:`medgan_utils.gan` it imports, which import nothing from ``medgan_utils``. A package
    whose code is exactly this runs only the project's code."""
    import importlib

    from medgan_utils.gan import models
    from medgan_utils.hub import template as medigan_template

    code = {
        "__init__.py": inspect.getsource(medigan_template).encode(),
        "dcgan.py": standalone_models_source().encode(),
    }
    for name in _gan_siblings(inspect.getsource(models)):
        source = inspect.getsource(importlib.import_module(f"medgan_utils.gan.{name}"))
        if re.search(r"^(from|import) medgan_utils", source, re.M):
            raise RuntimeError(
                f"medgan_utils.gan.{name} imports medgan_utils: update this function"
            )
        code[f"{name}.py"] = source.encode()
    return code


def build_package(model: str | Path, dest: str | Path) -> Path:
    """Write a medigan package for a trained generator into the new folder ``dest``.

    Args:
        model: a shipped model name, a run folder or a ``generator.safetensors`` path.
        dest: the package folder; its name is the package name.

    Returns:
        ``dest``, holding ``__init__.py``, ``dcgan.py``, ``generator.safetensors`` and
        ``generator.json``.
    """
    import torch

    from medgan_utils.gan.zoo import load_generator, model_path

    src, dest = model_path(model), Path(dest)
    with torch.random.fork_rng(devices=[]):  # building the network must not move the seed
        load_generator(src)  # refuses corrupt, mismatched or NaN/inf weights before packaging
    dest.mkdir(parents=True)
    for name, code in package_code().items():
        (dest / name).write_bytes(code)
    for name in (WEIGHTS, META):
        shutil.copyfile(src / name, dest / name)
    return dest


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_")


def catalog_entry(
    model: str | Path,
    *,
    package_name: str,
    package_link: str,
    title: str | None = None,
    comment: str = "",
    modality: list[str] | None = None,
    organ: list[str] | None = None,
    tags: list[str] | None = None,
    licence: str = "MIT",
    authors: str | None = None,
    dataset: list[str] | None = None,
) -> dict[str, Any]:
    """A catalog entry in medigan's format (every key the official catalog uses).

    Metrics, training data and dates come from the model's ``generator.json``; what it does
    not record (modality, anatomy, licence) is given here.
    """
    from medgan_utils.gan.zoo import model_path

    meta = json.loads((model_path(model) / META).read_text())
    cfg = meta["model_config"]
    conditional = bool(cfg.get("num_classes"))
    # An unconditional generator of one class (``medgan train --class``) takes no condition.
    size, classes = cfg["image_size"], list(meta.get("classes") or []) if conditional else []
    gan = "Conditional DCGAN" if conditional else "DCGAN"
    data = str(meta.get("data", "unknown"))
    if data in ("builtin", "builtin-labelled"):
        dataset = dataset or [
            f"medgan-utils {data} set: virtual subjects derived from the MNI152 2009a T1 "
            "template (not real patients)"
        ]
        modality = modality or ["MRI", "T1", "Brain MRI"]
        organ = organ or ["brain", "head"]
    metrics = dict(meta.get("metrics") or {})
    custom: dict[str, Any] = {"condition": None} if conditional else {}
    history = meta.get("history") or []
    return {
        "execution": {
            "package_name": package_name,
            "package_link": package_link,
            "model_name": Path(WEIGHTS).stem,
            "extension": Path(WEIGHTS).suffix,
            "image_size": [size, size, cfg.get("channels", 1)],
            "dependencies": list(DEPENDENCIES),
            "generate_method": {
                "name": "generate",
                "args": {
                    "base": ["model_file", "num_samples", "output_path", "save_images"],
                    "custom": custom,
                },
                "input_latent_vector_size": cfg.get("latent_dim", 100),
            },
        },
        "selection": {
            "performance": metrics,
            "use_cases": ["classification", "teaching"],
            "organ": organ or [],
            "modality": modality or [],
            "vendors": [],
            "centres": [],
            "function": ["noise to image", "image generation", "data augmentation"]
            + (["conditional generation"] if conditional else ["unconditional generation"]),
            "condition": classes,
            "dataset": dataset or [data],
            "augmentations": [],
            "generates": [f"{size}x{size} synthetic images"],
            "height": size,
            "width": size,
            "depth": None,
            "type": gan,
            "license": licence,
            "dataset_type": "synthetic" if data.startswith("builtin") else "unknown",
            "privacy_preservation": None,
            "tags": sorted({*(tags or []), gan, f"{size}x{size}", "medgan-utils"}),
            "year": str(datetime.now(UTC).year),
        },
        "description": {
            "title": title or f"{gan} ({size}x{size}) trained with medgan-utils on {data}",
            "provided_date": datetime.now(UTC).strftime("%d %B %Y"),
            "trained_date": None,
            "provided_after_epoch": meta.get("epochs", len(history) or None),
            "version": "1.0",
            "publication": None,
            "doi": [],
            "inputs": (
                [
                    f"condition: default=None, help=one of {classes} (index or name); None gives "
                    "a balanced set"
                ]
                if conditional
                else []
            ),
            "comment": comment
            or (
                f"A {gan} trained with the medgan-utils course toolkit. It generates SYNTHETIC "
                f"{size}x{size} images; files it writes are named synthetic_*.png and carry "
                "the PNG text chunk synthetic=true."
                + (f" Authors: {authors}." if authors else "")
                + (f" Trained with: {' '.join(meta['command'])}." if meta.get("command") else "")
            ),
        },
    }


def _zip_folder(folder: Path, zip_path: Path, extra: Mapping[str, str] = {}) -> None:
    """A reproducible zip (sorted names, fixed dates) of ``folder`` under its own name."""
    with atomic_path(zip_path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        items = {
            f"{folder.name}/{p.relative_to(folder).as_posix()}": p.read_bytes()
            for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts
        }
        items.update({f"{folder.name}/{k}": v.encode() for k, v in extra.items()})
        for name in sorted(items):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type, info.external_attr = zipfile.ZIP_DEFLATED, 0o644 << 16
            zf.writestr(info, items[name])


@dataclass(frozen=True)
class Export:
    """What :func:`export_medigan` wrote."""

    zip: Path
    model_id: str
    metadata: dict[str, Any]  # {model_id: entry}, medigan's metadata format
    sha256: str


def export_medigan(
    run_dir: str | Path,
    out: str | Path,
    *,
    model_id: str | None = None,
    **card: Any,
) -> Export:
    """Turn a trained model into a medigan package zip, ready to contribute upstream.

    The zip holds ``<model_id>/`` with the package (``__init__.py``, ``dcgan.py``, weights,
    ``generator.json``), ``metadata.json`` (``{model_id: entry}`` in the format of medigan's
    contribution template and ``config/global.json``) and a ``README.md`` model card. The
    entry's ``package_link`` is the zip's path, so the file loads back as it is; medigan's
    ``Generators.contribute`` replaces it with the Zenodo link on upload. Beside the zip go
    ``<out>.sha256`` and ``<out>.json`` (the metadata).

    Args:
        run_dir: a run folder (``medgan train --out``) or a shipped model name.
        out: the ``.zip`` to write.
        model_id: medigan's id format, ``NNNNN_TYPE_WHAT`` (13-30 characters); medigan's
            maintainers assign the number, so the default starts with ``00000``.
        **card: passed to :func:`catalog_entry` (``title``, ``modality``, ``organ``,
            ``licence``, ``authors``, ...).
    """
    from medgan_utils.gan.zoo import model_path

    folder, out = model_path(run_dir), Path(out)
    if out.suffix != ".zip":
        raise DataError(out, "the exported package must be a .zip file")
    if out.exists():
        raise DataError(out, "exists already; choose a new --out so nothing is overwritten")
    if model_id is None:
        cfg = json.loads((folder / META).read_text())["model_config"]
        kind = "C-DCGAN" if cfg.get("num_classes") else "DCGAN"
        model_id = f"00000_{kind}_{_slug(folder.name).upper()}"[:30]
    if not _MODEL_ID.match(model_id):
        raise DataError(
            model_id,
            "not a medigan model id: 5 digits, '_', then 8-25 letters, "
            "digits, '_' or '-' (e.g. 00000_DCGAN_BRAIN_MRI_64)",
        )
    entry = catalog_entry(folder, package_name=model_id, package_link=str(out.resolve()), **card)
    metadata = {model_id: entry}
    readme = _readme(model_id, entry)
    if (folder / "MODEL_CARD.md").exists():  # the card training wrote, if any
        readme += "\n" + (folder / "MODEL_CARD.md").read_text()
    with tempfile.TemporaryDirectory() as tmp:
        package = build_package(folder, Path(tmp) / model_id)
        extra = {"metadata.json": json.dumps(metadata, indent=2) + "\n", "README.md": readme}
        _zip_folder(package, out, extra)
    digest = sha256_file(out)
    with atomic_path(out.with_name(out.name + ".sha256")) as tmp:
        tmp.write_text(f"{digest}  {out.name}\n")
    with atomic_path(out.with_suffix(".json")) as tmp:
        tmp.write_text(json.dumps(metadata, indent=2) + "\n")
    return Export(out, model_id, metadata, digest)


def _readme(model_id: str, entry: dict[str, Any]) -> str:
    d, s = entry["description"], entry["selection"]
    return (
        f"# {model_id}: {d['title']}\n\n**Generates synthetic images.** {d['comment']}\n\n"
        f"- training data: {', '.join(s['dataset'])}\n- licence: {s['license']}\n"
        f"- modality: {', '.join(s['modality']) or 'not given'}; anatomy: "
        f"{', '.join(s['organ']) or 'not given'}\n"
        f"- dependencies: {', '.join(entry['execution']['dependencies'])}\n\n"
        "```python\nfrom medigan import Generators\n"
        f"Generators().generate(model_id='{model_id}', num_samples=8)\n```\n\n"
        "To contribute it: `Generators().contribute(model_id, init_py_path, "
        "metadata_file_path='metadata.json', ...)` (uploads to Zenodo, opens a GitHub issue).\n"
    )


def read_package_metadata(zip_path: str | Path) -> dict[str, Any]:
    """The ``{model_id: entry}`` stored in an exported package, read without running it."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            name = next(n for n in zf.namelist() if n.rsplit("/", 1)[-1] == "metadata.json")
            metadata = json.loads(zf.read(name))
    except (OSError, zipfile.BadZipFile, StopIteration, ValueError) as err:
        raise PackageIntegrityError(zip_path, f"no readable metadata.json ({err})") from err
    for entry in metadata.values():
        entry["execution"]["package_link"] = str(Path(zip_path).resolve())
    return metadata
