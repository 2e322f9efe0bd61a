"""Two more dashboards: a model-catalog browser and a visual Turing test.

Like those of :mod:`medgan_utils.widgets`, each function returns an ipywidgets widget whose
``dashboard`` attribute is the Python object behind it (state, ``controls``, buttons), so
tests set values, press ``button.click()`` and read what is shown.

- :func:`catalog_browser` is a view over :mod:`medgan_utils.hub` (:func:`load_catalog`
  reads the catalog, :meth:`Catalog.search` filters it, :class:`ModelCard` describes a
  model) and :mod:`medgan_utils.catalog_usage` (which file to read, the table rows, the
  lines that generate from a model).
- :func:`turing_test` is a view over :class:`medgan_utils.turing.TuringTest`.

Example:
    >>> from medgan_utils.dashboards import catalog_browser, turing_test
    >>> catalog_browser()  # doctest: +SKIP
    >>> turing_test()  # doctest: +SKIP
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .catalog_cards import SYNONYMS, ModelCard, compact_text
from .catalog_usage import catalog_rows, find_catalog_file, generate_code
from .hub import Catalog, load_catalog
from .turing import MAX_ROUND, TuringTest, accuracy_interval, heldout_set
from .widgets import _ipywidgets, _png
from .zoo import DEFAULT_MODEL, list_models, load_generator

__all__ = [
    "catalog_browser",
    "CatalogBrowserDashboard",
    "turing_test",
    "TuringTestDashboard",
]

ANY = "any"
# Voila's and JupyterLab's HTML widgets use a tall line height and no code font
PRE = (
    "<pre style='font-family:monospace; line-height:1.35; white-space:pre-wrap; "
    "background:#f6f6f6; padding:6px 8px'>"
)


def _text(value: Any) -> str:
    """``value`` as HTML text (``<``, ``>`` and ``&`` escaped; quotes kept readable)."""
    return html.escape(str(value), quote=False)


def _table(rows: Sequence[dict[str, Any]]) -> str:
    if not rows:
        return "<p><i>No model matches these filters.</i></p>"
    head = "".join(f"<th style='text-align:left'>{_text(k)}</th>" for k in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{_text(str(v))}</td>" for v in r.values()) + "</tr>" for r in rows
    )
    return f"<table style='line-height:1.35'><tr>{head}</tr>{body}</table>"


def _groups(values: Sequence[str]) -> list[str]:
    """Lower-cased values, one per group of synonyms (``brain`` for brain/cranial/head)."""
    out: list[str] = []
    for v in values:
        v = v.lower().strip()
        group = next((g for g in SYNONYMS if v in g), {v})
        if v and not any(o in group for o in out):
            out.append(v)
    return sorted(out)


# -- catalog browser -----------------------------------------------------------------------


def catalog_browser(catalog: str | Path | Catalog | None = None, download: bool = True) -> Any:
    """Browse the model catalog: medigan's models and the project's own.

    Controls: modality, anatomy, generator type, what a model generates from (noise or
    input images) and free text (a word in the title, description or tags). The table lists
    the matching models; choosing one shows its card (:meth:`ModelCard.to_text` and its
    metrics) and the Python and ``medgan generate`` lines that generate from it. A line on
    top says where the catalog came from.

    Args:
        catalog: a medigan ``global.json`` or a loaded :class:`Catalog`; default
            :func:`find_catalog_file`.
        download: when no catalog file is found or cached, try to download medigan's
            (never when ``MEDGAN_OFFLINE`` is set); offline, the project's models are listed.

    Returns:
        An ``ipywidgets.VBox``; its ``dashboard`` attribute is the
        :class:`CatalogBrowserDashboard`.
    """
    return CatalogBrowserDashboard(catalog, download).widget


class CatalogBrowserDashboard:
    """The state and controls behind :func:`catalog_browser`.

    Attributes:
        catalog: the :class:`Catalog`. catalog_file: the file it was read from, if any.
        controls: ``modality``, ``anatomy``, ``type``, ``inputs``, ``text``, ``n`` and
            ``seed`` widgets by name. picker: the model chooser (the matching ids).
        cards, rows: the matching models' cards and table rows.
        source, table, card, code: the HTML of the provenance line, the table, the chosen
            model's card and its generate lines. widget: the whole dashboard.
    """

    def __init__(self, catalog: str | Path | Catalog | None = None, download: bool = True):
        from .appkit import modality_choices

        w = _ipywidgets()
        if isinstance(catalog, Catalog):
            self.catalog, self.catalog_file = catalog, None
        else:
            self.catalog_file = find_catalog_file(catalog)
            self.catalog = load_catalog(self.catalog_file, download=download, timeout=5.0)
        all_cards = self.catalog.cards()
        kinds = {compact_text(c.generator_type): c.generator_type for c in reversed(all_cards)}
        style = {"description_width": "110px"}
        self.controls = {
            "modality": w.Dropdown(options=modality_choices(self.catalog), description="modality"),
            "anatomy": w.Dropdown(
                options=[ANY, *_groups([a for c in all_cards for a in c.anatomy])],
                description="anatomy",
            ),
            "type": w.Dropdown(
                options=[ANY, *sorted(kinds.values(), key=str.lower)], description="type"
            ),
            "inputs": w.Dropdown(
                options=[(ANY, None), ("noise", False), ("input images", True)],
                description="generates from",
            ),
            "text": w.Text(placeholder="a word in the title, description or tags"),
            "n": w.BoundedIntText(value=16, min=1, max=10_000, description="images"),
            "seed": w.BoundedIntText(value=0, min=0, max=2**32 - 1, description="seed"),
        }
        c = self.controls
        c["text"].description = "text"
        for control in c.values():
            control.style = style
        self.picker = w.Select(options=[], rows=6, description="model", style=style)
        self.picker.layout.width = "560px"
        self.source, self.table, self.card, self.code = w.HTML(), w.HTML(), w.HTML(), w.HTML()
        self.widget = w.VBox(
            [
                self.source,
                w.HBox([c["modality"], c["anatomy"], c["type"]]),
                w.HBox([c["inputs"], c["text"]]),
                self.table,
                self.picker,
                w.HBox([c["n"], c["seed"]]),
                self.code,
                self.card,
            ]
        )
        self.widget.dashboard = self
        self._quiet = False
        self.source.value = self._provenance()
        for name in ("modality", "anatomy", "type", "inputs", "text"):
            c[name].observe(lambda _: self.refresh(), names="value")
        for name in ("n", "seed"):
            c[name].observe(lambda _: self.show(), names="value")
        self.picker.observe(lambda _: self.show(), names="value")
        self.refresh()

    def _provenance(self) -> str:
        cat = self.catalog
        ours = sum(c.source == "medgan-utils" for c in cat.cards())
        text = (
            f"<b>Catalog</b>: {_text(cat.origin)}; {len(cat)} model{'s' * (len(cat) != 1)} "
            f"({len(cat) - ours} of medigan's, {ours} of this project's)."
        )
        if cat.note:
            text += f"<br><i>{_text(cat.note)}</i>"
        if cat.problems:
            text += f"<br>Left out: {_text('; '.join(cat.problems))}"
        return text

    def search(self) -> list[ModelCard]:
        """The cards matching the filters (:meth:`Catalog.search`), ours first."""
        from .appkit import MODALITIES

        c = self.controls
        text = c["text"].value.strip()
        cards = self.catalog.search(
            modality=MODALITIES.get(c["modality"].value),
            anatomy=None if c["anatomy"].value == ANY else c["anatomy"].value,
            generator_type=None if c["type"].value == ANY else c["type"].value,
            needs_input=c["inputs"].value,
            text=text or None,
        )
        return sorted(cards, key=lambda card: (card.source != "medgan-utils", card.model_id))

    def refresh(self) -> None:
        """Filter the catalog, redraw the table and keep the chosen model if it still matches."""
        self.cards = self.search()
        self.rows = catalog_rows(self.cards)
        self.table.value = f"<b>{len(self.cards)} of {len(self.catalog)} models match</b>" + _table(
            self.rows
        )
        ids = [card.model_id for card in self.cards]
        keep = self.picker.value if self.picker.value in ids else (ids[0] if ids else None)
        self._quiet = True  # setting the options selects the first: show once, at the end
        try:
            self.picker.options = ids
            self.picker.value = keep
        finally:
            self._quiet = False
        self.show()

    @property
    def selected(self) -> ModelCard | None:
        model_id = self.picker.value
        return None if model_id is None else self.catalog.card(model_id)

    def show(self) -> None:
        """Show the chosen model's card, metrics and generate lines."""
        if self._quiet:
            return
        card = self.selected
        if card is None:
            self.card.value = self.code.value = ""
            return
        folder = self.catalog.local.get(card.model_id)
        shipped = card.model_id in list_models()
        python, cli = generate_code(
            card,
            self.controls["n"].value,
            self.controls["seed"].value,
            catalog_file=None if card.source == "medgan-utils" else self.catalog_file,
            folder=None if shipped or folder is None else folder,
        )
        self.code.value = (
            "<b>Generate from it</b> (every image it makes is synthetic)"
            f"{PRE}{_text(python)}</pre>{PRE}{_text(cli)}</pre>"
        )
        metrics = [{"metric": k, "value": v} for k, v in card.metrics.items()]
        self.card.value = f"<b>Model card</b>{PRE}{_text(card.to_text())}</pre>" + (
            "<b>Metrics recorded in the catalog</b> (FIDs compare only on the same real "
            "images and sample count)" + _table(metrics)
            if metrics
            else ""
        )


# -- visual Turing test --------------------------------------------------------------------


def turing_test(model: str = DEFAULT_MODEL, n: int = 10, seed: int = 0, n_subjects: int = 8) -> Any:
    """A visual Turing test: is each image real or synthetic?

    One image at a time, real (a held-out subject of the built-in set, see
    :func:`~medgan_utils.turing.heldout_set`) or synthetic (``model``), as a seeded coin
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
        test: the :class:`~medgan_utils.turing.TuringTest` of this round. finished: the
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
        return (
            sum(t.score().correct for t in self.finished),
            sum(t.score().n for t in self.finished),
        )

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
        right, answered = self.total()
        lo, hi = accuracy_interval(right, answered)
        self.score.value = (
            f"{_text(test.score().text())}<br><b>All rounds so far</b>: {right} of "
            f"{answered} right ({right / answered:.0%}; 95% Wilson interval {lo:.0%} to "
            f"{hi:.0%}). Press <b>New round</b> to play again."
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
