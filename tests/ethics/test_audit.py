"""Tests of medgan_utils.ethics.audit: subgroup metrics, dataset audit, leakage, privacy, energy."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from fairlearn.metrics import equalized_odds_difference

from medgan_utils.cli import main
from medgan_utils.data.dataset import MedicalImageDataset, load_dataset
from medgan_utils.data.readers import SliceMeta
from medgan_utils.downstream.classifier import (
    ClassifierConfig,
    FitConfig,
    LesionClassifier,
    fit_classifier,
    save_classifier,
)
from medgan_utils.downstream.finetune import as_labelled
from medgan_utils.errors import DataError
from medgan_utils.ethics.audit import (
    SUBGROUP_METRICS,
    LeakageConfig,
    audit_dataset,
    energy_estimate,
    leakage_demo,
    plot_subgroups,
    privacy_gate,
    subgroup_metrics,
)

# Fast settings for 32x32 images: 80 small steps, no augmentation (see leakage_demo).
FAST = FitConfig(
    epochs=5, steps_per_epoch=16, batch_size=16, patience=5, augment=False, precision="fp32"
)


@pytest.fixture
def one_thread():
    """Train on one thread: on a busy machine two spinning OpenMP threads make tiny convolutions
    many times slower (the leakage test took 3 s alone and 2 minutes beside a GAN run)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def labelled() -> MedicalImageDataset:
    """12 virtual subjects at 32 px: 8 at site A (3 with lesions), 4 at site B (3)."""
    return load_dataset("builtin-labelled", 32, n_subjects=12, seed=0)


# -- subgroup metrics ----------------------------------------------------------------------

# Group a: targets 1 1 0 0 0, scores .9 .4 .6 .2 .1 -> calls 1 0 1 0 0 at threshold 0.5.
# Group b: targets 1 1 1 0 0, scores .8 .7 .3 .6 .55 -> calls 1 1 0 1 1.
HAND_T = [1, 1, 0, 0, 0, 1, 1, 1, 0, 0]
HAND_S = [0.9, 0.4, 0.6, 0.2, 0.1, 0.8, 0.7, 0.3, 0.6, 0.55]
HAND_G = list("aaaaabbbbb")
EXPECTED = {
    "a": {
        "prevalence": 2 / 5,
        "auroc": 5 / 6,  # positive .9 beats 3 negatives, .4 beats .2 and .1: 5 of 6 pairs
        "sensitivity": 1 / 2,
        "specificity": 2 / 3,
        "positive_rate": 2 / 5,
        "calibration": 2.2 / 5 - 2 / 5,  # mean score .44 - prevalence .4
        "brier": (0.01 + 0.36 + 0.36 + 0.04 + 0.01) / 5,
    },
    "b": {
        "prevalence": 3 / 5,
        "auroc": 4 / 6,  # .8 and .7 beat both negatives, .3 beats none
        "sensitivity": 2 / 3,
        "specificity": 0.0,
        "positive_rate": 4 / 5,
        "calibration": 2.95 / 5 - 3 / 5,
        "brier": (0.04 + 0.09 + 0.49 + 0.36 + 0.3025) / 5,
    },
}


def test_subgroup_metrics_match_hand_arithmetic():
    report = subgroup_metrics(HAND_T, HAND_S, HAND_G, n_boot=50, attribute="site")
    assert report.counts == {"a": 5, "b": 5}
    for group, metrics in EXPECTED.items():
        for name, value in metrics.items():
            assert report.by_group[group][name].value == pytest.approx(value), (group, name)
    gaps = {m: abs(EXPECTED["a"][m] - EXPECTED["b"][m]) for m in SUBGROUP_METRICS}
    assert gaps["sensitivity"] == pytest.approx(1 / 6) and gaps["positive_rate"] == 0.4
    for name, value in gaps.items():
        assert report.gaps[name].value == pytest.approx(value), name
    # equalized odds: max(TPR gap 1/6, FPR gap |1/3 - 1|) = 2/3
    assert report.equalized_odds.value == pytest.approx(2 / 3)
    text = report.to_text()
    assert "site a" in text and "equalized-odds difference 0.667" in text
    assert json.loads(json.dumps(report.to_dict()))["gaps"]["specificity"]["value"] == 2 / 3


def test_bootstrap_intervals_contain_the_estimates():
    rng = np.random.default_rng(0)
    n = 240
    t = (rng.random(n) < 0.3).astype(int)
    g = np.where(np.arange(n) % 10 < 7, "A", "B")
    s = 1 / (1 + np.exp(-(2.5 * t - 1.2 + (g == "B") * 0.5 + rng.normal(0, 1, n))))
    subjects = [f"s{i // 8}" for i in range(n)]  # 8 images per subject, one site each
    report = subgroup_metrics(t, s, g, n_boot=100, clusters=subjects)
    assert report.unit == "subjects" and 80 < report.n_boot <= 100
    for group in ("A", "B"):
        for name in SUBGROUP_METRICS:
            e = report.by_group[group][name]
            assert e.low <= e.value <= e.high, (group, name)
    e = report.equalized_odds
    assert e.low <= e.value <= e.high
    assert e.value == pytest.approx(equalized_odds_difference(t, s >= 0.5, sensitive_features=g))
    fig = plot_subgroups(report)
    assert len(fig.axes) == len(SUBGROUP_METRICS)


# -- dataset audit -------------------------------------------------------------------------


def test_dataset_audit_warns_on_an_under_represented_group():
    meta = [SliceMeta("toy", f"s{i}", 0, {"site": "A" if i < 18 else "B"}) for i in range(20)]
    ds = MedicalImageDataset(torch.full((20, 1, 32, 32), -1.0), torch.full((20,), -1), meta)
    ds.images[:, :, 8:24, 8:24] = 0.0
    with pytest.warns(UserWarning, match="site B has 10% of the images"):
        audit = audit_dataset(ds, "site", min_share=0.2)
    assert audit.images == {"A": 18, "B": 2} and audit.subjects == {"A": 18, "B": 2}
    assert audit.intensity["A"]["mean"] == 0.0 and audit.class_share == {}
    assert len(audit.warnings) == 1 and "unlabelled" in audit.to_text()


def test_dataset_audit_reports_the_builtin_prevalence_shift(labelled):
    with pytest.warns(UserWarning, match="prevalence shift"):
        audit = audit_dataset(labelled, "site")
    assert audit.subjects == {"A": 8, "B": 4} and audit.images == {"A": 256, "B": 128}
    # by design 35 % of site A's subjects and 65 % of site B's carry lesions (rounded)
    assert (
        audit.subject_share["A"]["lesion"] == 3 / 8 and audit.subject_share["B"]["lesion"] == 3 / 4
    )
    assert any("'lesion' in 38% of site A's subjects but 75%" in w for w in audit.warnings)
    assert audit.intensity["B"]["noise"] > audit.intensity["A"]["noise"]  # site B is noisier
    assert json.loads(json.dumps(audit.to_dict()))["subjects"] == {"A": 8, "B": 4}


def test_dataset_audit_names_a_missing_group(labelled):
    with pytest.raises(DataError, match="no group 'scanner' in its metadata \\(groups: site\\)"):
        audit_dataset(labelled, "scanner")


# -- leakage -------------------------------------------------------------------------------


def test_slice_level_split_inflates_the_test_auroc(labelled, one_thread):
    result = leakage_demo(labelled, LeakageConfig(fit=FAST, n_boot=200), seed=0)
    assert result.shared_subjects == 12  # every leaky test subject has training slices
    assert result.train_subjects["honest"] < result.train_subjects["leaky"] == 12
    assert result.n_images["leaky"] == result.n_images["honest"]
    assert result.inflation.value == pytest.approx(result.leaky.value - result.honest.value)
    assert result.inflation.value > 0.1 and result.inflation.low > 0, result.to_text()
    assert "inflation by leakage" in result.to_text()


# -- privacy gate --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped_data() -> tuple[MedicalImageDataset, MedicalImageDataset]:
    """brain-mri-dcgan-64's training set, and 16 virtual subjects it never saw."""
    return (
        load_dataset("builtin", 64, n_subjects=128),
        load_dataset("builtin", 64, n_subjects=16, seed=1),
    )


class Copycat(torch.nn.Module):
    """A "generator" that memorised its training set: ``f(n)`` returns training images."""

    def __init__(self, images: torch.Tensor, noise: float = 0.0) -> None:
        super().__init__()
        self.register_buffer("images", images)
        self.noise = noise

    def forward(self, n: int) -> torch.Tensor:
        x = self.images[torch.arange(n) * 37 % len(self.images)]
        noise = torch.randn(x.shape, generator=torch.Generator().manual_seed(0))
        return (x + self.noise * noise).clamp(-1, 1)


def test_privacy_gate_fails_a_memorizing_generator(shipped_data):
    train, holdout = shipped_data
    gate = privacy_gate(Copycat(train.images), train, holdout, n=64)
    assert not gate.publishable and gate.n_flagged == 64
    assert gate.reason.startswith("not publishable: 64 of 64 samples are near-copies")
    assert gate.pairs[0][2] == 0.0 and gate.pairs[0][1] == 0  # sample 0 is training image 0
    noisy = privacy_gate(Copycat(train.images, noise=0.03), train, holdout, n=64)
    assert not noisy.publishable  # copies with fresh scanner-like noise are still caught
    assert len(gate.plot(k=4).axes) == 8


def test_privacy_gate_passes_the_shipped_model(shipped_data):
    train, holdout = shipped_data
    gate = privacy_gate("brain-mri-dcgan-64", train, holdout, n=256)
    assert gate.publishable, gate.to_text()
    assert gate.reason == f"publishable: no near-copies at threshold {gate.threshold:.4g}"
    assert gate.threshold == pytest.approx(gate.result.reference.min())  # quantile 0
    assert min(d for _, _, d in gate.pairs) > gate.threshold
    assert json.loads(json.dumps(gate.to_dict()))["publishable"] is True
    strict = privacy_gate("brain-mri-dcgan-64", train, holdout, threshold=1e9, n=16)
    assert not strict.publishable and strict.n_flagged == 16 and "given" in strict.rule


# -- energy --------------------------------------------------------------------------------


def test_energy_estimate_arithmetic_and_assumptions():
    e = energy_estimate(3600, "h100")
    assert e.kwh == pytest.approx(700 * 3600 / 3.6e6) and e.kwh == pytest.approx(0.7)
    assert e.co2e_kg == pytest.approx(0.7 * 0.48)
    assert any("700 W" in a for a in e.assumptions)
    assert any("480 g CO2e/kWh" in a and "world-average" in a for a in e.assumptions)
    assert "not measured power" in e.to_text() and "PUE 1" in e.to_text()
    mine = energy_estimate(1800, power_w=100, carbon_g_per_kwh=50, pue=1.5)
    assert mine.kwh == pytest.approx(100 * 1.5 * 1800 / 3.6e6)
    assert mine.co2e_kg == pytest.approx(mine.kwh * 0.05)
    assert all("given by the caller" in mine.assumptions[i] for i in (0, 2))
    assert math.isclose(energy_estimate(3600).power_w, 20.0)  # the default: 2 CPU cores
    with pytest.raises(ValueError, match="unknown hardware 'tpu'"):
        energy_estimate(10, "tpu")


# -- CLI -----------------------------------------------------------------------------------


def test_cli_audit_end_to_end(labelled, tmp_path, capsys, one_thread):
    data = as_labelled(labelled)
    model = LesionClassifier(ClassifierConfig(image_size=32, width=4))
    quick = FitConfig(epochs=1, steps_per_epoch=4, precision="fp32")
    fit_classifier(model, data.pair(), data.pair(), quick)
    path = save_classifier(model, tmp_path / "clf.safetensors")
    args = ["audit", "--model", str(path), "--data", "builtin-labelled", "--n-subjects", "12"]
    assert main([*args, "--group", "site", "--bootstrap", "50", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    report = out["subgroups"]
    assert report["attribute"] == "site" and report["counts"] == {"A": 256, "B": 128}
    assert report["unit"] == "subjects" and 0 < report["n_boot"] <= 50
    assert set(report["by_group"]["A"]) == set(SUBGROUP_METRICS)
    assert out["dataset"]["subjects"] == {"A": 8, "B": 4} and out["dataset"]["warnings"]

    assert main([*args, "--bootstrap", "20"]) == 0
    text = capsys.readouterr().out
    assert "equalized-odds difference" in text and "prevalence shift" in text

    assert main([*args, "--group", "scanner"]) == 2
    err = capsys.readouterr().err
    assert "builtin-labelled: no group 'scanner' in its metadata (groups: site)" in err
