"""The concept diagrams are drawn from the objects they show."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import torch  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

import medgan_utils as mu  # noqa: E402
from medgan_utils.course import diagrams  # noqa: E402
from medgan_utils.downstream.config import STRATEGIES, FinetuneConfig  # noqa: E402


def _texts(fig) -> list[str]:
    return [t.get_text() for ax in fig.axes for t in ax.texts] + [t.get_text() for t in fig.texts]


def test_layer_shapes_run_the_network():
    G, _ = mu.build_gan(mu.DCGANConfig(image_size=32, width=8))
    shapes = diagrams.layer_shapes(G.main, torch.zeros(1, 100, 1, 1))
    assert shapes[0] == ("ConvTranspose2d", (32, 4, 4))
    assert shapes[-1] == ("Tanh", (1, 32, 32))
    assert len(shapes) == len(G.main)


def test_the_architecture_shows_every_convolution_of_the_config():
    for config in (mu.DCGANConfig(image_size=32, width=8), mu.DCGANConfig(image_size=128)):
        fig = diagrams.dcgan_architecture(config)
        G, D = mu.build_gan(config)
        top, bottom = fig.axes
        convs = [m for m in G.main if "Conv" in type(m).__name__]
        assert len([p for p in top.patches if isinstance(p, Rectangle)]) == len(convs) + 1
        side = config.image_size
        assert f"1\n{side}x{side}" in [t.get_text() for t in top.texts]  # the image
        assert f"{config.channels}\n{side}x{side}" in [t.get_text() for t in bottom.texts]
        assert "1\n1x1" in [t.get_text() for t in bottom.texts]  # one score
        plt.close(fig)


def test_the_game_and_the_design_say_what_they_show():
    fig = diagrams.gan_game()
    assert any("V(D, G)" in t for t in _texts(fig))
    plt.close(fig)
    config = FinetuneConfig(fractions=(0.5, 0.25, 0.25), n_bootstrap=200)
    fig = diagrams.finetune_design(config, [50, None], STRATEGIES, seeds=3)
    text = "\n".join(_texts(fig))
    assert "train pool (50%)" in text and "test (25%)" in text and "200 bootstrap" in text
    assert "N = 50, all" in text and "repeated over 3 training seeds" in text
    assert all(s in text for s in STRATEGIES)
    plt.close(fig)
