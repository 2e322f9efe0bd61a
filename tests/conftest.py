"""Shared fixtures. Every test session gets its own MEDGAN_HOME, so tests never touch
the user's cache and CI starts from nothing, as a fresh clone does."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Set before any medgan_utils import so subprocesses (CLI, book build) inherit it too.
os.environ.setdefault("MEDGAN_HOME", tempfile.mkdtemp(prefix="medgan-test-home-"))
os.environ.setdefault("MPLBACKEND", "Agg")
# No test may touch the network: the hub treats downloads as unavailable.
os.environ.setdefault("MEDGAN_OFFLINE", "1")


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT
