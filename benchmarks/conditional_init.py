"""Why the label embeddings start at N(0, 0.02): within-label variety of a conditional GAN.

    python benchmarks/conditional_init.py              # 400 steps per run: ~8 min, one core
    python benchmarks/conditional_init.py --steps 100 --width 8 --n-subjects 16   # a smoke run

A class-conditional DCGAN (width 32, 64 px) trains on the built-in labelled set (384
virtual subjects, seed 1, lesion / no lesion) with the generator's label embedding
initialised at PyTorch's default N(0, 1) (what the package did before) and at N(0, 0.02)
(:func:`medgan_utils.gan.models.weights_init` now, as BigGAN-PyTorch), each with the plain
loss (BCE, BatchNorm in D) and with hinge + spectral norm. Every ``--every`` steps it prints
the *spread* of 64 samples of the lesion label from fixed noise: the standard deviation
over the samples of each pixel, averaged over pixels. One image per label (the noise
ignored: mode collapse) gives 0; the real slices give about 0.2. Batches are drawn with
replacement from a seeded generator, so a run repeats on one machine.
"""

from __future__ import annotations

import argparse
import time

import torch
from _common import print_table, train_with_checks
from torch import nn

from medgan_utils.data.load import load_dataset
from medgan_utils.gan.models import DCGANConfig
from medgan_utils.gan.train import GANTrainer, TrainConfig


def spread(images: torch.Tensor) -> float:
    """Per-pixel standard deviation over ``(N, C, S, S)`` images, averaged over pixels."""
    return images.std(0).mean().item()


def run(data, init: str, loss: str, steps: int, every: int, width: int, seed: int) -> list[float]:
    model = DCGANConfig(image_size=64, width=width, num_classes=2, spectral_norm=loss == "hinge")
    trainer = GANTrainer(model, TrainConfig(batch_size=64, loss=loss, seed=seed))
    if init == "N(0, 1)":  # PyTorch's default, what the generator's embedding had before
        nn.init.normal_(trainer.G.embed.weight, 0.0, 1.0)
    z_fixed = torch.randn(64, model.latent_dim, generator=torch.Generator().manual_seed(5))
    lesion = torch.zeros(64, dtype=torch.long)

    @torch.no_grad()
    def check(G: nn.Module) -> float:
        return spread(G(z_fixed, lesion).float())

    return train_with_checks(trainer, data, steps, every, seed, check)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=400)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--width", type=int, default=32)
    parser.add_argument("--n-subjects", type=int, default=384)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    data = load_dataset("builtin-labelled", 64, n_subjects=args.n_subjects, seed=1)
    real = spread(data.images[data.labels == data.classes.index("lesion")][:512])
    rows = []
    for loss in ("bce", "hinge"):
        for init in ("N(0, 1)", "N(0, 0.02)"):
            start = time.perf_counter()
            values = run(data, init, loss, args.steps, args.every, args.width, args.seed)
            took = time.perf_counter() - start
            rows.append([loss, init, *(f"{v:.3f}" for v in values), f"{took:.0f}"])
    steps = [f"step {s}" for s in range(args.every, args.steps + 1, args.every)]
    print(
        f"within-label spread of 64 lesion samples (real lesion slices: {real:.3f}); width "
        f"{args.width}, batch 64, {args.n_subjects} labelled subjects, seed {args.seed}"
    )
    print()
    print_table(["loss", "G label embedding init", *steps, "s"], rows, 2)


if __name__ == "__main__":
    main()
