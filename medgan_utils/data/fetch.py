"""Downloading public dataset files into ``$MEDGAN_HOME/datasets/<name>/``, checked by MD5.

:func:`ensure_file` returns the local copy of one published file (a MedMNIST ``.npz``),
downloading it on first use: streamed into a temporary file in the same folder with a
progress bar, its MD5 computed on the way, and renamed onto its official name only when
every byte arrived and the MD5 is the published one. A cut-off download, a wrong checksum,
Ctrl-C or a full disk keep nothing. Offline (``MEDGAN_OFFLINE=1``) or out of reach, the
error says which URL it would have fetched and where to save the file by hand.

A file checked once is remembered (its size and modification time, in ``.verified.json``
beside it), so a later load reads it without hashing it again; a file put there by hand is
hashed on first use and refused, with what to do, if it is not the published one.

``MEDGAN_DATASETS_URL`` (or ``base_url=``) replaces the folder the files are downloaded
from (a mirror, or a local server in the tests): ``{base_url}/{file name}``. URLs must be
https; plain http only from this machine (``localhost``, ``127.0.0.1``, ``::1``).

The download is a plain ``urllib`` loop rather than a library such as pooch: the package
needs one file at a time with an MD5, a progress bar and a same-folder rename, which is
these few lines, and pooch is not among the dependencies.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import IO, Any

from tqdm.auto import tqdm

from medgan_utils.data.catalog_public import PublicDataset, RemoteFile
from medgan_utils.errors import DataError, DatasetNotAvailableError
from medgan_utils.settings import atomic_path, data_home, network_allowed

__all__ = [
    "BASE_URL_ENV",
    "dataset_folder",
    "datasets_home",
    "download",
    "ensure_file",
    "file_url",
    "md5_file",
]

BASE_URL_ENV = "MEDGAN_DATASETS_URL"
VERIFIED = ".verified.json"  # file name -> size, mtime and MD5 of the checked copy
CHUNK = 1 << 20
TIMEOUT = 60.0  # seconds for every socket wait
_LOOPBACK = {"localhost", "127.0.0.1", "::1"}


def datasets_home() -> Path:
    """``$MEDGAN_HOME/datasets``: one folder per public dataset, by name."""
    return data_home() / "datasets"


def dataset_folder(name: str) -> Path:
    """``$MEDGAN_HOME/datasets/<name>``, where a dataset's files are put (not created here)."""
    return datasets_home() / name


def file_url(remote: RemoteFile, base_url: str | None = None) -> str:
    """The URL ``remote`` is downloaded from: its official one, or ``{base}/{name}`` when
    ``base_url`` or ``$MEDGAN_DATASETS_URL`` names another folder."""
    base = base_url if base_url is not None else os.environ.get(BASE_URL_ENV, "").strip()
    return f"{base.rstrip('/')}/{remote.name}" if base else remote.url


def md5_file(path: str | Path) -> str:
    """The MD5 of a file as hex (read in 1 MiB blocks)."""
    digest = hashlib.md5(usedforsecurity=False)  # MedMNIST publishes MD5 sums
    with open(path, "rb") as f:
        while block := f.read(CHUNK):
            digest.update(block)
    return digest.hexdigest()


def ensure_file(
    dataset: PublicDataset,
    size: int,
    *,
    progress: bool = True,
    base_url: str | None = None,
) -> Path:
    """The local copy of ``dataset``'s file of image side ``size``, downloaded if missing.

    Args:
        dataset: a MedMNIST entry of :data:`~medgan_utils.data.catalog_public.PUBLIC_DATASETS`.
        size: one of ``dataset.sizes`` (28, 64, 128, 224).
        progress: show a progress bar while downloading.
        base_url: download from ``{base_url}/{file name}`` instead of the official URL.

    Returns:
        ``$MEDGAN_HOME/datasets/<name>/<official file name>``, its MD5 checked.

    Raises:
        DataError: ``size`` is not published; a file already there that is not the
            published one (it is left alone: the message says to delete it).
        DatasetNotAvailableError: offline, out of reach, cut off or the wrong MD5 (nothing
            is kept; the message names the URL and where to save the file by hand).
    """
    if size not in dataset.files:
        sizes = ", ".join(map(str, dataset.sizes)) or "none: it is not downloaded by file"
        raise DataError(dataset.name, f"no {size} px file; published sizes: {sizes}")
    remote = dataset.files[size]
    target = dataset_folder(dataset.name) / remote.name
    url = file_url(remote, base_url)
    by_hand = (
        f"run `medgan data fetch {dataset.name} --size {size}` where there is internet, or "
        f"download {url} yourself and save it as {target} (its MD5 {remote.md5} is checked "
        "on first use)"
    )
    if target.exists():
        if _verified(target, remote.md5):
            return target
        got = md5_file(target)
        if got != remote.md5:
            raise DataError(
                target,
                f"is not the published {remote.name} (MD5 {got}, expected {remote.md5}): "
                f"delete it, then {by_hand}",
            )
        _remember(target, remote.md5)
        return target
    if not network_allowed():
        raise DatasetNotAvailableError(
            dataset.name,
            f"{remote.name} is not in {target.parent}, and downloads are off "
            f"(MEDGAN_OFFLINE). It would be downloaded from {url}. To get it: {by_hand}",
        )
    download(url, target, remote.md5, progress=progress, what=f"{dataset.name}: {by_hand}")
    _remember(target, remote.md5)
    return target


def download(url: str, target: Path, md5: str, *, progress: bool = True, what: str = "") -> None:
    """Stream ``url`` into ``target`` through a temporary file beside it; keep it only when
    every byte arrived (``Content-Length``) and its MD5 is ``md5``.

    Args:
        url: an https URL (http only from this machine).
        target: where the file goes; its folder is created.
        md5: the expected MD5, hex.
        progress: show a tqdm progress bar (bytes).
        what: appended to error messages (what to do instead).

    Raises:
        DataError: a URL that is not https (or a redirect to one).
        DatasetNotAvailableError: unreachable, an HTTP error, cut off, or a wrong MD5.
    """
    _check_url(url)
    hint = f"; {what}" if what else ""
    with atomic_path(target) as part:  # removed on any failure: nothing half-written stays
        digest = hashlib.md5(usedforsecurity=False)
        received, expected = 0, None
        try:
            request = urllib.request.Request(url, headers={"User-Agent": "medgan-utils"})
            with (
                _opener().open(request, timeout=TIMEOUT) as response,
                open(part, "wb") as f,
            ):
                length = response.headers.get("Content-Length")
                expected = int(length) if length and length.isdigit() else None
                with tqdm(
                    total=expected,
                    unit="B",
                    unit_scale=True,
                    unit_divisor=1024,
                    desc=target.name,
                    disable=not progress,
                ) as bar:
                    while block := response.read(CHUNK):
                        f.write(block)
                        digest.update(block)
                        received += len(block)
                        bar.update(len(block))
        except DataError:
            raise
        except (urllib.error.URLError, http.client.HTTPException, OSError) as err:
            reason = getattr(err, "reason", None) or err
            if isinstance(err, urllib.error.HTTPError):
                reason = f"HTTP {err.code}: {err.reason}"
            raise DatasetNotAvailableError(
                url, f"could not be downloaded ({reason}); nothing was kept{hint}"
            ) from None
        if expected is not None and received != expected:
            raise DatasetNotAvailableError(
                url,
                f"the download was cut off after {received:,} of {expected:,} bytes; nothing "
                f"was kept. Run the same command again{hint}",
            )
        if digest.hexdigest() != md5:
            raise DatasetNotAvailableError(
                url,
                f"the downloaded file's MD5 is {digest.hexdigest()}, not the published {md5} "
                f"(a damaged download or a changed file); nothing was kept. Try again later; "
                f"if it persists, the file online differs from the one this version knows{hint}",
            )


def _check_url(url: str) -> None:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in _LOOPBACK):
        return
    raise DataError(
        url,
        "not an https URL: datasets are downloaded over https only (plain http only from "
        f"this machine, e.g. a local mirror named in ${BASE_URL_ENV})",
    )


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to URLs :func:`_check_url` accepts (never https -> http)."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: http.client.HTTPMessage,
        newurl: str,
    ) -> urllib.request.Request | None:
        _check_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_CheckedRedirects)


def _marks(folder: Path) -> dict[str, Any]:
    try:
        marks = json.loads((folder / VERIFIED).read_text())
    except (OSError, ValueError):
        return {}
    return marks if isinstance(marks, dict) else {}


def _stamp(path: Path, md5: str) -> dict[str, Any]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "md5": md5}


def _verified(path: Path, md5: str) -> bool:
    """Whether ``path`` was checked against ``md5`` and has not changed since."""
    return _marks(path.parent).get(path.name) == _stamp(path, md5)


def _remember(path: Path, md5: str) -> None:
    """Record that ``path`` (as it is now) has the MD5 ``md5``."""
    marks = _marks(path.parent) | {path.name: _stamp(path, md5)}
    with atomic_path(path.parent / VERIFIED) as tmp:
        tmp.write_text(json.dumps(marks, indent=1, sort_keys=True) + "\n")
