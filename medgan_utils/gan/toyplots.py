"""Figures of a toy GAN: the chapter and the dashboard draw the same ones.

Each function draws a :class:`~medgan_utils.gan.toygan.ToySnapshot` (from
:meth:`ToyGAN.snapshot <medgan_utils.gan.toygan.ToyGAN.snapshot>`) on matplotlib axes;
:func:`plot_snapshot` puts the panels together. matplotlib's pyplot is imported only when
:func:`plot_snapshot` makes a new figure.

Example:
    >>> from medgan_utils.gan.toygan import ToyGAN
    >>> plot_snapshot(ToyGAN().snapshot())  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from medgan_utils.gan.toygan import ToySnapshot

__all__ = ["draw_data", "draw_discriminator", "draw_history", "plot_snapshot"]

REAL, FAKE, DISC = "0.35", "tab:orange", "tab:blue"


def draw_data(snap: ToySnapshot, ax: Axes, show_d: bool = True) -> None:
    """Real density and generated points on ``ax``.

    1-D: the real density (grey), the generated KDE (orange) and, with ``show_d``, D on a
    second y axis (blue, dashed). 2-D: contours of the real density, generated points.
    """
    title = (
        f"step {snap.step}: {snap.modes_covered}/{len(snap.means)} modes, "
        f"{snap.high_quality_share:.0%} high quality"
    )
    if snap.dims == 1:
        ax.fill_between(snap.axis, snap.real_density, color=REAL, alpha=0.3, label="real")
        ax.plot(snap.axis, snap.generated_density, color=FAKE, lw=2, label="generated (KDE)")
        ax.set_xlim(snap.axis[0], snap.axis[-1])
        ax.set_ylim(0, 1.15 * max(snap.real_density.max(), snap.generated_density.max()))
        ax.set_xlabel("x")
        ax.set_ylabel("density")
        handles, labels = ax.get_legend_handles_labels()
        if show_d:
            twin = ax.twinx()
            twin.plot(snap.axis, snap.discriminator, color=DISC, ls="--", label=_d_label(snap))
            if snap.loss == "bce":
                twin.set_ylim(-0.02, 1.02)
                twin.axhline(0.5, color=DISC, lw=0.5, ls=":")
            twin.set_ylabel(_d_label(snap), color=DISC)
            h2, l2 = twin.get_legend_handles_labels()
            handles, labels = handles + h2, labels + l2
        ax.legend(handles, labels, loc="upper left", fontsize="small", framealpha=0.8)
    else:
        top = snap.real_density.max()
        ax.contourf(
            snap.axis,
            snap.axis,
            snap.real_density,
            levels=[0.05 * top, 0.5 * top, top],
            colors=[REAL, "0.15"],
            alpha=0.4,
        )
        xs, ys = snap.samples[:1000].T
        ax.scatter(xs, ys, s=3, color=FAKE, alpha=0.5, label="generated")
        _square(ax, snap)
        ax.legend(loc="upper right", fontsize="small", markerscale=3)
    outside = ((snap.samples < snap.axis[0]) | (snap.samples > snap.axis[-1])).any(axis=1).mean()
    if outside > 0:
        ax.text(
            0.98,
            0.02,
            f"{max(outside, 0.01):.0%}{'' if outside >= 0.01 else ' or less'} of samples "
            "outside this window",
            ha="right",
            transform=ax.transAxes,
            fontsize="small",
        )
    ax.set_title(title, fontsize="medium")


def draw_discriminator(snap: ToySnapshot, ax: Axes) -> None:
    """D's output over the plane (2-D) or the line (1-D), with the generated points."""
    if snap.dims == 1:
        ax.plot(snap.axis, snap.discriminator, color=DISC)
        ax.set_xlim(snap.axis[0], snap.axis[-1])
        ax.set_xlabel("x")
        ax.set_ylabel(_d_label(snap))
    else:
        vmin, vmax = (0.0, 1.0) if snap.loss == "bce" else (None, None)
        mesh = ax.pcolormesh(
            snap.axis, snap.axis, snap.discriminator, cmap="RdBu_r", vmin=vmin, vmax=vmax
        )
        ax.figure.colorbar(mesh, ax=ax, fraction=0.046, pad=0.04)
        xs, ys = snap.samples[:300].T
        ax.scatter(xs, ys, s=2, color="k", alpha=0.4)
        _square(ax, snap)
    ax.set_title(_d_label(snap), fontsize="medium")


def draw_history(snap: ToySnapshot, ax: Axes, window: int = 25) -> None:
    """Mean D output on real and on generated points per step (running mean of ``window``)."""
    if len(snap.d_real) == 0:
        ax.text(0.5, 0.5, "not trained yet", ha="center", va="center", transform=ax.transAxes)
    else:
        w = min(window, len(snap.d_real))
        kernel = np.ones(w) / w
        steps = np.arange(w, len(snap.d_real) + 1)
        ax.plot(steps, np.convolve(snap.d_real, kernel, "valid"), color=REAL, label="real")
        ax.plot(steps, np.convolve(snap.d_fake, kernel, "valid"), color=FAKE, label="generated")
        if snap.loss == "bce":
            ax.set_ylim(-0.02, 1.02)
            ax.axhline(0.5, color="k", lw=0.5, ls=":")
        ax.legend(fontsize="small")
    ax.set_xlabel("step")
    ax.set_title(f"mean {_d_label(snap)} per step", fontsize="medium")


def plot_snapshot(snap: ToySnapshot, fig: Figure | None = None) -> Figure:
    """The toy GAN at a glance: data panel, (2-D: D's map,) and D's history.

    Args:
        snap: from :meth:`ToyGAN.snapshot`.
        fig: a figure to clear and draw into (the dashboard reuses one); default: a new
            pyplot figure.
    """
    if fig is None:
        import matplotlib.pyplot as plt

        fig = plt.figure(figsize=(11, 3.6) if snap.dims == 1 else (13, 4))
    fig.clear()
    if snap.dims == 1:
        ax_data, ax_hist = fig.subplots(1, 2, width_ratios=(2, 1))
    else:
        ax_data, ax_d, ax_hist = fig.subplots(1, 3)
        draw_discriminator(snap, ax_d)
    draw_data(snap, ax_data)
    draw_history(snap, ax_hist)
    fig.tight_layout()
    return fig


def _d_label(snap: ToySnapshot) -> str:
    return "D(x)" if snap.loss == "bce" else "critic score"


def _square(ax: Axes, snap: ToySnapshot) -> None:
    ax.set_xlim(snap.axis[0], snap.axis[-1])
    ax.set_ylim(snap.axis[0], snap.axis[-1])
    ax.set_aspect("equal")
