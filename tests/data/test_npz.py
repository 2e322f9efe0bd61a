"""Tests for medgan_utils.data.npz: MedMNIST labels, splits and errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from medical_files import medmnist

from medgan_utils.data.npz import read_npz
from medgan_utils.errors import DataError


def test_npz_labels_and_splits(tmp_path: Path) -> None:
    path = medmnist(tmp_path / "organ.npz")
    train = read_npz(path)
    assert [s.label for s in train] == ["0", "1", "2", "1"]
    assert train[1].meta.subject == "organ:train:1"
    raw = np.load(path)["train_images"][2]
    np.testing.assert_allclose(train[2].image, raw / 127.5 - 1, atol=1e-6)
    val = read_npz(path, "val")
    assert [s.label for s in val] == ["3", "0"] and np.all(val[0].image == 1.0)
    test = read_npz(path, "test")
    np.testing.assert_allclose(test[0].image, 0.299 * 255 / 127.5 - 1, atol=1e-6)
    every = read_npz(path, "all")
    assert len(every) == 9 and every[4].meta.subject == "organ:val:0"


def test_npz_errors(tmp_path: Path) -> None:
    np.savez(tmp_path / "odd.npz", images=np.zeros((2, 4, 4), np.uint8))
    with pytest.raises(DataError, match=r"odd\.npz: no 'train_images' array: the file has images"):
        read_npz(tmp_path / "odd.npz")
    np.savez(
        tmp_path / "chest.npz",
        train_images=np.zeros((2, 4, 4), np.uint8),
        train_labels=np.zeros((2, 14)),
    )
    with pytest.warns(UserWarning, match="14 labels per image"):
        assert [s.label for s in read_npz(tmp_path / "chest.npz")] == [None, None]
