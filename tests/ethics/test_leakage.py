"""Tests of medgan_utils.ethics.leakage: slices of training subjects inflate the test AUROC."""

from __future__ import annotations

import pytest
import torch

from medgan_utils.downstream.fit import FitConfig
from medgan_utils.ethics.leakage import LeakageConfig, leakage_demo

# Fast settings for 32x32 images: 80 small steps, no augmentation (see leakage_demo).
FAST = FitConfig(
    epochs=5, steps_per_epoch=16, batch_size=16, patience=5, augment=False, precision="fp32"
)


def test_slices_of_training_subjects_inflate_the_test_auroc(labelled, one_thread):
    """One model, two test sets: withheld slices of its training subjects, and new subjects."""
    result = leakage_demo(labelled, LeakageConfig(fit=FAST, n_boot=200), seed=0)
    n = result.n_images
    assert result.train_subjects == round(0.4 * len({m.subject for m in labelled.meta}))
    assert n["train"] + n["leaky"] + n["val"] + n["honest"] == len(labelled)
    assert n["leaky"] == round(0.25 * (n["train"] + n["leaky"]))
    assert result.inflation.value == pytest.approx(result.leaky.value - result.honest.value)
    assert result.inflation.value > 0.1 and result.inflation.low > 0, result.to_text()
    assert "inflation by leakage" in result.to_text()
    torch.rand(7)  # whatever the global random state, the same seed repeats the demo
    again = leakage_demo(labelled, LeakageConfig(fit=FAST, n_boot=200), seed=0)
    assert again.leaky == result.leaky and again.honest == result.honest


def test_bad_withheld_share_is_named():
    with pytest.raises(ValueError, match="withheld must lie in"):
        LeakageConfig(withheld=1.0)
