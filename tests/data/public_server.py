"""Helpers for the public-dataset tests: a small file in MedMNIST's format, and the facts
table pointed at it. The local HTTP server that serves it is in this folder's conftest."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from medgan_utils.data import catalog_public
from medgan_utils.data.catalog_public import PUBLIC_DATASETS, RemoteFile
from medgan_utils.data.fetch import md5_file


def medmnist_file(
    path: Path, side: int = 64, counts: tuple[int, int, int] = (6, 2, 3), labels: int = 2
) -> Path:
    """A ``.npz`` laid out as MedMNIST's: ``{split}_images`` uint8 ``(N, side, side)`` and
    ``{split}_labels`` ``(N, 1)`` in ``0..labels-1``, or ``(N, -labels)`` multi-label
    (0/1) when ``labels`` is negative."""
    rng = np.random.default_rng(side)
    arrays = {}
    for split, n in zip(("train", "val", "test"), counts, strict=True):
        arrays[f"{split}_images"] = rng.integers(0, 256, (n, side, side), dtype=np.uint8)
        arrays[f"{split}_labels"] = (
            rng.integers(0, labels, (n, 1)) if labels > 0 else rng.integers(0, 2, (n, -labels))
        ).astype(np.uint8)
    np.savez_compressed(path, **arrays)
    return path


def publish(monkeypatch: pytest.MonkeyPatch, name: str, size: int, file: Path) -> RemoteFile:
    """Make the facts table name ``file``'s MD5 for ``name`` at ``size`` (the test's own bytes
    stand in for the published file); returns the patched entry."""
    dataset = PUBLIC_DATASETS[name]
    remote = replace(dataset.files[size], md5=md5_file(file))
    files = {**dataset.files, size: remote}
    monkeypatch.setitem(catalog_public.PUBLIC_DATASETS, name, replace(dataset, files=files))
    return remote
