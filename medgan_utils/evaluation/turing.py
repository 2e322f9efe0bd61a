"""A visual Turing test: can you tell a synthetic image from a real one?

The project's one protocol, played by the app (:func:`medgan_utils.appkit.views.turing_round`)
and by the dashboard (:func:`medgan_utils.dashboards.turing_test`); both are views over
:class:`TuringTest`, and tests drive it without a browser.

- A round (:meth:`TuringTest.draw`) shows ``n`` images one at a time, each real or synthetic.
  By default a seeded coin decides each image, so a reader cannot count their way to the last
  answers; with ``balanced=True`` exactly ``n // 2`` are synthetic, in a seeded order, so that
  every round weighs both kinds alike (the app).
- Real images come from the caller: slices of held-out subjects the generator never saw
  (:func:`heldout_set`, the dashboard) or of its training set (the app). Synthetic images are
  ``generate(G, k, seed)``: the same seed gives the same round.
- The reader answers "real" or "synthetic". The score (:class:`TuringScore`) is the share of
  right answers with a Wilson 95 % interval (:func:`~medgan_utils.stats.accuracy_interval`):
  an interval that contains 50 % means the reader did no better than guessing, i.e. could
  not tell the images apart. When the round is over, :meth:`TuringTest.reveal` gives the
  truth of every image beside the answer.

Example:
    >>> G, meta = load_generator(DEFAULT_MODEL)                     # doctest: +SKIP
    >>> test = TuringTest.draw(heldout_set(meta), G, n=10, seed=0)  # doctest: +SKIP
    >>> test.answer(synthetic=True)                                 # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from medgan_utils.stats import accuracy_interval

if TYPE_CHECKING:
    from medgan_utils.data.dataset import MedicalImageDataset
    from medgan_utils.gan.models import Generator

__all__ = [
    "MAX_ROUND",
    "TuringImage",
    "TuringScore",
    "Verdict",
    "TuringTest",
    "heldout_set",
]

MAX_ROUND = 100  # images per round


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
    from medgan_utils.data.load import BUILTIN_NAMES, load_dataset

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


@dataclass(frozen=True)
class TuringScore:
    """The counts of a reader's answers, and their accuracy with its Wilson interval.

    Example:
        >>> s = TuringScore.from_answers([True, False, True, False], [True, True, False, False])
        >>> (s.correct, s.n, s.synthetic_caught, s.real_kept)
        (2, 4, 1, 1)
    """

    correct: int
    n: int
    synthetic_caught: int  # synthetic images called synthetic
    n_synthetic: int
    real_kept: int  # real images called real
    n_real: int

    @classmethod
    def from_answers(cls, truth: Sequence[bool], answers: Sequence[bool]) -> TuringScore:
        """Counts from each image's truth and answer (``True`` = synthetic)."""
        pairs = list(zip(truth, answers, strict=True))
        return cls(
            correct=sum(t == a for t, a in pairs),
            n=len(pairs),
            synthetic_caught=sum(t and a for t, a in pairs),
            n_synthetic=sum(truth),
            real_kept=sum(not t and not a for t, a in pairs),
            n_real=len(truth) - sum(truth),
        )

    @classmethod
    def total(cls, scores: Iterable[TuringScore]) -> TuringScore:
        """The counts of several rounds together (all zero for none)."""
        out = cls(0, 0, 0, 0, 0, 0)
        for s in scores:
            out = out + s
        return out

    def __add__(self, other: TuringScore) -> TuringScore:
        return TuringScore(
            self.correct + other.correct,
            self.n + other.n,
            self.synthetic_caught + other.synthetic_caught,
            self.n_synthetic + other.n_synthetic,
            self.real_kept + other.real_kept,
            self.n_real + other.n_real,
        )

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Wilson interval of the accuracy (:func:`~medgan_utils.stats.accuracy_interval`);
        ``(0.0, 1.0)`` before any answer."""
        return accuracy_interval(self.correct, self.n, confidence)

    def summary(self) -> str:
        """The score in one line with its 95 % interval, e.g. ``7 of 10 right (70%; 95%
        Wilson interval 40% to 89%, which includes chance, 50%)``."""
        lo, hi = self.interval()
        chance = "includes" if lo <= 0.5 <= hi else "excludes"
        return (
            f"{self.correct} of {self.n} right ({self.accuracy:.0%}; 95% Wilson interval "
            f"{lo:.0%} to {hi:.0%}, which {chance} chance, 50%)"
        )

    def text(self) -> str:
        """The score for the reader: the counts of each kind, the interval, what it means."""
        lo, hi = self.interval()
        if lo > 0.5:
            reading = "better than guessing: you can tell them apart."
        elif hi < 0.5:
            reading = "worse than guessing: you told them apart, the wrong way round."
        else:
            reading = "no better than guessing: the synthetic images fooled you."
        return (
            f"{self.correct} of {self.n} right ({self.accuracy:.0%}): you spotted "
            f"{self.synthetic_caught} of {self.n_synthetic} synthetic images and recognised "
            f"{self.real_kept} of {self.n_real} real ones. Guessing scores 50% on average; the "
            f"95% Wilson interval of your accuracy, {lo:.0%} to {hi:.0%}, says {reading} "
            "Passing this test does not make images clinically realistic: experts, metrics "
            "and downstream tasks decide that."
        )


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
        balanced: bool = False,
    ) -> TuringTest:
        """Draw a round: which images are synthetic, then the images.

        The same ``seed`` gives the same truth, the same real images (drawn without
        replacement) and the same synthetic images (``generate(G, k, seed)``; the ``i``-th
        synthetic image shown is ``generate``'s ``i``-th).

        Args:
            real: real images ``(N, 1, S, S)`` in ``[-1, 1]``: held-out subjects
                (:func:`heldout_set`) or the generator's training set.
            G: an unconditional generator of ``S x S`` images.
            n: images in the round, 1 to :data:`MAX_ROUND` (and at most ``len(real)``).
            seed: seed of the truth, of the choice of real images and of the noise.
            model: the generator's name, for the reveal.
            balanced: ``False``: a seeded coin per image decides real or synthetic;
                ``True``: exactly ``n // 2`` synthetic images, at seeded positions.

        Raises:
            ValueError: ``n`` out of range or larger than the real set.
        """
        from medgan_utils.gan.zoo import generate
        from medgan_utils.viz import to_uint8

        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= MAX_ROUND:
            raise ValueError(f"a round has 1 to {MAX_ROUND} images, got {n!r}")
        if n > len(real):
            raise ValueError(f"a round of {n} may need {n} real images; the set has {len(real)}")
        rng = np.random.default_rng(seed)
        if balanced:
            coins = np.zeros(n, dtype=bool)  # True: synthetic
            coins[rng.permutation(n)[: n // 2]] = True
        else:
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
        """Counts over the images answered so far."""
        truth = [im.synthetic for im in self.images[: len(self.answers)]]
        return TuringScore.from_answers(truth, self.answers)

    def interval(self, confidence: float = 0.95) -> tuple[float, float]:
        """Wilson interval of the accuracy so far (:meth:`TuringScore.interval`)."""
        return self.score().interval(confidence)

    def summary(self) -> str:
        """The score so far in one line, with its 95 % interval."""
        s = self.score()
        return s.summary() if s.n else f"0 of {self.n} answered"

    def reveal(self) -> list[Verdict]:
        """The truth of every image beside the answer; only once the round is over."""
        if not self.done:
            raise RuntimeError(f"{self.n - len(self.answers)} image(s) still to answer")
        return [
            Verdict(i, im.synthetic, a, im.origin)
            for i, (im, a) in enumerate(zip(self.images, self.answers, strict=True))
        ]
