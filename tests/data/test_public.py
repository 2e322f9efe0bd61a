"""Tests for public datasets by name: the facts table (catalog_public), downloading (fetch)
and loading (public, through load_dataset), against a local HTTP server."""

from __future__ import annotations

import re
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
from medical_files import bright_volume, nifti, png
from public_server import medmnist_file, publish

from medgan_utils.data.catalog_public import MEDMNIST_SIZES, PUBLIC_DATASETS, ZENODO_FILES
from medgan_utils.data.fetch import dataset_folder, md5_file
from medgan_utils.data.load import load_dataset
from medgan_utils.data.public import file_size_for, get_public, load_public
from medgan_utils.errors import DataError, DatasetNotAvailableError
from medgan_utils.evaluation.evaluate import evaluate

MEDMNIST = [d for d in PUBLIC_DATASETS.values() if d.layout == "medmnist"]
RECIPES = [d for d in PUBLIC_DATASETS.values() if d.layout != "medmnist"]


def leftovers(folder: Path) -> list[str]:
    """Every file in ``folder`` but the verification record (temporary files included)."""
    return sorted(p.name for p in folder.iterdir() if p.name != ".verified.json")


# --------------------------------------------------------------------------- the facts


def test_facts_are_well_formed():
    wanted = {"pneumoniamnist", "chestmnist", "breastmnist", "organamnist", "retinamnist"}
    wanted |= {"dermamnist", "bloodmnist", "brain-tumor-mri", "ixi", "brats"}
    assert wanted <= set(PUBLIC_DATASETS)
    for name, d in PUBLIC_DATASETS.items():
        assert name == d.name == name.lower() and d.title and d.modality and d.licence
        assert d.splits and all(isinstance(n, int) and n > 0 for n in d.splits.values())
        assert d.homepage.startswith("https://")
    for d in MEDMNIST:
        assert d.sizes == MEDMNIST_SIZES and len(d.classes) >= 2
        for size, f in d.files.items():
            assert re.fullmatch(r"[0-9a-f]{32}", f.md5), (d.name, size)
            assert f.name == (f"{d.name}.npz" if size == 28 else f"{d.name}_{size}.npz")
            assert f.url == f"{ZENODO_FILES}/{f.name}?download=1"
            assert f.url.startswith("https://")
    md5s = [f.md5 for d in MEDMNIST for f in d.files.values()]
    assert len(set(md5s)) == len(md5s)  # no sum copied twice
    pneumonia = PUBLIC_DATASETS["pneumoniamnist"]
    assert pneumonia.files[64].url == (
        "https://zenodo.org/records/10519652/files/pneumoniamnist_64.npz?download=1"
    )
    assert pneumonia.classes == ("normal", "pneumonia") and pneumonia.task == "binary-class"
    assert PUBLIC_DATASETS["chestmnist"].task.startswith("multi-label")
    assert PUBLIC_DATASETS["dermamnist"].licence == "CC BY-NC 4.0"
    for d in RECIPES:
        assert "{folder}" in d.how_to_get and not d.files
        assert d.homepage in d.how_to_get  # where to fetch it, in the recipe
    assert PUBLIC_DATASETS["brain-tumor-mri"].kaggle == "masoudnickparvar/brain-tumor-mri-dataset"


def test_file_size_is_the_smallest_published_at_least_as_large():
    d = PUBLIC_DATASETS["pneumoniamnist"]
    for image_size in (16, 28, 32, 64, 100, 128, 224, 512):
        larger = [s for s in d.sizes if s >= image_size]
        assert file_size_for(d, image_size) == (min(larger) if larger else max(d.sizes))
    assert file_size_for(d, 32) == 64 and file_size_for(d, 128) == 128
    with pytest.raises(DataError, match="not published at fixed sizes"):
        file_size_for(PUBLIC_DATASETS["ixi"], 64)


def test_unknown_names_list_the_known_ones(tmp_path):
    with pytest.raises(DataError, match="no such public dataset; known: pathmnist, .*brats"):
        get_public("pneumoniamnst")
    with pytest.raises(DataError, match="not a dataset name .*builtin.*pneumoniamnist.*ixi"):
        load_dataset(tmp_path / "pneumoniamnst")


# --------------------------------------------------------------------------- downloads


def test_download_loads_and_is_cached(online, monkeypatch, tmp_path, capsys):
    served = medmnist_file(online.folder / "pneumoniamnist_64.npz")
    publish(monkeypatch, "pneumoniamnist", 64, served)
    ds = load_dataset("pneumoniamnist", image_size=32, split="train")  # 32 px -> the 64 px file
    assert online.hits == ["/pneumoniamnist_64.npz"]
    assert "pneumoniamnist_64.npz: 100%" in capsys.readouterr().err  # the progress bar
    raw = np.load(served)
    assert ds.images.shape == (len(raw["train_images"]), 1, 32, 32)
    assert ds.classes == ["normal", "pneumonia"]
    assert ds.labels.tolist() == raw["train_labels"].ravel().tolist()
    assert len(set(ds.subjects)) == len(ds)  # no subject ids: one image, one subject
    folder = dataset_folder("pneumoniamnist")
    assert folder == tmp_path / "home" / "datasets" / "pneumoniamnist"
    assert leftovers(folder) == ["pneumoniamnist_64.npz"]
    assert md5_file(folder / "pneumoniamnist_64.npz") == md5_file(served)

    val = load_dataset("pneumoniamnist", image_size=64, split="val")  # from the cache
    again = load_dataset("pneumoniamnist", image_size=32)
    assert online.hits == ["/pneumoniamnist_64.npz"]  # no second request
    assert len(val) == len(raw["val_images"]) and torch.equal(again.images, ds.images)
    np.testing.assert_allclose(val.images[:, 0].numpy(), raw["val_images"] / 127.5 - 1, atol=1e-5)


def test_multi_label_is_read_unlabelled(online, monkeypatch):
    publish(
        monkeypatch,
        "chestmnist",
        64,
        medmnist_file(online.folder / "chestmnist_64.npz", labels=-14),
    )
    with pytest.warns(UserWarning, match="14 labels per image; reading unlabelled"):
        ds = load_dataset("chestmnist", 64, split="test")
    assert not ds.classes and len(ds) == 3


def test_wrong_checksum_keeps_nothing(online, monkeypatch):
    publish(monkeypatch, "breastmnist", 64, medmnist_file(online.folder / "x.npz", side=8))
    medmnist_file(online.folder / "breastmnist_64.npz")  # other bytes than published
    with pytest.raises(DatasetNotAvailableError, match="MD5 is [0-9a-f]{32}, not the published"):
        load_dataset("breastmnist", 64)
    folder = dataset_folder("breastmnist")
    assert online.hits == ["/breastmnist_64.npz"] and leftovers(folder) == []


def test_cut_off_download_keeps_nothing(online, monkeypatch):
    served = medmnist_file(online.folder / "bloodmnist_64.npz")
    publish(monkeypatch, "bloodmnist", 64, served)
    online.cut_after = served.stat().st_size // 2
    with pytest.raises(DatasetNotAvailableError, match="cut off .*nothing was kept.*again"):
        load_dataset("bloodmnist", 64)
    assert leftovers(dataset_folder("bloodmnist")) == []
    online.cut_after = None  # the next try completes
    n_train = len(np.load(served)["train_images"])
    assert len(load_dataset("bloodmnist", 64)) == n_train and len(online.hits) == 2


def test_offline_says_what_and_where(online, monkeypatch):
    monkeypatch.setenv("MEDGAN_OFFLINE", "1")
    monkeypatch.delenv("MEDGAN_DATASETS_URL")
    official = PUBLIC_DATASETS["retinamnist"].files[128].url
    target = dataset_folder("retinamnist") / "retinamnist_128.npz"
    with pytest.raises(DatasetNotAvailableError) as err:
        load_dataset("retinamnist", 128)
    message = str(err.value)
    assert "downloads are off" in message and official in message and str(target) in message
    assert "medgan data fetch retinamnist --size 128" in message
    assert online.hits == [] and not target.exists()


def test_unreachable_server_and_plain_http_elsewhere(online, monkeypatch):
    publish(monkeypatch, "organamnist", 64, medmnist_file(online.folder / "x.npz"))
    with pytest.raises(
        DatasetNotAvailableError, match="could not be downloaded \\(HTTP 404: File not found\\)"
    ):
        load_dataset("organamnist", 64)  # the server has no organamnist_64.npz
    online.redirects["/organamnist_64.npz"] = "http://example.org/organamnist_64.npz"
    with pytest.raises(DataError, match="example.org/organamnist_64.npz: not an https URL"):
        load_dataset("organamnist", 64)  # a redirect away from https (or this machine)
    monkeypatch.setenv("MEDGAN_DATASETS_URL", "http://example.org/mirror")
    with pytest.raises(DataError, match="example.org/mirror/organamnist_64.npz: not an https URL"):
        load_dataset("organamnist", 64)
    assert leftovers(dataset_folder("organamnist")) == []


def test_a_file_put_by_hand_is_checked_once(online, monkeypatch):
    good = medmnist_file(online.folder / "dermamnist_64.npz")
    publish(monkeypatch, "dermamnist", 64, good)
    target = dataset_folder("dermamnist") / "dermamnist_64.npz"
    target.parent.mkdir(parents=True)
    medmnist_file(target, side=16)  # not the published bytes: refused, left alone
    with pytest.raises(DataError, match="is not the published dermamnist_64.npz .*delete it"):
        load_dataset("dermamnist", 64)
    assert target.exists() and online.hits == []
    target.write_bytes(good.read_bytes())
    assert len(load_dataset("dermamnist", 64, split="test")) == 3 and online.hits == []
    assert "dermamnist_64.npz" in (target.parent / ".verified.json").read_text()


def test_public_options_are_checked(online, monkeypatch):
    publish(
        monkeypatch,
        "pneumoniamnist",
        28,
        medmnist_file(online.folder / "pneumoniamnist.npz", side=28),
    )
    assert load_dataset("pneumoniamnist", 32, size=28).images.shape[-1] == 32  # upscaled
    assert online.hits == ["/pneumoniamnist.npz"]
    with pytest.raises(DataError, match="does not take axis, sequence"):
        load_dataset("pneumoniamnist", 32, size=28, axis="coronal", sequence="T1")
    with pytest.raises(DataError, match="no 100 px file; published sizes: 28, 64, 128, 224"):
        load_dataset("pneumoniamnist", 32, size=100)


# --------------------------------------------------------------------------- recipes


def brain_tumour_folder(root: Path) -> Path:
    """The Kaggle archive's layout: Training/ and Testing/, one subfolder per class."""
    for split, n in (("Training", 3), ("Testing", 1)):
        for label in ("glioma", "notumor"):
            for i in range(n):
                png(root / split / label / f"{split[:2]}-{label[:2]}_{i:04d}.jpg", (20, 24))
    return root


def test_kaggle_layout_is_read_as_downloaded(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDGAN_HOME", str(tmp_path))
    brain_tumour_folder(tmp_path / "datasets" / "brain-tumor-mri" / "archive")  # one level down
    train = load_dataset("brain-tumor-mri", 32)
    assert train.classes == ["glioma", "notumor"] and len(train) == 6
    assert train.images.shape == (6, 1, 32, 32)
    assert len(load_dataset("brain-tumor-mri", 32, split="test")) == 2
    assert len(load_dataset("brain-tumor-mri", 32, split="all")) == 8
    with pytest.raises(DataError, match="has no split 'val' .*train, test, all"):
        load_dataset("brain-tumor-mri", 32, split="val")


def test_kaggle_missing_says_how(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDGAN_HOME", str(tmp_path))
    monkeypatch.setitem(sys.modules, "kagglehub", None)  # not installed
    folder = tmp_path / "datasets" / "brain-tumor-mri"
    with pytest.raises(DatasetNotAvailableError, match="kagglehub is not installed") as err:
        load_dataset("brain-tumor-mri", 32)
    assert "masoudnickparvar/brain-tumor-mri-dataset" in str(err.value)
    assert f"{folder}/Training/<class>/" in str(err.value)
    (folder / "stray").mkdir(parents=True)
    (folder / "stray" / "notes.txt").write_text("mine")
    with pytest.raises(DataError, match="holds no Training/ and Testing/"):
        load_dataset("brain-tumor-mri", 32)
    assert (folder / "stray" / "notes.txt").read_text() == "mine"


def test_kaggle_download_through_kagglehub(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDGAN_HOME", str(tmp_path))
    monkeypatch.delenv("MEDGAN_OFFLINE", raising=False)
    calls = []

    def dataset_download(handle: str, output_dir: str) -> str:  # kagglehub's signature
        calls.append((handle, output_dir))
        brain_tumour_folder(Path(output_dir))
        return output_dir

    fake = types.SimpleNamespace(dataset_download=dataset_download)
    monkeypatch.setitem(sys.modules, "kagglehub", fake)
    ds = load_dataset("brain-tumor-mri", 32, split="test")
    folder = tmp_path / "datasets" / "brain-tumor-mri"
    assert len(ds) == 2 and (folder / "Training" / "glioma").is_dir()
    assert calls[0][0] == "masoudnickparvar/brain-tumor-mri-dataset"
    assert Path(calls[0][1]).parent == folder.parent and not Path(calls[0][1]).exists()
    load_dataset("brain-tumor-mri", 32)
    assert len(calls) == 1  # found on disk the second time

    def broken(handle: str, output_dir: str) -> str:
        (Path(output_dir) / "Training").mkdir()
        raise ConnectionError("reset by peer")

    monkeypatch.setitem(sys.modules, "kagglehub", types.SimpleNamespace(dataset_download=broken))
    monkeypatch.setenv("MEDGAN_HOME", str(tmp_path / "other"))
    with pytest.raises(DatasetNotAvailableError, match="reset by peer.*nothing was kept"):
        load_dataset("brain-tumor-mri", 32)
    assert list((tmp_path / "other" / "datasets").iterdir()) == []


def test_ixi_volumes_by_subject_and_site(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDGAN_HOME", str(tmp_path))
    folder = tmp_path / "datasets" / "ixi" / "T1"
    with pytest.raises(DatasetNotAvailableError, match="no IXI\\*-T1.nii.gz files below") as err:
        load_dataset("ixi", 32)
    assert "brain-development.org" in str(err.value) and f"-C {folder}" in str(err.value)
    folder.mkdir(parents=True)
    for name in ("IXI012-HH-1211-T1", "IXI002-Guys-0828-T1", "IXI002-Guys-0828-T2"):
        nifti(folder / f"{name}.nii.gz", bright_volume())
    ds = load_dataset("ixi", 32)
    assert sorted(set(ds.subjects)) == ["IXI002", "IXI012"]
    assert {m.groups["site"] for m in ds.meta} == {"Guys", "HH"}
    per_volume = len(ds) // 2
    assert len(load_dataset("ixi", 32, n_subjects=1)) == per_volume
    assert len(load_dataset("ixi", 32, sequence="t2")) == per_volume
    with pytest.raises(DataError, match="no official split"):
        load_dataset("ixi", 32, split="train")
    with pytest.raises(DataError, match="no sequence 'FLAIR'"):
        load_dataset("ixi", 32, sequence="FLAIR")


def test_brats_subjects_from_file_names(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDGAN_HOME", str(tmp_path))
    case = tmp_path / "datasets" / "brats" / "BraTS2021_Training_Data" / "BraTS2021_00000"
    case.mkdir(parents=True)
    for seq in ("t1", "t1ce", "flair", "seg"):
        nifti(case / f"BraTS2021_00000_{seq}.nii.gz", bright_volume())
    ds = load_public("brats", 32)  # t1 only, not t1ce
    assert set(ds.subjects) == {"BraTS2021_00000"}
    assert {m.source for m in ds.meta} == {str(case / "BraTS2021_00000_t1.nii.gz")}


# --------------------------------------------------------------------------- evaluation


def test_evaluation_floors_split_by_image_without_subject_ids(online, monkeypatch):
    served = medmnist_file(online.folder / "pneumoniamnist_64.npz", counts=(24, 2, 2))
    publish(monkeypatch, "pneumoniamnist", 64, served)
    real = load_dataset("pneumoniamnist", 32)
    with pytest.warns(UserWarning, match="FID skipped"):
        report = evaluate(real, real.images.flip(-1), extractor="pixels", check_memorization=False)
    assert any("split by image (no subject ids)" in note for note in report.notes)
    assert report.n == len(real) // 2
