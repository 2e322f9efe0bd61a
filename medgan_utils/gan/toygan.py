"""Toy GANs on mixtures of Gaussians: small enough to train in seconds on a CPU.

Two small MLPs learn a :class:`~medgan_utils.gan.mixture.Mixture` (a line or a ring of
Gaussians whose density is known exactly), so what GAN theory predicts can be checked
numerically. This module holds the config, the networks, the trainer (:class:`ToyGAN`) and
the :class:`ToySnapshot` its plots are drawn from; the data and the theory's quantities are
in :mod:`medgan_utils.gan.mixture`, the figures in :mod:`medgan_utils.gan.toyplots`. The
chapter *GAN theory* and the toy-GAN dashboard
(:func:`medgan_utils.dashboards.toy_gan_dashboard`) are built on these. The losses are
those of :mod:`medgan_utils.gan.train`, the same as for the image GANs.

Example:
    >>> gan = ToyGAN(ToyGANConfig(dims=1, modes=3, seed=0))
    >>> gan.step(500)  # doctest: +SKIP
    >>> gan.modes_covered(), gan.w1()  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

from medgan_utils.gan.mixture import Mixture, _points, gaussian_kde
from medgan_utils.gan.train import LOSSES, discriminator_loss, generator_loss, gradient_penalty

__all__ = ["ToyGANConfig", "ToyGenerator", "ToyDiscriminator", "ToyGAN", "ToySnapshot"]


@dataclass(frozen=True)
class ToyGANConfig:
    """A toy GAN: its data, its two MLPs and how they are trained.

    Args:
        dims: 1 (a line of Gaussians, ``spacing`` 2 apart) or 2 (a ring of radius 2).
        modes: number of Gaussians ``k``.
        std: standard deviation of each mode; ``None``: 0.25 in 1-D, 0.1 in 2-D.
        hidden: width of the hidden layers of both networks.
        depth: number of hidden layers of both networks.
        latent_dim: length of the noise vector ``z``. Keep it small: with 8 the 1-D
            generator starves the middle one of 3 modes, with 1 or 2 it spreads them evenly.
        lr_g, lr_d: Adam learning rates of generator and discriminator.
        loss: "bce" (non-saturating), "hinge" or "wgan-gp", as in :mod:`medgan_utils.gan.train`.
        batch_size: real and generated points per step.
        beta1, beta2: Adam betas.
        n_critic: discriminator steps per generator step.
        gp_weight: weight of WGAN-GP's gradient penalty: 10 in the paper's image models, 0.1
            in its authors' toy code; 1 trains both toys here.
        n_eval: points drawn from the fixed noise for plots and metrics.
        seed: seeds weights, noise and data: the same seed repeats a run exactly.

    Example:
        >>> ToyGANConfig(dims=2, modes=8).mixture().means.shape
        (8, 2)
    """

    dims: int = 1
    modes: int = 3
    std: float | None = None
    hidden: int = 64
    depth: int = 2
    latent_dim: int = 2
    lr_g: float = 1e-3
    lr_d: float = 1e-3
    loss: Literal["bce", "hinge", "wgan-gp"] = "bce"
    batch_size: int = 128
    beta1: float = 0.5
    beta2: float = 0.999
    n_critic: int = 1
    gp_weight: float = 1.0
    n_eval: int = 2000
    seed: int = 0

    def __post_init__(self) -> None:
        if self.dims not in (1, 2):
            raise ValueError(f"dims must be 1 or 2, got {self.dims!r}")
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        for name in ("modes", "hidden", "depth", "latent_dim", "batch_size", "n_critic", "n_eval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")

    def mixture(self) -> Mixture:
        """The data distribution this config describes."""
        if self.dims == 1:
            return Mixture.line(self.modes, std=0.25 if self.std is None else self.std)
        return Mixture.ring(self.modes, std=0.1 if self.std is None else self.std)


def _mlp(n_in: int, width: int, n_out: int, depth: int, act: type[nn.Module]) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(depth):
        layers += [nn.Linear(n_in if i == 0 else width, width), act()]
    return nn.Sequential(*layers, nn.Linear(width, n_out))


def _adam(module: nn.Module, lr: float, config: ToyGANConfig) -> torch.optim.Adam:
    """Adam with the config's betas; the fused CPU kernel (torch >= 2.4) where available,
    about a fifth faster on these tiny networks."""
    betas = (config.beta1, config.beta2)
    try:
        return torch.optim.Adam(module.parameters(), lr=lr, betas=betas, fused=True)
    except (RuntimeError, TypeError):  # pragma: no cover - older torch
        return torch.optim.Adam(module.parameters(), lr=lr, betas=betas)


@contextmanager
def _one_thread() -> Iterator[None]:
    """Run torch on one CPU thread: for these tiny matrices, thread hand-offs cost more than
    they save (on a busy 2-core machine a 1-D step takes ~1 ms on one thread, 15 on two)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class ToyGenerator(nn.Module):
    """``z (N, latent_dim)`` -> [Linear -> ReLU] x depth -> Linear -> ``x (N, d)``."""

    def __init__(self, config: ToyGANConfig) -> None:
        super().__init__()
        self.net = _mlp(config.latent_dim, config.hidden, config.dims, config.depth, nn.ReLU)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z)


class ToyDiscriminator(nn.Module):
    """``x (N, d)`` -> [Linear -> LeakyReLU(0.01)] x depth -> Linear -> logits ``(N,)``.

    It also accepts ``(N, d, 1, 1)`` points and a (unused) ``labels`` argument, the image
    discriminator's signature, so :func:`medgan_utils.gan.train.gradient_penalty` applies as is.
    """

    def __init__(self, config: ToyGANConfig) -> None:
        super().__init__()
        self.net = _mlp(config.dims, config.hidden, 1, config.depth, nn.LeakyReLU)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        return self.net(x.flatten(1)).squeeze(1)


@dataclass(frozen=True)
class ToySnapshot:
    """Everything a plot of a toy GAN needs, as NumPy arrays (see
    :func:`~medgan_utils.gan.toyplots.plot_snapshot`).

    ``axis`` ``(n,)`` are the grid's coordinates; densities and the discriminator are
    ``(n,)`` in 1-D and ``(n, n)`` (rows = y) in 2-D. ``discriminator`` is D's probability
    ``D(x)`` for the bce loss and its raw score for hinge and WGAN-GP. ``samples`` ``(m, d)``
    come from the fixed noise; ``d_real``/``d_fake`` ``(steps,)`` are the mean outputs per step.
    """

    step: int
    dims: int
    loss: str
    axis: np.ndarray
    real_density: np.ndarray
    generated_density: np.ndarray
    discriminator: np.ndarray
    samples: np.ndarray
    means: np.ndarray
    std: float
    modes_covered: int
    high_quality_share: float
    d_real: np.ndarray
    d_fake: np.ndarray


class ToyGAN:
    """A generator and a discriminator MLP learning a :class:`Mixture`, step by step.

    Seeded and deterministic: two ``ToyGAN`` of the same config give identical runs, and
    building one leaves torch's global random state untouched.

    Args:
        config: the toy (:class:`ToyGANConfig`); defaults to a 1-D line of 3 Gaussians.

    Attributes:
        steps: training steps done. ``history``: one dict per step (``loss_d``, ``d_real``,
        ``d_fake`` and, on generator steps, ``loss_g``). ``fixed_noise``: ``(n_eval,
        latent_dim)``, the noise behind :meth:`samples`.

    Example:
        >>> ToyGAN(ToyGANConfig(dims=2, modes=8)).samples().shape
        (2000, 2)
    """

    def __init__(self, config: ToyGANConfig | None = None) -> None:
        self.config = config = config or ToyGANConfig()
        self.mixture = config.mixture()
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.G = ToyGenerator(config)
            self.D = ToyDiscriminator(config)
        self.opt_g = _adam(self.G, config.lr_g, config)
        self.opt_d = _adam(self.D, config.lr_d, config)
        self.rng = torch.Generator().manual_seed(config.seed)  # batches, noise, penalty
        eval_rng = torch.Generator().manual_seed(config.seed + 1)
        self.fixed_noise = torch.randn(config.n_eval, config.latent_dim, generator=eval_rng)
        self.real_eval = self.mixture.sample(config.n_eval, eval_rng)
        self.steps = 0
        self.history: list[dict[str, float]] = []

    # -- training --------------------------------------------------------------------------

    def d_step(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, float]:
        """One discriminator update on real and (detached) generated points ``(N, d)``.

        Objective: score real points high and generated ones low, i.e. minimise
        :func:`~medgan_utils.gan.train.discriminator_loss` (plus the gradient penalty for WGAN-GP).
        """
        self.opt_d.zero_grad(set_to_none=True)
        logits = self.D(torch.cat([real, fake]))  # one forward pass for both halves
        real_logits, fake_logits = logits[: len(real)], logits[len(real) :]
        loss = discriminator_loss(real_logits, fake_logits, self.config.loss)
        if self.config.loss == "wgan-gp":  # gradient_penalty expects image-shaped batches
            penalty = gradient_penalty(
                self.D, real[..., None, None], fake[..., None, None], None, self.rng
            )
            loss = loss + self.config.gp_weight * penalty
        loss.backward()
        self.opt_d.step()
        out = torch.sigmoid(logits.detach()) if self.config.loss == "bce" else logits.detach()
        return {
            "loss_d": loss.item(),
            "d_real": out[: len(real)].mean().item(),
            "d_fake": out[len(real) :].mean().item(),
        }

    def g_step(self, fake: torch.Tensor) -> dict[str, float]:
        """One generator update through ``fake = G(z)`` ``(N, d)``, still attached to G.

        Objective: make D score generated points as real, i.e. minimise
        :func:`~medgan_utils.gan.train.generator_loss` (non-saturating ``-log D(G(z))`` for bce).
        """
        self.opt_g.zero_grad(set_to_none=True)
        loss = generator_loss(self.D(fake), self.config.loss)
        loss.backward()
        self.opt_g.step()
        return {"loss_g": loss.item()}

    def step(self, n: int = 1) -> dict[str, float]:
        """Train ``n`` steps: a discriminator step, then (every ``n_critic``) a generator step.

        Returns:
            The last step's logs (also appended to ``history``).
        """
        cfg = self.config
        logs: dict[str, float] = {}
        with _one_thread():
            for _ in range(n):
                real = self.mixture.sample(cfg.batch_size, self.rng)
                z = torch.randn(cfg.batch_size, cfg.latent_dim, generator=self.rng)
                take_g_step = self.steps % cfg.n_critic == 0
                with torch.set_grad_enabled(take_g_step):
                    fake = self.G(z)  # one G forward serves both steps
                logs = self.d_step(real, fake.detach())
                if take_g_step:
                    logs.update(self.g_step(fake))
                self.steps += 1
                self.history.append(logs)
        return logs

    def train_discriminator(self, n: int) -> dict[str, float]:
        """``n`` discriminator steps against a frozen generator (does not count as ``steps``).

        With enough steps D approaches the optimal discriminator of the current generator.
        """
        logs: dict[str, float] = {}
        with _one_thread():
            for _ in range(n):
                real = self.mixture.sample(self.config.batch_size, self.rng)
                z = torch.randn(self.config.batch_size, self.config.latent_dim, generator=self.rng)
                with torch.no_grad():
                    fake = self.G(z)
                logs = self.d_step(real, fake)
        return logs

    def set_learning_rates(self, lr_g: float, lr_d: float) -> None:
        """Change both learning rates in place; training continues from the current state."""
        self.config = dataclasses.replace(self.config, lr_g=lr_g, lr_d=lr_d)
        for opt, lr in ((self.opt_g, lr_g), (self.opt_d, lr_d)):
            for group in opt.param_groups:
                group["lr"] = lr

    # -- what plots and metrics need ------------------------------------------------------

    @torch.no_grad()
    def samples(self, n: int | None = None) -> np.ndarray:
        """Generated points ``(n, d)`` from the fixed noise (``n <= n_eval``, default all)."""
        return self.G(self.fixed_noise[:n]).double().numpy()

    @torch.no_grad()
    def discriminator(self, x: np.ndarray | torch.Tensor) -> np.ndarray:
        """D at the points ``x`` ``(N, d)``: the probability ``D(x)`` for bce, else the score."""
        logits = self.D(torch.as_tensor(_points(x, self.mixture.dims), dtype=torch.float32))
        out = torch.sigmoid(logits) if self.config.loss == "bce" else logits
        return out.double().numpy()

    def generated_density(
        self, x: np.ndarray | torch.Tensor, bandwidth: float | None = None
    ) -> np.ndarray:
        """Kernel density estimate ``(N,)`` of the generator at ``x`` from :meth:`samples`.

        ``bandwidth`` defaults to half the data's std: fine enough to resolve the modes.
        """
        h = self.mixture.std / 2 if bandwidth is None else bandwidth
        return gaussian_kde(self.samples(), x, h)

    def modes_covered(self, min_share: float | None = None) -> int:
        """Modes holding ``min_share`` of the samples (see :meth:`Mixture.modes_covered`)."""
        return self.mixture.modes_covered(self.samples(), min_share)

    def high_quality_share(self) -> float:
        """The share of samples within 3 std of some mode's mean."""
        return self.mixture.high_quality_share(self.samples())

    def w1(self) -> float:
        """Wasserstein-1 distance between the samples and as many real points (1-D only)."""
        from scipy.stats import wasserstein_distance

        if self.mixture.dims != 1:
            raise ValueError("w1() is defined for the 1-D toy only")
        return float(wasserstein_distance(self.samples()[:, 0], self.real_eval[:, 0].numpy()))

    def snapshot(self, grid_size: int | None = None) -> ToySnapshot:
        """The current state as arrays for :func:`~medgan_utils.gan.toyplots.plot_snapshot`
        (``grid_size`` points per axis)."""
        m = self.mixture
        n = grid_size or (400 if m.dims == 1 else 100)
        grid = m.grid(n)
        shape = (n,) if m.dims == 1 else (n, n)
        samples = self.samples()
        return ToySnapshot(
            step=self.steps,
            dims=m.dims,
            loss=self.config.loss,
            axis=m.axis(n),
            real_density=m.density(grid).reshape(shape),
            generated_density=gaussian_kde(samples, grid, m.std / 2).reshape(shape),
            discriminator=self.discriminator(grid).reshape(shape),
            samples=samples,
            means=m.means,
            std=m.std,
            modes_covered=m.modes_covered(samples),
            high_quality_share=m.high_quality_share(samples),
            d_real=np.array([h["d_real"] for h in self.history]),
            d_fake=np.array([h["d_fake"] for h in self.history]),
        )
