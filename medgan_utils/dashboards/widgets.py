"""Interactive dashboards for the course, one function per dashboard.

Each function returns an ipywidgets widget: display it in a notebook, or serve a notebook
that displays it with Voila (``voila notebooks/dashboards/toy_gan.ipynb``). The widget's
``dashboard`` attribute is the Python object behind it, holding the state, the
``controls`` and the data it last drew, so tests and curious readers can set values, press
buttons (``button.click()``) and check what is shown.

Dashboards are thin views: models, data and figures come from the package's modules
(:mod:`medgan_utils.gan.toygan` for the toy GAN, :mod:`medgan_utils.gan.zoo` for the latent
explorer, :mod:`medgan_utils.data.dataset` and :mod:`medgan_utils.data.readers` for the dataset
explorer). ipywidgets is imported only when a dashboard is built, so ``import
medgan_utils`` works without it.

Example:
    >>> from medgan_utils.dashboards.widgets import toy_gan_dashboard
    >>> toy_gan_dashboard()  # doctest: +SKIP
    >>> latent_explorer()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
from collections.abc import Iterator
from types import ModuleType
from typing import Any

import numpy as np

from medgan_utils.data.dataset import MedicalImageDataset, load_dataset
from medgan_utils.gan.toygan import ToyGAN, ToyGANConfig, ToySnapshot, plot_snapshot
from medgan_utils.gan.train import LOSSES
from medgan_utils.gan.zoo import DEFAULT_MODEL, interpolate, latent_noise, load_generator, slerp
from medgan_utils.viz import make_grid, to_uint8

__all__ = [
    "toy_gan_dashboard",
    "ToyGANDashboard",
    "latent_explorer",
    "LatentExplorerDashboard",
    "dataset_explorer",
    "DatasetExplorerDashboard",
]


def _ipywidgets() -> ModuleType:
    try:
        import ipywidgets
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError(
            "the dashboards need ipywidgets: pip install 'ipywidgets>=8' "
            "(it comes with the book extra: pip install -e '.[book]')"
        ) from err
    return ipywidgets


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


# -- latent explorer -----------------------------------------------------------------------


def _png(pixels: Any, scale: int = 1) -> bytes:
    """Encode a ``uint8`` ``(H, W)`` array as PNG, enlarged ``scale`` times (nearest)."""
    from PIL import Image

    img = Image.fromarray(pixels)
    if scale > 1:
        img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


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


# -- dataset explorer ----------------------------------------------------------------------

VOLUME = "MNI152 template volume"
AXES = {"axial": 2, "coronal": 1, "sagittal": 0}  # axis of the RAS volume
PERCENTILES = np.arange(0.0, 100.01, 0.5)  # the window sliders' grid


def dataset_explorer(n_subjects: int = 8) -> Any:
    """Browse the data the course trains on: the MNI152 volume and the built-in sets.

    Controls: the source (the MNI152 template volume, ``builtin`` or ``builtin-labelled``).
    For the volume: the axis (axial, coronal, sagittal), the slice, and the display window
    as low and high percentiles of the intensities of its non-background voxels. For a
    built-in set: the image index; a line gives the image's subject, slice level, label and
    site. The built-in sets are simulated from the template (no patient data); each is
    built on first use.

    Args:
        n_subjects: subjects in each built-in set (32 slices each); small builds in seconds.

    Returns:
        An ``ipywidgets.VBox``; its ``dashboard`` attribute is the
        :class:`DatasetExplorerDashboard`.
    """
    return DatasetExplorerDashboard(n_subjects).widget


class DatasetExplorerDashboard:
    """The state and controls behind :func:`dataset_explorer`.

    Attributes:
        volume: the template, ``(X, Y, Z)`` float32 RAS (:func:`load_nifti_volume`).
        datasets: the built-in sets loaded so far, by name.
        controls: ``source``, ``axis``, ``slice``, ``low``, ``high`` (percentiles of the
            voxels above the volume's minimum) and
            ``index`` widgets by name.
        pixels: the image shown, ``uint8`` ``(H, W)`` (before enlarging for display).
        window: the intensity window ``(low, high)`` of the volume slice shown.
        info: the HTML line describing the image. image: its ``ipywidgets.Image``.
        widget: the whole dashboard.
    """

    SCALE = 4  # the built-in 64 px images are shown at 256 px

    def __init__(self, n_subjects: int = 8) -> None:
        from medgan_utils.data.builtin import template_path
        from medgan_utils.data.readers import load_nifti_volume

        w = _ipywidgets()
        self.n_subjects = n_subjects
        self.volume = load_nifti_volume(template_path())
        # the window's percentiles are of the voxels above the background (over half the
        # volume is background, so percentiles of all voxels would waste the low sliders)
        foreground = self.volume[self.volume > self.volume.min()]
        self._levels = np.percentile(foreground if foreground.size else self.volume, PERCENTILES)
        self.datasets: dict[str, MedicalImageDataset] = {}
        style = {"description_width": "90px"}
        pct = dict(min=0.0, max=100.0, step=0.5, readout_format=".1f")
        self.controls = {
            "source": w.Dropdown(
                options=[VOLUME, "builtin", "builtin-labelled"], value=VOLUME, description="source"
            ),
            "axis": w.Dropdown(options=list(AXES), value="axial", description="axis"),
            "slice": w.IntSlider(value=0, min=0, max=0, description="slice"),
            "low": w.FloatSlider(value=0.0, description="window low %", **pct),
            "high": w.FloatSlider(value=99.5, description="window high %", **pct),
            "index": w.IntSlider(value=0, min=0, max=0, description="image"),
        }
        for control in self.controls.values():
            control.style = style
        c = self.controls
        self.volume_box = w.VBox([c["axis"], c["slice"], w.HBox([c["low"], c["high"]])])
        self.builtin_box = w.VBox([c["index"]])
        self.info = w.HTML()
        self.image = w.Image(format="png")
        self.widget = w.VBox(
            [c["source"], self.volume_box, self.builtin_box, self.info, self.image]
        )
        self.widget.dashboard = self

        self._drawing = False  # True while a source or axis change resets the sliders
        c["source"].observe(lambda _: self.change_source(), names="value")
        c["axis"].observe(lambda _: self.change_axis(), names="value")
        for name in ("slice", "low", "high", "index"):
            c[name].observe(lambda _: self.redraw(), names="value")
        self.change_axis()
        self.change_source()

    @property
    def dataset(self) -> MedicalImageDataset | None:
        """The built-in set shown, or None while the volume is shown."""
        source = self.controls["source"].value
        return None if source == VOLUME else self.datasets[source]

    def change_source(self) -> None:
        """Show the chosen source's controls, loading a built-in set on first use."""
        source = self.controls["source"].value
        is_volume = source == VOLUME
        self.volume_box.layout.display = "" if is_volume else "none"
        self.builtin_box.layout.display = "none" if is_volume else ""
        if not is_volume and source not in self.datasets:
            self.info.value = f"building <code>{source}</code> ({self.n_subjects} subjects)..."
            self.datasets[source] = load_dataset(source, 64, n_subjects=self.n_subjects)
        if not is_volume:
            index = self.controls["index"]
            with self._hold():
                index.max = len(self.datasets[source]) - 1
                index.value = min(index.value, index.max)
        self.redraw()

    def change_axis(self) -> None:
        """Set the slice slider's range for the axis and centre it."""
        depth = self.volume.shape[AXES[self.controls["axis"].value]]
        s = self.controls["slice"]
        with self._hold():
            s.value = min(s.value, depth - 1)
            s.max = depth - 1
            s.value = depth // 2
        self.redraw()

    def redraw(self) -> None:
        """Draw the current slice or image into :attr:`image` and :attr:`info`."""
        if self._drawing:
            return
        c = self.controls
        if self.dataset is None:
            self.pixels = self.volume_slice(c["axis"].value, c["slice"].value)
            self.image.value = _png(self.pixels, scale=2)
            lo, hi = self.window
            self.info.value = (
                f"<b>MNI152 T1 template</b> (an average of 152 brains), {c['axis'].value} "
                f"slice {c['slice'].value}/{c['slice'].max}; window {lo:.0f} to {hi:.0f} "
                f"(percentiles {c['low'].value:.1f} to {c['high'].value:.1f})"
            )
            return
        ds, i = self.dataset, c["index"].value
        self.pixels = to_uint8(ds.images[i, 0])
        self.image.value = _png(self.pixels, scale=self.SCALE)
        item = ds[i]
        label = ds.classes[item["label"]] if ds.is_labelled else "none (unlabelled set)"
        self.info.value = (
            f"<b>{c['source'].value}</b> image {i}/{len(ds) - 1}: subject "
            f"<code>{item['subject']}</code>, slice level {item['slice_index']}, label "
            f"<b>{label}</b>, site {item['groups'].get('site', '?')}. Simulated from the "
            "MNI152 template: no patient data."
        )

    def volume_slice(self, axis: str, index: int) -> Any:
        """Slice ``index`` along ``axis``, oriented like nilearn and windowed to ``uint8``."""
        low, high = sorted((self.controls["low"].value, self.controls["high"].value))
        lo, hi = np.interp([low, high], PERCENTILES, self._levels)
        hi = max(hi, lo + 1e-6)
        self.window = (float(lo), float(hi))
        plane = np.rot90(np.take(self.volume, index, axis=AXES[axis]))
        return np.round(np.clip((plane - lo) / (hi - lo), 0.0, 1.0) * 255).astype(np.uint8)

    @contextlib.contextmanager
    def _hold(self) -> Iterator[None]:
        self._drawing = True
        try:
            yield
        finally:
            self._drawing = False
