"""Tests for medgan_utils.gan.ema: the average moves toward the live weights at the rate its
decay sets, with and without warm-up; BatchNorm statistics are averaged, counts copied."""

from __future__ import annotations

import pytest
import torch

from medgan_utils.gan.ema import GeneratorEMA, ema_decay
from medgan_utils.gan.models import DCGANConfig, Generator

CONFIG = DCGANConfig(image_size=32, width=4, latent_dim=8)


def _shift(G: Generator, by: float) -> None:
    """Add ``by`` to every floating weight and statistic of ``G``."""
    with torch.no_grad():
        for v in G.state_dict().values():
            if v.is_floating_point():
                v.add_(by)


def _floats(G: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.clone() for k, v in G.state_dict().items() if v.is_floating_point()}


def test_first_update_copies_then_each_moves_by_one_minus_decay() -> None:
    torch.manual_seed(0)
    G = Generator(CONFIG)
    ema = GeneratorEMA(G, decay=0.9)
    _shift(G, 0.5)  # a first training step
    ema.update(G)  # the first update copies the live weights
    for k, v in _floats(G).items():
        assert torch.equal(ema.generator.state_dict()[k], v), k
    before = _floats(ema.generator)
    _shift(G, 1.0)
    live = _floats(G)
    ema.update(G)
    for k, v in _floats(ema.generator).items():
        torch.testing.assert_close(v, 0.9 * before[k] + 0.1 * live[k], rtol=1e-6, atol=1e-6)
    assert ema.n_updates == 2


def test_geometric_rate_towards_fixed_weights() -> None:
    """With the live weights held still, the gap shrinks by ``decay`` at every update."""
    torch.manual_seed(1)
    G = Generator(CONFIG)
    ema = GeneratorEMA(G, decay=0.8)
    ema.update(G)
    start = _floats(ema.generator)
    _shift(G, 2.0)
    target = _floats(G)
    for _ in range(5):
        ema.update(G)
    for k, v in _floats(ema.generator).items():
        expected = target[k] + 0.8**5 * (start[k] - target[k])
        torch.testing.assert_close(v, expected, rtol=1e-5, atol=1e-5)


def test_warmup_ramps_the_decay() -> None:
    decay = 0.999
    assert [ema_decay(decay, n, True) for n in (1, 2, 10)] == [2 / 11, 3 / 12, 11 / 20]
    assert ema_decay(decay, 10**6, True) == decay == ema_decay(decay, 1, False)
    torch.manual_seed(2)
    G = Generator(CONFIG)
    ema = GeneratorEMA(G, decay=decay, warmup=True)
    ema.update(G)  # copy
    for n in (1, 2, 3):
        before = _floats(ema.generator)
        _shift(G, 1.0)
        live = _floats(G)
        ema.update(G)
        beta = min(decay, (1 + n) / (10 + n))
        for k, v in _floats(ema.generator).items():
            torch.testing.assert_close(v, beta * before[k] + (1 - beta) * live[k])


def test_batchnorm_statistics_averaged_and_counts_copied() -> None:
    G = Generator(CONFIG)
    ema = GeneratorEMA(G, decay=0.5)
    G.train()(torch.randn(8, 8))  # running statistics and num_batches_tracked move
    ema.update(G)
    G(torch.randn(8, 8))
    mean_before = ema.generator.main[1].running_mean.clone()
    ema.update(G)
    torch.testing.assert_close(
        ema.generator.main[1].running_mean, 0.5 * mean_before + 0.5 * G.main[1].running_mean
    )
    assert ema.generator.main[1].num_batches_tracked == G.main[1].num_batches_tracked == 2
    assert not any(p.requires_grad for p in ema.parameters())


def test_bad_decay() -> None:
    with pytest.raises(ValueError, match=r"ema_decay must lie in \(0, 1\)"):
        GeneratorEMA(Generator(CONFIG), decay=1.0)
