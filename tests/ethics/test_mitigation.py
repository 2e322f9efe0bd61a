"""Tests of medgan_utils.ethics.mitigation: the site-gap experiment on tiny settings."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from medgan_utils.data.load import load_dataset
from medgan_utils.downstream.classifier import ClassifierConfig
from medgan_utils.downstream.config import FinetuneConfig
from medgan_utils.downstream.fit import FitConfig
from medgan_utils.downstream.labelled import LabelledImages
from medgan_utils.downstream.synthetic_sources import BUILTIN_SYNTHETIC
from medgan_utils.errors import DataError
from medgan_utils.ethics.mitigation import mitigation_experiment, select_like_group

FAST = FitConfig(epochs=1, min_epochs=1, steps_per_epoch=2, precision="fp32")


@pytest.fixture(scope="module")
def real():
    return load_dataset("builtin-labelled", 64, n_subjects=48, seed=0)


def test_the_encoder_tells_the_sites_apart(real):
    sites = np.array([m.groups["site"] for m in real.meta])
    is_b = select_like_group(real.images, "B")
    assert is_b.shape == (len(real),) and is_b.dtype == bool
    assert (is_b == (sites == "B")).mean() > 0.9
    assert ((~is_b) == select_like_group(real.images, "A")).mean() > 0.99
    with pytest.raises(ValueError, match="sites 'A' and 'B'"):
        select_like_group(real.images[:2], "C")


def test_experiment_reports_both_models_and_a_paired_gap_change(real):
    config = FinetuneConfig(
        fit=FAST, classifier=ClassifierConfig(width=4), n_synthetic=400, n_bootstrap=60
    )
    result = mitigation_experiment(real, BUILTIN_SYNTHETIC, config=config)
    assert 2 <= result.n_added <= result.n_candidates == 400
    for report in (result.before, result.after):
        assert set(report.counts) == {"A", "B"} and report.attribute == "site"
    assert set(result.gap_change) == {"auroc", "sensitivity", "specificity"}
    for m, e in result.gap_change.items():
        assert e.low <= e.value <= e.high
        assert e.value == pytest.approx(result.after.gaps[m].value - result.before.gaps[m].value)
    assert "change of the gap" in result.to_text()


def test_bad_input(real):
    x = torch.zeros(4, 1, 64, 64)
    one_class = LabelledImages(x, torch.zeros(4, dtype=torch.long), np.array(["s"] * 4))
    with pytest.raises(DataError):
        mitigation_experiment(real, one_class)
    with pytest.raises(DataError, match="has no 'scanner' group"):
        mitigation_experiment(real, BUILTIN_SYNTHETIC, group="scanner")
