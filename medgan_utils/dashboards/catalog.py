"""The catalog browser: medigan's models and the project's own, filtered, with their cards.

A view over :mod:`medgan_utils.hub.catalog` (:func:`~medgan_utils.hub.catalog.load_catalog`
reads the catalog, :meth:`~medgan_utils.hub.catalog.Catalog.search` filters it,
:class:`~medgan_utils.hub.entries.ModelCard` describes a model) and
:mod:`medgan_utils.hub.usage` (which file to read, the table rows, the lines that generate
from a model).

Example:
    >>> from medgan_utils.dashboards import catalog_browser
    >>> catalog_browser()  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from medgan_utils.dashboards._common import _ipywidgets, _table, _text
from medgan_utils.gan.zoo import list_models
from medgan_utils.hub.catalog import Catalog, load_catalog
from medgan_utils.hub.entries import SYNONYMS, ModelCard, compact_text
from medgan_utils.hub.usage import catalog_table, find_catalog_file, generate_code, ours_first

__all__ = ["catalog_browser", "CatalogBrowserDashboard"]

ANY = "any"
# Voila's and JupyterLab's HTML widgets use a tall line height and no code font
PRE = (
    "<pre style='font-family:monospace; line-height:1.35; white-space:pre-wrap; "
    "background:#f6f6f6; padding:6px 8px'>"
)


def _groups(values: Sequence[str]) -> list[str]:
    """Lower-cased values, one per group of synonyms (``brain`` for brain/cranial/head)."""
    out: list[str] = []
    for v in values:
        v = v.lower().strip()
        group = next((g for g in SYNONYMS if v in g), {v})
        if v and not any(o in group for o in out):
            out.append(v)
    return sorted(out)


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
        from medgan_utils.hub.usage import modality_choices

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
        from medgan_utils.hub.entries import MODALITIES

        c = self.controls
        text = c["text"].value.strip()
        cards = self.catalog.search(
            modality=MODALITIES.get(c["modality"].value),
            anatomy=None if c["anatomy"].value == ANY else c["anatomy"].value,
            generator_type=None if c["type"].value == ANY else c["type"].value,
            needs_input=c["inputs"].value,
            text=text or None,
        )
        return ours_first(cards)

    def refresh(self) -> None:
        """Filter the catalog, redraw the table and keep the chosen model if it still matches."""
        self.cards = self.search()
        self.rows = catalog_table(self.cards)
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
