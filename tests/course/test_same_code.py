"""The checks that hold a chapter's written-out code to the package's (chapter 3's DCGAN)."""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import medgan_utils as mu
from medgan_utils.course.same_code import assert_same_network, assert_same_train_step


def _generator(slope: float | None = None) -> nn.Sequential:
    """The 32 px DCGAN generator's layers, as pytorch/examples writes them (width 8)."""
    act = (lambda: nn.ReLU(True)) if slope is None else (lambda: nn.LeakyReLU(slope))
    return nn.Sequential(
        nn.ConvTranspose2d(100, 32, 4, 1, 0, bias=False),
        nn.BatchNorm2d(32),
        act(),
        nn.ConvTranspose2d(32, 16, 4, 2, 1, bias=False),
        nn.BatchNorm2d(16),
        act(),
        nn.ConvTranspose2d(16, 8, 4, 2, 1, bias=False),
        nn.BatchNorm2d(8),
        act(),
        nn.ConvTranspose2d(8, 1, 4, 2, 1, bias=False),
        nn.Tanh(),
    )


class PageGenerator(nn.Module):
    def __init__(self, slope: float | None = None) -> None:
        super().__init__()
        self.main = _generator(slope)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.main(z[:, :, None, None])


CONFIG = mu.DCGANConfig(image_size=32, width=8)


def test_the_same_network_passes_and_a_different_one_fails():
    G, _ = mu.build_gan(CONFIG)
    z = torch.randn(4, 100, generator=torch.Generator().manual_seed(0))
    assert "same outputs" in assert_same_network(PageGenerator(), G, z)
    # same layers and weights, another activation: the outputs tell them apart
    with pytest.raises(AssertionError, match="different outputs"):
        assert_same_network(PageGenerator(slope=0.2), G, z)
    # a layer missing: named before any weight is loaded
    short = PageGenerator()
    short.main = short.main[:-2]
    with pytest.raises(AssertionError, match="different layers"):
        assert_same_network(short, G, z)
    # a layer of another size
    wide = PageGenerator()
    wide.main[0] = nn.ConvTranspose2d(100, 32, 3, 1, 0, bias=False)
    with pytest.raises(AssertionError, match=r"main\.0\.weight: your shape"):
        assert_same_network(wide, G, z)


def _step(G, D, opt_g, opt_d, real, z, saturating=False):
    fake = G(z)
    opt_d.zero_grad()
    loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
    loss_d.backward()
    opt_d.step()
    opt_g.zero_grad()
    loss_g = -F.softplus(D(fake)).mean() if saturating else F.softplus(-D(fake)).mean()
    loss_g.backward()
    opt_g.step()


def _trainer(**options) -> mu.GANTrainer:
    cfg = mu.TrainConfig(precision="fp32", seed=0, batch_size=8, **options)
    return mu.GANTrainer(CONFIG, cfg)


def test_the_written_out_step_is_the_trainers_and_another_loss_is_not():
    g = torch.Generator().manual_seed(1)
    real, z = torch.rand(8, 1, 32, 32, generator=g) * 2 - 1, torch.randn(8, 100, generator=g)
    trainer = _trainer()
    start = copy.deepcopy(trainer.G.state_dict())
    assert "as the package's does" in assert_same_train_step(_step, trainer, real, z)
    assert any(not torch.equal(start[k], v) for k, v in trainer.G.state_dict().items())
    with pytest.raises(AssertionError, match="differs by"):
        assert_same_train_step(lambda *a: _step(*a, saturating=True), _trainer(), real, z)


def test_the_step_check_refuses_settings_the_page_does_not_write():
    real, z = torch.zeros(8, 1, 32, 32), torch.zeros(8, 100)
    with pytest.raises(AssertionError, match="plain recipe"):
        assert_same_train_step(_step, _trainer(ema_decay=0.99), real, z)
    bf16 = mu.GANTrainer(CONFIG, mu.TrainConfig(precision="bf16", seed=0, batch_size=8))
    with pytest.raises(AssertionError, match="fp32"):
        assert_same_train_step(_step, bf16, real, z)
