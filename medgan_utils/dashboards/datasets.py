"""The dataset explorer: the MNI152 template volume and the built-in sets, slice by slice.

A view over :mod:`medgan_utils.data.load` (:func:`~medgan_utils.data.load.load_dataset`)
and :mod:`medgan_utils.data.nifti` (the template volume).

Example:
    >>> from medgan_utils.dashboards import dataset_explorer
    >>> dataset_explorer()  # doctest: +SKIP
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import numpy as np

from medgan_utils.dashboards._common import _ipywidgets, _png
from medgan_utils.data.dataset import MedicalImageDataset
from medgan_utils.data.load import load_dataset
from medgan_utils.viz import to_uint8

__all__ = ["dataset_explorer", "DatasetExplorerDashboard"]

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
        from medgan_utils.data.nifti import load_nifti_volume

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
