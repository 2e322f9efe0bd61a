"""What the benchmark scripts share: best-of-N timing, a markdown table printer, and the
seeded step loop of the conditional-GAN benchmarks.

The scripts run as ``python benchmarks/NAME.py``, so this folder is on ``sys.path``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import torch

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


def train_with_checks(
    trainer: Any, data: Any, steps: int, every: int, seed: int, check: Callable[[Any], T]
) -> list[T]:
    """``steps`` calls of ``trainer.train_step`` on batches of 64 labelled images drawn with
    replacement from ``data`` (seeded by ``seed``, so a run repeats on one machine), and
    ``check(trainer.G)`` with G in eval mode after every ``every`` steps; the checks' results.
    """
    g = torch.Generator().manual_seed(seed)
    rng = torch.Generator().manual_seed(seed + 1)
    out = []
    for step in range(1, steps + 1):
        idx = torch.randint(len(data), (64,), generator=g)
        z = torch.randn(64, trainer.model_config.latent_dim, generator=g)
        trainer.train_step(data.images[idx], data.labels[idx], z, rng)
        if step % every == 0:
            trainer.G.eval()
            out.append(check(trainer.G))
            trainer.G.train()
    return out
