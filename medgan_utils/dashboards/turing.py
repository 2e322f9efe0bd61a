"""The visual Turing test: is each image real or synthetic?

A view over :class:`medgan_utils.evaluation.turing.TuringTest`.

Example:
    >>> from medgan_utils.dashboards import turing_test
    >>> turing_test()  # doctest: +SKIP
"""

from __future__ import annotations

from typing import Any

from medgan_utils.dashboards._common import _ipywidgets, _png, _text
from medgan_utils.evaluation.turing import MAX_ROUND, TuringScore, TuringTest, heldout_set
from medgan_utils.gan.zoo import DEFAULT_MODEL, load_generator

__all__ = ["turing_test", "TuringTestDashboard"]


def turing_test(model: str = DEFAULT_MODEL, n: int = 10, seed: int = 0, n_subjects: int = 8) -> Any:
    """A visual Turing test: is each image real or synthetic?

    One image at a time, real (a held-out subject of the built-in set, see
    :func:`~medgan_utils.evaluation.turing.heldout_set`) or synthetic (``model``), as a seeded coin
    decides; press **Real** or **Synthetic**. At the end of the round of ``n`` images the
    dashboard shows the score with its Wilson 95 % interval and reveals every image's truth
    beside your answer; it also keeps the score over all rounds played. **New round**
    draws the next round (seed + 1).

    Args:
        model: a shipped model name or a run folder (unconditional, trained on a built-in
            set).
        n, seed: the first round's size and seed (controls).
        n_subjects: held-out subjects to draw real images from.

    Returns:
        An ``ipywidgets.VBox``; its ``dashboard`` attribute is the :class:`TuringTestDashboard`.
    """
    return TuringTestDashboard(model, n, seed, n_subjects).widget


class TuringTestDashboard:
    """The state and controls behind :func:`turing_test`.

    Attributes:
        G, meta: the generator and its ``generator.json``. real: the held-out real images.
        test: the :class:`~medgan_utils.evaluation.turing.TuringTest` of this round. finished: the
            rounds completed, for the running score.
        controls: ``n`` and ``seed`` widgets. real_button, synthetic_button, new_button.
        image, caption: the image to judge and the line under it. score: the score line.
        reveal: a grid of the round's images with truth and answer, shown at the end.
        widget: the whole dashboard.
    """

    SCALE = 4  # 64 px images are shown at 256 px

    def __init__(
        self, model: str = DEFAULT_MODEL, n: int = 10, seed: int = 0, n_subjects: int = 8
    ) -> None:
        w = _ipywidgets()
        self.model = str(model)
        self.G, self.meta = load_generator(model)
        if self.G.config.conditional:
            raise ValueError("the visual Turing test needs an unconditional generator")
        self.real = heldout_set(self.meta, n_subjects)
        most = min(MAX_ROUND, len(self.real))
        self.controls = {
            "n": w.BoundedIntText(value=n, min=1, max=most, description="images"),
            "seed": w.BoundedIntText(value=seed, min=0, max=2**32 - 1, description="seed"),
        }
        self.real_button = w.Button(description="Real", button_style="info")
        self.synthetic_button = w.Button(description="Synthetic", button_style="warning")
        self.new_button = w.Button(description="New round", icon="refresh")
        side = f"{self.real.image_size * self.SCALE}px"
        self.image = w.Image(format="png", layout=w.Layout(width=side, height=side))
        self.caption, self.score = w.HTML(), w.HTML()
        self.reveal = w.GridBox(layout=w.Layout(grid_template_columns="repeat(5, 150px)"))
        self.finished: list[TuringTest] = []
        c = self.controls
        self.widget = w.VBox(
            [
                w.HTML(
                    "Real images: virtual subjects simulated from the MNI152 template (no "
                    "patient data), none of which the generator saw. Synthetic images: made "
                    f"by <code>{_text(self.model)}</code>."
                ),
                w.HBox([c["n"], c["seed"], self.new_button]),
                self.image,
                self.caption,
                w.HBox([self.real_button, self.synthetic_button]),
                self.score,
                self.reveal,
            ]
        )
        self.widget.dashboard = self
        for control in c.values():
            control.observe(lambda _: self.new_round(), names="value")
        self.real_button.on_click(lambda _: self.answer(False))
        self.synthetic_button.on_click(lambda _: self.answer(True))
        self.new_button.on_click(lambda _: self.next_round())
        self.new_round()

    def new_round(self) -> None:
        """Draw a round from the controls' size and seed, and show its first image."""
        c = self.controls
        self.test = TuringTest.draw(self.real, self.G, c["n"].value, c["seed"].value, self.model)
        self.show()

    def next_round(self) -> None:
        """The New round button: the next seed."""
        seed = self.controls["seed"]
        if seed.value < seed.max:
            seed.value += 1  # observed: draws the round
        else:
            self.new_round()

    def answer(self, synthetic: bool) -> None:
        """Record the answer for the current image (``True``: "synthetic") and move on."""
        if self.test.done:
            return
        self.test.answer(synthetic)
        if self.test.done:
            self.finished.append(self.test)
        self.show()

    def total(self) -> tuple[int, int]:
        """Right answers and answers over every finished round."""
        total = TuringScore.total(t.score() for t in self.finished)
        return total.correct, total.n

    def show(self) -> None:
        """Show the current image, or at the end of the round the score and the reveal."""
        w = _ipywidgets()
        test = self.test
        for b in (self.real_button, self.synthetic_button):
            b.disabled = test.done
        if test.current is not None:
            self.image.value = _png(test.current.pixels, scale=self.SCALE)
            self.image.layout.display = ""
            self.caption.value = (
                f"<b>Image {len(test.answers) + 1} of {test.n}</b>: real or synthetic? "
                "(the answers and your score come at the end of the round)"
            )
            self.score.value = ""
            self.reveal.children = ()
            return
        self.image.layout.display = "none"
        self.caption.value = f"<b>Round over</b> (seed {test.seed}): {test.summary()}."
        total = TuringScore.total(t.score() for t in self.finished)
        self.score.value = (
            f"{_text(test.score().text())}<br><b>All rounds so far</b>: "
            f"{_text(total.summary())}. Press <b>New round</b> to play again."
        )
        cells = []
        for v in test.reveal():
            truth = "SYNTHETIC" if v.synthetic else "real"
            said = "synthetic" if v.answer else "real"
            mark = "right" if v.correct else "wrong"
            cells.append(
                w.VBox(
                    [
                        w.Image(
                            value=_png(test.images[v.index].pixels, scale=2),
                            format="png",
                            layout=w.Layout(width="128px", height="128px"),
                        ),
                        w.HTML(
                            f"{v.index + 1}. <b>{truth}</b>; you said {said} ({mark})"
                            f"<br><small>{_text(v.origin)}</small>"
                        ),
                    ]
                )
            )
        self.reveal.children = tuple(cells)
