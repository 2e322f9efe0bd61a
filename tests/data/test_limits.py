"""Tests for medgan_utils.data.limits: the pixel budget and the regular-file check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medgan_utils.data.limits import (
    DEFAULT_MAX_PIXELS,
    DEFAULT_MAX_TOTAL_PIXELS,
    PixelBudget,
    check_regular_file,
)
from medgan_utils.errors import DataError, PixelBudgetError, TotalPixelBudgetError


def test_claims_add_up_per_file_and_per_read() -> None:
    budget = PixelBudget(max_pixels=100, max_total_pixels=250, root="folder")
    budget.claim("a.png", (10, 10))  # exactly the per-file budget
    budget.claim("b.tif", (5, 10))
    with pytest.raises(PixelBudgetError, match=r"b\.tif: .*with earlier parts = 101 pixel values"):
        budget.claim("b.tif", (51,))  # the second page of b.tif tips it over
    budget.claim("c.dcm", (2, 5, 5), samples=2)  # 100 values, 50 pixels
    assert budget.used == 200
    with pytest.raises(TotalPixelBudgetError) as caught:
        budget.claim("d.png", (6, 10))
    assert caught.value.path == "folder" and "d.png (60 pixels)" in caught.value.reason
    assert "260 pixels, more than 250 per read" in caught.value.reason
    with pytest.raises(DataError, match="impossible size"):
        budget.claim("e.nii", (-1, 4))


def test_defaults_environment_and_arguments(monkeypatch) -> None:
    monkeypatch.delenv("MEDGAN_MAX_PIXELS", raising=False)
    monkeypatch.delenv("MEDGAN_MAX_TOTAL_PIXELS", raising=False)
    budget = PixelBudget()
    assert (budget.max_pixels, budget.max_total_pixels) == (
        DEFAULT_MAX_PIXELS,
        DEFAULT_MAX_TOTAL_PIXELS,
    )
    monkeypatch.setenv("MEDGAN_MAX_PIXELS", "1_000")
    monkeypatch.setenv("MEDGAN_MAX_TOTAL_PIXELS", "5000")
    assert (PixelBudget().max_pixels, PixelBudget().max_total_pixels) == (1000, 5000)
    assert PixelBudget(max_pixels=7).max_pixels == 7
    for bad in ("-5", "1e9", "0"):
        monkeypatch.setenv("MEDGAN_MAX_TOTAL_PIXELS", bad)
        with pytest.raises(DataError, match=f"MEDGAN_MAX_TOTAL_PIXELS: .*got '{bad}'"):
            PixelBudget()


def test_check_regular_file(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_bytes(b"x")
    check_regular_file(tmp_path / "a.png")
    with pytest.raises(DataError, match="not a regular file: a folder"):
        check_regular_file(tmp_path)
    with pytest.raises(DataError, match="cannot read it"):
        check_regular_file(tmp_path / "missing.png")
    if hasattr(os, "mkfifo"):
        os.mkfifo(tmp_path / "pipe")
        with pytest.raises(DataError, match=r"pipe: not a regular file: a FIFO"):
            check_regular_file(tmp_path / "pipe")
