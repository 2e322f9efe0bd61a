"""Tests for ``medgan data list`` and ``medgan data fetch`` (and ``medgan train --data NAME``)
through :func:`medgan_utils.cli.main`, against the local HTTP server."""

from __future__ import annotations

import json

from public_server import medmnist_file, publish

from medgan_utils.cli import main
from medgan_utils.data.catalog_public import PUBLIC_DATASETS
from medgan_utils.data.fetch import dataset_folder


def listed(capsys) -> dict[str, dict]:
    assert main(["data", "list", "--json"]) == 0
    return {row["name"]: row for row in json.loads(capsys.readouterr().out)}


def test_data_list_and_fetch(online, monkeypatch, capsys):
    served = medmnist_file(online.folder / "pneumoniamnist_64.npz")
    publish(monkeypatch, "pneumoniamnist", 64, served)
    rows = listed(capsys)
    assert list(rows) == list(PUBLIC_DATASETS)
    row = rows["pneumoniamnist"]
    assert row["cached"] == "no" and row["bytes_on_disk"] == 0 and row["fetch"] == "download"
    assert row["sizes"] == [28, 64, 128, 224] and row["licence"] == "CC BY 4.0"
    assert rows["brats"]["fetch"] == "by hand" and rows["brain-tumor-mri"]["fetch"] == "kagglehub"

    assert main(["data", "fetch", "PneumoniaMNIST", "--size", "64", "--quiet"]) == 0
    target = dataset_folder("pneumoniamnist") / "pneumoniamnist_64.npz"
    assert capsys.readouterr().out == f"pneumoniamnist: {target}\n"
    assert target.read_bytes() == served.read_bytes() and online.hits == ["/pneumoniamnist_64.npz"]
    assert main(["data", "fetch", "pneumoniamnist", "--quiet"]) == 0  # 64 by default, cached
    assert capsys.readouterr().out == f"pneumoniamnist: {target}\n"
    assert online.hits == ["/pneumoniamnist_64.npz"]

    row = listed(capsys)["pneumoniamnist"]
    assert row["cached"] == "64" and row["bytes_on_disk"] == served.stat().st_size
    assert main(["data", "list"]) == 0
    text = capsys.readouterr().out
    line = next(x for x in text.splitlines() if x.startswith("pneumoniamnist "))
    assert line.split()[1:3] == ["chest", "X-ray"] and "CC BY 4.0" in line
    assert f"{served.stat().st_size / 1e3:.1f} kB" in line and " 64 " in line

    assert main(["data", "info", "pneumoniamnist", "--split", "val", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_images"] == 2 and info["n_subjects"] == 2


def test_data_fetch_bad_input(online, monkeypatch, capsys):
    assert main(["data", "fetch", "pneumonia"]) == 2
    err = capsys.readouterr().err
    assert "pneumonia: no such public dataset; known: pathmnist" in err and "ixi" in err
    publish(monkeypatch, "breastmnist", 64, medmnist_file(online.folder / "x.npz", side=8))
    medmnist_file(online.folder / "breastmnist_64.npz")  # not the published bytes
    assert main(["data", "fetch", "breastmnist", "--quiet"]) == 2
    assert "nothing was kept" in capsys.readouterr().err
    assert not (dataset_folder("breastmnist") / "breastmnist_64.npz").exists()
    assert main(["data", "fetch", "ixi", "--size", "64"]) == 2
    assert "size is for MedMNIST files" in capsys.readouterr().err
    assert main(["data", "fetch", "brats"]) == 2
    assert "synapse.org" in capsys.readouterr().err
    monkeypatch.setenv("MEDGAN_OFFLINE", "1")
    assert main(["data", "fetch", "breastmnist", "--size", "128"]) == 2
    err = capsys.readouterr().err
    assert f"{online.url}/breastmnist_128.npz" in err and "downloads are off" in err
    assert online.hits == ["/breastmnist_64.npz"]


def test_train_on_a_public_dataset_by_name(online, monkeypatch, tmp_path, capsys):
    served = medmnist_file(online.folder / "pneumoniamnist_64.npz", counts=(16, 2, 2))
    publish(monkeypatch, "pneumoniamnist", 64, served)
    run = tmp_path / "run"
    args = ["train", "--data", "pneumoniamnist", "--image-size", "32", "--width", "4"]
    args += ["--latent-dim", "8", "--batch-size", "8", "--epochs", "1", "--quiet"]
    assert main([*args, "--precision", "fp32", "--out", str(run)]) == 0
    record = json.loads((run / "run.json").read_text())
    assert record["data"] == "pneumoniamnist" and record["n_images"] == 16
    assert online.hits == ["/pneumoniamnist_64.npz"]
