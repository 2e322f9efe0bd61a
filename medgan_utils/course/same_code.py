"""Checks that the code a chapter writes out is the package's code (d2l.ai's ``#@save`` idea).

A chapter writes the DCGAN's networks and training step in cells a learner reads and runs,
then calls these functions: they fail with an ``AssertionError`` saying what differs when the
page and the package drift apart, so the book build catches it and nothing is maintained
twice without a check.

- :func:`assert_same_network`: same ``state_dict`` keys and shapes, same parameter count,
  and the same outputs on the same inputs once the package's weights are loaded into the
  page's network.
- :func:`assert_same_train_step`: one training step written on the page moves the weights
  exactly as :meth:`medgan_utils.gan.train.GANTrainer.train_step` does, from the same start,
  on the same batch and noise.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from medgan_utils.gan.train import GANTrainer

__all__ = ["assert_same_network", "assert_same_train_step"]


def _shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


def assert_same_network(
    mine: nn.Module, package: nn.Module, *inputs: torch.Tensor, atol: float = 0.0
) -> str:
    """Assert that ``mine`` is ``package``'s network: same layers, same function.

    Loads ``package``'s weights into ``mine`` (``strict=True``), puts both in eval mode and
    compares their outputs on ``inputs``.

    Args:
        mine: the network written on the page (its weights are overwritten).
        package: the package's network of the same architecture.
        *inputs: what both are called with, e.g. ``z`` of shape ``(N, 100)``.
        atol: largest absolute difference allowed between the outputs.

    Returns:
        A one-line summary (parameter count, largest output difference).

    Raises:
        AssertionError: the keys, shapes, parameter counts or outputs differ; the message
            names the first difference.
    """
    a, b = _shapes(mine), _shapes(package)
    missing, extra = sorted(set(b) - set(a)), sorted(set(a) - set(b))
    assert not missing and not extra, (
        f"different layers: the package has {missing[:5]} that yours lacks, "
        f"yours has {extra[:5]} that the package lacks"
    )
    for key, shape in b.items():
        assert a[key] == shape, f"{key}: your shape {a[key]}, the package's {shape}"
    mine.load_state_dict(package.state_dict(), strict=True)
    was = mine.training, package.training
    mine.eval()
    package.eval()
    try:
        with torch.no_grad():
            out_mine, out_package = mine(*inputs), package(*inputs)
    finally:
        mine.train(was[0])
        package.train(was[1])
    assert out_mine.shape == out_package.shape, (
        f"your output has shape {tuple(out_mine.shape)}, the package's {tuple(out_package.shape)}"
    )
    diff = (out_mine.float() - out_package.float()).abs().max().item()
    assert diff <= atol, f"same weights, different outputs: largest difference {diff:.3g}"
    n = sum(p.numel() for p in package.parameters())
    return f"same {len(b)} tensors ({n:,} parameters), same outputs (largest difference {diff:.1g})"


def assert_same_train_step(
    step: Callable[..., Any],
    trainer: GANTrainer,
    real: torch.Tensor,
    z: torch.Tensor,
    atol: float = 1e-6,
) -> str:
    """Assert that the page's ``step(G, D, opt_g, opt_d, real, z)`` is the trainer's step.

    Copies the trainer's networks and builds Adam optimisers for the copies with the
    trainer's settings, runs the page's step on the copies and
    :meth:`~medgan_utils.gan.train.GANTrainer.train_step` on the originals, and compares
    every weight afterwards. The trainer must run in fp32 (``TrainConfig(precision="fp32")``)
    with the plain recipe (no EMA, augmentation, R1, or ``n_critic > 1``), which is what the
    page writes.

    Args:
        step: the page's training step; it updates the networks in place.
        trainer: a fresh :class:`~medgan_utils.gan.train.GANTrainer` (its weights change).
        real: ``(N, C, S, S)`` real images in ``[-1, 1]``.
        z: ``(N, latent_dim)`` noise.
        atol: largest absolute difference allowed between any two weights afterwards.

    Returns:
        A one-line summary.

    Raises:
        AssertionError: the trainer is not in the plain fp32 setting, or a weight differs.
    """
    cfg = trainer.config
    assert trainer.amp_dtype is None, "build the trainer with TrainConfig(precision='fp32')"
    plain = cfg.ema_decay is None and not cfg.augment and not cfg.r1_gamma and cfg.n_critic == 1
    assert plain, "compare with the plain recipe: no EMA, augmentation, R1 or n_critic > 1"
    G, D = copy.deepcopy(trainer.G), copy.deepcopy(trainer.D)
    betas = (cfg.beta1, cfg.beta2)
    opt_g = torch.optim.Adam(G.parameters(), lr=cfg.lr_g, betas=betas)
    opt_d = torch.optim.Adam(D.parameters(), lr=cfg.lr_d, betas=betas)
    step(G, D, opt_g, opt_d, real.clone(), z.clone())
    trainer.train_step(real.clone(), None, z.clone())
    worst, where = 0.0, ""
    for name, mine, theirs in [("G", G, trainer.G), ("D", D, trainer.D)]:
        theirs_state = theirs.state_dict()
        for key, value in mine.state_dict().items():
            if not value.is_floating_point():
                continue  # BatchNorm's step counter
            diff = (value - theirs_state[key]).abs().max().item()
            if diff > worst:
                worst, where = diff, f"{name}.{key}"
    assert worst <= atol, f"after one step {where} differs by {worst:.3g} from the package's"
    return f"one step moves every weight of G and D as the package's does (within {atol:g})"
