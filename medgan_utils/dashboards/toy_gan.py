"""The toy GAN dashboard: a 1-D or 2-D toy GAN trained click by click.

A view over :mod:`medgan_utils.gan.toygan` (the toy, its trainer and its snapshot) and
:func:`~medgan_utils.gan.toyplots.plot_snapshot` (the figure).

Example:
    >>> from medgan_utils.dashboards import toy_gan_dashboard
    >>> toy_gan_dashboard()  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import io
from typing import Any

from medgan_utils.dashboards._common import _ipywidgets
from medgan_utils.gan.toygan import ToyGAN, ToyGANConfig, ToySnapshot
from medgan_utils.gan.toyplots import plot_snapshot
from medgan_utils.gan.train import LOSSES

__all__ = ["toy_gan_dashboard", "ToyGANDashboard"]


def toy_gan_dashboard(
    config: ToyGANConfig | None = None, steps_per_click: int = 500, redraw_every: int = 250
) -> Any:
    """A toy GAN on a 1-D line or a 2-D ring of Gaussians, trained click by click.

    Controls: the data (1-D line or 2-D ring), number of modes, learning rates of G and D,
    loss, seed and steps per click; buttons Train and Reset. The figure shows the real
    density, the generated samples (their KDE in 1-D), the discriminator's output and its
    mean on real and generated points per step; a line reports the step, the modes covered
    and the share of high-quality samples. Changing the data, modes, loss or seed starts a
    new GAN; changing a learning rate applies from the next step on, so a run can be pushed
    into instability midway. A 1-D click of 500 steps takes about a second on a laptop CPU.

    Args:
        config: the starting toy; its other fields (width, batch, betas...) are kept.
        steps_per_click: initial value of the steps-per-click control.
        redraw_every: while training, redraw after this many steps.

    Returns:
        An ``ipywidgets.VBox``; its ``dashboard`` attribute is the :class:`ToyGANDashboard`.
    """
    return ToyGANDashboard(config, steps_per_click, redraw_every).widget


class ToyGANDashboard:
    """The state and controls behind :func:`toy_gan_dashboard`.

    Attributes:
        gan: the current :class:`~medgan_utils.gan.toygan.ToyGAN` (replaced on reset).
        controls: ``dims``, ``modes``, ``lr_g``, ``lr_d``, ``loss``, ``seed``, ``steps``
            widgets by name. train_button, reset_button: the buttons. status: the HTML line.
        image: the ``ipywidgets.Image`` showing the figure. widget: the whole dashboard.
    """

    def __init__(
        self,
        config: ToyGANConfig | None = None,
        steps_per_click: int = 500,
        redraw_every: int = 250,
    ) -> None:
        from matplotlib.figure import Figure

        w = _ipywidgets()
        self.base_config = config = config or ToyGANConfig()
        self.redraw_every = redraw_every
        lr = dict(min=-5, max=-1, step=0.25, base=10, readout_format=".0e")
        style = {"description_width": "90px"}
        self.controls = {
            "dims": w.ToggleButtons(
                options=[("1-D line", 1), ("2-D ring", 2)], value=config.dims, description="data"
            ),
            "modes": w.IntSlider(value=config.modes, min=1, max=12, description="modes"),
            "lr_g": w.FloatLogSlider(value=config.lr_g, description="lr G", **lr),
            "lr_d": w.FloatLogSlider(value=config.lr_d, description="lr D", **lr),
            "loss": w.Dropdown(options=list(LOSSES), value=config.loss, description="loss"),
            "seed": w.BoundedIntText(value=config.seed, min=0, max=10**6, description="seed"),
            "steps": w.IntSlider(
                value=steps_per_click, min=50, max=5000, step=50, description="steps/click"
            ),
        }
        for control in self.controls.values():
            control.style = style
        self.train_button = w.Button(description="Train", button_style="primary", icon="play")
        self.reset_button = w.Button(description="Reset", icon="undo")
        self.status = w.HTML()
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self._figure = Figure()
        self._snapshot: ToySnapshot | None = None
        c = self.controls
        self.widget = w.VBox(
            [
                w.HBox([c["dims"], c["loss"]]),
                w.HBox([c["modes"], c["seed"]]),
                w.HBox([c["lr_g"], c["lr_d"]]),
                w.HBox([c["steps"], self.train_button, self.reset_button]),
                self.status,
                self.image,
            ]
        )
        self.widget.dashboard = self

        for name in ("dims", "modes", "loss", "seed"):
            c[name].observe(lambda _: self.reset(), names="value")
        for name in ("lr_g", "lr_d"):
            c[name].observe(lambda _: self._apply_learning_rates(), names="value")
        self.train_button.on_click(lambda _: self.train())
        self.reset_button.on_click(lambda _: self.reset())
        self.gan = ToyGAN(self.config())
        self.redraw()

    def config(self) -> ToyGANConfig:
        """The toy the controls describe (the starting config's other fields kept)."""
        c = self.controls
        return dataclasses.replace(
            self.base_config,
            dims=c["dims"].value,
            modes=c["modes"].value,
            lr_g=c["lr_g"].value,
            lr_d=c["lr_d"].value,
            loss=c["loss"].value,
            seed=c["seed"].value,
        )

    def reset(self) -> None:
        """Start a new GAN from the controls' values, at step 0."""
        self.gan = ToyGAN(self.config())
        self.redraw()

    def train(self, steps: int | None = None) -> None:
        """Train ``steps`` (default: the steps-per-click control), redrawing on the way."""
        remaining = self.controls["steps"].value if steps is None else steps
        buttons = (self.train_button, self.reset_button)
        for b in buttons:
            b.disabled = True
        try:
            while remaining > 0:
                n = min(remaining, self.redraw_every)
                self.gan.step(n)
                remaining -= n
                self.redraw()
        finally:
            for b in buttons:
                b.disabled = False

    def redraw(self) -> None:
        """Take a snapshot of the GAN and draw it into the image and the status line."""
        snap = self.gan.snapshot()
        self._figure.set_size_inches((10, 3.4) if snap.dims == 1 else (12, 3.8))
        plot_snapshot(snap, self._figure)
        buffer = io.BytesIO()
        self._figure.savefig(buffer, format="png", dpi=96)
        self.image.value = buffer.getvalue()
        self._snapshot = snap
        self.status.value = (
            f"<b>step {snap.step}</b> &nbsp; modes covered {snap.modes_covered}/"
            f"{len(snap.means)} &nbsp; high-quality samples {snap.high_quality_share:.0%} "
            "(within 3 std of a mode)"
        )

    def figure_data(self) -> ToySnapshot:
        """The arrays the figure now shows (densities, D's output, samples, history)."""
        assert self._snapshot is not None
        return self._snapshot

    def _apply_learning_rates(self) -> None:
        self.gan.set_learning_rates(self.controls["lr_g"].value, self.controls["lr_d"].value)
