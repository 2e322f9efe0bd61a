"""Does a class-conditional generator follow its label? Label fidelity and per-class scores.

A conditional generator can make realistic images and still ignore its label (the label
then only shifts the noise), and in a downstream experiment such a generator teaches a
classifier nothing about the classes. Two measurements say whether it follows the label:

- :func:`label_fidelity`: generate ``n`` images of each class and let a classifier that
  never saw generated images (the shipped domain encoder's lesion head, a linear read-out
  of its features, threshold at logit 0) call each one lesion or not; the share it calls
  lesion among each class's samples is set beside the same share among the real images of
  that class, each with its Wilson interval. A generator that follows its label matches
  the real shares (on the built-in set about 85 % for lesion slices and 1 % for the others);
  one that ignores it gives both classes the same share.
- :func:`evaluate_per_class`: :func:`~medgan_utils.evaluation.evaluate.evaluate` of each
  class's samples against the real images of that class: realism per class, each score
  beside its own floor.

:func:`evaluate_conditional` does both and returns a :class:`ConditionalReport`, what
``medgan metrics`` prints for a conditional model and its model card records.

The head's errors on real images are part of the reference: a generated lesion slice is
held to the share of *real* lesion slices the head recognises, not to 100 %.

Example:
    >>> real = load_dataset("builtin-labelled", 64, seed=1)               # doctest: +SKIP
    >>> print(label_fidelity(G, real, n=512).to_text())                    # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from medgan_utils.stats import accuracy_interval

if TYPE_CHECKING:
    from medgan_utils.data.dataset import MedicalImageDataset
    from medgan_utils.evaluation.evaluate import EvaluationReport
    from medgan_utils.gan.models import Generator

__all__ = [
    "TOLERANCE",
    "ClassFidelity",
    "ConditionalReport",
    "LabelFidelity",
    "evaluate_conditional",
    "evaluate_per_class",
    "label_fidelity",
]

#: Label fidelity's target: each class's generated share within this many points of the real.
TOLERANCE = 0.10


@dataclass(frozen=True)
class ClassFidelity:
    """How often the head calls one class's generated and real images positive."""

    label: str
    generated_positive: int
    n_generated: int
    real_positive: int
    n_real: int

    @property
    def generated_share(self) -> float:
        return self.generated_positive / self.n_generated

    @property
    def real_share(self) -> float:
        return self.real_positive / self.n_real

    @property
    def gap(self) -> float:
        """Generated share minus real share (points as a fraction)."""
        return self.generated_share - self.real_share

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "generated_positive": self.generated_positive,
            "n_generated": self.n_generated,
            "generated_share": self.generated_share,
            "generated_interval": list(
                accuracy_interval(self.generated_positive, self.n_generated)
            ),
            "real_positive": self.real_positive,
            "n_real": self.n_real,
            "real_share": self.real_share,
            "real_interval": list(accuracy_interval(self.real_positive, self.n_real)),
            "gap": self.gap,
        }


@dataclass(frozen=True)
class LabelFidelity:
    """Per class: the share of generated and of real images the head calls ``positive``."""

    positive: str
    judge: str
    classes: tuple[ClassFidelity, ...]

    def within(self, tolerance: float = TOLERANCE) -> bool:
        """Whether every class's generated share lies within ``tolerance`` of the real one."""
        return all(abs(c.gap) <= tolerance for c in self.classes)

    def to_dict(self) -> dict[str, Any]:
        return {
            "positive": self.positive,
            "judge": self.judge,
            "tolerance": TOLERANCE,
            "within_tolerance": self.within(),
            "classes": [c.to_dict() for c in self.classes],
        }

    def to_text(self) -> str:
        lines = [f"label fidelity: share called {self.positive} by the {self.judge}"]
        for c in self.classes:
            g_lo, g_hi = accuracy_interval(c.generated_positive, c.n_generated)
            r_lo, r_hi = accuracy_interval(c.real_positive, c.n_real)
            lines.append(
                f"- {c.label}: generated {c.generated_share:.1%} [{g_lo:.1%}, {g_hi:.1%}] "
                f"(n={c.n_generated}); real {c.real_share:.1%} [{r_lo:.1%}, {r_hi:.1%}] "
                f"(n={c.n_real}); gap {100 * c.gap:+.1f} points"
            )
        verdict = "within" if self.within() else "not within"
        lines.append(f"every class {verdict} {TOLERANCE:.0%} points of the real share")
        return "\n".join(lines)


def _classes(G: Generator, real: MedicalImageDataset, classes: Sequence[str] | None) -> list[str]:
    if not G.config.conditional:
        raise ValueError("label fidelity needs a class-conditional generator (num_classes > 0)")
    names = list(classes) if classes is not None else list(real.classes)
    if len(names) != G.config.num_classes:
        raise ValueError(
            f"the generator has {G.config.num_classes} classes but the real set has "
            f"{len(names)} ({names}): pass the generator's classes"
        )
    if list(real.classes) != names:
        raise ValueError(
            f"the real set's classes {list(real.classes)} are not the generator's {names}"
        )
    return names


@torch.no_grad()
def label_fidelity(
    G: Generator,
    real: MedicalImageDataset,
    n: int = 512,
    seed: int = 0,
    positive: str = "lesion",
    classes: Sequence[str] | None = None,
    batch_size: int = 256,
) -> LabelFidelity:
    """The share of each class's generated images that the domain encoder's lesion head
    calls ``positive``, beside the same share among the real images of that class.

    Args:
        G: a conditional generator of ``(N, 1, S, S)`` images, label ``i`` = ``classes[i]``.
        real: a labelled dataset with the same classes (e.g. ``builtin-labelled``), images
            ``(N, 1, S, S)`` in ``[-1, 1]``.
        n: images generated per class, with noise seed ``seed`` (the same noise for every
            class: only the label differs).
        positive: the class the head detects (the shipped head detects ``"lesion"``).
        classes: the generator's class names (default: ``real.classes``).

    Raises:
        ValueError: an unconditional generator, classes that differ between the generator
            and the real set, or a ``positive`` class that is not one of them.
    """
    from medgan_utils.evaluation.features import DOMAIN_ENCODER, load_encoder
    from medgan_utils.gan.zoo import generate

    names = _classes(G, real, classes)
    if positive not in names:
        raise ValueError(f"positive class {positive!r} is not one of {names}")
    head = load_encoder(DOMAIN_ENCODER)

    def called_positive(images: torch.Tensor) -> int:
        calls = [
            int((head(images[i : i + batch_size])["lesion"] > 0).sum())
            for i in range(0, len(images), batch_size)
        ]
        return sum(calls)

    out = []
    for label, name in enumerate(names):
        fake = generate(G, n, seed=seed, labels=label, batch_size=batch_size)
        own = real.of_class(label).images
        if len(own) == 0:
            raise ValueError(f"the real set has no images of class {name!r}")
        out.append(ClassFidelity(name, called_positive(fake), n, called_positive(own), len(own)))
    return LabelFidelity(positive, "domain encoder's lesion head (logit > 0)", tuple(out))


def evaluate_per_class(
    real: MedicalImageDataset,
    G: Generator,
    n: int | None = None,
    seed: int = 0,
    classes: Sequence[str] | None = None,
    **options: Any,
) -> dict[str, EvaluationReport]:
    """:func:`~medgan_utils.evaluation.evaluate.evaluate` of each class's generated images
    against the real images of that class (each score beside that class's floor).

    Args:
        real: a labelled dataset with the generator's classes.
        G: a conditional generator; ``n`` images per class are generated with ``seed``
            (default: half the class's real images, at most 5,000).
        options: passed on to ``evaluate`` (``extractor``, ``n_splits``, ``train``, ...;
            ``train`` and ``heldout`` must then be per-class dicts ``{class: dataset}``).

    Returns:
        ``{class name: EvaluationReport}`` in the generator's class order.
    """
    from medgan_utils.evaluation.evaluate import evaluate
    from medgan_utils.gan.zoo import generate

    names = _classes(G, real, classes)
    per_class = {k: options.pop(k) for k in ("train", "heldout") if k in options}
    reports = {}
    for label, name in enumerate(names):
        own = real.of_class(label)
        if len(own) < 4:
            raise ValueError(f"class {name!r} has {len(own)} real images; at least 4 needed")
        count = n or min(5000, len(own) // 2)
        fake = generate(G, count, seed=seed, labels=label)
        extra = {k: v[name] for k, v in per_class.items()}
        reports[name] = evaluate(own, fake, n=count, seed=seed, **extra, **options)
    return reports


@dataclass
class ConditionalReport:
    """A conditional generator measured: one :class:`EvaluationReport` per class and the
    label fidelity."""

    per_class: dict[str, EvaluationReport]
    fidelity: LabelFidelity

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: ``per_class`` (each ``EvaluationReport.to_dict()``), ``label_fidelity``."""
        return {
            "per_class": {k: r.to_dict() for k, r in self.per_class.items()},
            "label_fidelity": self.fidelity.to_dict(),
        }

    def to_text(self) -> str:
        parts = [f"class {name}\n{report.to_text()}" for name, report in self.per_class.items()]
        return "\n\n".join([*parts, self.fidelity.to_text()])

    __str__ = to_text


def evaluate_conditional(
    real: MedicalImageDataset,
    G: Generator,
    n: int | None = None,
    seed: int = 0,
    *,
    train: MedicalImageDataset | None = None,
    n_fidelity: int = 512,
    classes: Sequence[str] | None = None,
    **options: Any,
) -> ConditionalReport:
    """Per-class realism (:func:`evaluate_per_class`) and label fidelity
    (:func:`label_fidelity`) of a conditional generator.

    Args:
        real: labelled real images the model never saw, with its classes.
        G: the conditional generator.
        n: images per class and set (default: half the class's real images).
        train: the model's labelled training images: each class's near-copy check compares
            that class's samples with that class's training images (default: no check).
        n_fidelity: images per class for the label fidelity.
        options: passed on to :func:`~medgan_utils.evaluation.evaluate.evaluate`
            (``extractor``, ``n_splits``, ...).
    """
    names = _classes(G, real, classes)
    if train is not None:
        if list(train.classes) != names:
            raise ValueError(f"the training set's classes {train.classes} are not {names}")
        options["train"] = {c: train.of_class(i) for i, c in enumerate(names)}
    else:
        options.setdefault("check_memorization", False)
    per_class = evaluate_per_class(real, G, n=n, seed=seed, classes=names, **options)
    fidelity = label_fidelity(G, real, n=n_fidelity, seed=seed, classes=names)
    return ConditionalReport(per_class, fidelity)
