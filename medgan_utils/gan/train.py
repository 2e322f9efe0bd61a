"""A readable GAN training engine: one discriminator step, one generator step, callbacks.

The loop follows pytorch/examples ``dcgan/main.py`` and d2l's GAN chapter: each batch
runs a discriminator step on real images and detached fakes, then a generator step that
back-propagates through the same fakes. Everything else (progress bars, live plots,
sample grids, checkpoints) is a :class:`Callback`, so the loop stays short.

The modern recipe's pieces are options of :class:`TrainConfig`, each in its own module:
an average of G's weights for sampling (:mod:`~medgan_utils.gan.ema`), the R1 penalty
(:mod:`~medgan_utils.gan.penalties`) and differentiable augmentation
(:mod:`~medgan_utils.gan.augment`); hinge loss is a ``loss``, and spectral norm, minibatch
std and upsample + conv are architecture options (:class:`DCGANConfig`). Their defaults
are off: the plain DCGAN.

Several processes (``torchrun``) train one model together when the trainer is given their
:class:`~medgan_utils.gan.distributed.World`: each trains on its share of every batch and
the gradients are averaged before each step (the module says how and why). Given none, the
trainer is one process, exactly as before.

Example:
    >>> trainer = GANTrainer(DCGANConfig(image_size=32), TrainConfig(epochs=1))  # doctest: +SKIP
    >>> trainer.fit(load_dataset("builtin", 32))                                  # doctest: +SKIP
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from contextlib import nullcontext
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, DistributedSampler, WeightedRandomSampler

from medgan_utils.gan.augment import diff_augment, parse_policy
from medgan_utils.gan.distributed import World
from medgan_utils.gan.ema import GeneratorEMA
from medgan_utils.gan.models import DCGANConfig, Discriminator, Generator, build_gan
from medgan_utils.gan.penalties import r1_penalty
from medgan_utils.settings import atomic_path, pick_precision, set_seed

__all__ = [
    "TrainConfig",
    "GANTrainer",
    "Callback",
    "discriminator_loss",
    "generator_loss",
    "gradient_penalty",
    "read_checkpoint_meta",
]

LOSSES = ("bce", "hinge", "wgan-gp")
PRECISIONS = ("auto", "fp32", "bf16", "fp16")


@dataclass(frozen=True)
class TrainConfig:
    """How to train; defaults are the DCGAN paper's (Adam 2e-4, beta1 0.5, batch 64).

    Args:
        epochs: passes over the training set.
        batch_size: images per step; with several processes the global batch, each
            process taking ``batch_size / processes`` of them.
        loss: "bce" (non-saturating, the default), "hinge" or "wgan-gp".
        lr_g, lr_d: Adam learning rates of generator and discriminator.
        beta1, beta2: Adam betas.
        n_critic: discriminator steps per generator step (5 is usual for WGAN-GP).
        gp_weight: weight of WGAN-GP's gradient penalty.
        seed: seeds weights, noise and shuffling: the same seed repeats a run on one machine.
        precision: "auto" picks bf16 autocast where the CPU or GPU supports it, fp16 on
            older GPUs, else fp32; or force one.
        n_samples: size of the fixed noise batch used for sample grids.
        device: "auto" (CUDA, then MPS, then CPU) or a torch device string.
        ema_decay: None (off), or the decay of an exponential moving average of G's
            weights (e.g. 0.999), which then draws the samples and is the exported generator
            (:mod:`medgan_utils.gan.ema`; Yazıcı et al., 2019).
        ema_warmup: ramp the average's decay up from 0.1 (TensorFlow's rule), so that short
            runs do not average in the random initialisation.
        r1_gamma: weight of the R1 penalty ``gamma / 2 * E||grad D(x_real)||^2`` (0: off;
            :mod:`medgan_utils.gan.penalties`; Mescheder et al., 2018). Not with "wgan-gp",
            which has its own penalty.
        r1_interval: compute R1 every this many steps, scaled by it (lazy, as StyleGAN2).
        augment: DiffAugment policy applied to every image D sees, real and generated, in
            both steps: comma-separated names from
            :data:`~medgan_utils.gan.augment.AUGMENTATIONS` (e.g.
            ``"translation,cutout,brightness,contrast"``; ``""``: off; Zhao et al., 2020).
        balance_classes: draw each epoch's images with replacement, each with probability
            inversely proportional to the size of its class, so that every class fills the
            same share of the batches (a rare class, such as lesion slices, is otherwise
            seen rarely by both players); needs labelled images, one process.
        label_mismatch: weight of a matching-aware discriminator term (Reed et al., 2016,
            "Generative Adversarial Text to Image Synthesis"): D also sees each real image
            with a wrong label, drawn at random, and learns to score that pair as fake. D
            must then tell the classes apart on real images, and G gets that signal back
            (0: off; conditional models only).

    Every option added after the first runs defaults to the old behaviour, so an old
    ``run.json`` or checkpoint without its key resumes as it was trained.
    """

    epochs: int = 25
    batch_size: int = 64
    loss: Literal["bce", "hinge", "wgan-gp"] = "bce"
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    n_critic: int = 1
    gp_weight: float = 10.0
    seed: int = 0
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    n_samples: int = 64
    device: str = "auto"
    ema_decay: float | None = None
    ema_warmup: bool = False
    r1_gamma: float = 0.0
    r1_interval: int = 1
    augment: str = ""
    balance_classes: bool = False
    label_mismatch: float = 0.0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        for name in ("epochs", "batch_size", "n_critic", "n_samples", "r1_interval"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.ema_decay is not None and not 0.0 < self.ema_decay < 1.0:
            raise ValueError(f"ema_decay must lie in (0, 1) or be None, got {self.ema_decay!r}")
        if self.ema_warmup and self.ema_decay is None:
            raise ValueError("ema_warmup needs ema_decay (the average it warms up)")
        if self.r1_gamma < 0:
            raise ValueError(f"r1_gamma must be >= 0, got {self.r1_gamma}")
        if self.r1_gamma > 0 and self.loss == "wgan-gp":
            raise ValueError(
                "r1_gamma: loss 'wgan-gp' has its own gradient penalty (gp_weight); "
                "use R1 with loss 'bce' or 'hinge'"
            )
        if not self.label_mismatch >= 0:  # NaN too
            raise ValueError(f"label_mismatch must be >= 0, got {self.label_mismatch}")
        parse_policy(self.augment)  # unknown names fail here, naming the option

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a JSON-serialisable dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        """Build a config from ``to_dict()`` output; missing keys take their defaults
        (the behaviour of runs recorded before the option existed)."""
        unknown = set(d) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown TrainConfig keys: {sorted(unknown)}")
        return cls(**d)


def _class_balancing_weights(dataset: Dataset) -> torch.Tensor:
    """``(N,)`` sampling weights ``1 / size of the image's class`` (each class sums to 1).

    Raises:
        ValueError: a dataset without labels, or with an unlabelled image (label -1).
    """
    from torch.utils.data import Subset

    labels = getattr(dataset, "labels", None)
    if isinstance(dataset, Subset) and labels is None:
        parent = getattr(dataset.dataset, "labels", None)
        labels = None if parent is None else parent[torch.as_tensor(dataset.indices)]
    if labels is None or len(labels) == 0 or int(torch.as_tensor(labels).min()) < 0:
        raise ValueError(
            "balance_classes needs labelled images (class subfolders, or builtin-labelled); "
            "this dataset has none"
        )
    labels = torch.as_tensor(labels, dtype=torch.long)
    counts = torch.bincount(labels).double()
    return 1.0 / counts[labels]


def discriminator_loss(real: torch.Tensor, fake: torch.Tensor, kind: str) -> torch.Tensor:
    """Discriminator objective on logits ``(N,)`` of real and generated images (minimised).

    - bce: ``-log D(x) - log(1 - D(G(z)))``, the original GAN's discriminator;
    - hinge: ``relu(1 - D(x)) + relu(1 + D(G(z)))``;
    - wgan-gp: ``D(G(z)) - D(x)``, the negative Wasserstein estimate (add the penalty).
    """
    if kind == "bce":  # softplus(-t) = -log(sigmoid(t)), numerically stable
        return F.softplus(-real).mean() + _fake_term(fake, kind)
    if kind == "hinge":
        return F.relu(1 - real).mean() + _fake_term(fake, kind)
    return _fake_term(fake, kind) - real.mean()


def _fake_term(fake: torch.Tensor, kind: str) -> torch.Tensor:
    """The part of :func:`discriminator_loss` that pushes the scores ``fake`` down."""
    if kind == "bce":
        return F.softplus(fake).mean()
    if kind == "hinge":
        return F.relu(1 + fake).mean()
    return fake.mean()


def generator_loss(fake: torch.Tensor, kind: str) -> torch.Tensor:
    """Generator objective on logits ``(N,)`` of generated images (minimised).

    bce uses the non-saturating ``-log D(G(z))`` rather than minimax ``log(1 - D(G(z)))``,
    whose gradient vanishes when the discriminator confidently rejects early samples.
    """
    if kind == "bce":
        return F.softplus(-fake).mean()
    return -fake.mean()


def gradient_penalty(
    D: torch.nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    labels: torch.Tensor | None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-GP's ``E[(||grad D(x_hat)||_2 - 1)^2]`` on random interpolates (Gulrajani 2017).

    ``generator`` (a CPU ``torch.Generator``) draws the interpolation weights, so that a
    seeded run repeats exactly.
    """
    shape = (real.shape[0],) + (1,) * (real.dim() - 1)  # one weight per sample
    alpha = torch.rand(shape, generator=generator).to(real.device)
    x_hat = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
    with torch.autocast(real.device.type, enabled=False):  # second-order grads in fp32
        scores = D(x_hat.float(), labels)
        (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()


class Callback:
    """Hooks the trainer calls; override the ones you need."""

    def on_train_begin(self, trainer: GANTrainer) -> None: ...

    def on_batch_end(self, trainer: GANTrainer, logs: dict[str, float]) -> None: ...

    def on_epoch_end(self, trainer: GANTrainer, logs: dict[str, float]) -> None: ...

    def on_train_end(self, trainer: GANTrainer) -> None: ...


class GANTrainer:
    """Trains a DCGAN pair; holds the models, optimisers, fixed noise and history.

    Args:
        model_config: the architecture (:class:`~medgan_utils.gan.models.DCGANConfig`).
        config: the training settings (:class:`TrainConfig`).
        callbacks: progress, plots, samples, checkpoints (see ``medgan_utils.gan.callbacks``).
            With several processes they run in every one: check ``trainer.world.is_main``
            before writing anything.
        world: the processes training together (:mod:`~medgan_utils.gan.distributed`);
            None: this process alone.

    Attributes:
        epoch: epochs completed. ``history``: one dict of mean losses per epoch.
        fixed_noise: ``(n_samples, latent_dim)``; every sample grid uses it, so epochs compare.
        ema: the :class:`~medgan_utils.gan.ema.GeneratorEMA` with ``ema_decay``, else None.
        generator: the network to sample from and ship: the average when there is one,
            else ``G``.
        batch_per_rank: images each process trains on per step (``batch_size`` alone).

    Raises:
        ValueError: options that do not fit together (``augment="saturation"`` on
            grey-scale images, a ``minibatch_std`` group that does not divide the batch, a
            batch that does not divide by the processes).
    """

    def __init__(
        self,
        model_config: DCGANConfig,
        config: TrainConfig | None = None,
        callbacks: Sequence[Callback] = (),
        world: World | None = None,
    ) -> None:
        self.model_config = model_config
        self.config = config = config or TrainConfig()
        self.callbacks = list(callbacks)
        self.world = world = world or World()
        self.augment = parse_policy(config.augment, model_config.channels)
        self.batch_per_rank = batch = world.per_rank_batch(config.batch_size)
        group = min(model_config.minibatch_std, batch)  # D sees one process's images
        if group and batch % group:
            per_rank = f" ({batch} per process)" if world.size > 1 else ""
            raise ValueError(
                f"minibatch_std={model_config.minibatch_std} needs a batch size divisible by "
                f"it, got batch_size={config.batch_size}{per_rank}"
            )
        if config.label_mismatch and model_config.num_classes < 2:  # a wrong label must exist
            raise ValueError(
                f"label_mismatch={config.label_mismatch} needs a conditional model "
                "(num_classes >= 2): it shows D real images with wrong labels"
            )
        self.device = world.device(config.device)
        self.amp_dtype = pick_precision(self.device, config.precision)
        # channels_last lets oneDNN/cuDNN pick their fastest conv kernels under autocast.
        self.memory_format = (
            torch.channels_last if self.amp_dtype is not None else torch.contiguous_format
        )
        set_seed(config.seed)
        G, D = build_gan(model_config)
        # torch's stubs lack Module.to(..., memory_format=), which torch accepts.
        self.G: Generator = G.to(self.device, memory_format=self.memory_format)  # type: ignore[call-overload]
        self.D: Discriminator = D.to(self.device, memory_format=self.memory_format)  # type: ignore[call-overload]
        betas = (config.beta1, config.beta2)
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=config.lr_g, betas=betas)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=config.lr_d, betas=betas)
        self.ema: GeneratorEMA | None = None
        if config.ema_decay is not None:
            self.ema = GeneratorEMA(self.G, config.ema_decay, config.ema_warmup).to(self.device)
        # fp16 needs loss scaling against underflow; bf16 has fp32's exponent range.
        self.scaler = torch.amp.GradScaler(
            self.device.type, enabled=self.amp_dtype == torch.float16
        )
        g = torch.Generator().manual_seed(config.seed)
        self.fixed_noise = torch.randn(config.n_samples, model_config.latent_dim, generator=g)
        self.fixed_labels = (
            torch.arange(config.n_samples) % model_config.num_classes
            if model_config.conditional
            else None
        )
        self.epoch = 0
        self.step = 0
        self.history: list[dict[str, float]] = []
        self.target_epochs = config.epochs
        self.steps_per_epoch = 0

    @property
    def generator(self) -> Generator:
        """The generator to sample from and export: G's moving average if on, else G."""
        return self.G if self.ema is None else self.ema.generator  # type: ignore[return-value]

    def _autocast(self) -> Any:
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _augment(self, x: torch.Tensor, rng: torch.Generator | None) -> torch.Tensor:
        """DiffAugment of a batch D is about to see (real or fake alike); ``x`` if off."""
        return diff_augment(x.float(), self.augment, rng) if self.augment else x

    def d_step(
        self,
        real: torch.Tensor,
        fake: torch.Tensor,
        labels: torch.Tensor | None,
        rng: torch.Generator | None = None,
    ) -> dict[str, float]:
        """One discriminator update on ``real`` and detached ``fake`` ``(N, C, S, S)``.

        Objective: make D score real images high and generated ones low, i.e. minimise
        :func:`discriminator_loss` (plus the gradient penalty for WGAN-GP, or R1). With
        ``augment`` both batches pass through the same random transforms first. With
        ``label_mismatch`` the real batch is scored once more under wrong labels, as fake.
        """
        cfg = self.config
        logs: dict[str, float] = {}
        self.opt_d.zero_grad(set_to_none=True)
        with self._autocast():
            seen = self._augment(real, rng)
            real_logits = self.D(seen, labels)
            fake_logits = self.D(self._augment(fake, rng), labels)
            loss = discriminator_loss(real_logits.float(), fake_logits.float(), cfg.loss)
            if cfg.label_mismatch and labels is not None:  # real images, wrong labels: fake
                k = self.model_config.num_classes
                shift = torch.randint(1, k, labels.shape, generator=rng).to(labels.device)
                wrong = self.D(seen, (labels + shift) % k).float()
                loss = loss + cfg.label_mismatch * _fake_term(wrong, cfg.loss)
        if cfg.loss == "wgan-gp":
            penalty = gradient_penalty(self.D, real, fake, labels, rng)
            loss = loss + cfg.gp_weight * penalty
        if cfg.r1_gamma and self.step % cfg.r1_interval == 0:  # lazy: every r1_interval steps
            r1 = r1_penalty(self.D, real, labels, lambda x: self._augment(x, rng))
            loss = loss + cfg.r1_gamma / 2 * cfg.r1_interval * r1
            logs["r1"] = r1.item()
        self.scaler.scale(loss).backward()
        self.world.average_gradients(self.D.parameters())  # mean over processes (alone: no-op)
        self.scaler.step(self.opt_d)
        self.scaler.update()
        return {
            "loss_d": loss.item(),
            "d_real": _score(real_logits, cfg.loss),
            "d_fake": _score(fake_logits, cfg.loss),
            **logs,
        }

    def g_step(
        self,
        fake: torch.Tensor,
        labels: torch.Tensor | None,
        rng: torch.Generator | None = None,
    ) -> dict[str, float]:
        """One generator update through ``fake = G(z)`` (still attached to G's graph).

        Objective: make D score the generated images as real, i.e. minimise
        :func:`generator_loss` (non-saturating for bce), through the same augmentation
        as in the D step; then move the weights' average (if any) toward G.
        """
        self.opt_g.zero_grad(set_to_none=True)
        with self._autocast():
            loss = generator_loss(
                self.D(self._augment(fake, rng), labels).float(), self.config.loss
            )
        self.scaler.scale(loss).backward()
        self.world.average_gradients(self.G.parameters())  # G's only: D does not step now
        self.scaler.step(self.opt_g)
        self.scaler.update()
        if self.ema is not None:
            self.ema.update(self.G)
        return {"loss_g": loss.item()}

    def train_step(
        self,
        real: torch.Tensor,
        labels: torch.Tensor | None,
        z: torch.Tensor,
        rng: torch.Generator | None = None,
    ) -> dict[str, float]:
        """D step on one batch, then (every ``n_critic`` batches) a G step on the same fakes.

        With several processes ``real`` is this process's share of the batch, and the
        returned logs are the means over all processes.

        Args:
            real: ``(N, C, S, S)`` in ``[-1, 1]``; labels: ``(N,)`` or None; z: ``(N, latent_dim)``.
            rng: CPU generator for the step's other random draws (WGAN-GP's interpolation,
                augmentation).
        """
        real = real.to(self.device, memory_format=self.memory_format, non_blocking=True)
        labels = labels.to(self.device) if labels is not None else None
        take_g_step = self.step % self.config.n_critic == 0
        with self._autocast(), torch.set_grad_enabled(take_g_step):
            fake = self.G(z.to(self.device), labels)  # one G forward serves both steps
        logs = self.d_step(real, fake.detach().float(), labels, rng)
        if take_g_step:
            logs.update(self.g_step(fake, labels, rng))
        self.step += 1
        return self.world.mean_logs(logs)

    def fit(self, dataset: Dataset, epochs: int | None = None) -> list[dict[str, float]]:
        """Train until ``epochs`` (default ``config.epochs``) epochs are complete.

        Each epoch's shuffling and noise come from a generator seeded with
        ``(seed, epoch)``, so a run resumed from an epoch checkpoint repeats the
        uninterrupted one exactly. With several processes each draws its noise from
        ``(seed, epoch, rank)`` and its images from a ``DistributedSampler`` over one
        permutation of ``(seed, epoch)``: a run resumed with as many processes repeats the
        uninterrupted one; with another number it continues from the same weights and
        optimiser state, at the epoch boundary, shuffled as a run of that many would be.

        Args:
            dataset: items with ``"image"`` ``(C, S, S)`` in ``[-1, 1]`` and, for a
                conditional model, ``"label"`` (as
                :class:`~medgan_utils.data.dataset.MedicalImageDataset`).
        """
        target = self.config.epochs if epochs is None else epochs
        n, world = len(dataset), self.world  # type: ignore[arg-type]
        # each process takes n // world.size images (DistributedSampler with drop_last)
        self.steps_per_epoch = n // world.size // self.batch_per_rank
        if self.steps_per_epoch == 0:
            processes = f" ({world.size} processes)" if world.size > 1 else ""
            raise ValueError(
                f"the dataset has {n} images, fewer than one batch "
                f"of {self.config.batch_size}{processes}: lower --batch-size or add data"
            )
        self.target_epochs = target
        world.broadcast_state(m for _, m in self._modules())  # all start from rank 0's
        for cb in self.callbacks:
            cb.on_train_begin(self)
        while self.epoch < target:
            loader, rng = self._epoch_batches(dataset)
            sums: dict[str, float] = {}
            counts: dict[str, int] = {}
            self.G.train()
            self.D.train()
            for batch in loader:
                real = batch["image"]
                labels = batch.get("label") if self.model_config.conditional else None
                if self.model_config.conditional and (labels is None or int(labels.min()) < 0):
                    raise ValueError(
                        f"num_classes={self.model_config.num_classes}: a conditional GAN needs "
                        "labelled images (an image without a label, or label -1, found)"
                    )
                z = torch.randn(len(real), self.model_config.latent_dim, generator=rng)
                logs = self.train_step(real, labels, z, rng)
                for k, v in logs.items():
                    sums[k] = sums.get(k, 0.0) + v
                    counts[k] = counts.get(k, 0) + 1
                for cb in self.callbacks:
                    cb.on_batch_end(self, logs)
            world.average_buffers(m for _, m in self._modules())  # one state to save
            self.epoch += 1
            epoch_logs = {"epoch": float(self.epoch), **{k: sums[k] / counts[k] for k in sums}}
            self.history.append(epoch_logs)
            for cb in self.callbacks:
                cb.on_epoch_end(self, epoch_logs)
        for cb in self.callbacks:
            cb.on_train_end(self)
        return self.history

    def _epoch_batches(self, dataset: Dataset) -> tuple[DataLoader, torch.Generator]:
        """This epoch's batches for this process, and the generator of its noise (and, for
        one process, of its shuffling), seeded by :meth:`World.epoch_seed`."""
        world, epoch = self.world, self.epoch
        rng = torch.Generator().manual_seed(world.epoch_seed(self.config.seed, epoch))
        if world.size == 1 and self.config.balance_classes:
            weights = _class_balancing_weights(dataset).tolist()
            draw = WeightedRandomSampler(weights, len(weights), replacement=True, generator=rng)
            return DataLoader(dataset, self.config.batch_size, sampler=draw, drop_last=True), rng
        if world.size == 1:
            loader = DataLoader(
                dataset, self.config.batch_size, shuffle=True, drop_last=True, generator=rng
            )
            return loader, rng
        if self.config.balance_classes:
            raise ValueError(
                "balance_classes: class-balanced sampling runs in one process; drop it or "
                "train without torchrun"
            )
        sampler: DistributedSampler = DistributedSampler(
            dataset, world.size, world.rank, shuffle=True, seed=self.config.seed, drop_last=True
        )
        sampler.set_epoch(epoch)  # one permutation of (seed, epoch), split between processes
        return DataLoader(dataset, self.batch_per_rank, sampler=sampler, drop_last=True), rng

    @torch.no_grad()
    def samples(self) -> torch.Tensor:
        """Images of the fixed noise: ``(n_samples, C, S, S)`` fp32 on the CPU, in ``[-1, 1]``,
        drawn by :attr:`generator` (the weights' average when there is one)."""
        G = self.generator
        was_training = G.training
        G.eval()
        labels = self.fixed_labels.to(self.device) if self.fixed_labels is not None else None
        out = G(self.fixed_noise.to(self.device), labels).float().cpu()
        G.train(was_training)
        return out.contiguous()

    def _modules(self) -> list[tuple[str, torch.nn.Module]]:
        """The networks a checkpoint holds, by key prefix."""
        ema = [("G_ema", self.ema)] if self.ema is not None else []
        return [("G", self.G), ("D", self.D), *ema]

    # -- checkpoints: safetensors tensors + JSON metadata; nothing is ever unpickled --------

    def save_checkpoint(self, path: str | Path) -> Path:
        """Write models (G's average too), optimisers and history to ``path``, atomically."""
        from safetensors.torch import save_file

        tensors: dict[str, torch.Tensor] = {}
        meta: dict[str, Any] = {
            "epoch": self.epoch,
            "step": self.step,
            "history": self.history,
            "model_config": self.model_config.to_dict(),
            "train_config": self.config.to_dict(),
        }
        for name, module in self._modules():
            for k, v in module.state_dict().items():
                tensors[f"{name}.{k}"] = v.detach().cpu().contiguous()
        for name, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            state = opt.state_dict()
            meta[name] = {"param_groups": state["param_groups"]}
            for pid, slots in state["state"].items():
                for slot, value in slots.items():
                    tensors[f"{name}.{pid}.{slot}"] = torch.as_tensor(value).cpu().contiguous()
        meta["scaler"] = self.scaler.state_dict() if self.scaler.is_enabled() else {}
        with atomic_path(path) as tmp:
            save_file(tensors, str(tmp), metadata={"medgan": json.dumps(meta)})
        return Path(path)

    def load_checkpoint(self, path: str | Path) -> None:
        """Restore a :meth:`save_checkpoint` file; the configs must match this trainer's.

        A checkpoint written before an option existed has no key for it and restores with
        the option's default (off).

        Raises:
            ValueError: another architecture, or the weights' average on one side only.
        """
        from safetensors import safe_open

        with safe_open(str(path), framework="pt") as f:
            meta = json.loads(f.metadata()["medgan"])
            tensors = {k: f.get_tensor(k) for k in f.keys()}
        if DCGANConfig.from_dict(meta["model_config"]) != self.model_config:
            raise ValueError(f"{path}: checkpoint of a different architecture")
        has_ema = any(k.startswith("G_ema.") for k in tensors)
        if has_ema != (self.ema is not None):
            raise ValueError(
                f"{path}: the checkpoint {'has' if has_ema else 'has no'} average of G's "
                f"weights but this trainer's ema_decay is {self.config.ema_decay}"
            )
        for name, module in self._modules():
            prefix = f"{name}."
            module.load_state_dict(
                {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
            )
        for name, opt in (("opt_g", self.opt_g), ("opt_d", self.opt_d)):
            state: dict[int, dict[str, torch.Tensor]] = {}
            for k, v in tensors.items():
                if k.startswith(f"{name}."):
                    _, pid, slot = k.split(".", 2)
                    state.setdefault(int(pid), {})[slot] = v
            opt.load_state_dict({"state": state, "param_groups": meta[name]["param_groups"]})
        if meta["scaler"]:
            self.scaler.load_state_dict(meta["scaler"])
        self.epoch, self.step, self.history = meta["epoch"], meta["step"], meta["history"]


def _score(logits: torch.Tensor, kind: str) -> float:
    """Mean D output to log: the probability D(x) for bce, the raw critic score otherwise."""
    logits = logits.detach().float()
    return (torch.sigmoid(logits) if kind == "bce" else logits).mean().item()


def read_checkpoint_meta(path: str | Path) -> dict[str, Any]:
    """The JSON metadata of a checkpoint (configs, epoch, history) without loading tensors."""
    from safetensors import safe_open

    with safe_open(str(path), framework="pt") as f:
        return json.loads(f.metadata()["medgan"])
