from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from medgan_utils.data.dataset import MedicalImageDataset, load_dataset
from medgan_utils.errors import DataError
from medgan_utils.evaluation.metrics import (
    Score,
    diversity,
    evaluate,
    frechet_distance,
    frechet_distance_from_stats,
    kernel_distance,
    memorization,
    plot_closest_pairs,
    precision_recall,
)
from medgan_utils.gan.models import DCGANConfig, Generator
from medgan_utils.gan.zoo import DEFAULT_MODEL, list_models


@pytest.fixture(scope="module")
def real() -> MedicalImageDataset:
    """512 built-in slices (16 subjects) at 64 px; not the shipped model's training set."""
    return load_dataset("builtin", 64, n_subjects=16, seed=5)


def gaussian(n: int, mean: np.ndarray, cov: np.ndarray, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).multivariate_normal(mean, cov, size=n)


# --------------------------------------------------------------------------- FID and KID


def test_fid_of_a_set_with_itself_is_zero():
    x = gaussian(300, np.zeros(8), np.eye(8), seed=0)
    assert abs(frechet_distance(x, x)) < 1e-8
    assert abs(frechet_distance(torch.from_numpy(x), x)) < 1e-8


def test_fid_matches_the_closed_form_for_gaussians():
    mu1, mu2 = np.array([0.0, 1.0, -1.0]), np.array([1.0, 0.0, 0.5])
    a, b = np.array([1.0, 2.0, 0.5]), np.array([3.0, 0.5, 0.5])
    # diagonal covariances: tr(S1 + S2 - 2 (S1 S2)^½) = sum (sqrt a - sqrt b)²
    exact = np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2)
    got = frechet_distance_from_stats(mu1, np.diag(a), mu2, np.diag(b))
    assert got == pytest.approx(exact, rel=1e-10)
    # full covariances, estimated from samples
    rng = np.random.default_rng(1)
    q1, q2 = rng.normal(size=(3, 3)), rng.normal(size=(3, 3))
    s1, s2 = q1 @ q1.T + np.eye(3), q2 @ q2.T + np.eye(3)
    r1 = np.linalg.cholesky(s1)
    root = np.linalg.eigvals(s1 @ s2)  # (S1 S2)^½ has eigenvalues sqrt(eig(S1 S2))
    exact = np.sum((mu1 - mu2) ** 2) + np.trace(s1 + s2) - 2 * np.sqrt(root.real).sum()
    assert frechet_distance_from_stats(mu1, s1, mu2, s2) == pytest.approx(exact, rel=1e-8)
    assert np.allclose(r1 @ r1.T, s1)
    x, y = gaussian(20_000, mu1, s1, 2), gaussian(20_000, mu2, s2, 3)
    assert frechet_distance(x, y) == pytest.approx(exact, rel=0.05)


def test_fid_agrees_with_torchmetrics():
    tm = pytest.importorskip("torchmetrics.image.fid")
    if not hasattr(tm, "_compute_fid"):
        pytest.skip("torchmetrics changed its private FID helper")
    x, y = gaussian(400, np.zeros(16), np.eye(16), 0), gaussian(400, np.ones(16), np.eye(16) * 2, 1)
    stats = [torch.from_numpy(v) for v in (x.mean(0), np.cov(x.T), y.mean(0), np.cov(y.T))]
    assert frechet_distance(x, y) == pytest.approx(float(tm._compute_fid(*stats)), rel=1e-6)


def test_fid_refuses_fewer_images_than_dimensions():
    x = gaussian(50, np.zeros(64), np.eye(64), 0)
    with pytest.raises(ValueError, match="KID"):
        frechet_distance(x, x)


def test_kid_is_about_zero_for_one_distribution_and_grows_with_a_shift():
    x = gaussian(1000, np.zeros(16), np.eye(16), 0)
    same, sd = kernel_distance(x, gaussian(1000, np.zeros(16), np.eye(16), 1), n_subsets=20)
    assert abs(same) < 3 * sd + 1e-3
    small = kernel_distance(x, gaussian(1000, np.full(16, 0.3), np.eye(16), 2), n_subsets=20)[0]
    large = kernel_distance(x, gaussian(1000, np.full(16, 1.0), np.eye(16), 3), n_subsets=20)[0]
    assert abs(same) < small < large


# --------------------------------------------------------------------------- precision, recall


def test_precision_recall_of_identical_and_disjoint_sets():
    x = gaussian(300, np.zeros(4), np.eye(4), 0)
    assert precision_recall(x, x) == (1.0, 1.0)
    far = gaussian(300, np.full(4, 50.0), np.eye(4), 1)
    assert precision_recall(x, far) == (0.0, 0.0)
    # a fake set that covers a quarter of the real one: high precision, low recall
    part = x[np.argsort(x[:, 0])[-75:]]
    p, r = precision_recall(x, part)
    assert p == 1.0 and r < 0.6


# --------------------------------------------------------------------------- diversity


def test_diversity_is_one_for_copies_and_lower_for_different_images(real):
    same = real.images[:1].repeat(8, 1, 1, 1)
    value, name = diversity(same, n_pairs=16)
    assert value == pytest.approx(1.0, abs=1e-4) and name == "MS-SSIM (3 scales)"
    assert diversity(real.images, n_pairs=64)[0] < 0.9
    assert diversity(real.images[:8, :, ::2, ::2], n_pairs=8)[1] == "MS-SSIM (2 scales)"


# --------------------------------------------------------------------------- memorization


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


# --------------------------------------------------------------------------- reports


def test_score_prints_its_floor():
    s = Score("domain FID", 23.14, 4.2, 500, "domain")
    assert str(s) == "domain FID 23.1 (real-vs-real floor 4.2, n=500)"
    kid = Score("KID", 0.0123, 0.0004, 500, "domain", std=0.001, floor_std=0.0002)
    assert str(kid) == "KID 0.0123 ± 0.001 (real-vs-real floor 0.0004 ± 0.0002, n=500)"
    assert "real-vs-real 0.8," in str(Score("precision", 0.7, 0.8, 9, "x", higher_is_better=True))


def test_shipped_model_beats_an_untrained_generator(real):
    assert DEFAULT_MODEL in list_models(), "the shipped generator's weights are missing"
    shipped = evaluate(real, DEFAULT_MODEL, n=256)
    torch.manual_seed(0)
    untrained = evaluate(real, Generator(DCGANConfig()), n=256, check_memorization=False)
    fid, bad = shipped.scores["fid"], untrained.scores["fid"]
    assert fid.name == "domain FID" and fid.n == 256 and fid.floor == bad.floor
    assert fid.value < 0.5 * bad.value and fid.value < 20 * fid.floor
    assert shipped.scores["precision"].value > untrained.scores["precision"].value
    assert shipped.memorization is not None and shipped.memorization.share_flagged < 0.1
    text = shipped.to_text()
    assert "real-vs-real floor" in text and "not comparable" in text
    assert json.loads(json.dumps(shipped.to_dict()))["scores"]["fid"]["value"] == fid.value


def test_evaluate_tensors_and_small_sets(real):
    with pytest.warns(UserWarning, match="FID skipped"):
        report = evaluate(real.images[:200], real.images[200:300], n=150, extractor="pixels")
    assert "fid" not in report.scores and "kid" in report.scores
    assert report.n == 100  # the floor needs two disjoint real subsets of n
    assert any("used n=100" in note for note in report.notes)
    assert any("split by image" in note for note in report.notes)


def test_evaluate_rejects_bad_input(real, tmp_path):
    x = real.images[:64]
    with pytest.raises(ValueError, match="one size and channel count"):
        evaluate(x, x[:, :, ::2, ::2], extractor="pixels", check_memorization=False)
    with pytest.raises(ValueError, match="one size and channel count"):
        evaluate(x, x.repeat(1, 3, 1, 1), extractor="pixels", check_memorization=False)
    nan = x.clone()
    nan[3, 0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        evaluate(x, nan, extractor="pixels")
    with pytest.raises(ValueError, match="not a model"):
        evaluate(Generator(DCGANConfig()), x, extractor="pixels")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        evaluate(tmp_path / "empty", x, extractor="pixels")
