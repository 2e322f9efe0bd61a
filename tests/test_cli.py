from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from medgan_utils.cli import main


def _png_folder(root: Path) -> Path:
    for cls, value in (("glioma", 200), ("normal", 60)):
        (root / cls).mkdir(parents=True)
        for i in range(3):
            img = np.full((20, 30), value, np.uint8)
            Image.fromarray(img).save(root / cls / f"img{i}.png")
    (root / "normal" / "notes.txt").write_text("not an image")
    return root


def test_data_info_text(tmp_path, capsys):
    folder = _png_folder(tmp_path / "mri")
    assert main(["data", "info", str(folder), "--image-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "images      6 at 32x32" in out
    assert "glioma: 3, normal: 3" in out
    assert "skipped     1 file(s)" in out


def test_data_info_says_whether_it_read_the_cache(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("MEDGAN_HOME", str(tmp_path / "home"))
    folder = _png_folder(tmp_path / "mri")
    for p in folder.rglob("*"):  # older than the cache's 2 s of settling
        os.utime(p, (1e9, 1e9))
    args = ["data", "info", str(folder), "--image-size", "32"]
    assert main([*args, "--no-cache"]) == 0
    assert "cache       not used (cache=False)" in capsys.readouterr().out
    assert not (tmp_path / "home" / "reads").exists()
    assert main(args) == 0
    assert "cache       written to " in capsys.readouterr().out
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "cache       read from " in out and "memory-mapped" in out
    assert "images      6 at 32x32" in out and "skipped     1 file(s)" in out
    assert main(["data", "clear-cache"]) == 0
    assert "removed 2 file(s)" in capsys.readouterr().out
    assert list((tmp_path / "home" / "reads").iterdir()) == []


def test_data_info_json_via_console_script(tmp_path):
    folder = _png_folder(tmp_path / "mri")
    script = Path(sys.executable).with_name("medgan")
    cmd = [str(script)] if script.exists() else [sys.executable, "-m", "medgan_utils.cli"]
    proc = subprocess.run(
        [*cmd, "data", "info", str(folder), "--json"], capture_output=True, text=True, check=True
    )
    info = json.loads(proc.stdout)
    assert info["n_images"] == 6 and info["image_size"] == 64
    assert info["classes"] == {"glioma": 3, "normal": 3}
    assert sum(info["skipped"].values()) == 1
    # 200 -> +0.569, 60 -> -0.529 on the fixed 8-bit scale
    assert abs(info["intensity"]["max"] - (200 / 127.5 - 1)) < 1e-3


def test_data_info_names_bad_input(tmp_path, capsys):
    assert main(["data", "info", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err
    assert "missing" in err and "no such file" in err
    (tmp_path / "empty").mkdir()
    assert main(["data", "info", str(tmp_path / "empty")]) == 2
    assert "empty" in capsys.readouterr().err


def test_data_info_builtin_labelled(capsys):
    assert main(["data", "info", "builtin-labelled", "--image-size", "32"]) == 0
    out = capsys.readouterr().out
    assert "classes     lesion:" in out and "group site" in out


TINY = ["--data", "builtin", "--image-size", "32", "--n-subjects", "2", "--width", "8"]
TINY += ["--batch-size", "16", "--latent-dim", "16", "--quiet", "--precision", "fp32"]


def test_train_resume_and_generate_round_trip(tmp_path, capsys):
    run = tmp_path / "runs" / "tiny"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(run)]) == 0
    record = json.loads((run / "run.json").read_text())
    assert record["epochs_done"] == 1 and record["n_images"] == 64
    assert record["command"][:2] == ["medgan", "train"] and "CPU" in record["hardware"]
    assert (run / "samples" / "epoch_001.png").exists()
    card = json.loads((run / "generator.json").read_text())
    assert card["epochs"] == 1 and len(card["history"]) == 1 and card["n_images"] == 64
    assert card["command"] == record["command"] and card["data"] == "builtin"

    # the same command again must not overwrite the run ...
    assert main(["train", *TINY, "--epochs", "1", "--out", str(run)]) == 2
    assert "already holds a run" in capsys.readouterr().err
    # ... nor may a different recipe resume it
    assert (
        main(["train", *TINY, "--epochs", "2", "--seed", "5", "--out", str(run), "--resume"]) == 2
    )
    assert "different run" in capsys.readouterr().err
    assert main(["train", *TINY, "--epochs", "2", "--out", str(run), "--resume"]) == 0
    assert json.loads((run / "run.json").read_text())["epochs_done"] == 2

    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["generate", "--model", str(run), "-n", "5", "--seed", "7", "--out", str(a)]) == 0
    assert main(["generate", "--model", str(run), "-n", "5", "--seed", "7", "--out", str(b)]) == 0
    files = sorted(p.name for p in a.iterdir())
    assert files == ["grid.png"] + [f"synthetic_tiny_seed7_{i:04d}.png" for i in range(5)]
    assert all((a / f).read_bytes() == (b / f).read_bytes() for f in files)
    with Image.open(a / files[1]) as img:
        assert img.size == (32, 32) and img.text["synthetic"] == "true"


def test_train_and_generate_bad_input(tmp_path, capsys):
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    assert main(["train", *TINY, "--epochs", "1", "--out", str(tmp_path / "busy")]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"
    (tmp_path / "empty").mkdir()
    args = [
        "train",
        "--data",
        str(tmp_path / "empty"),
        "--epochs",
        "1",
        "--out",
        str(tmp_path / "r"),
    ]
    assert main(args) == 2
    assert "no images found" in capsys.readouterr().err
    assert main(["train", *TINY, "--epochs", "1", "--out", str(tmp_path / "r2"), "--resume"]) == 2
    assert "no run to resume" in capsys.readouterr().err
    assert main(["generate", "--model", "nope", "--out", str(tmp_path / "g")]) == 2
    assert "nope: not a model" in capsys.readouterr().err
    for n in ("0", "100000"):
        assert main(["generate", "-n", n, "--out", str(tmp_path / "g")]) == 2
        assert f"between 1 and 10000, got {n}" in capsys.readouterr().err
    assert not (tmp_path / "g").exists()
    try:
        main(["train", *TINY[:2], "--image-size", "48", "--epochs", "1", "--out", "x"])
    except SystemExit as exit_:
        assert exit_.code == 2
    assert "invalid choice: 48" in capsys.readouterr().err


def test_metrics_prints_every_score_with_its_floor(capsys):
    args = ["metrics", "--real", "builtin", "--fake", "brain-mri-dcgan-64", "-n", "200"]
    assert main([*args, "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    fid = report["scores"]["fid"]
    assert fid["n"] == 200 and fid["floor"] < fid["value"]
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "domain FID" in text and "real-vs-real floor" in text and "near-copies" in text
    assert main(["metrics", "--real", "builtin", "--fake", "nope", "-n", "200"]) == 2
    assert "nope" in capsys.readouterr().err


def test_metrics_prints_both_feature_spaces_and_takes_one(capsys):
    args = ["metrics", "--real", "builtin", "--fake", "brain-mri-dcgan-64", "-n", "200"]
    assert main(args) == 0
    text = capsys.readouterr().out
    for line in ("domain FID", "anatomy FID", "domain precision", "anatomy precision"):
        assert line in text
    assert main([*args, "--features", "anatomy", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["spaces"] == {"anatomy": 128} and report["scores"]["fid"]["name"] == (
        "anatomy FID"
    )
    assert main([*args, "--extractor", "domain", "--json"]) == 0  # the old option still works
    assert json.loads(capsys.readouterr().out)["spaces"] == {"domain": 128}
    for bad, message in (("domain,vgg", "unknown feature space 'vgg'"), ("domain,domain", "once")):
        try:
            main([*args, "--features", bad])
        except SystemExit as exit_:
            assert exit_.code == 2
        assert message in capsys.readouterr().err


def test_generate_dicom_and_model_card(tmp_path, capsys):
    import pydicom

    from medgan_utils.ethics.cards import SECTIONS, card_for

    out = tmp_path / "dicom"
    args = ["generate", "-n", "3", "--seed", "2", "--format", "dicom", "--out", str(out)]
    assert main(args) == 0
    assert "3 synthetic DICOM files" in capsys.readouterr().out
    files = sorted(out.iterdir())
    assert [f.name for f in files] == [
        f"synthetic_brain-mri-dcgan-64_seed2_{i:04d}.dcm" for i in range(3)
    ]
    ds = pydicom.dcmread(files[0])
    assert "SYNTHETIC" in ds.SeriesDescription and ds.pixel_array.shape == (64, 64)

    assert main(["card", "brain-mri-dcgan-64"]) == 0
    text = capsys.readouterr().out
    assert text == card_for("brain-mri-dcgan-64")
    assert [line[3:] for line in text.splitlines() if line.startswith("## ")] == list(SECTIONS)
    card = tmp_path / "cards" / "card.md"
    assert main(["card", "brain-mri-dcgan-64", "--out", str(card)]) == 0
    assert str(card) in capsys.readouterr().out and card.read_text() == text
    assert main(["card", str(tmp_path / "nope")]) == 2
    assert "nope: not a model" in capsys.readouterr().err


@pytest.mark.filterwarnings("ignore:domain FID skipped")
def test_metrics_of_a_conditional_model_scores_each_class_and_its_labels(capsys, tiny_cond):
    args = ["metrics", "--real", "builtin-labelled", "--fake", str(tiny_cond), "-n", "40"]
    assert main([*args, "--features", "domain", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert list(report["per_class"]) == ["lesion", "no_lesion"]
    assert report["per_class"]["lesion"]["scores"]["kid"]["n"] == 40
    fidelity = report["label_fidelity"]
    assert [c["label"] for c in fidelity["classes"]] == ["lesion", "no_lesion"]
    assert fidelity["classes"][0]["n_generated"] == 512
    assert main([*args, "--features", "domain"]) == 0
    text = capsys.readouterr().out
    assert "class lesion" in text and "label fidelity" in text
    # an unlabelled real set cannot say how well the labels are followed
    assert main(["metrics", "--real", "builtin", "--fake", str(tiny_cond), "-n", "40"]) == 2
    assert "must be labelled" in capsys.readouterr().err


def test_train_balance_classes_needs_labels_and_leaves_nothing(capsys, tmp_path):
    out = tmp_path / "run"
    args = ["train", "--data", "builtin", "--n-subjects", "2", "--image-size", "32"]
    args += ["--width", "4", "--epochs", "1", "--balance-classes", "--out", str(out), "--quiet"]
    assert main(args) == 2
    assert "balance_classes needs labelled images" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.parametrize("flag", [["--conditional-norm"], ["--label-mismatch", "1"]])
def test_conditional_options_need_conditional_and_leave_nothing(capsys, tmp_path, flag):
    out = tmp_path / "run"
    args = ["train", "--data", "builtin-labelled", "--n-subjects", "2", "--image-size", "32"]
    args += ["--width", "4", "--epochs", "1", *flag, "--out", str(out)]
    assert main(args) == 2
    assert f"{flag[0]} works on class labels: add --conditional" in capsys.readouterr().err
    assert not out.exists() or not any(out.iterdir())
