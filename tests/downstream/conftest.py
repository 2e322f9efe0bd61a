"""Fixtures of the classifier and fine-tuning tests."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch


@pytest.fixture(scope="session")
def toy() -> Callable[..., tuple[torch.Tensor, torch.Tensor]]:
    """``toy(n, seed=0, size=64)``: images ``(n, 1, size, size)`` and targets ``(n,)``."""
    return _toy


def _toy(n: int, seed: int = 0, size: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """Noise images; the positives carry a bright 12x12 square somewhere: easily separable."""
    g = torch.Generator().manual_seed(seed)
    x = -0.8 + 0.1 * torch.randn(n, 1, size, size, generator=g)
    y = (torch.arange(n) % 3 == 0).long()
    for i in torch.nonzero(y).flatten().tolist():
        r, c = (int(v) for v in torch.randint(8, size - 20, (2,), generator=g))
        x[i, :, r : r + 12, c : c + 12] += 1.5
    return x.clamp(-1, 1), y
