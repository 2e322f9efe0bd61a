"""The chapters' exercises: one registry, one way to check an answer.

Each exercise in the book has a key (``"3.2"``: chapter 3, second exercise), a level and a
check. A chapter shows a stub for the learner to fill in, then a check cell::

    course.check("3.2", minibatch_std)

which prints a hint while the stub still raises ``NotImplementedError``, raises an
``AssertionError`` that says what is wrong for a wrong answer, and confirms a right one. The
solution sits in a hidden cell under its own name (``minibatch_std_solution``), so running
every cell never overwrites a learner's attempt, and it ends with
``assert course.check("3.2", minibatch_std_solution)``: the book build executes every solution
and fails if one is wrong.

Checks compare an answer with the package's own implementation (or a well-kept library's:
scipy, scikit-learn, fairlearn, torchmetrics) on data they draw themselves, or on data the
chapter passes in (``course.check("2.1", lesion_share, ds=ds)``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch

__all__ = ["EXERCISES", "Exercise", "assert_close", "check", "exercise"]

Level = Literal["easy", "medium", "hard"]


@dataclass(frozen=True)
class Exercise:
    """One exercise: ``key`` ``"C.N"``, its level and title, and the function that checks it.

    ``run(answer, **context)`` raises ``AssertionError`` naming what is wrong, and returns a
    one-line summary of what was checked when the answer passes.
    """

    key: str
    level: Level
    title: str
    run: Callable[..., str]

    @property
    def chapter(self) -> int:
        return int(self.key.split(".")[0])


EXERCISES: dict[str, Exercise] = {}


def exercise(key: str, level: Level, title: str) -> Callable[[Callable[..., str]], Callable]:
    """Register the decorated check function as exercise ``key``."""

    def register(run: Callable[..., str]) -> Callable[..., str]:
        if key in EXERCISES:
            raise ValueError(f"exercise {key} is registered twice")
        EXERCISES[key] = Exercise(key, level, title, run)
        return run

    return register


def assert_close(got: Any, want: float, tol: float, what: str) -> None:
    """Assert that ``got`` is one finite number within ``tol`` of ``want``; ``what`` names it."""
    assert isinstance(got, (int, float, np.floating)) or (
        isinstance(got, torch.Tensor) and got.numel() == 1
    ), f"{what}: expected one number, got {type(got).__name__}"
    got = float(got)
    assert math.isfinite(got), f"{what}: got {got}"
    assert abs(got - want) <= tol, f"{what}: got {got:.6g}, expected {want:.6g}"


def check(key: str, answer: Any, **context: Any) -> bool:
    """Check ``answer`` to exercise ``key``; ``context`` is data the chapter passes in.

    Returns:
        ``True`` when the answer passes (and prints what was checked); ``False`` when it is
        still the stub (it raised ``NotImplementedError``), with a hint printed.

    Raises:
        KeyError: no exercise ``key``.
        AssertionError: the answer is wrong; the message says how.
    """
    if key not in EXERCISES:  # the registry is filled when medgan_utils.course is imported
        raise KeyError(f"no exercise {key!r}; there are {', '.join(sorted(EXERCISES))}")
    ex = EXERCISES[key]
    try:
        summary = ex.run(answer, **context)
    except NotImplementedError:
        print(f"Exercise {key} ({ex.level}): not attempted yet. Fill in the cell above and run it.")
        return False
    except AssertionError as err:
        raise AssertionError(f"Exercise {key} ({ex.title}): {err}") from None
    print(f"Exercise {key} ({ex.level}): correct. {summary}")
    return True
