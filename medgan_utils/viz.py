"""Plotting helpers: image grids and a volume slice viewer figure.

``make_grid`` is written here rather than taken from torchvision because torchvision
is an optional dependency (its wheels do not import beside every torch build we
support); it follows ``torchvision.utils.make_grid``'s layout.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from medgan_utils.settings import atomic_path

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure, SubFigure

__all__ = ["to_uint8", "make_grid", "plot_grid", "save_grid_png", "slice_viewer_figure"]


def to_uint8(images: torch.Tensor | np.ndarray) -> np.ndarray:
    """Map images in ``[-1, 1]`` to ``uint8`` ``[0, 255]`` (values outside are clipped)."""
    x = images.detach().float().cpu().numpy() if isinstance(images, torch.Tensor) else images
    return np.round((np.clip(x, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)


def make_grid(
    images: torch.Tensor | np.ndarray, nrow: int = 8, padding: int = 2, pad_value: float = 1.0
) -> np.ndarray:
    """Tile a batch of images into one array.

    Args:
        images: ``(N, C, H, W)`` or ``(N, H, W)`` in ``[-1, 1]``, ``C`` 1 or 3.
        nrow: images per row.
        padding: pixels between images.
        pad_value: value of the padding, in ``[-1, 1]`` (1 is white).

    Returns:
        ``(rows*(H+p)+p, nrow*(W+p)+p)`` (grayscale) or ``(..., 3)`` (RGB) ``uint8`` array.
    """
    x = images.detach().float().cpu().numpy() if isinstance(images, torch.Tensor) else images
    if x.ndim == 3:
        x = x[:, None]
    if x.ndim != 4 or x.shape[1] not in (1, 3) or len(x) == 0:
        raise ValueError(f"expected (N, C, H, W) with C in (1, 3) and N > 0, got {x.shape}")
    n, c, h, w = x.shape
    ncol = min(nrow, n)
    nrows = -(-n // ncol)
    grid = np.full((c, nrows * (h + padding) + padding, ncol * (w + padding) + padding), pad_value)
    for i in range(n):
        r, col = divmod(i, ncol)
        top, left = padding + r * (h + padding), padding + col * (w + padding)
        grid[:, top : top + h, left : left + w] = x[i]
    out = to_uint8(grid)
    return out[0] if c == 1 else out.transpose(1, 2, 0)


def plot_grid(
    images: torch.Tensor | np.ndarray,
    nrow: int = 8,
    title: str | None = None,
    ax: Axes | None = None,
) -> Figure | SubFigure:
    """Show a batch of images (``(N, C, H, W)`` in ``[-1, 1]``) as one grid on ``ax``.

    Returns:
        ``ax``'s figure: a new ``Figure`` when ``ax`` is None, else the (sub)figure of ``ax``.
    """
    import matplotlib.pyplot as plt

    if ax is None:
        n = len(images)
        cols = min(nrow, n)
        rows = -(-n // cols)
        _, ax = plt.subplots(figsize=(1.1 * cols + 0.4, 1.1 * rows + 0.6))
    ax.imshow(make_grid(images, nrow), cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax.set_axis_off()
    if title:
        ax.set_title(title)
    return ax.figure


def slice_viewer_figure(
    volume: np.ndarray,
    axis: int = 2,
    indices: Sequence[int] | None = None,
    n_slices: int = 6,
    title: str | None = None,
) -> Figure:
    """Show evenly spaced slices of a canonical (RAS) volume, oriented like nilearn.

    Args:
        volume: ``(X, Y, Z)`` array in RAS+ orientation (e.g. from
            :func:`medgan_utils.data.nifti.load_nifti_volume`), any intensity range.
        axis: 0 sagittal, 1 coronal, 2 axial.
        indices: slice indices to show; default ``n_slices`` evenly spaced interior ones.
        n_slices: number of slices when ``indices`` is not given.
        title: figure title.

    Returns:
        A matplotlib figure with one panel per slice, labelled with its index.
    """
    import matplotlib.pyplot as plt

    if volume.ndim != 3 or axis not in (0, 1, 2):
        raise ValueError(f"expected a 3-D volume and axis 0-2, got {volume.shape}, axis={axis}")
    depth = volume.shape[axis]
    if indices is None:
        indices = np.linspace(0, depth - 1, n_slices + 2)[1:-1].round().astype(int).tolist()
    lo, hi = np.percentile(volume, [0.5, 99.5])
    fig, axes = plt.subplots(1, len(indices), figsize=(1.8 * len(indices), 2.2), squeeze=False)
    for ax, k in zip(axes[0], indices, strict=True):
        if not 0 <= k < depth:
            raise ValueError(f"slice {k} is outside 0..{depth - 1} along axis {axis}")
        # rot90 puts anterior (or superior) at the top: nilearn's neurological display.
        ax.imshow(np.rot90(np.take(volume, k, axis=axis)), cmap="gray", vmin=lo, vmax=hi)
        ax.set_title(f"{'xyz'[axis]}={k}", fontsize=8)
        ax.set_axis_off()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def save_grid_png(images: torch.Tensor | np.ndarray, path: str | Path, nrow: int = 8) -> Path:
    """Write :func:`make_grid` of ``images`` to ``path`` as a grayscale/RGB PNG, atomically."""
    from PIL import Image

    with atomic_path(path) as tmp:
        Image.fromarray(make_grid(images, nrow)).save(tmp, format="PNG")
    return Path(path)
