from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from medgan_utils.viz import make_grid, plot_grid, save_grid_png, slice_viewer_figure, to_uint8


def test_to_uint8_maps_range_and_clips():
    x = torch.tensor([-2.0, -1.0, 0.0, 1.0, 3.0])
    assert to_uint8(x).tolist() == [0, 0, 128, 255, 255]


def test_make_grid_places_each_image():
    images = torch.stack([torch.full((1, 4, 4), v) for v in (-1.0, 0.0, 1.0)])
    grid = make_grid(images, nrow=2, padding=1, pad_value=-1.0)
    assert grid.shape == (2 * 5 + 1, 2 * 5 + 1) and grid.dtype == np.uint8
    assert grid[1:5, 1:5].max() == 0  # image 0 (black)
    assert (grid[1:5, 6:10] == 128).all()  # image 1, first row second column
    assert (grid[6:10, 1:5] == 255).all()  # image 2 wraps to the second row
    assert grid[6:10, 6:10].max() == 0  # empty cell stays padding
    rgb = make_grid(torch.zeros(2, 3, 4, 4), nrow=2)
    assert rgb.shape == (8, 14, 3)
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        make_grid(torch.zeros(2, 2, 4, 4))


def test_save_grid_png_round_trips(tmp_path):
    images = torch.linspace(-1, 1, 2 * 16).reshape(2, 1, 4, 4)
    path = save_grid_png(images, tmp_path / "sub" / "grid.png", nrow=2)
    assert np.array_equal(np.array(Image.open(path)), make_grid(images, nrow=2))
    assert [p.name for p in path.parent.iterdir()] == ["grid.png"]  # no temp file left


def test_plot_grid_and_slice_viewer_figures():
    fig = plot_grid(torch.zeros(5, 1, 8, 8), nrow=4, title="five")
    assert fig.axes[0].get_title() == "five"
    volume = np.zeros((10, 12, 14), np.float32)
    volume[2, 11, 7] = 1.0  # left (low x), anterior (high y)
    fig = slice_viewer_figure(volume, axis=2, indices=[7])
    shown = fig.axes[0].images[0].get_array()
    assert shown.shape == (12, 10)
    assert np.unravel_index(np.argmax(shown), shown.shape) == (0, 2)  # top row, left side
    with pytest.raises(ValueError, match="outside"):
        slice_viewer_figure(volume, axis=2, indices=[14])
