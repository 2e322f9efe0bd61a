"""Tests of medgan_utils.ethics.leakage: a slice-level split inflates the test AUROC."""

from __future__ import annotations

import pytest

from medgan_utils.downstream.fit import FitConfig
from medgan_utils.ethics.leakage import LeakageConfig, leakage_demo

# Fast settings for 32x32 images: 80 small steps, no augmentation (see leakage_demo).
FAST = FitConfig(
    epochs=5, steps_per_epoch=16, batch_size=16, patience=5, augment=False, precision="fp32"
)


def test_slice_level_split_inflates_the_test_auroc(labelled, one_thread):
    result = leakage_demo(labelled, LeakageConfig(fit=FAST, n_boot=200), seed=0)
    assert result.shared_subjects == 12  # every leaky test subject has training slices
    assert result.train_subjects["honest"] < result.train_subjects["leaky"] == 12
    assert result.n_images["leaky"] == result.n_images["honest"]
    assert result.inflation.value == pytest.approx(result.leaky.value - result.honest.value)
    assert result.inflation.value > 0.1 and result.inflation.low > 0, result.to_text()
    assert "inflation by leakage" in result.to_text()
