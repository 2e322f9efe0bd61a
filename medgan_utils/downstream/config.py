"""The settings of the fine-tuning experiments: the strategies, and one config for all of them.

Example:
    >>> FinetuneConfig(n_bootstrap=100).fit.epochs
    40
"""

from __future__ import annotations

from dataclasses import dataclass, field

from medgan_utils.downstream.classifier import ClassifierConfig
from medgan_utils.downstream.fit import FitConfig

__all__ = ["STRATEGIES", "FinetuneConfig"]

#: The four ways of training the classifier
#: (:func:`~medgan_utils.downstream.finetune.train_strategy`).
STRATEGIES = ("real", "pretrain", "mix", "synthetic")


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
        runs: training runs per cell, with training seeds ``seed, seed + 1, ...``: each run
            draws its own ``N`` real images, initial weights, batches and synthetic hold-out
            (the split, the synthetic set and the test resamples stay those of ``seed``), and
            the intervals then cover the randomness of training as well as the test
            subjects' (:func:`~medgan_utils.stats.bootstrap_metrics` with several runs).
        positive_class: the class scored as positive; default ``"lesion"`` when the set has
            it, else its first class.
        sampling: how :func:`~medgan_utils.downstream.labelled.sample_real` picks the ``N``
            images ("spread" or "few-subjects").
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
    runs: int = 1

    def __post_init__(self) -> None:
        if self.mix_ratio < 0 or self.n_synthetic < 1 or self.n_bootstrap < 1:
            raise ValueError("mix_ratio must be >= 0, n_synthetic and n_bootstrap >= 1")
        if isinstance(self.runs, bool) or not isinstance(self.runs, int) or self.runs < 1:
            raise ValueError(f"runs must be an integer >= 1, got {self.runs!r}")
