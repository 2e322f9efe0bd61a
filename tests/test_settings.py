from __future__ import annotations

import os

import pytest

from medgan_utils.settings import atomic_path, data_home, quick_mode


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
