"""The toy GAN trainer: seeded runs, learning, other losses, config validation."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from medgan_utils.gan.toygan import ToyGAN, ToyGANConfig


def test_same_seed_same_run_and_global_rng_untouched():
    config = ToyGANConfig(dims=2, modes=4, batch_size=32, n_eval=100, seed=3)
    before = torch.get_rng_state()
    a, b = ToyGAN(config), ToyGAN(config)
    assert torch.equal(before, torch.get_rng_state())
    a.step(20)
    b.step(20)
    assert np.array_equal(a.samples(), b.samples())
    assert a.history == b.history
    c = ToyGAN(dataclasses.replace(config, seed=4))
    c.step(20)
    assert not np.array_equal(a.samples(), c.samples())


def test_a_1d_run_learns_the_data():
    gan = ToyGAN(ToyGANConfig(dims=1, modes=2, seed=0))
    w_before = gan.w1()
    gan.step(1500)
    w_after = gan.w1()
    assert gan.steps == 1500 and len(gan.history) == 1500
    assert w_after < 0.4 * w_before, (w_before, w_after)
    assert gan.modes_covered() == 2


@pytest.mark.parametrize("loss", ["hinge", "wgan-gp"])
def test_other_losses_train(loss: str):
    gan = ToyGAN(ToyGANConfig(dims=2, modes=3, loss=loss, n_critic=2, batch_size=16, n_eval=50))
    logs = gan.step(4)
    assert np.isfinite(logs["loss_d"]) and len(gan.history) == 4
    assert sum("loss_g" in h for h in gan.history) == 2  # a G step every n_critic steps
    assert gan.discriminator(np.zeros((5, 2))).shape == (5,)


def test_train_discriminator_and_set_learning_rates():
    gan = ToyGAN(ToyGANConfig(dims=1, modes=1, n_eval=100))
    g_before = [p.clone() for p in gan.G.parameters()]
    gan.train_discriminator(5)
    assert gan.steps == 0
    assert all(torch.equal(a, b) for a, b in zip(g_before, gan.G.parameters(), strict=True))
    gan.set_learning_rates(0.01, 0.02)
    assert gan.opt_g.param_groups[0]["lr"] == 0.01 and gan.opt_d.param_groups[0]["lr"] == 0.02
    assert (gan.config.lr_g, gan.config.lr_d) == (0.01, 0.02)


def test_config_validation():
    with pytest.raises(ValueError, match="dims"):
        ToyGANConfig(dims=3)
    with pytest.raises(ValueError, match="loss"):
        ToyGANConfig(loss="minimax")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="modes"):
        ToyGANConfig(modes=0)
