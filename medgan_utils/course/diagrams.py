"""The course's concept diagrams, drawn by code from the objects they show.

- :func:`gan_game`: the two players, what each sees and what each optimises (chapter 1).
- :func:`dcgan_architecture`: every layer's output shape, read off the real networks by
  running them on one input, so the diagram cannot disagree with the code (chapter 3).
- :func:`finetune_design`: chapter 6's experiment, from its configuration: the subject split,
  the strategies, the sizes ``N`` and the repeats.

Each returns a matplotlib ``Figure``; nothing is read from an image file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING

import torch

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from medgan_utils.downstream.config import FinetuneConfig
    from medgan_utils.gan.models import DCGANConfig

__all__ = ["dcgan_architecture", "finetune_design", "gan_game", "layer_shapes"]

REAL, FAKE, NET, NOTE = "#4c9f70", "#d1495b", "#30638e", "#555555"


def _box(ax: Axes, x: float, y: float, text: str, color: str, w: float = 1.6, h: float = 0.7):
    from matplotlib.patches import FancyBboxPatch

    ax.add_patch(
        FancyBboxPatch(
            (x - w / 2, y - h / 2),
            w,
            h,
            boxstyle="round,pad=0.05",
            facecolor=color,
            alpha=0.15,
            edgecolor=color,
            linewidth=1.5,
        )
    )
    ax.text(x, y, text, ha="center", va="center", fontsize=10, color="black")


def _arrow(ax: Axes, a: tuple[float, float], b: tuple[float, float], text: str = "") -> None:
    ax.annotate("", xy=b, xytext=a, arrowprops={"arrowstyle": "->", "color": NOTE, "lw": 1.4})
    if text:
        mid = ((a[0] + b[0]) / 2, (a[1] + b[1]) / 2 + 0.18)
        ax.text(*mid, text, ha="center", va="bottom", fontsize=9, color=NOTE)


def _canvas(width: float, height: float, xlim: float, ylim: float) -> tuple[Figure, Axes]:
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(width, height))
    ax.set_xlim(0, xlim)
    ax.set_ylim(0, ylim)
    ax.axis("off")
    return fig, ax


def gan_game() -> Figure:
    """The GAN game: noise through G to fake images, real images, and D scoring both.

    Returns:
        A figure with the two players, the data flow and the value function
        ``V(D, G) = E[log D(x)] + E[log(1 - D(G(z)))]``.
    """
    fig, ax = _canvas(10, 4.2, 10, 4.2)
    _box(ax, 1.0, 1.2, "noise $z$\n$\\sim \\mathcal{N}(0, I)$", NOTE, w=1.5, h=0.9)
    _box(ax, 3.3, 1.2, "generator $G$", NET)
    _box(ax, 5.6, 1.2, "fake images\n$G(z)$", FAKE, w=1.5, h=0.9)
    _box(ax, 5.6, 3.0, "real images\n$x \\sim p_{data}$", REAL, w=1.5, h=0.9)
    _box(ax, 7.7, 2.1, "discriminator $D$", NET)
    _box(ax, 9.3, 2.1, "$D(\\cdot)$\nP(real)", NOTE, w=1.1, h=0.9)
    _arrow(ax, (1.75, 1.2), (2.5, 1.2))
    _arrow(ax, (4.1, 1.2), (4.85, 1.2))
    _arrow(ax, (6.35, 1.3), (6.9, 1.95))
    _arrow(ax, (6.35, 2.9), (6.9, 2.25))
    _arrow(ax, (8.5, 2.1), (8.75, 2.1))
    # the gradient path: D's verdict on fakes flows back to G
    ax.annotate(
        "",
        xy=(3.3, 0.75),
        xytext=(7.7, 1.7),
        arrowprops={
            "arrowstyle": "->",
            "color": FAKE,
            "lw": 1.2,
            "ls": "--",
            "connectionstyle": "arc3,rad=-0.35",
        },
    )
    ax.text(
        5.6,
        0.15,
        "gradients of $D$'s score on fakes train $G$",
        ha="center",
        fontsize=9,
        color=FAKE,
    )
    ax.text(
        0.1,
        3.85,
        "$\\min_G \\max_D\\; V(D, G) = \\mathbb{E}_x[\\log D(x)]"
        " + \\mathbb{E}_z[\\log(1 - D(G(z)))]$",
        fontsize=12,
    )
    ax.text(
        0.1,
        3.35,
        "$D$ pushes $D(x)$ up and $D(G(z))$ down; $G$ pushes $D(G(z))$ up.",
        fontsize=10,
        color=NOTE,
    )
    return fig


def layer_shapes(
    network: torch.nn.Sequential, x: torch.Tensor
) -> list[tuple[str, tuple[int, ...]]]:
    """Each layer's name and output shape without the batch, running ``network`` on ``x``.

    Args:
        network: an ``nn.Sequential`` (the package's ``G.main`` or ``D.main``).
        x: one input, e.g. ``(1, 100, 1, 1)`` noise or a ``(1, C, S, S)`` image.
    """
    shapes = []
    with torch.no_grad():
        for layer in network:
            x = layer(x)
            shapes.append((type(layer).__name__, tuple(x.shape[1:])))
    return shapes


def _stages(shapes: Sequence[tuple[str, tuple[int, ...]]]) -> list[tuple[int, int]]:
    """(channels, side) after each convolution: the blocks of the diagram."""
    return [(s[0], s[1]) for name, s in shapes if "Conv" in name]


def _draw_stack(ax: Axes, stages: Sequence[tuple[int, int]], color: str) -> None:
    """Boxes whose height grows with the side and width with the channels (both on a log
    scale, so 1 and 512 channels both stay visible), left to right on ``ax``."""
    from matplotlib.patches import Rectangle

    x = 0.2
    for c, s in stages:
        h = 0.3 + 0.38 * math.log2(s + 1)
        w = 0.15 + 0.1 * math.log2(c + 1)
        ax.add_patch(
            Rectangle((x, 1.6 - h / 2), w, h, facecolor=color, alpha=0.25, edgecolor=color)
        )
        ax.text(x + w / 2, 1.5 - h / 2, f"{c}\n{s}x{s}", ha="center", va="top", fontsize=8)
        x += w + 0.45
    ax.set_xlim(0, max(x, 7.5))
    ax.set_ylim(-0.6, 3.6)
    ax.axis("off")


def dcgan_architecture(config: DCGANConfig) -> Figure:
    """The DCGAN pair of ``config``, one box per convolution's output, read off the networks.

    Returns:
        A figure: the generator from ``z`` up to the image, the discriminator from the image
        down to one score; each box is labelled with its channels and side (box height:
        side, width: channels, both on a log scale).
    """
    import matplotlib.pyplot as plt

    from medgan_utils.gan.models import build_gan

    G, D = build_gan(config)
    G.eval()
    D.eval()
    z_dim = config.latent_dim + (config.embed_dim if config.conditional else 0)
    g = _stages(layer_shapes(G.main, torch.zeros(1, z_dim, 1, 1)))
    side = config.image_size
    d = _stages(layer_shapes(D.main, torch.zeros(1, config.channels, side, side)))
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5.2))
    _draw_stack(top, [(config.latent_dim, 1), *g], NET)
    top.set_title(
        f"generator: noise z ({config.latent_dim}) up to a {side}x{side} image (tanh)",
        fontsize=10,
        color=NET,
        loc="left",
    )
    _draw_stack(bottom, [(config.channels, side), *d], REAL)
    bottom.set_title(
        "discriminator: the image down to one score (a logit)", fontsize=10, color=REAL, loc="left"
    )
    fig.text(
        0.02,
        0.01,
        "each box: a layer's output, labelled channels and side; height ~ log side, "
        "width ~ log channels",
        fontsize=8,
        color=NOTE,
    )
    fig.tight_layout()
    return fig


def finetune_design(
    config: FinetuneConfig,
    sizes: Sequence[int | None],
    strategies: Sequence[str],
    seeds: int = 1,
) -> Figure:
    """Chapter 6's experiment: split real subjects, train each strategy at each ``N``,
    score on the real test subjects.

    Args:
        config: the experiment's settings (the split fractions, bootstrap resamples).
        sizes: the numbers ``N`` of real training images (``None``: all of them).
        strategies: the strategies compared (from ``downstream.config.STRATEGIES``).
        seeds: training seeds per cell.
    """
    fig, ax = _canvas(11, 4.4, 11.2, 4.6)
    train, val, test = config.fractions
    _box(ax, 1.0, 3.4, "real subjects", REAL, w=1.5)
    _box(ax, 3.3, 4.1, f"train pool ({train:.0%})", REAL, w=1.9, h=0.55)
    _box(ax, 3.3, 3.35, f"validation ({val:.0%})", REAL, w=1.9, h=0.55)
    _box(ax, 3.3, 2.6, f"test ({test:.0%})", REAL, w=1.9, h=0.55)
    for y in (4.1, 3.35, 2.6):
        _arrow(ax, (1.8, 3.4), (2.3, y))
    ax.text(3.3, 2.05, "split by subject: nobody in two parts", ha="center", fontsize=8, color=NOTE)
    _box(ax, 1.0, 0.9, "generator", FAKE, w=1.5)
    _box(ax, 3.3, 0.9, f"{config.n_synthetic} synthetic\nimages", FAKE, w=1.9, h=0.8)
    _arrow(ax, (1.8, 0.9), (2.3, 0.9))
    names = ", ".join("all" if n is None else str(n) for n in sizes)
    text = (
        f"train a classifier\nper strategy:\n{', '.join(strategies)}\nat N = {names}\nreal images"
    )
    _box(ax, 6.6, 3.2, text, NET, w=2.9, h=2.0)
    _arrow(ax, (4.3, 4.1), (5.1, 3.9))
    _arrow(ax, (4.3, 3.35), (5.1, 3.3))
    ax.text(4.7, 4.2, "draw N", fontsize=8, color=NOTE, ha="center")
    _arrow(ax, (4.3, 0.9), (5.6, 2.15))
    _box(
        ax,
        9.9,
        1.7,
        f"AUROC on the real\ntest subjects, with\n{config.n_bootstrap} bootstrap\n"
        "resamples of subjects",
        NOTE,
        w=2.1,
        h=1.4,
    )
    _arrow(ax, (8.1, 3.0), (8.8, 2.2))
    _arrow(ax, (4.3, 2.45), (8.8, 1.5))
    repeats = "trained once (one seed)" if seeds == 1 else f"repeated over {seeds} training seeds"
    ax.text(
        0.1,
        0.05,
        f"validation: early stopping and the threshold; each cell {repeats}",
        fontsize=8,
        color=NOTE,
    )
    return fig
