"""What the hub refuses before it writes a file or runs a model package's code.

A catalog (``--catalog FILE``, ``$MEDGAN_CATALOG``, the app's) is input like any other, and a
model package is code. Every rule about them lives here, once:

- **Ids that become paths.** Model ids and package names become folder names under
  ``$MEDGAN_HOME/medigan``: :func:`check_model_id` allows letters, digits, ``_`` and ``-``
  only, and :func:`contained` checks the *resolved* path is a direct child of its folder (a
  symbolic link that leads elsewhere is refused too). A model file named in an entry must be a
  plain relative path (:func:`check_relative_path`).
- **Links.** Packages are fetched over https or from a local file; plain http only from the
  hosts in :data:`HTTP_TEST_HOSTS`, which is empty unless a test sets it (see
  :func:`check_link`). Redirects are held to the same rule (:func:`opener`).
- **Sizes.** An archive may declare at most :data:`MAX_PACKAGE_FILES` entries and
  :data:`MAX_PACKAGE_BYTES` unpacked (read from the zip's directory before anything is
  unpacked); a download stops at :data:`MAX_PACKAGE_BYTES`.
- **Bytecode.** Packages run from their checked source only: a package tree or the workspace
  holding ``__pycache__``, ``.pyc`` or ``.pyo`` is refused (:func:`refuse_bytecode`), nothing
  in the workspace but ``models`` can be imported (:func:`check_workspace_imports`), and
  :func:`medgan_utils.hub.generate.medigan_session` writes no bytecode.
- **Whose code runs.** Downloaded code runs for the models of medigan's official catalog (its
  archive pinned by SHA-256 on first download) and for packages that hold only this project's
  own code; anything else only when the operator allows it: ``MEDGAN_ALLOW_UNOFFICIAL_CODE=1``
  (:data:`ALLOW_ENV`), ``--allow-unofficial-code``, or ``allow_unofficial=True``
  (:func:`unofficial_allowed`). Refusals are :class:`~medgan_utils.errors.UntrustedCodeError`.
"""

from __future__ import annotations

import os
import re
import urllib.request
from collections.abc import Iterable, Mapping
from http.client import HTTPMessage
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlparse

from medgan_utils.errors import DataError, PackageChangedError, PackageIntegrityError

__all__ = [
    "ALLOW_ENV",
    "HTTP_TEST_HOSTS",
    "MAX_CATALOG_BYTES",
    "MAX_PACKAGE_BYTES",
    "MAX_PACKAGE_FILES",
    "InsecureLinkError",
    "PackageTooLargeError",
    "check_archive_size",
    "check_entry",
    "check_link",
    "check_model_id",
    "check_relative_path",
    "check_workspace_imports",
    "contained",
    "is_bytecode",
    "opener",
    "refuse_bytecode",
    "unofficial_allowed",
]

#: Letters, digits, ``_`` and ``-`` (medigan's ids, ours, package names), starting with a
#: letter or digit; at most 100. No ``.``, ``/`` or ``\``: nothing that moves in a path.
MODEL_ID = re.compile(r"[^\W_][\w-]{0,99}")
_PART = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.+ -]{0,199}")  # one part of a model file's path
ALLOW_ENV = "MEDGAN_ALLOW_UNOFFICIAL_CODE"
#: Unpacked bytes one package archive may declare, and the most a download may bring.
#: medigan's largest official packages are well under 2 GB.
MAX_PACKAGE_BYTES = 4 * 2**30
MAX_PACKAGE_FILES = 20_000  # entries one archive may hold
MAX_CATALOG_BYTES = 64 * 2**20  # a downloaded catalog (medigan's is about 100 kB)
#: Hosts that ``http://`` links may reach. Empty: only https. Tests that serve packages from a
#: local server set it, e.g. ``monkeypatch.setattr(policy, "HTTP_TEST_HOSTS", {"127.0.0.1"})``.
HTTP_TEST_HOSTS: frozenset[str] = frozenset()
_BYTECODE = (".pyc", ".pyo")
_IMPORTABLE = (".py", ".pyc", ".pyo", ".pyd", ".so", ".pth")


class InsecureLinkError(PackageIntegrityError):
    """A package link (or a redirect) that is not https, a local file or an allowed host."""


class PackageTooLargeError(PackageIntegrityError):
    """An archive or download over :data:`MAX_PACKAGE_BYTES` or :data:`MAX_PACKAGE_FILES`."""


# ---------------------------------------------------------------------- ids and paths


def check_model_id(model_id: object, what: str = "model id") -> str:
    """``model_id`` if it is safe as a folder name: letters, digits, ``_``, ``-`` (1-100).

    Raises:
        DataError: anything else (``../x``, ``a/b``, ``.``, an empty or non-text id).
    """
    if not isinstance(model_id, str) or not MODEL_ID.fullmatch(model_id):
        raise DataError(
            repr(model_id) if not isinstance(model_id, str) or not model_id else model_id,
            f"not a valid {what}: use 1-100 letters, digits, '_' or '-', starting with a "
            "letter or digit (it becomes a folder name under $MEDGAN_HOME/medigan)",
        )
    return model_id


def contained(root: Path, name: str, what: str = "model id", suffix: str = "") -> Path:
    """``root / (name + suffix)`` once ``name`` is a valid id and the resolved path is a direct
    child of ``root``.

    Raises:
        DataError: ``name`` is not a valid id, or the path resolves (through a symbolic link)
            to somewhere that is not a direct child of ``root``.
    """
    check_model_id(name, what)
    path = root / f"{name}{suffix}"
    if path.resolve().parent != root.resolve():
        raise DataError(path, f"leads outside {root} (a symbolic link?): refusing to use it")
    return path


def check_relative_path(path: object, what: str) -> str:
    """``path`` if it is a plain relative path (``a/b.pt``): no ``..``, ``.``, root or ``\\``."""
    parts = path.split("/") if isinstance(path, str) else [""]
    if not all(_PART.fullmatch(p) for p in parts):
        raise DataError(
            repr(path), f"not a valid {what}: a relative path of letters, digits and _.+- only"
        )
    return str(path)


def check_entry(model_id: object, entry: Mapping[str, Any]) -> None:
    """The one check of a catalog entry's ``execution`` before any of it becomes a path, a
    link or a call: the id and package name (:func:`check_model_id`), the model file
    (:func:`check_relative_path`), a text link, a ``generate_method`` with a name, and a list
    of dependencies.

    Raises:
        DataError: names the id (or the value) and what is wrong.
    """
    check_model_id(model_id)
    ex = entry["execution"]
    check_model_id(ex["package_name"], f"package name of {model_id}")
    check_relative_path(f"{ex['model_name']}{ex['extension']}", f"model file of {model_id}")
    method = ex["generate_method"]
    if not isinstance(ex["package_link"], str):
        raise DataError(str(model_id), "its package_link is not a text link or path")
    if not isinstance(method, Mapping) or not isinstance(method.get("name"), str):
        raise DataError(str(model_id), "its generate_method has no function name")
    if not isinstance(ex.get("dependencies") or [], list):
        raise DataError(str(model_id), "its dependencies are not a list of pip requirements")


# ----------------------------------------------------------------------------- links


def check_link(link: str) -> bool:
    """Whether ``link`` is remote (https); local paths and ``file:`` links are not.

    Raises:
        InsecureLinkError: ``http://`` to a host not in :data:`HTTP_TEST_HOSTS`, or another
            scheme (``ftp:``, ``data:``).
    """
    url = urlparse(link)
    if url.netloc and (
        url.scheme == "https" or (url.scheme == "http" and url.hostname in HTTP_TEST_HOSTS)
    ):
        return True
    if url.scheme in ("", "file") or (len(url.scheme) == 1 and not url.netloc):  # C:\ too
        return False
    raise InsecureLinkError(
        link, "only https links (or local files) are accepted for model packages: refusing it"
    )


class _HttpsOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to a link :func:`check_link` accepts as remote."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        if not check_link(newurl):
            raise InsecureLinkError(newurl, f"{req.full_url} redirects to a local path: refusing")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def opener() -> urllib.request.OpenerDirector:
    """A urllib opener that follows redirects to https (or :data:`HTTP_TEST_HOSTS`) only."""
    return urllib.request.build_opener(_HttpsOnlyRedirects)


# ----------------------------------------------------------------------------- sizes


def check_archive_size(path: Path, sizes: Iterable[int]) -> None:
    """Refuse an archive whose directory declares too many entries or too many bytes.

    Args:
        path: the archive, for the message.
        sizes: the unpacked size of each entry, from the zip's central directory.

    Raises:
        PackageTooLargeError: over :data:`MAX_PACKAGE_FILES` or :data:`MAX_PACKAGE_BYTES`.
    """
    count = total = 0
    for size in sizes:
        count, total = count + 1, total + size
        if count > MAX_PACKAGE_FILES:
            raise PackageTooLargeError(
                path, f"holds more than {MAX_PACKAGE_FILES} entries: refusing to unpack it"
            )
    if total > MAX_PACKAGE_BYTES:
        raise PackageTooLargeError(
            path,
            f"would unpack to {total / 2**30:.1f} GiB, more than the "
            f"{MAX_PACKAGE_BYTES / 2**30:.0f} GiB a model package may take: refusing it",
        )


# -------------------------------------------------------------------------- bytecode


def is_bytecode(rel: str) -> bool:
    """Whether an archive or tree member is compiled bytecode (``__pycache__``, ``.pyc``)."""
    return "__pycache__" in rel.replace("\\", "/").split("/") or rel.endswith(_BYTECODE)


def refuse_bytecode(folder: Path) -> None:
    """Refuse a package tree that holds bytecode: Python would run it instead of the source.

    Raises:
        PackageChangedError: names the first ``__pycache__`` or ``.pyc`` file found.
    """
    for path in sorted(folder.rglob("*")):
        if is_bytecode(path.relative_to(folder).as_posix()):
            raise PackageChangedError(
                path,
                "compiled bytecode in a model package: Python could run it instead of the "
                "checked source, so the package is refused (packages are run without "
                f"bytecode; remove {path} and run again)",
            )


def check_workspace_imports(ws: Path) -> None:
    """Refuse a workspace where anything but the ``models`` package could be imported.

    medigan runs with the workspace first on ``sys.path``, so a ``torch.py`` or a
    ``numpy/__init__.py`` there would replace a library. Its own ``models/__init__.py`` must be
    the empty file :func:`~medgan_utils.hub.packages.workspace` wrote.

    Raises:
        PackageChangedError: names the file.
    """
    init = ws / "models" / "__init__.py"
    if not init.is_file() or init.stat().st_size != 0:
        raise PackageChangedError(
            init,
            "is imported before every model package but is not the empty file medgan-utils "
            f"wrote: refusing to run any package (remove {init} and it is written again)",
        )
    # In the workspace only the folder `models` may be imported; in `models` only its empty
    # `__init__.py` and the package folders (a `models/<id>.py` would shadow a folder).
    bad = [
        p
        for p in ws.iterdir()
        if p.name == "__pycache__"
        or p.name.endswith(_IMPORTABLE)
        or (p.name != "models" and (p / "__init__.py").exists())
    ]
    bad += [
        p
        for p in (ws / "models").iterdir()
        if p.name == "__pycache__" or (p != init and p.name.endswith(_IMPORTABLE))
    ]
    for path in sorted(bad)[:1]:
        raise PackageChangedError(
            path,
            "could be imported in place of a library while model packages run (the "
            f"workspace {ws} is first on sys.path): remove it",
        )


# ---------------------------------------------------------------------- whose code


def unofficial_allowed(explicit: bool | None = None) -> bool:
    """Whether code from outside medigan's official catalog may run: ``explicit`` if given
    (``--allow-unofficial-code``, ``allow_unofficial=True``), else ``$MEDGAN_ALLOW_UNOFFICIAL_CODE``
    (``1``, ``true`` or ``yes``)."""
    if explicit:
        return True
    return os.environ.get(ALLOW_ENV, "").strip().lower() in {"1", "true", "yes"}
