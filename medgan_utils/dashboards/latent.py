"""The latent explorer: walk the latent space of a trained generator.

A view over :mod:`medgan_utils.gan.zoo` (:func:`~medgan_utils.gan.zoo.load_generator`,
:func:`~medgan_utils.gan.zoo.latent_noise`, :func:`~medgan_utils.gan.zoo.slerp`,
:func:`~medgan_utils.gan.zoo.interpolate`).

Example:
    >>> from medgan_utils.dashboards import latent_explorer
    >>> latent_explorer()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from medgan_utils.dashboards._common import _ipywidgets, _png
from medgan_utils.gan.zoo import DEFAULT_MODEL, interpolate, latent_noise, load_generator, slerp
from medgan_utils.viz import make_grid, to_uint8

__all__ = ["latent_explorer", "LatentExplorerDashboard"]


def latent_explorer(model: str = DEFAULT_MODEL, walk_seed: int = 0) -> Any:
    """Walk the latent space of a trained generator: interpolate between seeds, or wander.

    Controls: seed A and seed B, the position ``t`` in ``[0, 1]`` on the spherical path
    (:func:`~medgan_utils.gan.zoo.slerp`) between their noise vectors, the random-walk step
    size and a Random walk button. The large image is the generator's output at the
    current point (at ``t = 0`` exactly ``generate(G, 1, seed_a)``, at ``t = 1`` seed B's);
    below it, a strip of 8 images along the path (:func:`~medgan_utils.gan.zoo.interpolate`).
    A click on Random walk adds a small Gaussian step to the current noise (kept on the
    sphere of the current norm) and shows the new image; moving a seed or ``t`` goes back
    onto the path. Every image is labelled synthetic.

    Args:
        model: a shipped model name, a run folder or a ``generator.safetensors`` path.
        walk_seed: seed of the random-walk steps (the same clicks give the same walk).

    Returns:
        An ``ipywidgets.VBox``; its ``dashboard`` attribute is the
        :class:`LatentExplorerDashboard`.
    """
    return LatentExplorerDashboard(model, walk_seed).widget


class LatentExplorerDashboard:
    """The state and controls behind :func:`latent_explorer`.

    Attributes:
        G: the generator (eval mode, CPU). model: its name.
        controls: ``seed_a``, ``seed_b``, ``t`` and ``step`` widgets by name.
        walk_button: the Random walk button. walks: random-walk steps since the last move
            along the path.
        z: the current noise ``(latent_dim,)``. current: the image shown, ``(1, C, S, S)``
            in ``[-1, 1]``. path: the strip's images, ``(8, C, S, S)``.
        image, strip: the ``ipywidgets.Image`` of the current image and of the strip.
        caption: the HTML line under the image (it says the image is synthetic).
        widget: the whole dashboard.
    """

    STRIP_STEPS = 8
    SCALE = 4  # the 64 px image is shown at 256 px

    def __init__(self, model: str = DEFAULT_MODEL, walk_seed: int = 0) -> None:
        import torch

        w = _ipywidgets()
        self.model = str(model)
        self.G, self.meta = load_generator(model)
        self._walk_rng = torch.Generator().manual_seed(walk_seed)
        style = {"description_width": "70px"}
        self.controls = {
            "seed_a": w.BoundedIntText(value=0, min=0, max=10**9, description="seed A"),
            "seed_b": w.BoundedIntText(value=1, min=0, max=10**9, description="seed B"),
            "t": w.FloatSlider(value=0.0, min=0.0, max=1.0, step=0.01, description="t (A→B)"),
            "step": w.FloatSlider(value=0.3, min=0.05, max=1.0, step=0.05, description="walk step"),
        }
        for control in self.controls.values():
            control.style = style
        self.walk_button = w.Button(description="Random walk", icon="random")
        self.image = w.Image(format="png")
        self.caption = w.HTML()
        self.strip = w.Image(format="png", layout=w.Layout(max_width="100%"))
        c = self.controls
        self.widget = w.VBox(
            [
                w.HBox([c["seed_a"], c["seed_b"]]),
                c["t"],
                w.HBox([c["step"], self.walk_button]),
                self.image,
                self.caption,
                w.HTML(f"<b>Path from seed A to seed B</b> ({self.STRIP_STEPS} steps, synthetic)"),
                self.strip,
            ]
        )
        self.widget.dashboard = self

        c["seed_a"].observe(lambda _: self.redraw_path(), names="value")
        c["seed_b"].observe(lambda _: self.redraw_path(), names="value")
        c["t"].observe(lambda _: self.move_along_path(), names="value")
        self.walk_button.on_click(lambda _: self.random_walk())
        self.redraw_path()

    def path_noise(self, t: float) -> Any:
        """The noise at ``t`` on the path between the seeds' noise, ``(latent_dim,)``."""
        import torch

        d = self.G.config.latent_dim
        a, b = (latent_noise(1, d, self.controls[k].value)[0] for k in ("seed_a", "seed_b"))
        if t <= 0.0:  # the end points are exactly the seeds' noise, as in generate()
            return a
        if t >= 1.0:
            return b
        return slerp(a, b, torch.tensor([float(t)]))[0]

    def redraw_path(self) -> None:
        """Redraw the strip for the current seeds and go back to ``t`` on the path."""
        c = self.controls
        self.path = interpolate(self.G, c["seed_a"].value, c["seed_b"].value, self.STRIP_STEPS)
        self.strip.value = _png(make_grid(self.path, nrow=self.STRIP_STEPS), scale=2)
        self.move_along_path()

    def move_along_path(self) -> None:
        """Show the image at the slider's ``t`` (ends any random walk)."""
        self.walks = 0
        self.show(self.path_noise(self.controls["t"].value))

    def random_walk(self, steps: int = 1) -> None:
        """Take ``steps`` small Gaussian steps from the current noise and show the image.

        Each step adds ``step * N(0, I)`` and rescales to the current norm, so the walk
        stays where the generator's training noise lies.
        """
        import torch

        z = self.z
        for _ in range(steps):
            noise = torch.randn(z.shape, generator=self._walk_rng)
            moved = z + self.controls["step"].value * noise
            z = moved * (z.norm() / moved.norm())
        self.walks += steps
        self.show(z)

    def show(self, z: Any) -> None:
        """Generate the image of noise ``z`` ``(latent_dim,)`` and display it."""
        import torch

        self.z = z.clone()
        with torch.no_grad():
            self.current = self.G(z[None]).float().cpu()
        self.image.value = _png(to_uint8(self.current[0, 0]), scale=self.SCALE)
        c = self.controls
        where = (
            f"{self.walks} random-walk step{'s' * (self.walks != 1)} from t = {c['t'].value:.2f}"
            if self.walks
            else f"t = {c['t'].value:.2f}"
        )
        self.caption.value = (
            f"<b>Synthetic image</b>, generated by <code>{self.model}</code>: not a real "
            f"patient. Seed A {c['seed_a'].value} → seed B {c['seed_b'].value}, {where}; "
            f"|z| = {float(self.z.norm()):.1f}."
        )
