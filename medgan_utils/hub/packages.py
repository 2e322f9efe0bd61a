"""Installed model packages: where they live, how they are fetched, and their checksums.

A medigan model package is code that runs, so every package medgan-utils installs lives
in one folder (``$MEDGAN_HOME/medigan``, :func:`workspace`), is checked before it is
unpacked, and has its SHA-256 recorded in ``checksums.json``:

- the project's own models are packaged from their safetensors weights (the files of the
  shipped models are pinned in :mod:`medgan_utils.registry`, and checked first);
- official packages are downloaded with a timeout and retries (medigan's own download has
  neither), checked (a complete zip, its ``__init__.py`` and weights, no path leaving the
  package) and unpacked into place in one rename, so an interrupted download never leaves
  a half package; the archive's hash is recorded on first download and a different one
  later is refused;
- before every run the unpacked files are hashed again; a package that changed is refused.

Layout (medigan's own, so medigan finds what was installed)::

    models/<model_id>/<package_name>/__init__.py ...   unpacked, checked packages
    downloads/<model_id>.zip                            archives (drop one here by hand)
    config/global.json                                  the cached official catalog
    checksums.json                                      what was installed, with hashes
"""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from medgan_utils.errors import (
    DataError,
    ModelNotAvailableError,
    PackageChangedError,
    PackageIntegrityError,
)
from medgan_utils.hub import template as medigan_template
from medgan_utils.hub.export import META, WEIGHTS, build_package, standalone_models_source
from medgan_utils.registry import sha256_file, verify_file
from medgan_utils.settings import atomic_path, data_home, network_allowed

__all__ = [
    "workspace",
    "network_allowed",
    "tree_sha256",
    "load_registry",
    "verify_archive",
    "ensure_package",
    "package_status",
]


def workspace() -> Path:
    """medigan's working folder (``$MEDGAN_HOME/medigan``): packages, downloads, catalog."""
    root = data_home() / "medigan"
    (root / "models").mkdir(parents=True, exist_ok=True)
    init = root / "models" / "__init__.py"  # a regular package wins over any other `models`
    if not init.exists():
        init.write_text("")
    return root


def tree_sha256(folder: Path) -> str:
    """One hash over every file's relative path and contents (``__pycache__`` left out)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
        if "__pycache__" in rel.split("/"):
            continue
        digest.update(f"{rel}\0{sha256_file(path)}\n".encode())
    return digest.hexdigest()


def load_registry() -> dict[str, dict[str, Any]]:
    """``checksums.json``: model id -> hashes, size, source and date of its install."""
    path = workspace() / "checksums.json"
    try:
        return json.loads(path.read_text()) if path.exists() else {}
    except ValueError as err:
        raise PackageIntegrityError(path, f"unreadable checksum registry ({err})") from err


def _record(model_id: str, **fields: Any) -> None:
    registry = load_registry()
    registry[model_id] = {**fields, "recorded": datetime.now(UTC).isoformat()}
    with atomic_path(workspace() / "checksums.json") as tmp:
        tmp.write_text(json.dumps(registry, indent=2, sort_keys=True) + "\n")


def _human(size: int | None) -> str:
    if size is None:
        return "unknown (medigan's catalog does not record package sizes)"
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"


def _layout(names: list[str], entry: Mapping[str, Any]) -> str:
    """The prefix under which the package sits in an archive: ``"<package_name>/"`` or ``""``."""
    ex = entry["execution"]
    weights = f"{ex['model_name']}{ex['extension']}"
    for prefix in (f"{ex['package_name']}/", ""):
        if f"{prefix}__init__.py" in names and f"{prefix}{weights}" in names:
            return prefix
    raise PackageIntegrityError(
        ex["package_name"], f"the archive has no __init__.py with {weights} beside it"
    )


def verify_archive(path: Path, entry: Mapping[str, Any]) -> str:
    """Check a package zip before anything in it is unpacked; return its layout prefix.

    Raises:
        PackageIntegrityError: not a zip, a damaged member (CRC), a path that leaves the
            package, or no ``__init__.py`` with the weights the entry names.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            bad = zf.testzip()
            names = zf.namelist()
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise PackageIntegrityError(path, f"not a complete zip archive ({err})") from err
    if bad is not None:
        raise PackageIntegrityError(path, f"damaged archive: {bad} fails its CRC check")
    unsafe = [n for n in names if n.startswith(("/", "\\")) or ".." in Path(n).parts]
    if unsafe:
        raise PackageIntegrityError(path, f"archive paths leave the package: {unsafe[:3]}")
    return _layout(names, entry)


def _install(model_id: str, archive: Path, entry: Mapping[str, Any], record: dict | None) -> Path:
    """Unpack a checked archive into ``models/<model_id>`` in one rename, and record it."""
    verify_archive(archive, entry)
    digest = sha256_file(archive)
    if record and record.get("zip_sha256") not in (None, digest):
        raise PackageChangedError(
            archive,
            f"differs from the package of {model_id} recorded on {record['recorded']} "
            f"(SHA-256 {digest[:12]}... instead of {record['zip_sha256'][:12]}...): refusing it",
        )
    models = workspace() / "models"
    dest = models / model_id
    _install_dir(dest, lambda tmp: _extract(archive, tmp))
    _record(
        model_id,
        package=entry["execution"]["package_name"],
        source=entry["execution"]["package_link"],
        zip_sha256=digest,
        tree_sha256=tree_sha256(dest),
        size=archive.stat().st_size,
    )
    return dest


def _download(link: str, part: Path, timeout: float) -> None:
    """Copy ``link`` (a URL or a local path) to ``part``; every socket wait has a timeout."""
    url = urlparse(link)
    if not (url.scheme and url.netloc) and url.scheme != "file":
        shutil.copyfile(link, part)
        return
    request = urllib.request.Request(link, headers={"User-Agent": "medgan-utils"})
    with urllib.request.urlopen(request, timeout=timeout) as response, open(part, "wb") as f:
        shutil.copyfileobj(response, f, 1 << 20)


def _fetch(
    model_id: str,
    entry: Mapping[str, Any],
    archive: Path,
    timeout: float,
    retries: int,
    size: int | None,
    note: str = "",
) -> None:
    """Download the package archive to ``archive`` (checked), or explain how to get it."""
    link = entry["execution"]["package_link"]
    remote = bool(urlparse(link).netloc)
    how = (
        f"run `medgan models fetch {model_id}` where there is internet, or download {link} "
        f"yourself and save it as {archive} (it is checked and unpacked on the next run)"
    )
    if remote and not network_allowed():
        raise ModelNotAvailableError(
            model_id,
            f"not on disk, and downloads are off (MEDGAN_OFFLINE); download size "
            f"{_human(size)}. To get it: {how}{note}",
        )
    part = archive.with_name(archive.name + ".part")
    archive.parent.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    attempts = max(1, retries) if remote else 1  # a local file gives the same bytes again
    for attempt in range(attempts):
        try:
            _download(link, part, timeout)
            verify_archive(part, entry)
            os.replace(part, archive)
            return
        except (PackageIntegrityError, OSError, urllib.error.URLError) as err:  # and timeouts
            last = err
        finally:
            part.unlink(missing_ok=True)  # never leave a partial download behind
        if attempt + 1 < attempts:
            time.sleep(min(2.0**attempt, 8.0))
    if isinstance(last, PackageIntegrityError):
        times = f" {attempts} times" if attempts > 1 else ""
        raise PackageIntegrityError(
            model_id, f"the package from {link} was broken{times} ({last.reason}){note}"
        )
    raise ModelNotAvailableError(
        model_id,
        f"not on disk, and {link} cannot be reached ({last}); download size "
        f"{_human(size)}. To get it: {how}{note}",
    )


def _source_fingerprint(folder: Path) -> str:
    digest = hashlib.sha256(inspect.getsource(medigan_template).encode())
    digest.update(standalone_models_source().encode())
    for name in (WEIGHTS, META):
        digest.update(sha256_file(folder / name).encode())
    return digest.hexdigest()


def _ensure_local(model_id: str, entry: Mapping[str, Any], folder: Path) -> Path:
    """Package one of our own models into the workspace, unless it is there and intact."""
    try:
        for name in (WEIGHTS, META):
            verify_file(folder / name)  # a shipped model's files: the registry's SHA-256
    except DataError as err:
        raise PackageChangedError(
            err.path, f"{model_id} is not the model the project ships: {err.reason}"
        ) from err
    models = workspace() / "models"
    dest, record = models / model_id, load_registry().get(model_id)
    fingerprint = _source_fingerprint(folder)
    if dest.exists() and record and record.get("source_sha256") == fingerprint:
        if record.get("tree_sha256") != tree_sha256(dest):
            raise PackageChangedError(
                dest,
                f"the package of {model_id} changed since it was built: refusing to run "
                "it (remove the folder and it is built again)",
            )
        return dest
    _install_dir(dest, lambda tmp: build_package(folder, tmp / entry["execution"]["package_name"]))
    _record(
        model_id,
        package=entry["execution"]["package_name"],
        source=str(folder),
        source_sha256=fingerprint,
        tree_sha256=tree_sha256(dest),
    )
    return dest


def ensure_package(
    model_id: str,
    entry: Mapping[str, Any],
    *,
    local: str | Path | None = None,
    timeout: float = 60.0,
    retries: int = 3,
) -> Path:
    """Make the package of ``model_id`` ready in the workspace, checked; return its folder.

    Args:
        model_id: the catalog id.
        entry: its catalog entry (medigan format).
        local: for the project's own models, the folder with ``generator.safetensors``.
        timeout: seconds any network wait may take.
        retries: download attempts.

    Raises:
        ModelNotAvailableError: not on disk and not downloadable now (names the model, its
            size if known, and how to get it).
        PackageIntegrityError: a broken archive, or a package that changed since install.
    """
    if local is not None:
        return _ensure_local(model_id, entry, Path(local))
    dest = workspace() / "models" / model_id
    record = load_registry().get(model_id)
    if dest.exists():
        if record is None or "zip_sha256" not in record:
            raise PackageChangedError(
                dest,
                "was not installed by medgan-utils (no checksum on record): refusing to "
                "run it; remove the folder and the model is fetched and checked again",
            )
        if record["tree_sha256"] != tree_sha256(dest):
            raise PackageChangedError(
                dest,
                f"the package of {model_id} changed since it was installed on "
                f"{record['recorded']}: refusing to run it (remove the folder to fetch it again)",
            )
        return dest
    archive = workspace() / "downloads" / f"{model_id}.zip"
    note = ""
    if archive.exists():
        try:
            return _install(model_id, archive, entry, record)
        except PackageChangedError:
            raise
        except PackageIntegrityError as err:
            archive.unlink()
            note = f" (a broken {archive.name} was removed: {err.reason})"
    size = (record or {}).get("size")
    _fetch(model_id, entry, archive, timeout, retries, size, note)
    return _install(model_id, archive, entry, record)


def package_status(model_id: str, local: str | Path | None = None) -> tuple[bool, int | None]:
    """Whether the model is on disk, and its package size in bytes if known."""
    if local is not None:
        files = [Path(local) / n for n in (WEIGHTS, META)]
        on_disk = all(f.exists() for f in files)
        return on_disk, sum(f.stat().st_size for f in files) if on_disk else None
    record = load_registry().get(model_id) or {}
    return (workspace() / "models" / model_id).exists() and bool(record), record.get("size")


def _extract(archive: Path, folder: Path) -> None:
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(folder)


def _install_dir(dest: Path, fill: Callable[[Path], object]) -> None:
    """Fill a temporary folder beside ``dest``, then swap it in: never a half-written package."""
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    try:
        fill(tmp)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
