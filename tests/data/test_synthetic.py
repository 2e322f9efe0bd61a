"""Tests for medgan_utils.data.synthetic: reading a synthetic set back, without medigan."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medgan_utils.data.synthetic import (
    FIELDS,
    MANIFEST,
    load_synthetic_dataset,
    read_manifest,
    synthetic_dataloader,
)
from medgan_utils.errors import DataError


def synthetic_set(folder: Path, rows: list[tuple[str, str, int]], size: int = 32) -> Path:
    """Write one grey PNG per ``(model, label, value)`` and the manifest listing them."""
    lines = []
    for i, (model, label, value) in enumerate(rows):
        name = f"{model}/{label or 'all'}/synthetic_{model}_seed3_{i:04d}.png"
        (folder / name).parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(np.full((size, size), value, np.uint8)).save(folder / name)
        lines.append((name, model, 3, i, label))
    with (folder / MANIFEST).open("w", newline="") as f:
        csv.writer(f).writerows([FIELDS, *lines])
    return folder


def test_load_labels_groups_subjects_and_size(tmp_path: Path) -> None:
    rows = [("m", "lesion", 255), ("m", "no_lesion", 0), ("m", "lesion", 255)]
    ds = load_synthetic_dataset(synthetic_set(tmp_path, rows))
    assert len(ds) == 3 and ds.image_size == 32
    assert ds.classes == ["lesion", "no_lesion"] and ds.labels.tolist() == [0, 1, 0]
    assert ds[1]["groups"] == {"model": "m", "synthetic": "true"}
    assert ds[1]["subject"] == "synthetic:m:no_lesion:3:1"
    assert float(ds.images[0].min()) == 1.0 and float(ds.images[1].max()) == -1.0
    assert load_synthetic_dataset(tmp_path, image_size=64).image_size == 64


def test_label_by_model_and_unlabelled(tmp_path: Path) -> None:
    folder = synthetic_set(tmp_path, [("a", "", 10), ("b", "", 20)])
    assert not load_synthetic_dataset(folder).is_labelled
    assert load_synthetic_dataset(folder, label_by="model").classes == ["a", "b"]


def test_dataloader_is_seeded(tmp_path: Path) -> None:
    folder = synthetic_set(tmp_path, [("m", "", v) for v in range(0, 250, 25)])
    first = [b["subject"] for b in synthetic_dataloader(folder, batch_size=4, seed=1)]
    again = [b["subject"] for b in synthetic_dataloader(folder, batch_size=4, seed=1)]
    assert first == again and len(first) == 3


def test_manifest_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no manifest"):
        read_manifest(tmp_path)
    (tmp_path / MANIFEST).write_text("file,model\nx.png,m\n")
    with pytest.raises(DataError, match="expected the columns file, model_id, seed"):
        read_manifest(tmp_path)
