from __future__ import annotations

import os

import pytest
import torch

from medgan_utils.errors import DataError, FolderBusyError
from medgan_utils.settings import (
    CLAIM_FILE,
    MAX_SEED,
    atomic_path,
    check_seed,
    claim_folder,
    data_home,
    is_empty_folder,
    pick_device,
    quick_mode,
)


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "sub" / "file.txt"
    with atomic_path(target) as tmp:
        tmp.write_text("first")
    assert target.read_text() == "first"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        tmp.write_text("half-writ")
        raise RuntimeError("crash while writing")
    assert target.read_text() == "first"
    assert [p.name for p in target.parent.iterdir()] == ["file.txt"]


def test_atomic_files_get_normal_permissions(tmp_path):
    umask = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "f") as tmp:
            tmp.write_text("x")
    finally:
        os.umask(umask)
    assert (tmp_path / "f").stat().st_mode & 0o777 == 0o644


@pytest.mark.parametrize(
    ("value", "quick"), [("1", True), ("yes", True), ("0", False), ("", False)]
)
def test_quick_mode_reads_the_environment(monkeypatch, value, quick):
    monkeypatch.setenv("MEDGAN_QUICK", value)
    assert quick_mode() is quick


def test_data_home_follows_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDGAN_HOME", str(tmp_path / "home"))
    assert data_home() == tmp_path / "home" and data_home().is_dir()


def test_pick_device_names_a_bad_or_missing_device():
    assert pick_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="device 'bogus' is not a device"):
        pick_device("bogus")
    with pytest.raises(ValueError, match="device 'meta' is not available"):
        pick_device("meta")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device 'cuda' is not available on this machine"):
            pick_device("cuda")
    with pytest.raises(ValueError, match="cuda:99"):
        pick_device("cuda:99")


@pytest.mark.parametrize("seed", [-1, MAX_SEED + 1, 2**64 - 1, 1.5, True, "3"])
def test_check_seed_refuses_what_would_alias_or_wrap(seed):
    with pytest.raises(ValueError, match="my seed must be a whole number from 0 to 4294967295"):
        check_seed(seed, "my seed")


def test_check_seed_keeps_every_seed_in_range():
    assert [check_seed(s) for s in (0, 7, MAX_SEED)] == [0, 7, MAX_SEED]


def test_a_claim_is_exclusive_and_leaves_no_trace(tmp_path):
    folder = tmp_path / "new" / "out"
    with claim_folder(folder) as held:
        assert held == folder and (folder / CLAIM_FILE).exists()
        assert is_empty_folder(folder)  # the claim is not content
        with pytest.raises(FolderBusyError, match=f"pid {os.getpid()}"), claim_folder(folder):
            pass
        (folder / "a.txt").write_text("a")
        assert not is_empty_folder(folder)
    assert [p.name for p in folder.iterdir()] == ["a.txt"]  # claim gone, content kept
    with claim_folder(folder):  # released: the next writer gets it
        pass


def test_a_failed_claim_block_removes_only_a_folder_it_created(tmp_path):
    created = tmp_path / "created"
    with pytest.raises(RuntimeError), claim_folder(created):
        raise RuntimeError("the writer failed")
    assert not created.exists()
    existing = tmp_path / "existing"
    existing.mkdir()
    with pytest.raises(RuntimeError), claim_folder(existing):
        raise RuntimeError("the writer failed")
    assert existing.is_dir() and list(existing.iterdir()) == []
    afile = tmp_path / "afile"
    afile.write_text("x")
    with pytest.raises(DataError, match="afile: is a file, not a folder"), claim_folder(afile):
        pass
