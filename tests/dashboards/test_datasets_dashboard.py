"""The dataset explorer: the template volume's slices and windows, the built-in sets."""

from __future__ import annotations

import numpy as np
import pytest

ipywidgets = pytest.importorskip("ipywidgets")

from medgan_utils.dashboards import (  # noqa: E402
    dataset_explorer,
)
from medgan_utils.dashboards.datasets import DatasetExplorerDashboard  # noqa: E402
from medgan_utils.viz import to_uint8  # noqa: E402

# -- dataset explorer ----------------------------------------------------------------------


@pytest.fixture()
def explorer() -> DatasetExplorerDashboard:
    widget = dataset_explorer(n_subjects=2)
    assert isinstance(widget, ipywidgets.Widget)
    return widget.dashboard


def test_dataset_explorer_slice_and_axis_change_the_image(explorer: DatasetExplorerDashboard):
    c = explorer.controls
    assert c["source"].value == "MNI152 template volume"
    assert explorer.builtin_box.layout.display == "none"
    X, Y, Z = explorer.volume.shape
    assert explorer.pixels.shape == (Y, X) and c["slice"].max == Z - 1  # axial
    middle = explorer.pixels.copy()
    c["slice"].value = c["slice"].value + 20
    assert explorer.pixels.shape == middle.shape and not np.array_equal(explorer.pixels, middle)
    assert f"axial slice {c['slice'].value}" in explorer.info.value
    c["axis"].value = "sagittal"
    assert explorer.pixels.shape == (Z, Y) and c["slice"].max == X - 1
    assert c["slice"].value == X // 2 and "sagittal" in explorer.info.value
    c["axis"].value = "coronal"
    assert explorer.pixels.shape == (Z, X) and c["slice"].max == Y - 1


def test_dataset_explorer_window_changes_the_pixels(explorer: DatasetExplorerDashboard):
    c = explorer.controls
    wide, window = explorer.pixels.copy(), explorer.window
    c["low"].value, c["high"].value = 50.0, 80.0
    narrow = explorer.pixels
    assert explorer.window[0] > window[0] and explorer.window[1] < window[1]
    assert not np.array_equal(wide, narrow)
    assert (narrow == 255).sum() > (wide == 255).sum()  # more voxels above the window
    v = explorer.volume
    lo, hi = np.percentile(v[v > v.min()], [50, 80])
    assert explorer.window == pytest.approx((lo, hi), rel=0.02)


def test_dataset_explorer_shows_builtin_images_with_their_meta(
    explorer: DatasetExplorerDashboard,
):
    c = explorer.controls
    c["source"].value = "builtin-labelled"
    ds = explorer.dataset
    assert ds is not None and len(ds) == 64 and c["index"].max == 63
    assert (
        explorer.volume_box.layout.display == "none" and explorer.builtin_box.layout.display == ""
    )
    for i in (5, 40):
        c["index"].value = i
        item = ds[i]
        assert np.array_equal(explorer.pixels, to_uint8(ds.images[i, 0]))
        text = explorer.info.value
        assert f"<code>{item['subject']}</code>" in text
        assert f"slice level {item['slice_index']}" in text
        assert f"label <b>{ds.classes[item['label']]}</b>" in text
        assert f"site {item['groups']['site']}" in text
    assert item["subject"] == "vs-0001"  # image 40 is the second subject's
    c["source"].value = "builtin"
    assert "unlabelled" in explorer.info.value
    c["source"].value = "MNI152 template volume"
    assert explorer.pixels.shape == explorer.volume.shape[1::-1]
