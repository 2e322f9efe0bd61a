"""A visual Turing test: can you tell a synthetic image from a real one?

A round shows ``n`` images one at a time. For each, a seeded coin decides whether it is
real (a slice of a held-out subject of the built-in set, one the generator never saw) or
synthetic (from the generator, seeded); the reader answers "real" or "synthetic". The
score is the share of right answers with a Wilson 95 % interval (:func:`accuracy_interval`):
an interval that contains 50 % means the reader did no better than guessing, i.e. could
not tell the images apart. When the round is over, :meth:`TuringTest.reveal` gives the
truth of every image beside the answer.

This module is plain Python: the dashboard
(:func:`medgan_utils.dashboards.dashboards.turing_test`) is a view over :class:`TuringTest`, and
tests
drive it without a browser. (The app's test, :func:`medgan_utils.appkit.views.turing_round`,
shows half training images and half synthetic ones in a seeded order.)

Example:
    >>> G, meta = load_generator(DEFAULT_MODEL)                     # doctest: +SKIP
    >>> test = TuringTest.draw(heldout_set(meta), G, n=10, seed=0)  # doctest: +SKIP
    >>> test.answer(synthetic=True)                                 # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from medgan_utils.appkit.views import TuringScore

if TYPE_CHECKING:
    from medgan_utils.data.dataset import MedicalImageDataset
    from medgan_utils.gan.models import Generator

__all__ = [
    "MAX_ROUND",
    "TuringImage",
    "Verdict",
    "TuringTest",
    "accuracy_interval",
    "heldout_set",
]

MAX_ROUND = 100  # images per round


def accuracy_interval(correct: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Wilson score interval of the accuracy ``correct / n`` (``scipy.stats.binomtest``).

    The Wilson interval keeps its coverage for small ``n`` and for scores of 0 or ``n``,
    where the textbook ``p +- 1.96 sqrt(p(1-p)/n)`` collapses to a point.

    Returns:
        ``(low, high)`` in ``[0, 1]``; ``(0.0, 1.0)`` before any answer.

    Example:
        >>> [round(v, 3) for v in accuracy_interval(7, 10)]
        [0.397, 0.892]
    """
    from scipy.stats import binomtest

    if not 0 <= correct <= n:
        raise ValueError(f"correct must be in 0..n, got {correct} of {n}")
    if n == 0:
        return 0.0, 1.0
    ci = binomtest(correct, n).proportion_ci(confidence_level=confidence, method="wilson")
    return float(ci.low), float(ci.high)


def heldout_set(meta: Mapping[str, Any], n_subjects: int = 8) -> MedicalImageDataset:
    """Real images of subjects a built-in-trained generator never saw.

    The built-in set's virtual subjects depend on its ``seed``: the same set with the next
    seed holds ``n_subjects`` new subjects (32 slices each) at the generator's image size.

    Args:
        meta: the generator's ``generator.json`` (:func:`~medgan_utils.gan.zoo.load_generator`).
        n_subjects: held-out subjects to build (8 build in a few seconds).

    Raises:
        ValueError: the generator was not trained on a built-in set.
    """
    from medgan_utils.data.dataset import BUILTIN_NAMES, load_dataset

    data = str(meta.get("data", ""))
    if data not in BUILTIN_NAMES:
        raise ValueError(f"the generator was trained on {data!r}, not on a built-in set")
    options = dict(meta.get("data_options") or {})
    size = int(meta.get("model_config", {}).get("image_size", 64))
    seed = int(options.get("seed", 0)) + 1
    return load_dataset(data, size, n_subjects=n_subjects, seed=seed)


@dataclass(frozen=True)
class TuringImage:
    """One image of a round: its pixels, the truth and where it came from."""

    pixels: np.ndarray  # (S, S) uint8
    synthetic: bool
    origin: str  # e.g. "real: subject vs-0003, slice level 57"


@dataclass(frozen=True)
class Verdict:
    """One line of the reveal: an image's truth beside the reader's answer."""

    index: int
    synthetic: bool
    answer: bool  # True: the reader said "synthetic"
    origin: str

    @property
    def correct(self) -> bool:
        return self.synthetic == self.answer


@dataclass
class TuringTest:
    """A round of the visual Turing test and the answers given so far.

    Attributes:
        images: the round, in the order shown.
        seed: the seed that drew it.
        answers: one per image answered, ``True`` for "synthetic".
    """

    images: list[TuringImage]
    seed: int = 0
    answers: list[bool] = field(default_factory=list)

    @classmethod
    def draw(
        cls,
        real: MedicalImageDataset,
        G: Generator,
        n: int = 10,
        seed: int = 0,
        model: str = "the generator",
    ) -> TuringTest:
        """Draw a round: a seeded coin per image says real or synthetic.

        The same ``seed`` gives the same coins, the same real images (drawn without
        replacement) and the same synthetic images (``generate(G, k, seed)``).

        Args:
            real: real images ``(N, 1, S, S)`` the generator never saw (:func:`heldout_set`).
            G: an unconditional generator of ``S x S`` images.
            n: images in the round, 1 to :data:`MAX_ROUND` (and at most ``len(real)``).
            seed: seed of the coins, of the choice of real images and of the noise.
            model: the generator's name, for the reveal.
        """
        from medgan_utils.gan.zoo import generate
        from medgan_utils.viz import to_uint8

        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_ROUND:
            raise ValueError(f"a round has 1 to {MAX_ROUND} images, got {n!r}")
        if n > len(real):
            raise ValueError(f"a round of {n} may need {n} real images; the set has {len(real)}")
        rng = np.random.default_rng(seed)
        coins = rng.random(n) < 0.5  # True: synthetic
        k = int(coins.sum())
        picks = iter(rng.choice(len(real), size=n - k, replace=False))
        fakes = iter(to_uint8(generate(G, k, seed=seed)[:, 0]) if k else [])
        images: list[TuringImage] = []
        for synthetic in coins:
            if synthetic:
                number = sum(im.synthetic for im in images) + 1  # generate()'s image number
                origin = f"synthetic: {model}, seed {seed}, image {number}"
                images.append(TuringImage(next(fakes), True, origin))
                continue
            j = int(next(picks))
            item = real[j]
            origin = f"real: subject {item['subject']}, slice level {item['slice_index']}"
            images.append(TuringImage(to_uint8(real.images[j, 0]), False, origin))
        return cls(images, seed)

    @property
    def n(self) -> int:
        return len(self.images)

    @property
    def done(self) -> bool:
        return len(self.answers) == self.n

    @property
    def current(self) -> TuringImage | None:
        """The image awaiting an answer, or ``None`` when the round is over."""
        return None if self.done else self.images[len(self.answers)]

    def answer(self, synthetic: bool) -> bool:
        """Answer the current image (``True``: "synthetic"); return whether it was right."""
        if self.done:
            raise RuntimeError("the round is over: draw a new one")
        self.answers.append(bool(synthetic))
        return self.images[len(self.answers) - 1].synthetic == bool(synthetic)

    def score(self) -> TuringScore:
        """Counts over the images answered so far
        (:class:`~medgan_utils.appkit.views.TuringScore`)."""
        truth = [im.synthetic for im in self.images[: len(self.answers)]]
        return TuringScore.from_answers(truth, self.answers)

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Wilson interval of the accuracy so far (:func:`accuracy_interval`)."""
        s = self.score()
        return accuracy_interval(s.correct, s.n, confidence)

    def summary(self) -> str:
        """The score so far in one line, with its 95 % interval."""
        s = self.score()
        if not s.n:
            return f"0 of {self.n} answered"
        lo, hi = self.interval()
        chance = "includes" if lo <= 0.5 <= hi else "excludes"
        return (
            f"{s.correct} of {s.n} right ({s.accuracy:.0%}; 95% Wilson interval "
            f"{lo:.0%} to {hi:.0%}, which {chance} chance, 50%)"
        )

    def reveal(self) -> list[Verdict]:
        """The truth of every image beside the answer; only once the round is over."""
        if not self.done:
            raise RuntimeError(f"{self.n - len(self.answers)} image(s) still to answer")
        return [
            Verdict(i, im.synthetic, a, im.origin)
            for i, (im, a) in enumerate(zip(self.images, self.answers, strict=True))
        ]
