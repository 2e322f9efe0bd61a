"""Tests of the lesion classifier (medgan_utils.downstream.classifier) and its training
(medgan_utils.downstream.fit): small and fast, a few steps each."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from medgan_utils.downstream.classifier import (
    ClassifierConfig,
    LesionClassifier,
    load_classifier,
    predict,
    save_classifier,
)
from medgan_utils.downstream.fit import FitConfig, fit_classifier
from medgan_utils.errors import DataError
from medgan_utils.stats import binary_metrics

SMALL = ClassifierConfig(width=8)


# -- the classifier --------------------------------------------------------------------


@pytest.mark.parametrize("width", [4, 8, 16])
def test_shapes(width):
    model = LesionClassifier(ClassifierConfig(width=width)).eval()
    assert model(torch.zeros(3, 1, 64, 64)).shape == (3,)
    assert model.stages(model.stem(torch.zeros(1, 1, 64, 64))).shape == (1, 8 * width, 4, 4)


def test_learns_a_separable_toy_task(toy):
    x, y = toy(240)
    xv, yv = toy(90, seed=1)
    model = LesionClassifier(SMALL)
    history = fit_classifier(
        model, (x, y), (xv, yv), FitConfig(epochs=6, patience=6, steps_per_epoch=8)
    )
    assert 1 <= len(history) <= 6 and not model.training
    assert history[-1]["loss"] < history[0]["loss"]  # the loss falls
    scores = predict(model, xv)
    assert scores.shape == (90,) and 0 <= scores.min() and scores.max() <= 1
    assert roc_auc_score(yv.numpy(), scores) > 0.9


def test_early_stopping_stops_and_keeps_the_best_epoch(toy):
    x, y = toy(64)
    xv, _ = toy(32, seed=1)
    yv = torch.arange(32) % 2  # random with respect to the images: nothing to learn
    model = LesionClassifier(SMALL)
    history = fit_classifier(
        model, (x, y), (xv, yv), FitConfig(epochs=40, patience=2, min_epochs=1, steps_per_epoch=2)
    )
    assert len(history) < 40
    best = max(h["val_auroc"] for h in history)
    assert roc_auc_score(yv.numpy(), predict(model, xv)) == pytest.approx(best)


def test_checkpoint_round_trip(toy, tmp_path):
    model = LesionClassifier(SMALL).eval()
    x, _ = toy(8)
    path = save_classifier(model, tmp_path / "clf.safetensors", {"classes": ["a", "b"]})
    loaded, meta = load_classifier(path)
    assert loaded.config == SMALL and meta["classes"] == ["a", "b"]
    assert np.allclose(predict(model, x), predict(loaded, x), atol=1e-6)
    (tmp_path / "bad.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="not a classifier checkpoint"):
        load_classifier(tmp_path / "bad.safetensors")


# -- small-N training and thresholds ---------------------------------------------------


def test_balanced_batches_hold_both_classes_equally():
    from medgan_utils.downstream.fit import _batches

    y = (torch.arange(50) % 10 == 0).float()  # 5 positives in 50
    batches = _batches(y, 32, 25, balanced=True, g=torch.Generator().manual_seed(0))
    assert len(batches) == 25 and all(len(b) == 32 and y[b].sum() == 16 for b in batches)
    plain = _batches(y, 32, 25, balanced=False, g=torch.Generator().manual_seed(0))
    assert len(plain) == 25 and all(len(b) >= 2 for b in plain)
    assert sum(int(y[b].sum()) for b in plain) < 25 * 16 / 2  # unbalanced: mostly negatives


def test_youden_threshold_becomes_half(toy):
    from sklearn.metrics import roc_curve

    from medgan_utils.downstream.fit import set_youden_threshold

    x, y = toy(90, seed=2)
    torch.manual_seed(0)
    model = LesionClassifier(SMALL).eval()
    fpr, tpr, _ = roc_curve(y.numpy(), predict(model, x))
    set_youden_threshold(model, x, y)
    m = binary_metrics(y.numpy(), predict(model, x))
    assert m["sensitivity"] + m["specificity"] - 1 == pytest.approx(max(tpr - fpr))
