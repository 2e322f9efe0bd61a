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


def test_threads_claim_their_own_files_and_one_total() -> None:
    """read_path's threads share a budget: each counts its own file, the total is exact."""
    import threading

    budget = PixelBudget(max_pixels=100, max_total_pixels=10**9)
    start = threading.Barrier(4)
    errors: list[str] = []

    def read(name: str) -> None:
        start.wait()
        for page in range(50):  # interleaved with the other threads' claims
            try:
                budget.claim(name, (1, 3))  # 3 values a page: over 100 at page 34
            except PixelBudgetError:
                errors.append(f"{name}:{page}")
                return

    threads = [threading.Thread(target=read, args=(f"f{i}.tif",)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(errors) == [f"f{i}.tif:33" for i in range(4)]
    assert budget.used == 4 * 33 * 3
