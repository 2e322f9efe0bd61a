from __future__ import annotations

import json
import re

import numpy as np
import pytest
import torch

from medgan_utils.errors import DataError
from medgan_utils.ethics.cards import (
    AUDIT_FILE,
    EVALUATION_FILE,
    SECTIONS,
    card_for,
    model_card,
    write_model_card,
)
from medgan_utils.ethics.subgroups import subgroup_metrics
from medgan_utils.gan.models import DCGANConfig, Generator
from medgan_utils.gan.zoo import list_models, save_generator

META = {
    "model_config": {"image_size": 64, "channels": 1, "width": 64},
    "train_config": {"epochs": 3, "lr_g": 0.0002},
    "data": "builtin",
    "data_options": {"n_subjects": 8},
    "n_images": 256,
    "command": ["medgan", "train", "--data", "builtin"],
    "hardware": "x86_64 CPU, 2 cores",
    "precision": "bfloat16",
    "wall_time_s": 12.5,
    "epochs": 3,
    "history": [{"epoch": 3.0, "loss_d": 0.5, "loss_g": 2.25}],
}
SCORE = {
    "name": "domain FID",
    "value": 23.1,
    "floor": 4.2,
    "n": 64,
    "extractor": "domain",
    "std": None,
    "floor_std": None,
    "higher_is_better": False,
    "floor_label": "",
}
MEMORIZATION = {
    "n": 64,
    "n_flagged": 1,
    "share_flagged": 1 / 64,
    "chance_share": 0.01,
    "threshold": 2.0,
    "median_ratio": 1.02,
    "min_ratio": 0.7,
    "space": "pixels-32",
    "calibration": "training images, leave one subject out",
    "rule": "nearest-training distance <= 1% quantile",
}


def headings(text: str) -> list[str]:
    return re.findall(r"^## (.+)$", text, flags=re.M)


def section(text: str, name: str) -> str:
    return text.split(f"## {name}\n", 1)[1].split("\n## ", 1)[0]


@pytest.fixture
def run(tmp_path):
    """A tiny run folder as `medgan train` leaves it: weights and generator.json."""
    config = DCGANConfig(image_size=32, width=8, latent_dim=16)
    torch.manual_seed(0)
    info = {k: v for k, v in META.items() if k != "model_config"}
    return save_generator(Generator(config), config, tmp_path / "tiny", info)


def test_card_states_data_command_hardware_and_scope():
    text = model_card("brain", META)
    assert text.startswith("# Model card: brain")
    assert headings(text) == list(SECTIONS)
    assert "`medgan train --data builtin`" in text
    assert "x86_64 CPU, 2 cores; precision bfloat16" in text
    assert "12.5 s for 3 epochs" in text
    assert "not patient data" in section(text, "Data")
    assert "clinical" in section(text, "Out-of-scope use")
    assert "loss_d 0.5, loss_g 2.25" in text
    assert section(text, "Metrics").startswith("Not measured: run `medgan metrics")
    scored = model_card("brain", META, {"domain FID": "23.1 (real-vs-real floor 4.2)"})
    assert "- domain FID: 23.1 (real-vs-real floor 4.2)" in section(scored, "Metrics")


def test_sections_without_results_say_so_and_how_to_measure(run):
    text = card_for(run)
    assert text.startswith("# Model card: tiny") and headings(text) == list(SECTIONS)
    for name in ("Metrics", "Memorization", "Subgroup results"):
        assert section(text, name).startswith("Not measured"), name
    assert f"medgan metrics --real REAL --fake {run} --train TRAIN" in section(text, "Metrics")
    assert f"> {run}/evaluation.json" in section(text, "Memorization")
    assert AUDIT_FILE in section(text, "Subgroup results")
    energy = section(text, "Energy")
    assert "12.5 s on x86_64 CPU" in energy and "kWh" in energy and "assumption:" in energy
    limits = section(text, "Limitations")
    assert "clinical" in limits and "32x32" in limits and "one template brain" in limits
    assert "Not evaluated" in limits
    assert "MIT" in section(text, "Licence")


def test_recorded_results_fill_their_sections(run):
    evaluation = {
        "real": "48 held-out subjects",
        "fake": "tiny (64 generated, seed 0)",
        "extractor": "domain",
        "scores": {"fid": SCORE},
        "memorization": MEMORIZATION,
        "notes": ["a note"],
    }
    (run / EVALUATION_FILE).write_text(json.dumps(evaluation))
    audit = {"subgroups": [{"group": "site=A", "n": 40, "fid": 20.5}], "notes": ["by site"]}
    (run / AUDIT_FILE).write_text(json.dumps(audit))
    assert "| site=A | 40 | 20.5 |" in section(card_for(run), "Subgroup results")
    # what medgan_utils.ethics.subgroups.subgroup_metrics records: a table of metrics by group
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 80)
    scores, sites = 0.5 * y + 0.5 * rng.random(80), np.where(rng.random(80) > 0.5, "B", "A")
    report = subgroup_metrics(y, scores, sites, n_boot=50, attribute="site")
    record = {**report.to_dict(), "description": "classifier trained on synthetic images"}
    (run / AUDIT_FILE).write_text(json.dumps(record))
    meta = json.loads((run / "generator.json").read_text())
    (run / "generator.json").write_text(json.dumps({**meta, "licence": "CC-BY-4.0"}))
    text = card_for(run)
    assert headings(text) == list(SECTIONS)
    metrics = section(text, "Metrics")
    assert "- fid: domain FID 23.1 (real-vs-real floor 4.2, n=64)" in metrics
    assert "48 held-out subjects" in metrics and "- note: a note" in metrics
    subgroups = section(text, "Subgroup results")
    assert subgroups.startswith("classifier trained on synthetic images")
    assert "| metric | site A (n=" in subgroups and "| gap (max - min) |" in subgroups
    assert re.search(r"^\| auroc \| [\d.]+ \[[\d.]+, [\d.]+\] \|", subgroups, flags=re.M)
    assert "equalized-odds difference" in subgroups
    memorization = section(text, "Memorization")
    assert (
        "1 of 64 generated images (1.6%; expected by chance 1.0%): within what chance"
        in memorization
    )
    assert "(at most 4)" in memorization  # P(Binomial(64, 1%) > 4) < 0.001
    assert "pixels-32" in memorization
    assert "Not evaluated" not in section(text, "Limitations")
    assert "- weights: CC-BY-4.0" in section(text, "Licence")


def test_write_model_card_writes_what_card_for_renders(run, tmp_path):
    path = write_model_card(run)
    assert path == run / "MODEL_CARD.md" and path.read_text() == card_for(run)
    other = write_model_card(run, name="mine", out=tmp_path / "cards" / "mine.md")
    assert other.read_text().startswith("# Model card: mine\n")
    assert not list(other.parent.glob(".*.tmp"))


def test_unknown_model_is_named(tmp_path):
    with pytest.raises(DataError, match="no-such-model.*not a model"):
        card_for("no-such-model")
    with pytest.raises(DataError, match="not a model"):
        card_for(tmp_path)


@pytest.mark.parametrize("name", sorted(list_models()))
def test_shipped_cards_are_complete_and_up_to_date(name):
    folder = list_models()[name]
    text = card_for(name)
    assert headings(text) == list(SECTIONS)
    assert card_for(folder) == text  # the folder is known as the shipped model
    assert (folder / "MODEL_CARD.md").read_text() == text, (
        f"regenerate it: medgan card {name} --out {folder / 'MODEL_CARD.md'}"
    )
    if (folder / EVALUATION_FILE).exists():
        assert "real-vs-real floor" in section(text, "Metrics")
        assert "near-copies" in section(text, "Memorization")
        for score in ("domain FID", "anatomy FID", "domain precision", "anatomy precision"):
            assert score in section(text, "Metrics"), f"re-evaluate it: {score} is missing"


def test_energy_uses_the_recorded_hardware():
    gpu = model_card("g", {**META, "hardware": "NVIDIA H100 80GB HBM3; torch 2.5; 8 threads"})
    assert "device power 700 W" in section(gpu, "Energy")
    other = model_card("o", {**META, "hardware": "Some Accelerator X; torch 2.5"})
    assert "no nominal power is known" in section(other, "Energy")
    assert section(model_card("n", {**META, "wall_time_s": None}), "Energy").startswith(
        "Not measured"
    )


def test_classifier_cards(tmp_path):
    from medgan_utils.downstream.classifier import (
        SHIPPED_CLASSIFIERS,
        ClassifierConfig,
        LesionClassifier,
        save_classifier,
    )
    from medgan_utils.settings import PRETRAINED

    shipped = card_for("lesion-classifier-synthetic")
    assert headings(shipped) == list(SECTIONS)
    path = PRETRAINED / SHIPPED_CLASSIFIERS["lesion-classifier-synthetic"]
    assert (path.parent / "MODEL_CARD.md").read_text() == shipped, (
        "regenerate it: python scripts/evaluate_shipped_classifier.py"
    )
    assert "on real scans" in section(shipped, "Metrics")
    assert "| auroc |" in section(shipped, "Subgroup results")
    tiny = save_classifier(LesionClassifier(ClassifierConfig(width=4)), tmp_path / "c.safetensors")
    text = card_for(tiny)
    assert headings(text) == list(SECTIONS)
    assert "Not measured on real scans" in section(text, "Metrics")
    assert "Not measured" in section(text, "Subgroup results")


def test_what_medgan_audit_prints_is_an_audit_file(run):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 60)
    scores, sites = 0.5 * y + 0.5 * rng.random(60), np.where(rng.random(60) > 0.5, "B", "A")
    report = subgroup_metrics(y, scores, sites, n_boot=30, attribute="site")
    printed = {"model": "m", "data": "d", "subgroups": report.to_dict(), "dataset": {}}
    (run / AUDIT_FILE).write_text(json.dumps({**printed, "notes": ["from medgan audit"]}))
    subgroups = section(card_for(run), "Subgroup results")
    assert "| metric | site A (n=" in subgroups and "equalized-odds difference" in subgroups
    assert "- note: from medgan audit" in subgroups


def test_cards_show_each_feature_space_and_say_which_was_not_measured(run):
    anatomy = {**SCORE, "name": "anatomy FID", "value": 6.5, "floor": 1.5, "extractor": "anatomy"}
    evaluation = {
        "real": "48 held-out subjects",
        "fake": "tiny (64 generated, seed 0)",
        "extractor": "domain",
        "feature_dim": 128,
        "spaces": {"domain": 128, "anatomy": 128},
        "scores": {"fid": SCORE, "anatomy_fid": anatomy},
        "memorization": MEMORIZATION,
    }
    (run / EVALUATION_FILE).write_text(json.dumps(evaluation))
    metrics = section(card_for(run), "Metrics")
    assert "- domain (128-d): the project's MRI encoder, trained also to tell" in metrics
    assert "- anatomy (128-d): the same network trained for axial level" in metrics
    assert "- fid: domain FID 23.1 (real-vs-real floor 4.2, n=64)" in metrics
    assert "- anatomy_fid: anatomy FID 6.5 (real-vs-real floor 1.5, n=64)" in metrics
    assert "not measured" not in metrics
    # an evaluation.json written before the anatomy space existed: domain only, and a line
    old = {k: v for k, v in evaluation.items() if k != "spaces"}
    (run / EVALUATION_FILE).write_text(json.dumps({**old, "scores": {"fid": SCORE}}))
    metrics = section(card_for(run), "Metrics")
    assert "- domain (128-d): " in metrics and "- fid: domain FID 23.1" in metrics
    assert "- anatomy: not measured (this evaluation predates it or left it out)" in metrics
    assert f"medgan metrics --real REAL --fake {run}" in metrics
    assert "anatomy FID" not in metrics
