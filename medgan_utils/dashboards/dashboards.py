"""Three more dashboards: a model-catalog browser, a visual Turing test and a bias audit.

Like those of :mod:`medgan_utils.dashboards.widgets`, each function returns an ipywidgets widget
whose
``dashboard`` attribute is the Python object behind it (state, ``controls``, buttons), so
tests set values, press ``button.click()`` and read what is shown.

- :func:`catalog_browser` is a view over :mod:`medgan_utils.hub.catalog` (:func:`load_catalog`
  reads the catalog, :meth:`Catalog.search` filters it, :class:`ModelCard` describes a
  model) and :mod:`medgan_utils.hub.usage` (which file to read, the table rows, the
  lines that generate from a model).
- :func:`turing_test` is a view over :class:`medgan_utils.evaluation.turing.TuringTest`.
- :func:`bias_audit` is a view over :func:`medgan_utils.ethics.audit.subgroup_metrics`, on the
  scores :func:`audit_scores` computes once (:mod:`medgan_utils.downstream.classifier` and
  :mod:`medgan_utils.downstream.finetune` load or train the classifier).

Example:
    >>> from medgan_utils.dashboards.dashboards import bias_audit, catalog_browser, turing_test
    >>> catalog_browser()  # doctest: +SKIP
    >>> turing_test()  # doctest: +SKIP
    >>> bias_audit("lesion-classifier-synthetic")  # doctest: +SKIP
"""

from __future__ import annotations

import html
import io
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from medgan_utils.dashboards.widgets import _ipywidgets, _png
from medgan_utils.data.dataset import load_dataset
from medgan_utils.downstream.classifier import (
    SHIPPED_CLASSIFIERS,
    Estimate,
    FitConfig,
    load_classifier,
    predict,
)
from medgan_utils.errors import DataError
from medgan_utils.ethics.audit import SUBGROUP_METRICS, subgroup_metrics
from medgan_utils.evaluation.turing import MAX_ROUND, TuringTest, accuracy_interval, heldout_set
from medgan_utils.gan.zoo import DEFAULT_MODEL, list_models, load_generator
from medgan_utils.hub.catalog import Catalog, load_catalog
from medgan_utils.hub.entries import SYNONYMS, ModelCard, compact_text
from medgan_utils.hub.usage import catalog_rows, find_catalog_file, generate_code

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from medgan_utils.downstream.finetune import FinetuneConfig
    from medgan_utils.ethics.audit import SubgroupReport

__all__ = [
    "catalog_browser",
    "CatalogBrowserDashboard",
    "turing_test",
    "TuringTestDashboard",
    "AuditScores",
    "audit_scores",
    "bias_audit",
    "BiasAuditDashboard",
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
        from medgan_utils.appkit.core import modality_choices

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
        from medgan_utils.appkit.core import MODALITIES

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


# -- bias audit ----------------------------------------------------------------------------

AUDIT_SET = "builtin-labelled"
#: How :func:`audit_scores` trains its classifier when none is given: chapter 7's quick
#: real-only classifier (FinetuneConfig's other defaults: ResNet-10 of width 16, 64 px).
TRAINING_FIT = FitConfig(epochs=8, min_epochs=3, patience=3)
METRIC_NOTES = {
    "prevalence": "share of images with a lesion (a property of the data, not the classifier)",
    "auroc": "how well the scores rank lesion above no-lesion images (threshold-free)",
    "sensitivity": "share of lesion images called lesion (true-positive rate)",
    "specificity": "share of no-lesion images called no lesion (1 - false-positive rate)",
    "positive_rate": "share of all images called lesion",
    "calibration": "mean score minus observed prevalence (0: a score means the same risk)",
    "brier": "mean squared error of the scores (lower is better; threshold-free)",
}
THRESHOLD_METRICS = ("sensitivity", "specificity", "positive_rate")  # the rest ignore it


@dataclass(frozen=True)
class AuditScores:
    """A classifier's scores on labelled images, with what an audit groups them by.

    Attributes:
        targets: ``(N,)`` 0/1, 1 = lesion. scores: ``(N,)`` predicted lesion probability in
            ``[0, 1]``. subjects: ``(N,)`` subject of each image (the bootstrap's unit).
        groups: attribute name -> ``(N,)`` value of each image (``{"site": ...}``), the
            attributes every image's metadata has.
        classifier, data: one line each on which classifier scored which images.
    """

    targets: np.ndarray
    scores: np.ndarray
    subjects: np.ndarray
    groups: dict[str, np.ndarray]
    classifier: str
    data: str


def audit_scores(
    classifier: str | Path | None = None,
    n_subjects: int = 48,
    seed: int = 2,
    *,
    train_subjects: int = 48,
    train_seed: int = 0,
    training: FinetuneConfig | None = None,
) -> AuditScores:
    """Score the built-in labelled set with a classifier, once, for :func:`bias_audit`.

    Args:
        classifier: a :func:`~medgan_utils.downstream.classifier.save_classifier` file or a
            shipped name
            (:data:`~medgan_utils.downstream.classifier.SHIPPED_CLASSIFIERS`); ``None`` trains a
            real-only classifier here (``train_strategy("real", ...)``) on ``train_subjects``
            other virtual subjects (the built-in labelled set drawn with ``train_seed``),
            split by :func:`~medgan_utils.downstream.finetune.split_real` into pool and validation.
        n_subjects, seed: the audited images: ``n_subjects * 32`` slices of the built-in
            labelled set drawn with ``seed``, at the classifier's image size. Audit a classifier
            on subjects nothing it learnt from saw: seed 0 is the chapters' real set (and
            the default ``train_seed``), seed 1 trained the shipped lesion generator whose
            images trained ``"lesion-classifier-synthetic"``; the default, seed 2, is new
            to both.
        training: the on-the-fly classifier's settings; default ``FinetuneConfig(fit=
            TRAINING_FIT)`` (about a minute on a free 2-core CPU).

    Raises:
        ValueError: ``classifier=None`` with ``train_seed == seed`` (it would be audited on
            the subjects it trained on).
        DataError: a bad classifier file, or too few subjects for a split with both classes.
    """
    from medgan_utils.downstream.finetune import (
        FinetuneConfig,
        as_labelled,
        split_real,
        train_strategy,
    )

    positive = None
    if classifier is None:
        if train_seed == seed:
            raise ValueError(
                f"train_seed and seed are both {seed}: the classifier would be audited on the "
                "virtual subjects it was trained on; pick different seeds"
            )
        config = training or FinetuneConfig(fit=TRAINING_FIT)
        name = f"the built-in labelled set, seed {train_seed}"
        real = load_dataset(
            AUDIT_SET, config.classifier.image_size, n_subjects=train_subjects, seed=train_seed
        )
        pool, val, _ = split_real(as_labelled(real, name=name), config.fractions, config.seed)
        start = time.perf_counter()
        model, history, _ = train_strategy("real", pool, val, None, config)
        best = max((h.get("val_auroc", float("nan")) for h in history), default=float("nan"))
        described = (
            f"a real-only classifier (ResNet-10, width {config.classifier.width}) trained here "
            f"in {time.perf_counter() - start:.0f} s on {len(pool)} images of "
            f"{len(set(pool.subjects))} other virtual subjects ({name}), validated on "
            f"{len(set(val.subjects))} more (best validation AUROC {best:.3f}); its output "
            "bias puts the validation Youden threshold at 0.5"
        )
    else:
        model, meta = load_classifier(classifier)
        positive = meta.get("positive_class")
        kind = "shipped" if str(classifier) in SHIPPED_CLASSIFIERS else "loaded from a file"
        trained_on = meta.get("trained_on", "data its file does not record")
        described = f"{classifier} ({kind}), trained on {trained_on}"
    size = model.config.image_size
    data_set = load_dataset(AUDIT_SET, size, n_subjects=n_subjects, seed=seed)
    data = as_labelled(data_set, positive, name=f"{AUDIT_SET} (seed {seed})")
    meta_groups = [m.groups for m in data_set.meta]
    keys = sorted(set.intersection(*(set(g) for g in meta_groups)))
    where = "; none of whom it trained on" if classifier is None else ""
    return AuditScores(
        targets=data.targets.numpy(),
        scores=predict(model, data.images),
        subjects=np.asarray(data.subjects),
        groups={k: np.array([str(g[k]) for g in meta_groups]) for k in keys},
        classifier=described,
        data=(
            f"{len(data)} slices ({size} px) of {len(set(data.subjects))} virtual subjects of "
            f"the built-in labelled set (seed {seed}{where})"
        ),
    )


def bias_audit(
    classifier: str | Path | None = None,
    n_subjects: int = 48,
    seed: int = 2,
    *,
    group: str = "site",
    metric: str = "sensitivity",
    threshold: float = 0.5,
    n_boot: int = 200,
    train_subjects: int = 48,
    train_seed: int = 0,
    training: FinetuneConfig | None = None,
) -> Any:
    """Audit a lesion classifier per group: choose the group, metric and threshold.

    The classifier scores the built-in labelled set once (:func:`audit_scores`: a given
    classifier, or one trained here on other virtual subjects); every control then only
    re-runs :func:`~medgan_utils.ethics.audit.subgroup_metrics` (fairlearn's ``MetricFrame``,
    bootstrap over subjects). Shown: which classifier scored which images, the chosen
    metric per group with its 95% interval (a plot), its gap (max - min over groups) and
    the equalized-odds difference, and the table of every metric.

    Args:
        classifier, n_subjects, seed, train_subjects, train_seed, training: passed to
            :func:`audit_scores`.
        group, metric, threshold, n_boot: the controls' first values (``group`` must be
            in the images' metadata: ``"site"`` for the built-in set).

    Returns:
        An ``ipywidgets.VBox``; its ``dashboard`` attribute is the :class:`BiasAuditDashboard`.
    """
    scores = audit_scores(
        classifier,
        n_subjects,
        seed,
        train_subjects=train_subjects,
        train_seed=train_seed,
        training=training,
    )
    return BiasAuditDashboard(scores, group, metric, threshold, n_boot).widget


class BiasAuditDashboard:
    """The state and controls behind :func:`bias_audit`.

    Attributes:
        scores: the :class:`AuditScores` (computed once). report: the last
            :class:`~medgan_utils.ethics.audit.SubgroupReport` (``None`` after an error).
        controls: ``group``, ``metric``, ``threshold`` and ``n_boot`` widgets by name.
        plotted: the metric the plot shows and its estimate per group.
        source, explain, summary, table: HTML of the provenance lines, the threshold line,
            the chosen metric's numbers and the table of all metrics. image: the plot (PNG).
        widget: the whole dashboard.

    Example:
        >>> BiasAuditDashboard(audit_scores("lesion-classifier-synthetic"))  # doctest: +SKIP
    """

    BOOTSTRAP_SEED = 0

    def __init__(
        self,
        scores: AuditScores,
        group: str = "site",
        metric: str = "sensitivity",
        threshold: float = 0.5,
        n_boot: int = 200,
    ) -> None:
        from matplotlib.figure import Figure

        w = _ipywidgets()
        self.scores = scores
        self._check(group, metric)
        self.report: SubgroupReport | None = None
        self.plotted: tuple[str, dict[str, Estimate]] | None = None
        self._reports: dict[tuple[str, float, int], SubgroupReport] = {}
        style = {"description_width": "130px"}
        self.controls = {
            "group": w.Dropdown(options=list(scores.groups), value=group, description="group"),
            "metric": w.Dropdown(
                options=list(SUBGROUP_METRICS), value=metric, description="metric"
            ),
            "threshold": w.FloatSlider(
                value=threshold,
                min=0.05,
                max=0.95,
                step=0.05,
                readout_format=".2f",
                continuous_update=False,  # one audit when the slider is let go
                description="threshold",
            ),
            "n_boot": w.BoundedIntText(
                value=n_boot, min=20, max=5000, step=50, description="bootstrap resamples"
            ),
        }
        c = self.controls
        for control in c.values():
            control.style = style
        self.source, self.explain, self.summary, self.table = w.HTML(), w.HTML(), w.HTML(), w.HTML()
        self.image = w.Image(format="png", layout=w.Layout(max_width="100%"))
        self._figure = Figure(figsize=(5.5, 3.2))
        self.widget = w.VBox(
            [
                self.source,
                w.HBox([c["group"], c["metric"]]),
                w.HBox([c["threshold"], c["n_boot"]]),
                self.explain,
                self.summary,
                self.image,
                self.table,
            ]
        )
        self.widget.dashboard = self
        self.source.value = (
            f"<b>Classifier</b>: {_text(scores.classifier)}.<br><b>Audited on</b>: "
            f"{_text(scores.data)}"
            ". The sites are simulated acquisition sites (different noise and contrast) of "
            "virtual subjects made from the MNI152 template: no patient data."
        )
        for name in ("group", "threshold", "n_boot"):
            c[name].observe(lambda _: self.refresh(), names="value")
        c["metric"].observe(lambda _: self.show(), names="value")
        self.refresh()

    def _check(self, group: str, metric: str) -> None:
        if group not in self.scores.groups:
            known = ", ".join(self.scores.groups) or "none"
            raise DataError(AUDIT_SET, f"no group {group!r} in its metadata (groups: {known})")
        if metric not in SUBGROUP_METRICS:
            raise ValueError(f"metric must be one of {SUBGROUP_METRICS}, got {metric!r}")

    def audit(
        self, group: str | None = None, threshold: float | None = None, n_boot: int | None = None
    ) -> SubgroupReport:
        """:func:`~medgan_utils.ethics.audit.subgroup_metrics` of the scores (default: the
        controls' group, threshold and resamples), bootstrapping whole subjects."""
        c = self.controls
        group = c["group"].value if group is None else group
        threshold = c["threshold"].value if threshold is None else threshold
        n_boot = c["n_boot"].value if n_boot is None else n_boot
        self._check(group, c["metric"].value)
        key = (group, float(threshold), int(n_boot))
        if key not in self._reports:  # moving a control back is instant
            s = self.scores
            self._reports[key] = subgroup_metrics(
                s.targets,
                s.scores,
                s.groups[group],
                threshold=threshold,
                n_boot=n_boot,
                seed=self.BOOTSTRAP_SEED,
                clusters=s.subjects,
                attribute=group,
            )
        return self._reports[key]

    def refresh(self) -> None:
        """Re-run the audit for the controls' group, threshold and resamples, and show it."""
        t, p = self.controls["threshold"].value, self.scores.scores
        self.explain.value = (
            f"Scores at or above the threshold count as <b>lesion</b>: at {t:.2f}, "
            f"{int((p >= t).sum())} of {len(p)} images (their scores range from {p.min():.3f} "
            f"to {p.max():.3f}, median {np.median(p):.3f}). Sensitivity, specificity, positive "
            "rate and equalized odds depend on it; AUROC, calibration, Brier score and "
            "prevalence do not."
        )
        self.summary.value = "<i>computing the bootstrap...</i>"
        try:
            self.report = self.audit()
        except DataError as err:  # e.g. no resample with both classes in every group
            self.report, self.plotted = None, None
            self.summary.value = f"<b>Cannot audit</b>: {_text(err)}"
            self.table.value = ""
            self.image.layout.display = "none"
            return
        self.show()

    def show(self) -> None:
        """Show the chosen metric of the last report: the numbers, the plot and the table."""
        report, metric = self.report, self.controls["metric"].value
        if report is None:
            return
        estimates = {g: report.by_group[g][metric] for g in report.counts}
        self.plotted = (metric, estimates)
        att = _text(report.attribute)
        per = "; ".join(f"{att} {_text(g)} {e.to_text()}" for g, e in estimates.items())
        self.summary.value = (
            f"<b>{metric}</b> ({METRIC_NOTES[metric]}): {per}.<br><b>Gap</b> (max - min over "
            f"groups) {report.gaps[metric].to_text()}; <b>equalized-odds difference</b> (the "
            f"larger of the sensitivity and specificity gaps) {report.equalized_odds.to_text()}"
            f". Intervals: 95% percentile bootstrap over {report.unit} ({report.n_boot} "
            "resamples with both classes in every group). A gap is never negative, so read its "
            "interval as an upper bound on the true gap."
        )
        self._draw(report, metric)
        buffer = io.BytesIO()
        self._figure.savefig(buffer, format="png", dpi=96)
        self.image.value = buffer.getvalue()
        self.image.layout.display = ""
        self.table.value = self._table(report, metric)

    def _draw(self, report: SubgroupReport, metric: str) -> Figure:
        """The chosen metric per group with its interval; its gap in the title."""
        fig = self._figure
        fig.clear()
        ax = fig.add_subplot()
        groups = list(report.counts)
        for k, g in enumerate(groups):
            e = report.by_group[g][metric]
            ax.errorbar(k, e.value, [[e.value - e.low], [e.high - e.value]], fmt="o", capsize=6)
        ax.set_xticks(
            range(len(groups)),
            [f"{report.attribute} {g}\n{report.counts[g]} images" for g in groups],
        )
        ax.set_xlim(-0.6, len(groups) - 0.4)
        if metric != "calibration":
            ax.set_ylim(-0.02, 1.02)
        else:
            ax.axhline(0, color="grey", lw=0.8, ls=":")
        ax.set_ylabel(metric)
        at = f" at threshold {report.threshold:.2f}" * (metric in THRESHOLD_METRICS)
        ax.set_title(
            f"{metric} per {report.attribute}{at}\n"
            f"gap {report.gaps[metric].to_text()}, 95% bootstrap intervals",
            fontsize=10,
        )
        fig.tight_layout()
        return fig

    @staticmethod
    def _table(report: SubgroupReport, chosen: str) -> str:
        head = "".join(
            f"<th style='text-align:left'>{_text(report.attribute)} {_text(g)}</th>"
            for g in report.counts
        )
        rows = [
            "<tr><td>images</td>"
            + "".join(f"<td>{n}</td>" for n in report.counts.values())
            + "<td></td></tr>"
        ]
        for m in SUBGROUP_METRICS:
            cells = [report.by_group[g][m].to_text() for g in report.counts]
            cells.append(report.gaps[m].to_text())
            row = "".join(f"<td>{c}</td>" for c in cells)
            style = " style='font-weight:bold; background:#eef'" if m == chosen else ""
            rows.append(f"<tr{style}><td>{m}</td>{row}</tr>")
        rows.append(
            f"<tr><td>equalized odds</td><td colspan='{len(report.counts)}'></td>"
            f"<td>{report.equalized_odds.to_text()}</td></tr>"
        )
        return (
            "<b>Every metric</b> (estimate [95% interval])<table style='line-height:1.35'>"
            f"<tr><th style='text-align:left'>metric</th>{head}"
            f"<th style='text-align:left'>gap (max - min)</th></tr>{''.join(rows)}</table>"
        )
