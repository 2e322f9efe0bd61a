"""Does synthetic data help a lesion classifier? Four strategies on one held-out test set.

For each number ``N`` of real training images (50, 100, 200, 500 and all):

- ``real``: train on the ``N`` real images only (the reference);
- ``pretrain``: train on the synthetic set (or start from a classifier already trained on
  it, ``FinetuneConfig.pretrained``, e.g. the shipped ``lesion-classifier-synthetic``), then
  fine-tune all layers on the ``N`` real images with a lower learning rate;
- ``mix``: train on the ``N`` real images plus ``mix_ratio * N`` synthetic ones;
- ``synthetic``: train on synthetic images only (independent of ``N``; repeated in each row so
  that its paired difference to real-only at that ``N`` is reported).

Protocol (:func:`run_experiments`):

- The real set is split once by subject (:func:`~medgan_utils.data.dataset.subject_split`, default
  60/20/20 %) into a training pool, a validation split and a test split: no subject is in two.
- The ``N`` training images are drawn from the pool by :func:`sample_real`: class-stratified
  (both classes, in the pool's proportions) and subject-aware: by default spread over as
  many training subjects as possible (``sampling="few-subjects"`` takes whole subjects).
- Early stopping uses the **held-out validation split**, the same for every ``N`` and every
  strategy (so the comparisons are fair; note that it is labelled data beyond ``N``).
- Every strategy is tested on the same test split. Confidence intervals are percentile
  bootstraps over **test subjects** (a cluster bootstrap: slices of one subject are
  correlated, so resampling slices would give too narrow intervals); the paired difference to
  real-only applies the same resamples to both strategies' predictions.

Example:
    >>> results = run_experiments(load_dataset("builtin-labelled"), "runs/cdcgan",
    ...                           n_values=(50, 100, None))            # doctest: +SKIP
    >>> plot_auroc_vs_n(results)                                       # doctest: +SKIP
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Subset

from medgan_utils.data.dataset import MedicalImageDataset, load_dataset, subject_split
from medgan_utils.downstream.classifier import (
    ClassifierConfig,
    Estimate,
    FitConfig,
    LesionClassifier,
    bootstrap_metrics,
    bootstrap_resamples,
    check_images,
    fit_classifier,
    load_classifier,
    predict,
    save_classifier,
)
from medgan_utils.errors import DataError

__all__ = [
    "STRATEGIES",
    "FinetuneConfig",
    "LabelledImages",
    "ExperimentResult",
    "as_labelled",
    "synthetic_images",
    "parse_per_class",
    "BUILTIN_SYNTHETIC",
    "split_real",
    "sample_real",
    "balanced_sample",
    "train_strategy",
    "start_from",
    "run_experiments",
    "plot_auroc_vs_n",
    "results_table",
]

STRATEGIES = ("real", "pretrain", "mix", "synthetic")

#: The shipped labelled synthetic source for the built-in labelled set: one generator per
#: class (a class-conditional DCGAN collapsed on these data; see the lesion model's card).
BUILTIN_SYNTHETIC = {"lesion": "brain-mri-lesion-dcgan-64", "no_lesion": "brain-mri-dcgan-64"}


@dataclass(frozen=True)
class FinetuneConfig:
    """Settings of the experiments.

    Args:
        fit: classifier training (epochs, learning rate, early-stopping patience, seed).
        classifier: the architecture; its ``image_size`` must match the images.
        pretrain_epochs: the most epochs of synthetic pre-training (``pretrain``).
        finetune_lr: learning rate of the fine-tuning phase (``pretrain``).
        mix_ratio: synthetic images per real image (``mix``).
        n_synthetic: images to draw when the synthetic source is a generator.
        fractions: train-pool, validation and test shares of the real subjects.
        n_bootstrap: bootstrap resamples of the test subjects.
        seed: seeds the split, the sampling of ``N``, the bootstrap and the training.
        positive_class: the class scored as positive; default ``"lesion"`` when the set has
            it, else its first class.
        sampling: how :func:`sample_real` picks the ``N`` images ("spread" or "few-subjects").
        pretrained: for ``pretrain``, start from this classifier instead of pre-training on
            the synthetic set in the run: a checkpoint path, the shipped
            ``"lesion-classifier-synthetic"`` (pre-trained on synthetic scans only), or
            ``"imagenet"`` (torchvision's ImageNet ResNet-18; needs torchvision and internet).

    Example:
        >>> FinetuneConfig(fit=FitConfig(epochs=1), n_bootstrap=100).mix_ratio
        1.0
    """

    fit: FitConfig = field(default_factory=FitConfig)
    classifier: ClassifierConfig = field(default_factory=ClassifierConfig)
    pretrain_epochs: int = 10
    finetune_lr: float = 3e-4
    mix_ratio: float = 1.0
    n_synthetic: int = 1000
    fractions: tuple[float, float, float] = (0.6, 0.2, 0.2)
    n_bootstrap: int = 1000
    seed: int = 0
    positive_class: str | None = None
    sampling: str = "spread"
    pretrained: str | None = None

    def __post_init__(self) -> None:
        if self.mix_ratio < 0 or self.n_synthetic < 1 or self.n_bootstrap < 1:
            raise ValueError("mix_ratio must be >= 0, n_synthetic and n_bootstrap >= 1")


@dataclass(frozen=True)
class LabelledImages:
    """Images with binary targets and subjects, the form every strategy trains on.

    Attributes:
        images: ``(N, 1, S, S)`` float32 in ``[-1, 1]``.
        targets: ``(N,)`` int64, 1 for the positive class (lesion), 0 otherwise.
        subjects: ``(N,)`` subject ids.
    """

    images: torch.Tensor
    targets: torch.Tensor
    subjects: np.ndarray

    def __len__(self) -> int:
        return len(self.targets)

    def take(self, idx: np.ndarray | Sequence[int]) -> LabelledImages:
        idx = np.asarray(idx, dtype=np.int64)
        return LabelledImages(self.images[idx], self.targets[idx], self.subjects[idx])

    def pair(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.images, self.targets

    @staticmethod
    def concat(a: LabelledImages, b: LabelledImages) -> LabelledImages:
        return LabelledImages(
            torch.cat([a.images, b.images]),
            torch.cat([a.targets, b.targets]),
            np.concatenate([a.subjects, b.subjects]),
        )


def _positive(classes: Sequence[str], positive_class: str | None) -> str:
    if positive_class is not None and positive_class not in classes:
        raise DataError("<classes>", f"positive class {positive_class!r} not in {list(classes)}")
    return positive_class or ("lesion" if "lesion" in classes else classes[0])


def as_labelled(
    dataset: MedicalImageDataset | Subset | LabelledImages,
    positive_class: str | None = None,
    name: str = "dataset",
) -> LabelledImages:
    """Binary targets of a labelled dataset (or a ``Subset`` of one); checks the labels.

    Raises:
        DataError: empty, unlabelled, or a single class.
    """
    if isinstance(dataset, LabelledImages):
        out = dataset
    else:
        base, idx = dataset, None
        if isinstance(dataset, Subset):
            base, idx = dataset.dataset, np.asarray(dataset.indices, dtype=np.int64)
        if not isinstance(base, MedicalImageDataset):
            raise TypeError(f"expected a MedicalImageDataset, got {type(base).__name__}")
        if len(dataset) == 0:
            raise DataError(name, "is empty")
        labels = base.labels if idx is None else base.labels[idx]
        if not base.is_labelled or int(labels.min()) < 0:
            raise DataError(name, "has no class labels (load a labelled set, e.g. class folders)")
        positive = base.classes.index(_positive(base.classes, positive_class))
        images = base.images if idx is None else base.images[idx]
        subjects = np.asarray(base.subjects)[idx if idx is not None else slice(None)]
        out = LabelledImages(images, (labels == positive).long(), subjects)
    if len(out) == 0:
        raise DataError(name, "is empty")
    if len(torch.unique(out.targets)) < 2:
        raise DataError(name, "has a single class; it needs lesion and no-lesion images")
    return out


def synthetic_images(
    source: Any,
    config: FinetuneConfig | None = None,
    classes: Sequence[str] = ("lesion", "no_lesion"),
) -> LabelledImages:
    """The synthetic training set from any source, as :class:`LabelledImages`.

    Args:
        source: a labelled dataset; a folder written by
            :func:`~medgan_utils.hub.generate.build_synthetic_dataset`; a conditional
            :class:`~medgan_utils.gan.models.Generator` with two classes (or a model name or
            folder holding one), from which ``config.n_synthetic`` images are generated,
            balanced between the classes; one generator per class as a mapping
            ``{class: model}`` (or the text ``"lesion=MODEL,no_lesion=MODEL"``), whose
            ``n_synthetic`` images, split evenly, are made by
            :func:`~medgan_utils.hub.generate.build_synthetic_dataset` through medigan; or any
            labelled path ``load_dataset`` reads.
        classes: the real set's classes; a generator's label ``i`` is ``classes[i]`` unless
            its ``generator.json`` lists its own classes.

    Raises:
        DataError: an empty set, no labels, a single class, or a generator that is not
            conditioned on two classes.
    """
    from medgan_utils.gan.models import Generator

    config = config or FinetuneConfig()
    size = config.classifier.image_size
    if isinstance(source, str) and "=" in source:
        source = parse_per_class(source)
    if isinstance(source, Mapping):
        return _per_class(source, config)
    if isinstance(source, (MedicalImageDataset, Subset, LabelledImages)):
        return as_labelled(source, config.positive_class, "synthetic set")
    meta: dict[str, Any] = {}
    if isinstance(source, (str, Path)):
        from medgan_utils.gan.zoo import load_generator, model_path

        path = Path(source)
        if (path / "manifest.csv").exists():
            from medgan_utils.hub.generate import load_synthetic_dataset

            return as_labelled(load_synthetic_dataset(path, size), config.positive_class, path)
        try:
            model_path(source)
        except DataError:
            return as_labelled(load_dataset(source, size), config.positive_class, source)
        source, meta = load_generator(source)
    if not isinstance(source, Generator):
        raise TypeError(f"cannot use a {type(source).__name__} as synthetic source")
    if source.config.num_classes != 2:
        raise DataError(
            meta.get("data", "generator"),
            f"needs a generator conditioned on 2 classes, got num_classes="
            f"{source.config.num_classes}",
        )
    from medgan_utils.gan.zoo import generate

    names = list(meta.get("classes") or classes)
    labels = torch.arange(config.n_synthetic) % 2
    images = generate(source, config.n_synthetic, seed=config.seed, labels=labels)
    check_images(images, config.classifier, "synthetic set")
    positive = names.index(_positive(names, config.positive_class))
    subjects = np.array([f"synthetic:{i}" for i in range(len(images))])
    return LabelledImages(images, (labels == positive).long(), subjects)


def parse_per_class(text: str) -> dict[str, str]:
    """``"lesion=A,no_lesion=B"`` -> ``{"lesion": "A", "no_lesion": "B"}``.

    Raises:
        ValueError: an item without ``=`` or fewer than two classes.
    """
    pairs = [item.split("=", 1) for item in text.split(",") if item.strip()]
    if any(len(p) != 2 or not p[0].strip() or not p[1].strip() for p in pairs) or len(pairs) < 2:
        raise ValueError(
            f"expected CLASS=MODEL,CLASS=MODEL (one generator per class), got {text!r}"
        )
    return {k.strip(): v.strip() for k, v in pairs}


def _per_class(models: Mapping[str, Any], config: FinetuneConfig) -> LabelledImages:
    """Images of one unconditional generator per class, via the synthetic-dataset builder."""
    import tempfile

    from medgan_utils.gan.zoo import list_models
    from medgan_utils.hub.catalog import load_catalog
    from medgan_utils.hub.generate import build_synthetic_dataset, load_synthetic_dataset

    if len(models) < 2:
        raise DataError(
            "synthetic set", f"one generator per class needs 2 classes, got {dict(models)}"
        )
    ours = list_models()
    # Run folders join the catalog as local models named after the folder; medigan's
    # catalog is fetched only for a model that is neither ours nor a folder (medigan's own).
    local = {
        f"local-{Path(m).name}": str(m)
        for m in models.values()
        if str(m) not in ours and Path(m).is_dir()
    }
    named = {v: k for k, v in local.items()}
    ids = {named.get(str(model), str(model)): name for name, model in models.items()}
    if len(ids) < len(models):
        raise DataError("synthetic set", f"each class needs its own generator: {dict(models)}")
    remote = [m for m in ids if m not in ours and m not in local]
    catalog = load_catalog(local_models=local, download=bool(remote))
    per_class = max(config.n_synthetic // len(models), 1)
    with tempfile.TemporaryDirectory(prefix="medgan-synthetic-") as tmp:
        build_synthetic_dataset(
            list(ids), per_class, tmp, config.seed, catalog=catalog, class_of=ids
        )
        data = load_synthetic_dataset(tmp, config.classifier.image_size)
    return as_labelled(data, config.positive_class, "synthetic set")


def split_real(
    real: LabelledImages, fractions: tuple[float, float, float] = (0.6, 0.2, 0.2), seed: int = 0
) -> tuple[LabelledImages, LabelledImages, LabelledImages]:
    """Training pool, validation and test splits with no subject in two of them.

    Raises:
        DataError: a validation or test split with a single class (use more subjects).
    """
    parts = subject_split(list(real.subjects), fractions, seed)
    out = tuple(real.take(p) for p in parts)
    for part, name in zip(out, ("training pool", "validation split", "test split"), strict=True):
        if len(part) == 0 or len(torch.unique(part.targets)) < 2:
            raise DataError(
                name,
                f"of {len(set(part.subjects))} subject(s) lacks a class: use more subjects "
                "or another seed",
            )
    return out  # type: ignore[return-value]


def sample_real(
    pool: LabelledImages, n: int | None, seed: int = 0, sampling: str = "spread"
) -> LabelledImages:
    """``n`` images of the pool, class-stratified and subject-aware (``None``: all of it).

    Class quotas follow the pool's proportions, with at least one image per class. Subjects
    are visited in a seeded random order, their slices shuffled:

    - ``"spread"`` (default): round-robin, one slice per subject per round, so the images
      come from as many subjects as possible (the ``N`` labelled images are the scarce
      resource, as in most data-augmentation studies);
    - ``"few-subjects"``: all of a subject's slices before the next subject, so the images
      come from as few subjects as possible (a small study with whole scans).

    Raises:
        DataError: ``n`` larger than the pool.
    """
    if sampling not in ("spread", "few-subjects"):
        raise ValueError(f"sampling must be 'spread' or 'few-subjects', got {sampling!r}")
    if n is None or n == len(pool):
        return pool
    if n > len(pool):
        raise DataError(
            "training pool",
            f"has {len(pool)} real images from {len(set(pool.subjects))} subjects, fewer than "
            f"N={n}: ask for fewer, or for all of them (--n-real all; None in Python)",
        )
    if n < 2:
        raise ValueError(f"need at least 2 real images (one per class), got {n}")
    rng = np.random.default_rng(seed)
    targets = pool.targets.numpy()
    n_pos = int(np.clip(round(n * targets.mean()), 1, min(targets.sum(), n - 1)))
    quota = {1: n_pos, 0: min(n - n_pos, int((targets == 0).sum()))}
    queues = [
        list(rng.permutation(np.flatnonzero(pool.subjects == s)))
        for s in rng.permutation(np.unique(pool.subjects))
    ]
    chosen: list[int] = []
    while any(quota.values()) and any(queues):
        for queue in queues:
            while queue:  # "spread" takes one useful slice per subject and round
                i = int(queue.pop())
                if quota[int(targets[i])] > 0:
                    quota[int(targets[i])] -= 1
                    chosen.append(i)
                    if sampling == "spread":
                        break
    return pool.take(np.sort(chosen))


def balanced_sample(data: LabelledImages, n: int, seed: int) -> LabelledImages:
    """``n`` images, half of each class where the set has them (seeded)."""
    rng = np.random.default_rng(seed)
    t = data.targets.numpy()
    pos, neg = rng.permutation(np.flatnonzero(t == 1)), rng.permutation(np.flatnonzero(t == 0))
    k = min(n // 2 + n % 2, len(pos))
    idx = np.concatenate([pos[:k], neg[: n - k]])
    return data.take(np.sort(idx))


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
        return model, fit_classifier(model, synthetic.pair(), val.pair(), fit), len(synthetic)
    if strategy == "pretrain":
        fit_classifier(
            model, synthetic.pair(), val.pair(), replace(fit, epochs=config.pretrain_epochs)
        )
        history = fit_classifier(
            model, real.pair(), val.pair(), replace(fit, lr=config.finetune_lr)
        )
        return model, history, len(synthetic)
    extra = balanced_sample(synthetic, round(config.mix_ratio * len(real)), config.seed)
    mixed = LabelledImages.concat(real, extra)
    return model, fit_classifier(model, mixed.pair(), val.pair(), fit), len(extra)


@dataclass(frozen=True)
class ExperimentResult:
    """One (strategy, N) cell of the grid.

    Attributes:
        strategy: one of :data:`STRATEGIES`.
        n_requested: the ``N`` asked for (``None`` = all of the training pool).
        n_real: real training images of the row (``synthetic`` uses none, but shares the row).
        n_synthetic: synthetic images used.
        n_subjects: real subjects the ``n_real`` images come from.
        n_test: test images (``n_test_subjects`` subjects).
        metrics: ``{metric: Estimate}`` on the test split.
        vs_real: paired difference to real-only at the same ``N`` (``None`` for real-only).
        epochs: epochs trained in the last phase (early stopping included).
    """

    strategy: str
    n_requested: int | None
    n_real: int
    n_synthetic: int
    n_subjects: int
    n_test: int
    n_test_subjects: int
    metrics: dict[str, Estimate]
    vs_real: dict[str, Estimate] | None
    epochs: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExperimentResult:
        """The inverse of :meth:`to_dict` (results saved as JSON)."""

        def est(d: dict[str, Any] | None) -> dict[str, Estimate] | None:
            return None if d is None else {k: Estimate(**v) for k, v in d.items()}

        return cls(**{**data, "metrics": est(data["metrics"]), "vs_real": est(data["vs_real"])})

    def to_text(self) -> str:
        head = f"{self.strategy:<9} N={self.n_real:<5}"
        parts = [f"{k} {v.to_text()}" for k, v in self.metrics.items()]
        line = head + "  " + "  ".join(parts)
        if self.vs_real is not None:
            line += f"\n{'':<17}vs real: AUROC {self.vs_real['auroc'].to_text(signed=True)}"
        return line


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
        synthetic: any source :func:`synthetic_images` accepts (not needed for ``real``).
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
    results, cache = [], {}
    runs = [(n, s) for n in n_values for s in order]
    for n, strategy in tqdm(runs, desc="experiments", disable=not config.fit.progress):
        train = sample_real(pool, n, config.seed, config.sampling)
        key = (strategy, None if strategy == "synthetic" else len(train))
        if key not in cache:
            model, history, n_syn = train_strategy(strategy, train, val, syn, config)
            cache[key] = (predict(model, test.images), len(history), n_syn)
            if checkpoint_dir is not None:
                info = {"strategy": strategy, "n_real": len(train), "classes": classes}
                save_classifier(
                    model,
                    Path(checkpoint_dir) / f"{strategy}-n{n or 'all'}.safetensors",
                    {**info, "history": history},
                )
        scores, epochs, n_syn = cache[key]
        reference = cache[("real", len(train))][0] if strategy != "real" else None
        metrics, diff = bootstrap_metrics(targets, scores, reference, resamples)
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
            )
        )
    return results


def plot_auroc_vs_n(
    results: Sequence[ExperimentResult], metric: str = "auroc", ax: Any = None
) -> Any:
    """AUROC (or another metric) against ``N`` with 95 % bands, one line per strategy.

    Returns:
        The matplotlib ``Figure``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6, 4))
    for strategy in STRATEGIES:
        rows = sorted((r for r in results if r.strategy == strategy), key=lambda r: r.n_real)
        if not rows:
            continue
        x = [r.n_real for r in rows]
        est = [r.metrics[metric] for r in rows]
        style = "--" if strategy == "synthetic" else "-o"
        ax.plot(x, [e.value for e in est], style, label=strategy)
        ax.fill_between(x, [e.low for e in est], [e.high for e in est], alpha=0.15)
    ax.set_xscale("log")
    ax.set_xlabel("real training images N")
    ax.set_ylabel(f"test {metric.upper() if metric == 'auroc' else metric} (95% CI)")
    ax.legend()
    ax.grid(alpha=0.3)
    return ax.figure


def results_table(results: Sequence[ExperimentResult]) -> Any:
    """One row per (N, strategy): every metric as ``value [low, high]`` and the paired
    AUROC difference to real-only, as a pandas ``DataFrame``."""
    import pandas as pd

    rows = []
    for r in results:
        row: dict[str, Any] = {
            "N real": r.n_real,
            "strategy": r.strategy,
            "synthetic": r.n_synthetic,
        }
        row.update({k: v.to_text() for k, v in r.metrics.items()})
        row["AUROC vs real"] = "" if r.vs_real is None else r.vs_real["auroc"].to_text(signed=True)
        rows.append(row)
    return pd.DataFrame(rows)
