"""Tests for medgan_utils.data.load: the entry point by built-in name or path."""

from __future__ import annotations

import pytest

from medgan_utils.data.builtin import BuiltinConfig, cache_file
from medgan_utils.data.load import load_dataset
from medgan_utils.errors import DataError


def test_load_dataset_builtin_uses_data_home(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDGAN_HOME", str(tmp_path))
    ds = load_dataset("builtin-labelled", image_size=32, n_subjects=2, slices_per_subject=4)
    assert len(ds) == 8 and ds.classes == ["lesion", "no_lesion"]
    cfg = BuiltinConfig(labelled=True, image_size=32, n_subjects=2, slices_per_subject=4)
    assert cache_file(cfg).parent == tmp_path / "builtin" and cache_file(cfg).is_file()


def test_load_dataset_names_a_missing_path(tmp_path):
    missing = tmp_path / "nope"
    with pytest.raises(DataError, match="nope.*no such file"):
        load_dataset(missing)
