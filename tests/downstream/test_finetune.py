"""Tests of medgan_utils.downstream.classifier and medgan_utils.downstream.finetune (small
and fast: 1-epoch runs)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, recall_score, roc_auc_score

from medgan_utils.cli import main
from medgan_utils.data.dataset import MedicalImageDataset, load_dataset
from medgan_utils.data.readers import SliceMeta
from medgan_utils.downstream.classifier import (
    ClassifierConfig,
    FitConfig,
    LesionClassifier,
    binary_metrics,
    bootstrap_metrics,
    bootstrap_resamples,
    fit_classifier,
    load_classifier,
    predict,
    save_classifier,
)
from medgan_utils.downstream.finetune import (
    STRATEGIES,
    FinetuneConfig,
    LabelledImages,
    as_labelled,
    plot_auroc_vs_n,
    run_experiments,
    sample_real,
    split_real,
    synthetic_images,
)
from medgan_utils.errors import DataError
from medgan_utils.gan.models import DCGANConfig, Generator
from medgan_utils.gan.zoo import save_generator

SMALL = ClassifierConfig(width=8)
QUICK = FitConfig(epochs=1, batch_size=32, precision="fp32", steps_per_epoch=2, min_epochs=1)


def toy(n: int, seed: int = 0, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise images; the positives carry a bright 12x12 square somewhere: easily separable."""
    g = torch.Generator().manual_seed(seed)
    x = -0.8 + 0.1 * torch.randn(n, 1, size, size, generator=g)
    y = (torch.arange(n) % 3 == 0).long()
    for i in torch.nonzero(y).flatten().tolist():
        r, c = (int(v) for v in torch.randint(8, size - 20, (2,), generator=g))
        x[i, :, r : r + 12, c : c + 12] += 1.5
    return x.clamp(-1, 1), y


def dataset(
    images: torch.Tensor, labels: torch.Tensor, per_subject: int = 4
) -> MedicalImageDataset:
    meta = [
        SliceMeta("toy", f"s{i // per_subject:03d}", i % per_subject) for i in range(len(images))
    ]
    return MedicalImageDataset(images, labels, meta, ["lesion", "no_lesion"])


@pytest.fixture(scope="module")
def real() -> MedicalImageDataset:
    return load_dataset("builtin-labelled", 64, n_subjects=12, seed=0)


@pytest.fixture(scope="module")
def stand_in() -> LabelledImages:
    """A "synthetic" stand-in: toy images, labelled like the real set (lesion = 1)."""
    x, y = toy(48, seed=5)
    return LabelledImages(x, y, np.array([f"synthetic:{i}" for i in range(len(y))]))


# -- the classifier --------------------------------------------------------------------


@pytest.mark.parametrize("width", [4, 8, 16])
def test_shapes(width):
    model = LesionClassifier(ClassifierConfig(width=width)).eval()
    assert model(torch.zeros(3, 1, 64, 64)).shape == (3,)
    assert model.stages(model.stem(torch.zeros(1, 1, 64, 64))).shape == (1, 8 * width, 4, 4)


def test_learns_a_separable_toy_task():
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


def test_early_stopping_stops_and_keeps_the_best_epoch():
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


def test_checkpoint_round_trip(tmp_path):
    model = LesionClassifier(SMALL).eval()
    x, _ = toy(8)
    path = save_classifier(model, tmp_path / "clf.safetensors", {"classes": ["a", "b"]})
    loaded, meta = load_classifier(path)
    assert loaded.config == SMALL and meta["classes"] == ["a", "b"]
    assert np.allclose(predict(model, x), predict(loaded, x), atol=1e-6)
    (tmp_path / "bad.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(DataError, match="not a classifier checkpoint"):
        load_classifier(tmp_path / "bad.safetensors")


# -- metrics and the bootstrap ---------------------------------------------------------


def noisy_scores(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    t = (np.arange(n) % 4 == 0).astype(int)
    return t, 1 / (1 + np.exp(-(2 * t - 1 + rng.normal(0, 1.2, n))))


def test_binary_metrics_match_scikit_learn():
    t, s = noisy_scores(200, 0)
    m, pred = binary_metrics(t, s), (s >= 0.5).astype(int)
    assert m["auroc"] == pytest.approx(roc_auc_score(t, s))
    assert m["accuracy"] == pytest.approx(accuracy_score(t, pred))
    assert m["sensitivity"] == pytest.approx(recall_score(t, pred, pos_label=1))
    assert m["specificity"] == pytest.approx(recall_score(t, pred, pos_label=0))


def test_bootstrap_ci_contains_the_estimate_and_narrows_with_more_data():
    widths = []
    for n in (80, 1600):
        t, s = noisy_scores(n, 1)
        groups = [f"s{i // 4}" for i in range(n)]  # 4 slices per subject
        metrics, diff = bootstrap_metrics(t, s, groups=groups, n_boot=300, seed=0)
        assert diff is None
        for e in metrics.values():
            assert e.low <= e.value <= e.high
        widths.append(metrics["auroc"].high - metrics["auroc"].low)
    assert widths[1] < widths[0] / 2


def test_paired_difference_with_itself_is_zero():
    t, s = noisy_scores(100, 2)
    resamples = bootstrap_resamples([f"s{i // 5}" for i in range(100)], 200, seed=0)
    assert all(len(np.unique(r // 5)) <= 20 for r in resamples)  # whole subjects
    _, diff = bootstrap_metrics(t, s, reference=s, resamples=resamples)
    assert diff is not None
    assert all((e.value, e.low, e.high) == (0, 0, 0) for e in diff.values())


# -- data handling and bad input -------------------------------------------------------


def test_split_and_subject_aware_stratified_sample(real):
    data = as_labelled(real)
    assert data.targets.float().mean() < 0.5  # lesion (class 0) is the positive minority
    pool, val, test = split_real(data, seed=0)
    assert not set(pool.subjects) & set(test.subjects) and not set(val.subjects) & set(
        test.subjects
    )
    for sampling in ("spread", "few-subjects"):
        small = sample_real(pool, 50, seed=0, sampling=sampling)
        assert len(small) == 50 and set(small.targets.tolist()) == {0, 1}
        assert abs(small.targets.float().mean() - pool.targets.float().mean()) < 0.05
    spread = len(set(sample_real(pool, 50, seed=0).subjects))
    few = len(set(small.subjects))
    assert few < spread == len(set(pool.subjects))  # 50 images: one or more from every subject
    assert sample_real(pool, None) is pool and sample_real(pool, len(pool)) is pool
    with pytest.raises(DataError, match=f"has {len(pool)} real images .* fewer than N=1000000"):
        sample_real(pool, 10**6)


def test_bad_input_errors(real, stand_in):
    x, _ = toy(8)
    with pytest.raises(DataError, match="single class"):
        as_labelled(dataset(x, torch.zeros(8, dtype=torch.long)))
    with pytest.raises(DataError, match="no class labels"):
        as_labelled(MedicalImageDataset(x, torch.full((8,), -1), dataset(x, x[:, 0, 0, 0]).meta))
    empty = MedicalImageDataset(
        torch.zeros(0, 1, 64, 64), torch.zeros(0, dtype=torch.long), [], ["lesion", "no_lesion"]
    )
    with pytest.raises(DataError, match="synthetic set: is empty"):
        synthetic_images(empty)
    small_x, small_y = toy(16, size=32)
    with pytest.raises(DataError, match="takes 1x64x64"):
        fit_classifier(LesionClassifier(SMALL), (small_x, small_y), (small_x, small_y), QUICK)
    with pytest.raises(DataError, match="takes 1x64x64"):
        run_experiments(dataset(small_x, 1 - small_y), None, [8], ["real"])
    with pytest.raises(DataError, match="conditioned on 2 classes"):
        synthetic_images(Generator(DCGANConfig(image_size=64, width=8)))
    with pytest.raises(DataError, match="need --synthetic"):
        run_experiments(real, None, [40], ["mix"])


def test_conditional_generator_gives_balanced_classes():
    G = Generator(DCGANConfig(image_size=64, num_classes=2, width=8))
    syn = synthetic_images(G, FinetuneConfig(n_synthetic=10))
    assert syn.images.shape == (10, 1, 64, 64) and syn.targets.sum() == 5


# -- end to end ------------------------------------------------------------------------


def test_every_strategy_end_to_end(real, stand_in, tmp_path):
    config = FinetuneConfig(
        fit=QUICK, classifier=SMALL, pretrain_epochs=1, n_bootstrap=50, mix_ratio=0.5
    )
    results = run_experiments(real, stand_in, [40], STRATEGIES, config, checkpoint_dir=tmp_path)
    assert [r.strategy for r in results] == list(STRATEGIES)
    for r in results:
        assert r.n_real == 40 and r.n_test_subjects >= 2 and r.epochs == 1
        assert all(0 <= e.low <= e.value <= e.high <= 1 for e in r.metrics.values())
        assert (r.vs_real is None) == (r.strategy == "real")
        json.dumps(r.to_dict())
        assert (tmp_path / f"{r.strategy}-n40.safetensors").exists()
    by = {r.strategy: r for r in results}
    assert by["mix"].n_synthetic == 20 and by["pretrain"].n_synthetic == 48
    assert plot_auroc_vs_n(results).axes[0].get_xlabel() == "real training images N"


def test_cli_json(real, tmp_path, capsys):
    folder = save_generator(
        Generator(DCGANConfig(image_size=64, num_classes=2, width=8)),
        DCGANConfig(image_size=64, num_classes=2, width=8),
        tmp_path / "cdcgan",
        {"classes": ["lesion", "no_lesion"]},
    )
    argv = ["finetune", "--real", "builtin-labelled", "--n-subjects", "12", "--synthetic"]
    argv += [str(folder), "--n-real", "40", "--strategy", "synthetic", "--epochs", "1"]
    assert main([*argv, "--n-synthetic", "32", "--bootstrap", "20", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert [r["strategy"] for r in out["results"]] == ["real", "synthetic"]
    assert set(out["results"][1]["vs_real"]) == {"auroc", "accuracy", "sensitivity", "specificity"}
    assert main(["finetune", "--real", str(tmp_path / "missing"), "--n-real", "40"]) == 2
    assert "no such file" in capsys.readouterr().err


# -- small-N training, thresholds, starting points -------------------------------------


def test_balanced_batches_hold_both_classes_equally():
    from medgan_utils.downstream.classifier import _batches

    y = (torch.arange(50) % 10 == 0).float()  # 5 positives in 50
    batches = _batches(y, 32, 25, balanced=True, g=torch.Generator().manual_seed(0))
    assert len(batches) == 25 and all(len(b) == 32 and y[b].sum() == 16 for b in batches)
    plain = _batches(y, 32, 25, balanced=False, g=torch.Generator().manual_seed(0))
    assert len(plain) == 25 and all(len(b) >= 2 for b in plain)
    assert sum(int(y[b].sum()) for b in plain) < 25 * 16 / 2  # unbalanced: mostly negatives


def test_youden_threshold_becomes_half():
    from sklearn.metrics import roc_curve

    from medgan_utils.downstream.classifier import set_youden_threshold

    x, y = toy(90, seed=2)
    torch.manual_seed(0)
    model = LesionClassifier(SMALL).eval()
    fpr, tpr, _ = roc_curve(y.numpy(), predict(model, x))
    set_youden_threshold(model, x, y)
    m = binary_metrics(y.numpy(), predict(model, x))
    assert m["sensitivity"] + m["specificity"] - 1 == pytest.approx(max(tpr - fpr))


def test_parse_per_class():
    from medgan_utils.downstream.finetune import parse_per_class

    assert parse_per_class("lesion=a, no_lesion=b") == {"lesion": "a", "no_lesion": "b"}
    for bad in ("lesion=a", "lesion=a,no_lesion", "=a,b=c"):
        with pytest.raises(ValueError, match="CLASS=MODEL"):
            parse_per_class(bad)


def test_pretrain_from_a_saved_classifier_needs_no_synthetic_set(real, tmp_path):
    start = LesionClassifier(SMALL)
    path = save_classifier(start, tmp_path / "start.safetensors", {"n_synthetic": 123})
    config = FinetuneConfig(fit=QUICK, classifier=SMALL, n_bootstrap=20, pretrained=str(path))
    results = run_experiments(real, None, [40], ["pretrain"], config)
    assert [r.strategy for r in results] == ["real", "pretrain"]
    assert results[1].n_synthetic == 123
    big = save_classifier(
        LesionClassifier(ClassifierConfig(image_size=32, width=4)), tmp_path / "b"
    )
    with pytest.raises(DataError, match="takes 32x32 images"):
        run_experiments(real, None, [40], ["pretrain"], FinetuneConfig(pretrained=str(big)))


def test_imagenet_start_says_what_it_needs():
    import importlib.util

    from medgan_utils.downstream.finetune import start_from

    if importlib.util.find_spec("torchvision") is None:  # this machine: no torchvision
        with pytest.raises(RuntimeError, match="needs torchvision"):
            start_from("imagenet", SMALL)
    else:  # Colab: the architecture (weights are downloaded only with imagenet=True)
        model = LesionClassifier(ClassifierConfig(arch="resnet18-imagenet")).eval()
        assert model(torch.zeros(2, 1, 64, 64)).shape == (2,)


def test_shipped_pair_and_classifier():
    from medgan_utils.downstream.finetune import BUILTIN_SYNTHETIC
    from medgan_utils.gan.zoo import load_generator

    G, meta = load_generator(BUILTIN_SYNTHETIC["lesion"])
    assert G.config.num_classes == 0 and meta["only_class"] == "lesion"
    assert meta["data_options"]["seed"] != 0  # other virtual subjects than the chapters' real set
    syn = synthetic_images(BUILTIN_SYNTHETIC, FinetuneConfig(n_synthetic=32))
    assert syn.images.shape == (32, 1, 64, 64) and int(syn.targets.sum()) == 16
    model, info = load_classifier("lesion-classifier-synthetic")
    assert info["trained_on"] == "synthetic images only" and info["n_synthetic"] > 1000
    assert roc_auc_score(syn.targets.numpy(), predict(model, syn.images)) > 0.9
