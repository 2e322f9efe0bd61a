"""Tests of the fine-tuning experiments: labelled images, synthetic sources, the strategies,
their results and the CLI (medgan_utils.downstream; small and fast: 1-epoch runs)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch
from sklearn.metrics import roc_auc_score

from medgan_utils.cli import main
from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.data.load import load_dataset
from medgan_utils.data.slices import SliceMeta
from medgan_utils.downstream.classifier import (
    ClassifierConfig,
    LesionClassifier,
    load_classifier,
    predict,
    save_classifier,
)
from medgan_utils.downstream.config import STRATEGIES, FinetuneConfig
from medgan_utils.downstream.finetune import run_experiments
from medgan_utils.downstream.fit import FitConfig, fit_classifier
from medgan_utils.downstream.labelled import LabelledImages, as_labelled, sample_real, split_real
from medgan_utils.downstream.results import ExperimentResult, plot_auroc_vs_n, results_table
from medgan_utils.downstream.synthetic_sources import synthetic_images
from medgan_utils.errors import DataError
from medgan_utils.gan.models import DCGANConfig, Generator
from medgan_utils.gan.zoo import save_generator

SMALL = ClassifierConfig(width=8)
QUICK = FitConfig(epochs=1, batch_size=32, precision="fp32", steps_per_epoch=2, min_epochs=1)


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
def stand_in(toy) -> LabelledImages:
    """A "synthetic" stand-in: toy images, labelled like the real set (lesion = 1)."""
    x, y = toy(48, seed=5)
    return LabelledImages(x, y, np.array([f"synthetic:{i}" for i in range(len(y))]))


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


def test_bad_input_errors(toy, real, stand_in):
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
    ax = plot_auroc_vs_n(results).axes[0]
    assert ax.get_xlabel() == "real training images N"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == list(STRATEGIES)
    bands = [c for c in ax.collections if c.get_paths()]  # one 95% band per strategy
    assert len(bands) == len(STRATEGIES)
    low, high = by["mix"].metrics["auroc"].low, by["mix"].metrics["auroc"].high
    ys = bands[list(STRATEGIES).index("mix")].get_paths()[0].vertices[:, 1]
    assert ys.min() == pytest.approx(low) and ys.max() == pytest.approx(high)


def test_several_training_runs_per_cell(real, stand_in, tmp_path):
    config = FinetuneConfig(fit=QUICK, classifier=SMALL, n_bootstrap=50, runs=2, seed=3)
    strategies = ["real", "synthetic"]
    results = run_experiments(real, stand_in, [40], strategies, config, checkpoint_dir=tmp_path)
    one = run_experiments(real, stand_in, [40], strategies, replace(config, runs=1))
    for r, single in zip(results, one, strict=True):
        assert r.runs is not None and [run["seed"] for run in r.runs] == [3, 4]
        assert single.runs is None
        # the first run is the one-run cell (training seed 3); the value is the runs' mean
        assert r.runs[0]["auroc"] == pytest.approx(single.metrics["auroc"].value)
        mean = np.mean([run["auroc"] for run in r.runs])
        assert r.metrics["auroc"].value == pytest.approx(mean)
        assert r.metrics["auroc"].low <= r.metrics["auroc"].value <= r.metrics["auroc"].high
        again = ExperimentResult.from_dict(json.loads(json.dumps(r.to_dict())))
        assert again == r and "2 training runs" in r.to_text()
        for seed in (3, 4):
            assert (tmp_path / f"{r.strategy}-n40-seed{seed}.safetensors").exists()
    real_runs, syn_runs = results
    assert real_runs.runs[0]["auroc"] != real_runs.runs[1]["auroc"]  # seeds train differently
    assert syn_runs.vs_real is not None  # paired with the real-only run of the same seed
    assert "AUROC per run" in results_table(results).columns
    with pytest.raises(ValueError, match="runs must be an integer >= 1"):
        FinetuneConfig(runs=0)


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


# -- starting points -----------------------------------------------------------------


def test_parse_per_class():
    from medgan_utils.downstream.synthetic_sources import parse_per_class

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
    from medgan_utils.downstream.synthetic_sources import BUILTIN_SYNTHETIC
    from medgan_utils.gan.zoo import load_generator

    G, meta = load_generator(BUILTIN_SYNTHETIC["lesion"])
    assert G.config.num_classes == 0 and meta["only_class"] == "lesion"
    assert meta["data_options"]["seed"] != 0  # other virtual subjects than the chapters' real set
    syn = synthetic_images(BUILTIN_SYNTHETIC, FinetuneConfig(n_synthetic=32))
    assert syn.images.shape == (32, 1, 64, 64) and int(syn.targets.sum()) == 16
    model, info = load_classifier("lesion-classifier-synthetic")
    assert info["trained_on"] == "synthetic images only" and info["n_synthetic"] > 1000
    assert roc_auc_score(syn.targets.numpy(), predict(model, syn.images)) > 0.9


def test_training_on_synthetic_images_alone_never_sees_a_real_label(real, stand_in, monkeypatch):
    """``synthetic`` and ``pretrain``'s synthetic phase early-stop on held-out synthetic
    images; the strategies that train on real images stop on the real validation split."""
    from medgan_utils.downstream import finetune

    train, held = finetune.synthetic_holdout(stand_in, seed=0)
    assert len(train) + len(held) == len(stand_in)
    assert not set(train.subjects) & set(held.subjects)
    assert set(held.targets.tolist()) == {0, 1}  # both classes held out
    again = finetune.synthetic_holdout(stand_in, seed=0)[1]
    assert list(again.subjects) == list(held.subjects)
    with pytest.raises(DataError, match="class 1 has 1 image"):
        finetune.synthetic_holdout(
            stand_in.take(
                np.r_[
                    np.flatnonzero(stand_in.targets == 0), np.flatnonzero(stand_in.targets == 1)[:1]
                ]
            ),
            0,
        )

    seen: list[tuple[str, str]] = []  # (what it trained on, what it stopped on)
    synthetic_images = {float(x.sum()) for x in stand_in.images}

    def kind(images):
        return "synthetic" if float(images[0].sum()) in synthetic_images else "real"

    def record(model, train_pair, val_pair, fit):
        seen.append((kind(train_pair[0]), kind(val_pair[0])))
        return []

    monkeypatch.setattr(finetune, "fit_classifier", record)
    data = as_labelled(real)
    pool, val, _ = split_real(data, seed=0)
    config = FinetuneConfig(fit=QUICK, classifier=SMALL)
    for strategy in ("synthetic", "pretrain", "real"):
        seen.clear()
        finetune.train_strategy(strategy, sample_real(pool, 40, seed=0), val, stand_in, config)
        if strategy == "synthetic":
            assert seen == [("synthetic", "synthetic")]
        elif strategy == "pretrain":
            assert seen == [("synthetic", "synthetic"), ("real", "real")]
        else:
            assert seen == [("real", "real")]


def test_the_recorded_grid_ships_with_the_package_and_bad_files_are_named(tmp_path):
    from pathlib import Path

    import medgan_utils
    from medgan_utils.downstream.results import RECORDED_GRID, load_recorded_grid

    assert RECORDED_GRID.is_relative_to(Path(medgan_utils.__file__).parent)
    record, results = load_recorded_grid()
    assert record["mode"] == "full" and {r.strategy for r in results} == set(STRATEGIES)
    with pytest.raises(DataError, match="no recorded grid here"):
        load_recorded_grid(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text('{"results": [{"strategy": "real"}]}')
    with pytest.raises(DataError, match="not a recorded experiment grid"):
        load_recorded_grid(bad)
