"""Does synthetic data help a lesion classifier? Four strategies on one held-out test set.

The strategies (:func:`train_strategy`) and the experiment grid (:func:`run_experiments`);
their data come from :mod:`~medgan_utils.downstream.labelled` and
:mod:`~medgan_utils.downstream.synthetic_sources`, their settings from
:mod:`~medgan_utils.downstream.config`, their results go to
:mod:`~medgan_utils.downstream.results`.

For each number ``N`` of real training images (50, 100, 200, 500 and all):

- ``real``: train on the ``N`` real images only (the reference);
- ``pretrain``: train on the synthetic set (or start from a classifier already trained on
  it, ``FinetuneConfig.pretrained``, e.g. the shipped ``lesion-classifier-synthetic``), then
  fine-tune all layers on the ``N`` real images with a lower learning rate;
- ``mix``: train on the ``N`` real images plus ``mix_ratio * N`` synthetic ones;
- ``synthetic``: train on synthetic images only (independent of ``N``; repeated in each row so
  that its paired difference to real-only at that ``N`` is reported).

Protocol (:func:`run_experiments`):

- The real set is split once by subject (:func:`~medgan_utils.downstream.labelled.split_real`,
  default 60/20/20 %) into a training pool, a validation split and a test split: no subject is
  in two.
- The ``N`` training images are drawn from the pool by
  :func:`~medgan_utils.downstream.labelled.sample_real`: class-stratified (both classes, in
  the pool's proportions) and subject-aware: by default spread over as many training
  subjects as possible (``sampling="few-subjects"`` takes whole subjects).
- Early stopping (and the decision threshold) uses the **held-out validation split**, the
  same for every ``N`` and every strategy that trains on real images (so the comparisons are
  fair; note that it is labelled data beyond ``N``). Training on synthetic images alone
  (``synthetic``, and ``pretrain``'s synthetic phase) early-stops on a held-out fifth of the
  *synthetic* set instead (:func:`synthetic_holdout`): a classifier said to be trained on
  synthetic data only sees no real label, not even for stopping.
- Every strategy is tested on the same test split. Confidence intervals are percentile
  bootstraps over **test subjects** (a cluster bootstrap: slices of one subject are
  correlated, so resampling slices would give too narrow intervals); the paired difference to
  real-only applies the same resamples to both strategies' predictions.
- With ``FinetuneConfig.runs`` > 1 every cell is trained once per training seed (its own
  ``N`` images, initial weights, batches and synthetic hold-out); the value is the mean over
  runs and the interval a two-level bootstrap over test subjects and runs (each resample
  scored with one run drawn at random, paired with the real-only run of the same seed), so
  it includes the randomness of training.

Example:
    >>> results = run_experiments(load_dataset("builtin-labelled"), "runs/cdcgan",
    ...                           n_values=(50, 100, None))            # doctest: +SKIP
    >>> results_table(results)  # from medgan_utils.downstream.results  # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Subset

from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.downstream.classifier import (
    ClassifierConfig,
    LesionClassifier,
    check_images,
    load_classifier,
    predict,
    save_classifier,
)
from medgan_utils.downstream.config import STRATEGIES, FinetuneConfig
from medgan_utils.downstream.fit import fit_classifier
from medgan_utils.downstream.labelled import (
    LabelledImages,
    as_labelled,
    balanced_sample,
    sample_real,
    split_real,
)
from medgan_utils.downstream.results import ExperimentResult
from medgan_utils.downstream.synthetic_sources import synthetic_images
from medgan_utils.errors import DataError
from medgan_utils.stats import binary_metrics, bootstrap_metrics, bootstrap_resamples

__all__ = ["train_strategy", "start_from", "run_experiments", "synthetic_holdout"]


def _needs_synthetic(strategy: str, config: FinetuneConfig) -> bool:
    return strategy != "real" and not (strategy == "pretrain" and config.pretrained is not None)


def start_from(pretrained: str, classifier: ClassifierConfig) -> tuple[LesionClassifier, int]:
    """The starting classifier of ``pretrain`` and the synthetic images it was trained on.

    Args:
        pretrained: ``"imagenet"``, a shipped classifier name or a checkpoint path.
        classifier: the architecture the experiment expects (its ``image_size`` must match).

    Raises:
        DataError: a checkpoint for another image size.
        RuntimeError: ``"imagenet"`` without a working torchvision.
    """
    if pretrained == "imagenet":
        config = replace(classifier, arch="resnet18-imagenet")
        return LesionClassifier(config, imagenet=True), 0
    model, meta = load_classifier(pretrained)
    if model.config.image_size != classifier.image_size:
        raise DataError(
            pretrained,
            f"takes {model.config.image_size}x{model.config.image_size} images, the "
            f"experiment uses {classifier.image_size}",
        )
    return model, int(meta.get("n_synthetic", 0))


def synthetic_holdout(
    synthetic: LabelledImages, seed: int, share: float = 0.2
) -> tuple[LabelledImages, LabelledImages]:
    """Split a synthetic set into training images and a held-out ``share`` for early stopping
    and the threshold, stratified by class (seeded), so that training on synthetic images
    alone never looks at a real label.

    Raises:
        DataError: a class has fewer than 2 images (nothing to hold out).
    """
    rng = np.random.default_rng(seed)
    t = synthetic.targets.numpy()
    held: list[np.ndarray] = []
    for label in (0, 1):
        idx = rng.permutation(np.flatnonzero(t == label))
        if len(idx) < 2:
            raise DataError(
                "synthetic set", f"class {label} has {len(idx)} image(s); hold-out needs 2 or more"
            )
        held.append(idx[: max(1, round(share * len(idx)))])
    out = np.sort(np.concatenate(held))
    keep = np.setdiff1d(np.arange(len(t)), out)
    return synthetic.take(keep), synthetic.take(out)


def train_strategy(
    strategy: str,
    real: LabelledImages,
    val: LabelledImages,
    synthetic: LabelledImages | None = None,
    config: FinetuneConfig | None = None,
) -> tuple[LesionClassifier, list[dict[str, float]], int]:
    """Train one classifier with ``strategy`` on the real images and/or synthetic ones.

    Returns:
        The model (best validation epoch, eval mode), the history of its last phase and the
        number of synthetic images used.
    """
    config = config or FinetuneConfig()
    if strategy not in STRATEGIES:
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    if _needs_synthetic(strategy, config) and synthetic is None:
        raise DataError("synthetic set", f"strategy {strategy!r} needs a synthetic set")
    fit = replace(config.fit, seed=config.seed)
    torch.manual_seed(config.seed)  # every strategy starts from the same initial weights
    model = LesionClassifier(config.classifier)
    if strategy == "real":
        return model, fit_classifier(model, real.pair(), val.pair(), fit), 0
    if strategy == "pretrain" and config.pretrained is not None:
        model, n_syn = start_from(config.pretrained, config.classifier)
        history = fit_classifier(
            model, real.pair(), val.pair(), replace(fit, lr=config.finetune_lr)
        )
        return model, history, n_syn
    assert synthetic is not None
    if strategy == "synthetic":
        syn_train, syn_val = synthetic_holdout(synthetic, config.seed)
        return model, fit_classifier(model, syn_train.pair(), syn_val.pair(), fit), len(synthetic)
    if strategy == "pretrain":
        syn_train, syn_val = synthetic_holdout(synthetic, config.seed)
        fit_classifier(
            model, syn_train.pair(), syn_val.pair(), replace(fit, epochs=config.pretrain_epochs)
        )
        history = fit_classifier(
            model, real.pair(), val.pair(), replace(fit, lr=config.finetune_lr)
        )
        return model, history, len(synthetic)
    extra = balanced_sample(synthetic, round(config.mix_ratio * len(real)), config.seed)
    mixed = LabelledImages.concat(real, extra)
    return model, fit_classifier(model, mixed.pair(), val.pair(), fit), len(extra)


def run_experiments(
    real: MedicalImageDataset | Subset | LabelledImages,
    synthetic: Any = None,
    n_values: Sequence[int | None] = (50, 100, 200, 500, None),
    strategies: Sequence[str] = STRATEGIES,
    config: FinetuneConfig | None = None,
    checkpoint_dir: str | Path | None = None,
) -> list[ExperimentResult]:
    """Run every strategy for every ``N`` on one subject-level split (see the module doc).

    Args:
        real: the labelled real set.
        synthetic: any source
            :func:`~medgan_utils.downstream.synthetic_sources.synthetic_images` accepts (not
            needed for ``real``).
        n_values: real training images per row; ``None`` means the whole training pool.
        strategies: which strategies to run; ``real`` always runs, as the reference.
        checkpoint_dir: write each classifier as ``<strategy>-n<N>.safetensors`` there.

    Returns:
        One :class:`ExperimentResult` per (N, strategy), rows in ``n_values`` order.
    """
    from tqdm.auto import tqdm

    config = config or FinetuneConfig()
    classes = list(getattr(getattr(real, "dataset", real), "classes", ["lesion", "no_lesion"]))
    data = as_labelled(real, config.positive_class, "real set")
    check_images(data.images, config.classifier, "real set")
    pool, val, test = split_real(data, config.fractions, config.seed)
    order = ["real", *[s for s in strategies if s != "real"]]
    for s in order:
        if s not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}, got {s!r}")
    syn = None
    needs = [s for s in order if _needs_synthetic(s, config)]
    if needs:
        if synthetic is None:
            raise DataError("synthetic set", f"strategies {needs} need --synthetic")
        syn = synthetic_images(synthetic, config, classes)
        check_images(syn.images, config.classifier, "synthetic set")
        if set(syn.subjects) & set(test.subjects):
            warnings.warn(
                "the synthetic set shares subjects with the real test split (a real set as "
                "stand-in?): its results are optimistic",
                stacklevel=2,
            )
    resamples = bootstrap_resamples(test.subjects, config.n_bootstrap, config.seed)
    targets = test.targets.numpy()
    seeds = [config.seed + k for k in range(config.runs)]  # training seeds
    results, cache = [], {}
    runs = [(n, s) for n in n_values for s in order]
    for n, strategy in tqdm(runs, desc="experiments", disable=not config.fit.progress):
        cells = []  # (cache key, the N real images) of each training run
        for seed in seeds:
            train = sample_real(pool, n, seed, config.sampling)
            key = (strategy, None if strategy == "synthetic" else len(train), seed)
            if key not in cache:
                run_config = replace(config, seed=seed)
                model, history, n_syn = train_strategy(strategy, train, val, syn, run_config)
                cache[key] = (predict(model, test.images), len(history), n_syn)
                if checkpoint_dir is not None:
                    info = {"strategy": strategy, "n_real": len(train), "classes": classes}
                    run = "" if config.runs == 1 else f"-seed{seed}"
                    save_classifier(
                        model,
                        Path(checkpoint_dir) / f"{strategy}-n{n or 'all'}{run}.safetensors",
                        {**info, "seed": seed, "history": history},
                    )
            cells.append((key, train))
        scores = np.stack([cache[key][0] for key, _ in cells])
        reference = (
            np.stack([cache[("real", len(train), key[2])][0] for key, train in cells])
            if strategy != "real"
            else None
        )
        metrics, diff = bootstrap_metrics(targets, scores, reference, resamples, seed=config.seed)
        (key, train), (_, epochs, n_syn) = cells[0], cache[cells[0][0]]
        per_run = None
        if config.runs > 1:
            per_run = [
                {
                    "seed": key[2],
                    "epochs": cache[key][1],
                    "n_subjects": len(set(train.subjects)),
                    **binary_metrics(targets, cache[key][0]),
                }
                for key, train in cells
            ]
        results.append(
            ExperimentResult(
                strategy=strategy,
                n_requested=n,
                n_real=len(train),
                n_synthetic=n_syn,
                n_subjects=len(set(train.subjects)),
                n_test=len(test),
                n_test_subjects=len(set(test.subjects)),
                metrics=metrics,
                vs_real=diff,
                epochs=epochs,
                runs=per_run,
            )
        )
    return results
