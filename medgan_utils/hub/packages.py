"""Installed model packages: where they live, how they are fetched, and their checksums.

A medigan model package is code that runs, so every package medgan-utils installs lives
in one folder (``$MEDGAN_HOME/medigan``, :func:`workspace`), is checked before it is
unpacked, and has its SHA-256 recorded in ``checksums.json``; what is refused, and why, is
:mod:`medgan_utils.hub.policy`:

- the project's own models are packaged from their safetensors weights (the files of the
  shipped models are pinned in :mod:`medgan_utils.registry`, and checked first);
- official packages are downloaded (https only) with a timeout, retries and a size cap
  (medigan's own download has none of these), checked (a complete zip within the size caps,
  its ``__init__.py`` and weights, no path leaving the package) and unpacked into place in one
  rename, without bytecode, so an interrupted download never leaves a half package; the
  archive's hash is recorded on first download and a different one later is refused;
- a package from any other catalog is fetched and run only when it holds nothing but this
  project's own code, or when the operator allows it (:func:`~.policy.unofficial_allowed`);
- before every run the unpacked files are hashed again (every file: a package holding
  bytecode is refused); a package that changed is refused.

Only what medgan-utils wrote is ever deleted: a broken archive only when ``downloads.json``
records that medgan-utils downloaded it, a package folder only with its record.

Layout (medigan's own, so medigan finds what was installed)::

    models/<model_id>/<package_name>/__init__.py ...   unpacked, checked packages
    downloads/<model_id>.zip                            archives (drop one here by hand)
    config/global.json                                  the cached official catalog
    checksums.json                                      what was installed, with hashes
    downloads.json                                      the archives medgan-utils downloaded
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medgan_utils.errors import (
    DataError,
    PackageChangedError,
    PackageIntegrityError,
    UntrustedCodeError,
)
from medgan_utils.hub import downloads, policy
from medgan_utils.hub.export import META, PACKAGE_DATA, WEIGHTS, build_package, package_code
from medgan_utils.registry import ROOT, expected_sha256, sha256_file, verify_file
from medgan_utils.settings import atomic_path, data_home, network_allowed

__all__ = [
    "workspace",
    "network_allowed",
    "package_dir",
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


def package_dir(model_id: str) -> Path:
    """``models/<model_id>`` in the workspace, once the id is valid and the folder inside it."""
    return policy.contained(workspace() / "models", model_id)


def _archive(model_id: str) -> Path:
    return policy.contained(workspace() / "downloads", model_id, suffix=".zip")


def tree_sha256(folder: Path) -> str:
    """One hash over every file's relative path and contents (bytecode included)."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        rel = path.relative_to(folder).as_posix()
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

    The zip's directory is read first: too many entries or too many unpacked bytes
    (:data:`~.policy.MAX_PACKAGE_FILES`, :data:`~.policy.MAX_PACKAGE_BYTES`) are refused before
    a byte is decompressed; then every member's CRC is checked.

    Raises:
        PackageIntegrityError: not a zip, too large, a damaged member (CRC), a path that
            leaves the package, or no ``__init__.py`` with the weights the entry names.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            policy.check_archive_size(path, (i.file_size for i in infos))
            bad = zf.testzip()
    except (OSError, zipfile.BadZipFile, EOFError) as err:
        raise PackageIntegrityError(path, f"not a complete zip archive ({err})") from err
    if bad is not None:
        raise PackageIntegrityError(path, f"damaged archive: {bad} fails its CRC check")
    names = [i.filename for i in infos]
    unsafe = [n for n in names if n.startswith(("/", "\\")) or ".." in Path(n).parts]
    if unsafe:
        raise PackageIntegrityError(path, f"archive paths leave the package: {unsafe[:3]}")
    return _layout(names, entry)


def _own_code(names: list[str], read: Callable[[str], bytes], entry: Mapping[str, Any]) -> bool:
    """Whether a package holds only this project's code (:func:`~.export.package_code`) and
    data, with the entry calling its ``generate`` on its weights: then no foreign code runs."""
    ex = entry["execution"]
    if f"{ex['model_name']}{ex['extension']}" != WEIGHTS:
        return False
    if ex["generate_method"].get("name") != "generate":
        return False
    prefix = _layout(names, entry)
    files = {n[len(prefix) :] for n in names if not n.endswith("/")}
    if any(not n.startswith(prefix) for n in names if not n.endswith("/")):
        return False
    code = package_code()
    if not files <= set(code) | set(PACKAGE_DATA) or not set(code) <= files:
        return False
    return all(read(prefix + name) == data for name, data in code.items())


def _untrusted(model_id: str, entry: Mapping[str, Any]) -> UntrustedCodeError:
    link = entry["execution"]["package_link"]
    return UntrustedCodeError(
        model_id,
        f"its package ({link}) is not from medigan's official catalog and holds code that is "
        "not medgan-utils' own, so it is not run. Model packages are Python code: if you "
        f"trust its source, allow it with {policy.ALLOW_ENV}=1, --allow-unofficial-code or "
        "allow_unofficial=True",
    )


def _install(
    model_id: str,
    archive: Path,
    entry: Mapping[str, Any],
    record: dict | None,
    trusted: bool,
    official: bool,
) -> Path:
    """Unpack a checked archive into ``models/<model_id>`` in one rename, and record it."""
    verify_archive(archive, entry)
    digest = sha256_file(archive)
    if record and record.get("zip_sha256") not in (None, digest):
        raise PackageChangedError(
            archive,
            f"differs from the package of {model_id} recorded on {record['recorded']} "
            f"(SHA-256 {digest[:12]}... instead of {record['zip_sha256'][:12]}...): refusing it",
        )
    if not trusted:
        with zipfile.ZipFile(archive) as zf:
            if not _own_code(zf.namelist(), zf.read, entry):
                raise _untrusted(model_id, entry)
    dest = package_dir(model_id)

    def fill(tmp: Path) -> dict[str, Any]:
        _extract(archive, tmp)
        return {
            "package": entry["execution"]["package_name"],
            "source": entry["execution"]["package_link"],
            "official": official,
            "zip_sha256": digest,
            "tree_sha256": tree_sha256(tmp),
            "size": archive.stat().st_size,
        }

    _install_dir(model_id, dest, fill, replace=False)
    return dest


def _source_fingerprint(folder: Path) -> str:
    digest = hashlib.sha256()
    for name, code in package_code().items():
        digest.update(name.encode() + b"\0" + code)
    for name in (WEIGHTS, META):
        digest.update(sha256_file(folder / name).encode())
    return digest.hexdigest()


def _ensure_local(model_id: str, entry: Mapping[str, Any], folder: Path) -> Path:
    """Package one of our own models into the workspace, unless it is there and intact."""
    shipped = folder.resolve().is_relative_to(ROOT.resolve())
    try:
        for name in (WEIGHTS, META):
            if shipped and expected_sha256(folder / name) is None:
                raise DataError(folder / name, "a shipped file with no SHA-256 in the registry")
            verify_file(folder / name)  # a shipped model's files: the registry's SHA-256
    except DataError as err:
        raise PackageChangedError(
            err.path, f"{model_id} is not the model the project ships: {err.reason}"
        ) from err
    dest, record = package_dir(model_id), load_registry().get(model_id)
    fingerprint = _source_fingerprint(folder)
    if dest.exists() and record and record.get("source_sha256") == fingerprint:
        policy.refuse_bytecode(dest)
        if record.get("tree_sha256") != tree_sha256(dest):
            raise PackageChangedError(
                dest,
                f"the package of {model_id} changed since it was built: refusing to run "
                "it (remove the folder and it is built again)",
            )
        return dest

    def fill(tmp: Path) -> dict[str, Any]:
        build_package(folder, tmp / entry["execution"]["package_name"])
        return {
            "package": entry["execution"]["package_name"],
            "source": str(folder),
            "source_sha256": fingerprint,
            "tree_sha256": tree_sha256(tmp),
        }

    _install_dir(model_id, dest, fill, replace=True)
    return dest


def ensure_package(
    model_id: str,
    entry: Mapping[str, Any],
    *,
    local: str | Path | None = None,
    official: bool = False,
    allow_unofficial: bool | None = None,
    timeout: float = 60.0,
    retries: int = 3,
) -> Path:
    """Make the package of ``model_id`` ready in the workspace, checked; return its folder.

    Args:
        model_id: the catalog id (letters, digits, ``_``, ``-``: it becomes a folder name).
        entry: its catalog entry (medigan format).
        local: for the project's own models, the folder with ``generator.safetensors``.
        official: the entry is the one of medigan's official catalog
            (:attr:`~medgan_utils.hub.catalog.Catalog.official`).
        allow_unofficial: run packages of other catalogs too (default
            ``$MEDGAN_ALLOW_UNOFFICIAL_CODE``); without it only those that hold this project's
            own code.
        timeout: seconds any network wait may take.
        retries: download attempts.

    Raises:
        DataError: an id, package name or model file that is not safe as a path.
        ModelNotAvailableError: not on disk and not downloadable now (names the model, its
            size if known, and how to get it).
        PackageIntegrityError: a broken or too large archive, a link that is not https, or a
            package that changed since install or holds bytecode.
        UntrustedCodeError: a package from outside the official catalog, not allowed.
    """
    policy.check_entry(model_id, entry)
    if local is not None:
        return _ensure_local(model_id, entry, Path(local))
    trusted = official or policy.unofficial_allowed(allow_unofficial)
    link = entry["execution"]["package_link"]
    dest = package_dir(model_id)
    record = load_registry().get(model_id)
    if dest.exists():
        if record is None or "zip_sha256" not in record:
            raise PackageChangedError(
                dest,
                "was not installed by medgan-utils (no checksum on record): refusing to "
                "run it; remove the folder and the model is fetched and checked again",
            )
        policy.refuse_bytecode(dest)
        if record["tree_sha256"] != tree_sha256(dest):
            raise PackageChangedError(
                dest,
                f"the package of {model_id} changed since it was installed on "
                f"{record['recorded']}: refusing to run it (remove the folder to fetch it again)",
            )
        if official and record.get("source") not in (None, link):
            raise PackageChangedError(
                dest,
                f"was installed from {record['source']}, not from {link} as medigan's official "
                "catalog says: refusing to run it (remove the folder to fetch it again)",
            )
        if not trusted:
            names = [p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()]
            if not _own_code(names, lambda n: (dest / n).read_bytes(), entry):
                raise _untrusted(model_id, entry)
        return dest
    archive = _archive(model_id)
    if not trusted and policy.check_link(link) and not archive.exists():
        raise _untrusted(model_id, entry)  # before any download
    note = ""
    if archive.exists():
        try:
            return _install(model_id, archive, entry, record, trusted, official)
        except (PackageChangedError, UntrustedCodeError):
            raise
        except PackageIntegrityError as err:
            if not downloads.downloaded_by_us(archive):
                raise PackageIntegrityError(
                    archive,
                    f"{err.reason}; it was not downloaded by medgan-utils, so it is left in "
                    "place: remove or replace it",
                ) from err
            downloads.remove_download(archive)
            note = f" (a broken {archive.name} was removed: {err.reason})"
    downloads.fetch_archive(
        model_id,
        link,
        archive,
        lambda part: verify_archive(part, entry),
        timeout=timeout,
        retries=retries,
        size=(record or {}).get("size"),
        note=note,
    )
    return _install(model_id, archive, entry, record, trusted, official)


def package_status(model_id: str, local: str | Path | None = None) -> tuple[bool, int | None]:
    """Whether the model is on disk, and its package size in bytes if known."""
    if local is not None:
        files = [Path(local) / n for n in (WEIGHTS, META)]
        on_disk = all(f.exists() for f in files)
        return on_disk, sum(f.stat().st_size for f in files) if on_disk else None
    record = load_registry().get(model_id) or {}
    try:
        folder = package_dir(model_id)
    except DataError:
        return False, None
    return folder.exists() and bool(record), record.get("size")


def _extract(archive: Path, folder: Path) -> None:
    """Unpack ``archive`` into ``folder``, leaving out bytecode (never run; see :mod:`.policy`)."""
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(folder, [n for n in zf.namelist() if not policy.is_bytecode(n)])


def _install_dir(
    model_id: str, dest: Path, fill: Callable[[Path], dict[str, Any]], *, replace: bool
) -> None:
    """Fill a temporary folder beside ``dest``, record it, then swap it in: never a half
    package. An existing ``dest`` is removed only when ``replace`` and it is on record (a
    package medgan-utils installed); the record is written before the swap, so a crash in
    between leaves a folder that is rebuilt or refused, never one that runs unchecked."""
    if dest.exists() and not (replace and model_id in load_registry()):
        raise PackageChangedError(
            dest, "exists but was not installed by medgan-utils: remove it yourself"
        )
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    try:
        _record(model_id, **fill(tmp))
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
