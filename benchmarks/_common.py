"""What every benchmark script shares: best-of-N timing and a markdown table printer.

The scripts run as ``python benchmarks/NAME.py``, so this folder is on ``sys.path``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def timed(fn: Callable[[], T], repeat: int = 1) -> tuple[T, float]:
    """Run ``fn`` ``repeat`` times; return its last result and the best time (as timeit)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return out, best


def print_table(header: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> None:
    """Print a markdown table; the first ``left`` columns align left, the others right."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    for row in [header, ["-" * w for w in widths], *rows]:
        pairs = enumerate(zip(row, widths, strict=True))
        cells = [str(c).ljust(w) if i < left else str(c).rjust(w) for i, (c, w) in pairs]
        print("| " + " | ".join(cells) + " |")
