"""Downloading model package archives: https only, capped, retried, recorded.

medigan's own download has no timeout, no retries, no size limit and follows any link.
:func:`fetch_archive` copies a package's link (an https URL, or a local file) into a temporary
file of its own (created exclusively: never a file that was there, never through a link),
with a timeout on every socket wait, a cap of :data:`~medgan_utils.hub.policy.MAX_PACKAGE_BYTES`
and redirects held to https (:mod:`medgan_utils.hub.policy`), checks it, and only then puts it
in place in one rename; an interrupted or broken download leaves nothing behind.

Every archive it puts in place is recorded, with its SHA-256, in ``downloads.json`` beside the
downloads folder: :func:`downloaded_by_us` tells those bytes apart from an archive dropped into
the folder by hand, and only they are ever deleted (:func:`remove_download`).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from medgan_utils.errors import ModelNotAvailableError, PackageIntegrityError
from medgan_utils.hub import policy
from medgan_utils.registry import sha256_file
from medgan_utils.settings import atomic_path, network_allowed

__all__ = [
    "MARKS",
    "human_size",
    "download",
    "fetch_archive",
    "downloaded_by_us",
    "remove_download",
]

MARKS = "downloads.json"  # archive name -> link, SHA-256, date of our download


def human_size(size: int | None) -> str:
    if size is None:
        return "unknown (medigan's catalog does not record package sizes)"
    return f"{size / 1e6:.1f} MB" if size >= 1e5 else f"{size / 1e3:.1f} kB"


def download(link: str, part: Path, timeout: float) -> None:
    """Copy ``link`` (an https URL or a local path) to ``part``, at most
    :data:`~.policy.MAX_PACKAGE_BYTES`; every socket wait has a timeout."""
    limit = policy.MAX_PACKAGE_BYTES
    too_large = policy.PackageTooLargeError(
        link, f"is larger than the {limit / 2**30:.0f} GiB a model package may take"
    )
    if not policy.check_link(link):
        url = urllib.parse.urlparse(link)
        path = urllib.request.url2pathname(url.path) if url.scheme == "file" else link
        if Path(path).stat().st_size > limit:
            raise too_large
        shutil.copyfile(path, part)
        return
    request = urllib.request.Request(link, headers={"User-Agent": "medgan-utils"})
    with policy.opener().open(request, timeout=timeout) as response, open(part, "wb") as f:
        if int(response.headers.get("Content-Length") or 0) > limit:
            raise too_large
        copied = 0
        while block := response.read(1 << 20):
            copied += len(block)
            if copied > limit:
                raise too_large
            f.write(block)


def fetch_archive(
    model_id: str,
    link: str,
    archive: Path,
    check: Callable[[Path], object],
    *,
    timeout: float,
    retries: int,
    size: int | None,
    note: str = "",
) -> None:
    """Download ``link`` to ``archive``, checked with ``check`` before it is put in place and
    recorded in ``downloads.json``; or explain how to get it.

    Raises:
        ModelNotAvailableError: offline, or ``link`` cannot be reached (names the model, its
            size if known, and how to get it).
        PackageIntegrityError: broken on every try (``check`` refused it), too large, or a
            link that is not https.
    """
    remote = policy.check_link(link)
    how = (
        f"run `medgan models fetch {model_id}` where there is internet, or download {link} "
        f"yourself and save it as {archive} (it is checked and unpacked on the next run)"
    )
    if remote and not network_allowed():
        raise ModelNotAvailableError(
            model_id,
            f"not on disk, and downloads are off (MEDGAN_OFFLINE); download size "
            f"{human_size(size)}. To get it: {how}{note}",
        )
    archive.parent.mkdir(parents=True, exist_ok=True)
    last: Exception | None = None
    attempts = max(1, retries) if remote else 1  # a local file gives the same bytes again
    for attempt in range(attempts):
        # a new file of ours (O_EXCL): never one that was there, never through a link
        fd, name = tempfile.mkstemp(dir=archive.parent, prefix=f".{archive.name}.", suffix=".part")
        os.close(fd)
        part = Path(name)
        try:
            download(link, part, timeout)
            check(part)
            os.replace(part, archive)
            _mark(archive, {"source": link, "sha256": sha256_file(archive)})
            return
        except (policy.InsecureLinkError, policy.PackageTooLargeError) as err:
            if err.path == str(part):  # name what was downloaded, not our temporary file
                raise type(err)(link, err.reason) from None
            raise  # the same answer on every try
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
        f"{human_size(size)}. To get it: {how}{note}",
    )


def _marks_file(archive: Path) -> Path:
    return archive.parent.parent / MARKS  # beside the downloads folder, not in it


def _marks(archive: Path) -> dict[str, dict[str, Any]]:
    """``downloads.json``: the archives medgan-utils downloaded, by file name."""
    try:
        return json.loads(_marks_file(archive).read_text())
    except (OSError, ValueError):
        return {}


def _mark(archive: Path, fields: dict[str, Any] | None) -> None:
    """Record (or, with ``None``, forget) that medgan-utils downloaded ``archive``."""
    marks = _marks(archive)
    marks.pop(archive.name, None)
    if fields is not None:
        marks[archive.name] = {**fields, "at": datetime.now(UTC).isoformat()}
    with atomic_path(_marks_file(archive)) as tmp:
        tmp.write_text(json.dumps(marks, indent=2, sort_keys=True) + "\n")


def remove_download(archive: Path) -> None:
    """Delete ``archive`` and its record; only call it when :func:`downloaded_by_us`."""
    archive.unlink()
    _mark(archive, None)


def downloaded_by_us(archive: Path) -> bool:
    """Whether ``archive`` is a plain file holding the bytes :func:`fetch_archive` downloaded
    (``downloads.json`` records their SHA-256); a file put there by hand is not."""
    mark = _marks(archive).get(archive.name)
    if mark is None or not archive.is_file() or archive.is_symlink():
        return False
    return bool(mark.get("sha256") == sha256_file(archive))
