"""Model cards: a Markdown page per trained generator, written from its recorded files.

Everything on the card comes from files beside the weights: ``generator.json`` (written by
training: command, hardware, precision, data, wall time, configs), and where present
``evaluation.json`` (``medgan metrics --json``: every score with its real-vs-real floor and
the near-copy check) and ``audit.json`` (subgroup results). Nothing is typed in by hand, so
the card cannot drift from the model it describes; a section without a recorded result
says so and gives the command that measures it.

:func:`card_for` is the one entry point: ``medgan card``, ``write_model_card`` and the app
all render a model's card through it. Generators get :func:`model_card`; lesion
classifiers get :func:`~medgan_utils.ethics.classifier_card.classifier_card`, with the same
:data:`SECTIONS`.

    medgan card brain-mri-dcgan-64                  # print a shipped model's card
    medgan card runs/brain64 --out runs/brain64/MODEL_CARD.md
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from medgan_utils.ethics._card_parts import (
    AUDIT_FILE,
    EVALUATION_FILE,
    SECTIONS,
    code,
    energy_section,
    fmt,
    recorded,
    render,
    subgroup_section,
)
from medgan_utils.ethics.classifier_card import classifier_card, classifier_file, is_classifier
from medgan_utils.gan.zoo import SHIPPED_MODELS, load_record, model_path
from medgan_utils.settings import PRETRAINED, atomic_path

__all__ = [
    "SECTIONS",
    "EVALUATION_FILE",
    "AUDIT_FILE",
    "model_card",
    "card_for",
    "resolve_model_folder",
    "write_model_card",
]

INTENDED_USE = (
    "Teaching and method development: learning how GANs are trained, evaluated and audited, "
    "and producing synthetic images to test data pipelines."
)
OUT_OF_SCOPE = (
    "Any clinical or diagnostic use; claims about real patient populations; training "
    "models meant for real patients without validation on real data; passing its images "
    "off as real (every export is marked synthetic)."
)
TEMPLATE = (
    "the MNI152 2009a T1 template shipped by nilearn (an average of 152 adult scans), turned "
    "into virtual subjects by simulated anatomy, scanner and site variation"
)


def _builtin(meta: Mapping[str, Any]) -> bool:
    return str(meta.get("data", "")).startswith("builtin")


# --------------------------------------------------------------------------- sections


def _data(meta: Mapping[str, Any]) -> list[str]:
    options = meta.get("data_options") or {}
    lines = [
        f"- dataset: `{meta.get('data', '?')}`"
        + (f" {json.dumps(options)}" if options else "")
        + f", {meta.get('n_images', '?')} images"
    ]
    if meta.get("only_class"):
        lines.append(f"- only the class `{meta['only_class']}` of that set")
    elif meta.get("classes"):
        lines.append("- classes: " + ", ".join(f"`{c}`" for c in meta["classes"]))
    if _builtin(meta):
        lines.append(f"- the built-in set is derived from one brain: {TEMPLATE}; not patient data")
        if "labelled" in str(meta.get("data")):
            lines.append("- its lesions are simulated hyperintense blobs, not real pathology")
    return lines


def _training(meta: Mapping[str, Any]) -> list[str]:
    cfg, train = meta.get("model_config", {}), meta.get("train_config", {})
    wall = meta.get("wall_time_s")
    lines = [
        f"- command: {code(meta['command']) if meta.get('command') else 'not recorded'}",
        f"- hardware: {meta.get('hardware', 'not recorded')}; precision "
        f"{meta.get('precision', 'not recorded')}",
        f"- wall time: {fmt(wall) if wall is not None else '?'} s for "
        f"{meta.get('epochs', '?')} epochs",
        "- architecture: " + ", ".join(f"{k}={v}" for k, v in cfg.items()),
        "- optimisation: " + ", ".join(f"{k}={v}" for k, v in train.items()),
    ]
    if meta.get("notes"):
        lines.append(f"- notes: {meta['notes']}")
    history = meta.get("history") or []
    if history:
        last = history[-1]
        lines.append(
            "- last epoch: " + ", ".join(f"{k} {fmt(v)}" for k, v in last.items() if k != "epoch")
        )
    return lines


def _score_text(score: dict[str, Any]) -> str:
    """A score as ``medgan metrics`` prints it (value, then its floor), from its dict."""
    from medgan_utils.evaluation.metrics import Score

    try:
        return str(Score(**score))
    except TypeError:  # written by another version: show the numbers as they are
        return ", ".join(f"{k} {fmt(v)}" for k, v in score.items() if v is not None)


def _spaces(ev: dict[str, Any], measure: str) -> list[str]:
    """One line per feature space: what it sees; the default spaces an evaluation lacks
    (recorded before there were two) say that they were not measured and how to measure."""
    from medgan_utils.evaluation.evaluate import DEFAULT_SPACES
    from medgan_utils.evaluation.features import SPACE_DESCRIPTIONS

    spaces = ev.get("spaces") or {ev.get("extractor", "?"): ev.get("feature_dim", "?")}
    lines = ["Feature spaces:"]
    for name, dim in spaces.items():
        about = SPACE_DESCRIPTIONS.get(name)
        lines.append(f"- {name} ({dim}-d)" + (f": {about}" if about else ""))
    for name in DEFAULT_SPACES:
        if name not in spaces:
            lines.append(
                f"- {name}: not measured (this evaluation predates it or left it out); "
                f"measure it with {measure}"
            )
    return lines


def _report_lines(ev: dict[str, Any], measure: str) -> list[str]:
    """One evaluation's lines: what was compared, the spaces, every score beside its floor."""
    lines = [
        f"Real: {ev.get('real', '?')}; generated: {ev.get('fake', '?')}. Each score has "
        "beside it the same metric between two disjoint real subsets of the same size (the "
        "floor a perfect generator would reach).",
        "",
        *_spaces(ev, measure),
        "",
    ]
    lines += [f"- {key}: {_score_text(s)}" for key, s in ev["scores"].items()]
    if ev.get("call"):
        lines.append(f"- evaluation: {ev['call']}")
    lines += [f"- note: {note}" for note in ev.get("notes") or []]
    return lines


def _fidelity_lines(fid: dict[str, Any]) -> list[str]:
    """The label fidelity of a conditional model (:mod:`medgan_utils.evaluation.conditional`)."""

    def share(c: dict[str, Any], which: str) -> str:
        lo, hi = c[f"{which}_interval"]
        return f"{c[f'{which}_share']:.1%} [{lo:.1%}, {hi:.1%}] (n={c[f'n_{which}']})"

    lines = [
        f"Label fidelity: the share of each class's images called {fid.get('positive', '?')} "
        f"by the {fid.get('judge', '?')}, generated beside real:",
        "",
    ]
    for c in fid.get("classes", []):
        lines.append(
            f"- {c['label']}: generated {share(c, 'generated')}; real {share(c, 'real')}; "
            f"gap {100 * c['gap']:+.1f} points"
        )
    tolerance = fid.get("tolerance", 0.1)
    verdict = "within" if fid.get("within_tolerance") else "not within"
    lines.append(f"- every class {verdict} {100 * tolerance:.0f} points of the real share")
    return lines


def _metrics(
    evaluation: dict[str, Any] | None, extra: dict[str, Any] | None, measure: str
) -> list[str]:
    ev = evaluation or {}
    per_class = ev.get("per_class") or {}
    if not ev.get("scores") and not per_class and not extra:
        return [f"Not measured: run {measure}, then write this card again."]
    lines = []
    if ev.get("scores"):
        lines += _report_lines(ev, measure)
    for name, report in per_class.items():  # a conditional model: each class on its own
        lines += ["", f"Class `{name}`:", "", *_report_lines(report, measure)]
    if per_class and ev.get("call"):
        lines += ["", f"- evaluation: {ev['call']}"]
    if ev.get("label_fidelity"):
        lines += ["", *_fidelity_lines(ev["label_fidelity"]), ""]
    if ev.get("reading"):
        lines.append(f"- reading: {ev['reading']}")
    lines += [f"- {k}: {v}" for k, v in (extra or {}).items()]
    return lines


def _memorization_lines(mem: dict[str, Any]) -> list[str]:
    from medgan_utils.evaluation.memorization import chance_bound

    share, chance = mem.get("share_flagged", 0.0), mem.get("chance_share", 0.0)
    n, flagged = int(mem.get("n", 0)), int(mem.get("n_flagged", 0))
    # the rule of chapter 4 and the release gate; older evaluation.json files lack the bound
    bound = int(mem.get("chance_bound", chance_bound(n, chance)))
    verdict = (
        f"within what chance explains (at most {bound})"
        if flagged <= bound
        else f"more than chance explains (at most {bound}): look at the flagged images"
    )
    return [
        f"- near-copies: {mem.get('n_flagged', '?')} of {mem.get('n', '?')} generated images "
        f"({share:.1%}; expected by chance {chance:.1%}): {verdict}",
        f"- median nearest-training distance ratio {fmt(mem.get('median_ratio'))}, smallest "
        f"{fmt(mem.get('min_ratio'))} (real held-out images: 1.00), in {mem.get('space', '?')}",
        f"- rule: {mem.get('rule', '?')}; calibration: {mem.get('calibration', '?')}",
    ]


def _memorization_of(evaluation: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """``{"": check}`` for one evaluation, ``{class: check}`` for a conditional model's."""
    ev = evaluation or {}
    if ev.get("memorization"):
        return {"": ev["memorization"]}
    per_class = ev.get("per_class") or {}
    return {k: r["memorization"] for k, r in per_class.items() if r.get("memorization")}


def _memorization(evaluation: dict[str, Any] | None, measure: str) -> list[str]:
    checks = _memorization_of(evaluation)
    if not checks:
        return [
            f"Not measured: run {measure}, which also checks for near-copies of the `--train` "
            "images; then write this card again."
        ]
    lines = []
    for name, mem in checks.items():
        if name:
            lines.append(f"Class `{name}` (against that class's training images):")
        lines += _memorization_lines(mem)
    return lines


def _limitations(meta: Mapping[str, Any], evaluation: dict[str, Any] | None) -> list[str]:
    cfg = meta.get("model_config", {})
    size = cfg.get("image_size", "?")
    lines = [
        "- Not for clinical use: GAN samples can contain artefacts that look anatomical (or "
        "hide real anatomy); never read them clinically.",
        f"- {size}x{size} pixels, {cfg.get('channels', 1)} channel(s), one 2-D slice per "
        "image: far below clinical resolution, no 3-D consistency.",
    ]
    if _builtin(meta):
        subjects = (meta.get("data_options") or {}).get("n_subjects")
        who = f"{subjects} virtual subjects" if subjects else "virtual subjects"
        lines.append(
            f"- Trained on {who} derived from one template brain: it reproduces that brain's "
            "anatomy and the simulated subject, scanner and site variation, nothing more; "
            "no real population (age, sex, ethnicity) and no real pathology is represented."
        )
    else:
        lines.append(
            f"- Trained on {meta.get('n_images', '?')} images of `{meta.get('data', '?')}`: it "
            "can only reproduce (and may amplify) what and whom that data shows."
        )
    if meta.get("only_class"):
        lines.append(f"- Generates only the class `{meta['only_class']}`; it has no labels.")
    if not (evaluation or {}).get("scores") and not (evaluation or {}).get("per_class"):
        lines.append("- Not evaluated: image quality and diversity are unknown.")
    if not _memorization_of(evaluation):
        lines.append("- Not checked for near-copies of training images.")
    return lines


def _licence(meta: Mapping[str, Any]) -> list[str]:
    licence = meta.get("licence") or meta.get("license")
    lines = [f"- weights: {licence}" if licence else "- weights: MIT, like the project"]
    if _builtin(meta):
        lines.append(
            "- training data: the MNI152 2009a template is distributed by nilearn under its "
            "own permissive licence (McConnell Brain Imaging Centre)"
        )
    else:
        lines.append("- training data: its own licence applies; check it before sharing images")
    return lines


# --------------------------------------------------------------------------- the card


def model_card(
    name: str,
    meta: Mapping[str, Any],
    metrics: dict[str, Any] | None = None,
    *,
    evaluation: dict[str, Any] | None = None,
    audit: dict[str, Any] | list[Any] | None = None,
    model_ref: str | None = None,
    folder: str | None = None,
) -> str:
    """Render the Markdown card of generator ``name``, every section of :data:`SECTIONS`.

    Args:
        name: the model's name (shipped name or run folder name).
        meta: the contents of ``generator.json`` (a
            :class:`~medgan_utils.gan.record.GeneratorRecord` or the plain JSON dict).
        metrics: extra lines for the Metrics section, name -> text such as
            ``"23.1 (real-vs-real floor 4.2)"``.
        evaluation: the contents of ``evaluation.json`` (``EvaluationReport.to_dict()``).
        audit: the contents of ``audit.json``: ``{"subgroups": [row, ...]}`` or the rows.
        model_ref: how commands name the model (default ``name``), e.g. its run folder.
        folder: where the model's files are, for the commands that measure what is missing.
    """
    ref = model_ref or name
    where = f"`{folder}`" if folder else "the model's folder"
    data, options = meta.get("data"), meta.get("data_options") or {}
    plain = data and not options and not meta.get("only_class")  # `--train` can name it
    measure = (
        f"`medgan metrics --real REAL --fake {ref} --train {data if plain else 'TRAIN'} --json "
        f"> {folder + '/' if folder else ''}{EVALUATION_FILE}` (`REAL`: real images the model "
        "never saw" + ("" if plain else "; `TRAIN`: its training images") + ")"
    )
    cfg = meta.get("model_config", {})
    size = cfg.get("image_size", "?")
    body = {
        "Intended use": [INTENDED_USE],
        "Out-of-scope use": [OUT_OF_SCOPE],
        "Data": _data(meta),
        "Training": _training(meta),
        "Metrics": _metrics(evaluation, metrics, measure),
        "Subgroup results": subgroup_section(audit, where),
        "Memorization": _memorization(evaluation, measure),
        "Energy": energy_section(meta),
        "Limitations": _limitations(meta, evaluation),
        "Licence": _licence(meta),
    }
    kind = "DCGAN generator"
    if cfg.get("num_classes"):
        labels = ", ".join(f"`{c}`" for c in meta.get("classes") or []) or "its labels"
        kind = f"class-conditional DCGAN generator (one network, its label picks: {labels})"
    intro = (
        f"A {kind} (Radford et al., 2015) of {size}x{size} images with "
        f"{cfg.get('channels', 1)} channel(s). **Every image it produces is synthetic.** "
        f"Written by `medgan card {ref}` from the files beside the weights."
    )
    return render(name, intro, body)


def resolve_model_folder(model: str | Path) -> tuple[Path, str | None]:
    """The folder of a shipped model name or a run folder, and its shipped name (or None).

    Raises:
        DataError: not a model (see :func:`~medgan_utils.gan.zoo.model_path`).
    """
    path = Path(model)
    folder = model_path(path.parent if path.suffix == ".json" else model)
    shipped = [n for n, sub in SHIPPED_MODELS.items() if (PRETRAINED / sub) == folder.resolve()]
    return folder, shipped[0] if shipped else None


def card_for(
    model: str | Path, metrics: dict[str, Any] | None = None, name: str | None = None
) -> str:
    """The card of a shipped model name or a run folder, from its ``generator.json`` and,
    when present, the ``evaluation.json`` and ``audit.json`` beside it.

    Args:
        model: e.g. ``"brain-mri-dcgan-64"`` or ``"runs/brain64"``.
        metrics: extra lines for the Metrics section.
        name: the title's name (default: the shipped name, else the folder's name).

    Raises:
        DataError: unknown model, or unreadable JSON (naming the file).
    """
    if is_classifier(model):
        return classifier_card(model, name)
    folder, shipped = resolve_model_folder(model)
    evaluation, audit = recorded(folder)
    where = f"medgan_utils/pretrained/{folder.resolve().name}" if shipped else str(folder)
    return model_card(
        name or shipped or folder.resolve().name,
        load_record(folder),
        metrics,
        evaluation=evaluation,
        audit=audit,
        model_ref=shipped or str(folder),
        folder=where,
    )


def write_model_card(
    folder: str | Path,
    name: str | None = None,
    metrics: dict[str, Any] | None = None,
    out: str | Path | None = None,
) -> Path:
    """Write :func:`card_for`'s card atomically; default ``out``: the folder's ``MODEL_CARD.md``.

    Args:
        folder: a shipped model name or a folder with ``generator.json``.
        name: the title's name (default: the shipped name or the folder's name).
        metrics: extra lines for the Metrics section.
        out: the file to write.
    """
    text = card_for(folder, metrics, name)
    if out is None and is_classifier(folder):
        out = classifier_file(folder).parent / "MODEL_CARD.md"
    path = Path(out) if out is not None else resolve_model_folder(folder)[0] / "MODEL_CARD.md"
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path
