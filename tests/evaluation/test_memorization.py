"""Tests of the near-copy check (medgan_utils.evaluation.memorization)."""

from __future__ import annotations

import json

from medgan_utils.evaluation.memorization import memorization, plot_closest_pairs


def test_memorization_flags_an_exact_training_image(real):
    train, fresh = real.images[:256], real.images[256:]  # subjects 0-7 and 8-15
    generated = fresh[:100].clone()
    generated[17] = train[40]
    result = memorization(generated, train, train_subjects=real.subjects[:256])
    assert result.flagged[17] and result.nearest[17] == 40 and result.distance[17] == 0
    # Real images of other subjects are rarely flagged (the chance rate is 1 %, noisy with
    # only 8 training subjects to calibrate on).
    assert result.share_flagged < 0.25
    assert "near-copies" in str(result) and json.dumps(result.summary())
    held = memorization(generated, train, fresh[100:], extractor="pixels-16")
    assert held.flagged[17] and held.calibration == "held-out real images"
    fig = plot_closest_pairs(result, generated, train, k=4)
    assert len(fig.axes) == 8 and "COPY" in fig.axes[0].get_title()
