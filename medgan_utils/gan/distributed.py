"""Training on several processes with PyTorch's own engine: ``torchrun`` + ``torch.distributed``.

``torchrun --nproc_per_node=N -m medgan_utils.cli train ...`` starts ``N`` copies of
``medgan train``. Each reads its place from the environment torchrun sets (:data:`ENV_VARS`);
:meth:`World.from_env` turns it into a :class:`World`, and :func:`join` starts the process
group (NCCL between GPUs, gloo between CPUs) and ends it however training ends. A
:class:`World` of one process is what a plain ``medgan train`` gets: every collective below
is then a no-op, so a single process trains exactly as before this module existed.

How the two networks stay in step (:class:`~medgan_utils.gan.train.GANTrainer` calls these):

- every process starts from rank 0's weights (:meth:`World.broadcast_state`) and trains on
  its own share of each epoch (a ``DistributedSampler`` over one permutation seeded with the
  run's seed and the epoch) with its own noise and augmentation (:meth:`World.epoch_seed`);
- after each backward the gradients of the network about to step are averaged over the
  processes in one all-reduce (:meth:`World.average_gradients`); every process then applies
  the same update with the same Adam state, so the weights stay identical without being sent.

Why by hand and not ``DistributedDataParallel``: DDP averages inside backward, overlapping
communication with computation, but its reducer expects each wrapped module to run one
forward and one backward per iteration. A GAN step calls D three times (real, detached fake,
attached fake), once more under a double backward for R1 or WGAN-GP (which DDP does not
support), and back-propagates G's loss through D, whose gradients must then not be averaged.
StyleGAN3's training loop averages gradients by hand for the same reasons; for networks of a
few million weights the overlap lost is small.

BatchNorm normalises with each process's own images (as DDP without ``SyncBatchNorm``
does). The running statistics (used only to sample) and every other floating buffer are
averaged over the processes at the end of each epoch (:meth:`World.average_buffers`), so all
processes, and the checkpoint rank 0 writes, hold the same state. The logged losses are
averaged after every step (:meth:`World.mean_logs`): every process sees the same numbers and
a loss that turns NaN stops all of them at once.

Example:
    >>> world = World.from_env()          # World(rank=0, size=1, ...) outside torchrun
    >>> world.per_rank_batch(64)
    64
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import torch
from torch import nn

from medgan_utils.settings import pick_device

__all__ = ["ENV_VARS", "World", "join"]

# What torchrun (and torch.distributed.run, and its multi-node rendezvous) sets in every
# process it starts; init_process_group("env://") reads all five.
ENV_VARS = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")
LAUNCH = "torchrun --standalone --nproc_per_node=N -m medgan_utils.cli train ..."


@dataclass(frozen=True)
class World:
    """The processes training together, seen from one of them.

    Args:
        rank: this process, ``0..size-1``; rank 0 alone writes files.
        size: number of processes (torchrun's ``WORLD_SIZE``).
        local_rank: this process on its machine: the GPU it takes, ``cuda:local_rank``.
        backend: ``"nccl"`` or ``"gloo"`` once :func:`join` started the group; None alone.
    """

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    backend: str | None = None

    @property
    def is_main(self) -> bool:
        """Whether this is rank 0, the one process that writes checkpoints, samples, logs."""
        return self.rank == 0

    @classmethod
    def from_env(cls, required: bool = False, environ: Mapping[str, str] | None = None) -> World:
        """This process's place, from the environment torchrun sets.

        A process is taken as started by torchrun when ``RANK`` or ``WORLD_SIZE`` is set
        (``MASTER_ADDR`` alone is often exported for other tools); it then needs all of
        :data:`ENV_VARS`. Without them a one-process :class:`World` is returned.

        Args:
            required: the user asked for a distributed run (``medgan train
                --distributed``): a missing environment is an error, not one process.
            environ: the environment (default ``os.environ``).

        Raises:
            ValueError: ``required`` without torchrun's environment, an incomplete one, or
                values that are not ranks; the message names the variables.
        """
        env = os.environ if environ is None else environ
        launched = "RANK" in env or "WORLD_SIZE" in env
        if not launched and not required:
            return cls()
        missing = [name for name in ENV_VARS if not env.get(name)]
        if missing:
            what = "is not set" if len(missing) == 1 else "are not set"
            raise ValueError(
                f"a distributed run needs the environment torchrun sets: {', '.join(missing)} "
                f"{what}; start it with `{LAUNCH}`"
            )
        try:
            rank, size, local = (int(env[k]) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
        except ValueError as err:
            values = ", ".join(f"{k}={env[k]!r}" for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK"))
            raise ValueError(f"torchrun's environment is not numbers: {values}") from err
        if size < 1 or not 0 <= rank < size or local < 0:
            raise ValueError(
                f"torchrun's environment is inconsistent: RANK={rank}, WORLD_SIZE={size}, "
                f"LOCAL_RANK={local}"
            )
        return cls(rank, size, local)

    def per_rank_batch(self, batch_size: int) -> int:
        """Images each process trains on per step: ``batch_size`` is the global batch.

        Raises:
            ValueError: ``batch_size`` does not divide by the number of processes.
        """
        if batch_size % self.size:
            lower = batch_size - batch_size % self.size
            choices = f"{lower} or {lower + self.size}" if lower else f"{self.size}"
            raise ValueError(
                f"--batch-size {batch_size} is the global batch and must divide by the "
                f"{self.size} processes (e.g. {choices}): each process trains on "
                f"batch_size / {self.size} images per step"
            )
        return batch_size // self.size

    def device(self, name: str = "auto") -> torch.device:
        """This process's device for ``--device name``: ``cuda:LOCAL_RANK`` for CUDA when
        several processes train, else :func:`~medgan_utils.settings.pick_device`'s choice.

        Raises:
            ValueError: an unknown device; one GPU named (``cuda:1``) for several processes;
                a device the process group cannot serve (only CUDA and the CPU can).
        """
        device = pick_device(name)
        if self.size == 1:
            return device
        if device.type == "cuda":
            if device.index is not None:
                raise ValueError(
                    f"--device {name} names one GPU, but each of the {self.size} processes "
                    "takes its own (cuda:LOCAL_RANK): use --device cuda or auto"
                )
            return torch.device("cuda", self.local_rank)
        if device.type != "cpu":
            raise ValueError(
                f"--device {name}: several processes train on CUDA GPUs (NCCL) or on CPUs "
                "(gloo); use --device cuda or cpu"
            )
        return device

    def epoch_seed(self, seed: int, epoch: int) -> int:
        """Seed of this process's shuffling, noise and augmentation in ``epoch``.

        One process keeps the seed runs have always used (``seed * 100_003 + epoch``), so
        its results do not change; several draw independent streams from NumPy's
        ``SeedSequence`` of ``(seed, epoch, rank, size)``.
        """
        if self.size == 1:
            return seed * 100_003 + epoch
        sequence = np.random.SeedSequence((seed, epoch, self.rank, self.size))
        return int(sequence.generate_state(1, np.uint64)[0])  # manual_seed takes 64 bits

    # -- collectives: no-ops for one process --------------------------------------------------

    def _comm_device(self) -> torch.device:
        """Where collective buffers live: NCCL moves CUDA tensors only, gloo CPU ones."""
        if self.backend == "nccl":
            return torch.device("cuda", torch.cuda.current_device())
        return torch.device("cpu")

    def barrier(self) -> None:
        """Wait until every process gets here."""
        if self.size > 1:
            torch.distributed.barrier()

    def broadcast_object(self, obj: Any) -> Any:
        """Rank 0's ``obj`` (any picklable value) on every process."""
        if self.size == 1:
            return obj
        box = [obj if self.is_main else None]
        torch.distributed.broadcast_object_list(box, src=0, device=self._comm_device())
        return box[0]

    def mean_logs(self, logs: dict[str, float]) -> dict[str, float]:
        """The mean over processes of each logged value (every process logs the same keys)."""
        if self.size == 1:
            return logs
        keys = sorted(logs)
        values = torch.tensor([logs[k] for k in keys], dtype=torch.float64)
        values = values.to(self._comm_device())
        torch.distributed.all_reduce(values)
        mean = dict(zip(keys, (values / self.size).tolist(), strict=True))
        return {k: mean[k] for k in logs}

    def average_gradients(self, params: Iterable[nn.Parameter]) -> None:
        """Replace each parameter's gradient with its mean over processes (one all-reduce)."""
        if self.size > 1:
            grads = [p.grad for p in params if p.grad is not None]
            self._all_reduce_mean(grads)

    def average_buffers(self, modules: Iterable[nn.Module]) -> None:
        """Average every floating buffer (BatchNorm's running statistics, spectral norm's
        vectors) over processes; counters (``num_batches_tracked``) are equal already."""
        if self.size > 1:
            buffers = [b for m in modules for b in m.buffers() if b.is_floating_point()]
            self._all_reduce_mean(buffers)

    def broadcast_state(self, modules: Iterable[nn.Module]) -> None:
        """Copy rank 0's parameters and buffers into every process's ``modules`` (as DDP
        does when it wraps a module), so that all start from the same state."""
        if self.size == 1:
            return
        tensors = [t.data for m in modules for t in (*m.parameters(), *m.buffers())]
        for dtype in dict.fromkeys(t.dtype for t in tensors):
            same = [t for t in tensors if t.dtype == dtype]
            flat = torch.cat([t.flatten() for t in same]).to(self._comm_device())
            torch.distributed.broadcast(flat, src=0)
            _unflatten_into(flat, same)

    def _all_reduce_mean(self, tensors: list[torch.Tensor]) -> None:
        """Average ``tensors`` (in place) over processes, packed into one flat buffer per
        dtype: one collective instead of one per tensor, as StyleGAN3 does."""
        for dtype in dict.fromkeys(t.dtype for t in tensors):
            same = [t for t in tensors if t.dtype == dtype]
            flat = torch.cat([t.flatten() for t in same]).to(self._comm_device())
            torch.distributed.all_reduce(flat)
            flat /= self.size
            _unflatten_into(flat, same)


def _unflatten_into(flat: torch.Tensor, tensors: list[torch.Tensor]) -> None:
    """Copy consecutive pieces of ``flat`` back into ``tensors`` (any memory format)."""
    pieces = flat.split([t.numel() for t in tensors])
    for t, piece in zip(tensors, pieces, strict=True):
        t.copy_(piece.view(t.shape))


@contextmanager
def join(world: World, device: torch.device) -> Iterator[World]:
    """Start the process group of ``world`` for training on ``device``; end it on exit.

    NCCL when the processes train on GPUs (after ``torch.cuda.set_device``, so each process
    talks through its own), gloo on CPUs. The group is destroyed however the block ends
    (an error, Ctrl-C), so no process is left holding the rendezvous. A one-process world
    starts nothing.

    Yields:
        ``world`` with its ``backend`` set (None for one process).
    """
    if world.size == 1:
        yield world
        return
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    # env:// reads MASTER_ADDR and MASTER_PORT; rank and size come from the same environment.
    torch.distributed.init_process_group(backend, rank=world.rank, world_size=world.size)
    try:
        yield replace(world, backend=backend)
    finally:
        torch.distributed.destroy_process_group()
