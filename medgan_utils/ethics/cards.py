"""Model cards: a Markdown page per trained generator, written from its recorded files.

Everything on the card comes from files beside the weights: ``generator.json`` (written by
training: command, hardware, precision, data, wall time, configs), and where present
``evaluation.json`` (``medgan metrics --json``: every score with its real-vs-real floor and
the near-copy check) and ``audit.json`` (subgroup results). Nothing is typed in by hand, so
the card cannot drift from the model it describes; a section without a recorded result
says so and gives the command that measures it.

    medgan card brain-mri-dcgan-64                  # print a shipped model's card
    medgan card runs/brain64 --out runs/brain64/MODEL_CARD.md
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from medgan_utils.errors import DataError
from medgan_utils.settings import atomic_path

__all__ = [
    "SECTIONS",
    "EVALUATION_FILE",
    "AUDIT_FILE",
    "model_card",
    "card_for",
    "resolve_model_folder",
    "write_model_card",
    "classifier_card",
]

EVALUATION_FILE = "evaluation.json"  # EvaluationReport.to_dict() (+ "call", "reading")
AUDIT_FILE = "audit.json"  # audit.SubgroupReport.to_dict(), or {"reports": [...], "notes": [...]}
SECTIONS = (
    "Intended use",
    "Out-of-scope use",
    "Data",
    "Training",
    "Metrics",
    "Subgroup results",
    "Memorization",
    "Energy",
    "Limitations",
    "Licence",
)

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


def _fmt(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _cell(value: Any) -> str:
    """A Markdown table cell: numbers as :func:`_fmt`, nested results as compact JSON."""
    text = json.dumps(value, default=str) if isinstance(value, dict | list) else _fmt(value)
    return text.replace("|", "\\|").replace("\n", " ")


def _code(command: list[str] | str) -> str:
    return f"`{' '.join(command) if isinstance(command, list) else command}`"


def _builtin(meta: dict[str, Any]) -> bool:
    return str(meta.get("data", "")).startswith("builtin")


# --------------------------------------------------------------------------- sections


def _data(meta: dict[str, Any]) -> list[str]:
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


def _training(meta: dict[str, Any]) -> list[str]:
    cfg, train = meta.get("model_config", {}), meta.get("train_config", {})
    wall = meta.get("wall_time_s")
    lines = [
        f"- command: {_code(meta['command']) if meta.get('command') else 'not recorded'}",
        f"- hardware: {meta.get('hardware', 'not recorded')}; precision "
        f"{meta.get('precision', 'not recorded')}",
        f"- wall time: {_fmt(wall) if wall is not None else '?'} s for "
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
            "- last epoch: " + ", ".join(f"{k} {_fmt(v)}" for k, v in last.items() if k != "epoch")
        )
    return lines


def _score_text(score: dict[str, Any]) -> str:
    """A score as ``medgan metrics`` prints it (value, then its floor), from its dict."""
    from medgan_utils.evaluation.metrics import Score

    try:
        return str(Score(**score))
    except TypeError:  # written by another version: show the numbers as they are
        return ", ".join(f"{k} {_fmt(v)}" for k, v in score.items() if v is not None)


def _metrics(
    evaluation: dict[str, Any] | None, extra: dict[str, Any] | None, measure: str
) -> list[str]:
    scores = (evaluation or {}).get("scores") or {}
    if not scores and not extra:
        return [f"Not measured: run {measure}, then write this card again."]
    lines = []
    if scores:
        ev = evaluation or {}
        lines.append(
            f"Real: {ev.get('real', '?')}; generated: {ev.get('fake', '?')}; features "
            f"{ev.get('extractor', '?')}. Each score has beside it the same metric between two "
            "disjoint real subsets of the same size (the floor a perfect generator would reach)."
        )
        lines.append("")
        lines += [f"- {key}: {_score_text(s)}" for key, s in scores.items()]
        if ev.get("call"):
            lines.append(f"- evaluation: {ev['call']}")
        lines += [f"- note: {note}" for note in ev.get("notes") or []]
        if ev.get("reading"):
            lines.append(f"- reading: {ev['reading']}")
    lines += [f"- {k}: {v}" for k, v in (extra or {}).items()]
    return lines


def _estimate(e: Any) -> str:
    """An ``Estimate`` dict as ``0.812 [0.774, 0.850]``; ``n/a`` where it is undefined."""
    if not isinstance(e, dict):
        return _cell(e)
    num = lambda v: "n/a" if v is None else f"{v:.3f}"  # noqa: E731
    return f"{num(e.get('value'))} [{num(e.get('low'))}, {num(e.get('high'))}]"


def _subgroup_report(report: dict[str, Any]) -> list[str]:
    """A ``SubgroupReport.to_dict()`` as a table: one row per metric, one column per group."""
    attribute, counts = report.get("attribute", "group"), report.get("counts") or {}
    groups = list(report["by_group"])
    metrics = list(dict.fromkeys(m for g in groups for m in report["by_group"][g]))
    gaps = report.get("gaps") or {}
    head = [f"{attribute} {g} (n={counts.get(g, '?')})" for g in groups] + ["gap (max - min)"]
    lines = [f"{report['description']}", ""] if report.get("description") else []
    lines += [
        "| metric | " + " | ".join(head) + " |",
        "|---|" + "---|" * len(head),
        *(
            f"| {m} | "
            + " | ".join(_estimate(report["by_group"][g].get(m)) for g in groups)
            + f" | {_estimate(gaps.get(m))} |"
            for m in metrics
        ),
        "",
    ]
    if report.get("equalized_odds") is not None:
        lines.append(f"- equalized-odds difference {_estimate(report['equalized_odds'])}")
    if report.get("n_boot") is not None:
        lines.append(
            f"- threshold {_fmt(report.get('threshold', '?'))}; 95% percentile bootstrap over "
            f"{report.get('unit', '?')} ({report['n_boot']} resamples)"
        )
    return lines


def _subgroups(audit: dict[str, Any] | list[Any] | None, where: str) -> list[str]:
    """``audit.json``: one ``SubgroupReport.to_dict()`` (optionally with a ``description``),
    ``{"reports": [...], "notes": [...]}``, or plain rows ``{"subgroups": [{...}, ...]}``."""
    if isinstance(audit, dict) and "by_group" in audit:
        audit = {"reports": [audit]}
    reports = audit.get("reports") if isinstance(audit, dict) else None
    rows = audit.get("subgroups") if isinstance(audit, dict) else audit
    if not reports and not rows:
        return [
            "Not measured: no subgroup results are recorded. Compute them with "
            "`medgan_utils.ethics.audit.subgroup_metrics` (e.g. by acquisition site) and save its "
            f"`to_dict()` as `{AUDIT_FILE}` in {where}, then write this card again."
        ]
    lines: list[str] = []
    for report in reports or []:
        lines += [*_subgroup_report(report), ""]
    if rows:
        keys = list(dict.fromkeys(k for row in rows for k in row))
        lines += [
            "| " + " | ".join(keys) + " |",
            "|" + "---|" * len(keys),
            *("| " + " | ".join(_cell(row.get(k, "")) for k in keys) + " |" for row in rows),
            "",
        ]
    if isinstance(audit, dict):
        lines += [f"- note: {n}" for n in audit.get("notes") or []]
    return lines[:-1] if lines and not lines[-1] else lines


def _memorization(evaluation: dict[str, Any] | None, measure: str) -> list[str]:
    mem = (evaluation or {}).get("memorization")
    if not mem:
        return [
            f"Not measured: run {measure}, which also checks for near-copies of the `--train` "
            "images; then write this card again."
        ]
    share, chance = mem.get("share_flagged", 0.0), mem.get("chance_share", 0.0)
    verdict = (
        "no more near-copies than chance"
        if share <= chance
        else f"{share / max(chance, 1e-12):.1f}x the chance rate: look at the flagged images"
    )
    return [
        f"- near-copies: {mem.get('n_flagged', '?')} of {mem.get('n', '?')} generated images "
        f"({share:.1%}; expected by chance {chance:.1%}): {verdict}",
        f"- median nearest-training distance ratio {_fmt(mem.get('median_ratio'))}, smallest "
        f"{_fmt(mem.get('min_ratio'))} (real held-out images: 1.00), in {mem.get('space', '?')}",
        f"- rule: {mem.get('rule', '?')}; calibration: {mem.get('calibration', '?')}",
    ]


def _energy(meta: dict[str, Any]) -> list[str]:
    """Training energy: the recorded wall time times the assumed power of its hardware."""
    from medgan_utils.ethics.audit import POWER_W, energy_estimate

    wall = meta.get("wall_time_s")
    if not wall:
        return [
            "Not measured: no training wall time is recorded (`medgan train` records it in "
            "`generator.json`)."
        ]
    hardware = str(meta.get("hardware") or "")
    first = hardware.split(";")[0].lower()
    kind = (
        "cpu"
        if not hardware or " cpu" in first
        else next((k for k in POWER_W if k in first.replace(" ", "")), None)
    )
    if kind is None:
        return [
            f"Training: {_fmt(float(wall))} s on {hardware}; no nominal power is known for it. "
            "Estimate it with "
            f"`medgan_utils.ethics.audit.energy_estimate({float(wall)}, power_w=W)`."
        ]
    est = energy_estimate(float(wall), hardware=kind)
    return [
        f"Training: {_fmt(float(wall))} s on {hardware or 'unrecorded hardware (assumed CPU)'}.",
        "",
        f"- estimate: {est.kwh:.3g} kWh, {est.co2e_kg * 1000:.3g} g CO2e (assumed power, "
        "not measured)",
        *(f"- assumption: {a}" for a in est.assumptions),
        "- not counted: data preparation, evaluation and idle time",
    ]


def _limitations(meta: dict[str, Any], evaluation: dict[str, Any] | None) -> list[str]:
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
    if not (evaluation or {}).get("scores"):
        lines.append("- Not evaluated: image quality and diversity are unknown.")
    if not (evaluation or {}).get("memorization"):
        lines.append("- Not checked for near-copies of training images.")
    return lines


def _licence(meta: dict[str, Any]) -> list[str]:
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
    meta: dict[str, Any],
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
        meta: the contents of ``generator.json``.
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
        "Subgroup results": _subgroups(audit, where),
        "Memorization": _memorization(evaluation, measure),
        "Energy": _energy(meta),
        "Limitations": _limitations(meta, evaluation),
        "Licence": _licence(meta),
    }
    intro = (
        f"A DCGAN generator (Radford et al., 2015) of {size}x{size} images with "
        f"{cfg.get('channels', 1)} channel(s). **Every image it produces is synthetic.** "
        f"Written by `medgan card {ref}` from the files beside the weights."
    )
    return _render(name, intro, body)


def _render(title: str, intro: str, body: dict[str, list[str]]) -> str:
    """The Markdown of a card: title, intro, then every section of :data:`SECTIONS`."""
    lines = [f"# Model card: {title}", "", intro]
    for section in SECTIONS:
        lines += ["", f"## {section}", *body[section]]
    return "\n".join(lines) + "\n"


def resolve_model_folder(model: str | Path) -> tuple[Path, str | None]:
    """The folder of a shipped model name or a run folder, and its shipped name (or None).

    Raises:
        DataError: not a model (see :func:`~medgan_utils.gan.zoo.model_path`).
    """
    from medgan_utils.gan.zoo import SHIPPED_MODELS, model_path
    from medgan_utils.settings import PRETRAINED

    path = Path(model)
    folder = model_path(path.parent if path.suffix == ".json" else model)
    shipped = [n for n, sub in SHIPPED_MODELS.items() if (PRETRAINED / sub) == folder.resolve()]
    return folder, shipped[0] if shipped else None


def _read(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise DataError(path, f"unreadable JSON: {e}") from None


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
    if _is_classifier(model):
        return classifier_card(model, name)
    folder, shipped = resolve_model_folder(model)
    evaluation, audit = (
        _read(folder / f) if (folder / f).is_file() else None for f in (EVALUATION_FILE, AUDIT_FILE)
    )
    where = f"medgan_utils/pretrained/{folder.resolve().name}" if shipped else str(folder)
    return model_card(
        name or shipped or folder.resolve().name,
        _read(folder / "generator.json"),
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
    if out is None and _is_classifier(folder):
        out = _classifier_file(folder).parent / "MODEL_CARD.md"
    path = Path(out) if out is not None else resolve_model_folder(folder)[0] / "MODEL_CARD.md"
    with atomic_path(path) as tmp:
        tmp.write_text(text)
    return path


# --------------------------------------------------------------------------- classifiers


def _classifier_file(model: str | Path) -> Path:
    from medgan_utils.downstream.classifier import SHIPPED_CLASSIFIERS
    from medgan_utils.settings import PRETRAINED

    name = str(model)
    return PRETRAINED / SHIPPED_CLASSIFIERS[name] if name in SHIPPED_CLASSIFIERS else Path(model)


def _is_classifier(model: str | Path) -> bool:
    from medgan_utils.downstream.classifier import SHIPPED_CLASSIFIERS

    path = Path(model)
    return str(model) in SHIPPED_CLASSIFIERS or (
        path.suffix == ".safetensors" and path.is_file() and path.name != "generator.safetensors"
    )


def classifier_card(model: str | Path, name: str | None = None) -> str:
    """The card of a lesion classifier (a shipped name or a ``save_classifier`` file), every
    section of :data:`SECTIONS`, from its metadata and the ``evaluation.json`` and
    ``audit.json`` beside it.

    Raises:
        DataError: not a classifier checkpoint, or unreadable JSON.
    """
    from medgan_utils.downstream.classifier import load_classifier

    path = _classifier_file(model)
    net, meta = load_classifier(path)
    folder = path.parent
    evaluation, audit = (
        _read(folder / f) if (folder / f).is_file() else None for f in (EVALUATION_FILE, AUDIT_FILE)
    )
    shipped = str(model) != str(path)
    where = f"medgan_utils/pretrained/{folder.name}" if shipped else str(folder)
    cfg = net.config
    sources = meta.get("synthetic_sources")
    data = [
        f"- trained on: {meta.get('trained_on', 'not recorded')}",
        *([f"- sources (one generator per class): {json.dumps(sources)}"] if sources else []),
        f"- images: {meta.get('n_synthetic', '?')} for training, "
        f"{meta.get('n_synthetic_val', '?')} held out for early stopping",
        f"- classes: {', '.join(meta.get('classes', []))}; positive class "
        f"`{meta.get('positive_class', '?')}`",
    ]
    history = meta.get("history") or []
    training = [
        f"- command: {_code(meta['command']) if meta.get('command') else 'not recorded'}",
        f"- hardware: {meta.get('hardware', 'not recorded')}",
        f"- wall time: {_fmt(meta.get('wall_time_s', '?'))} s for {len(history)} epochs "
        "(early stopping on the held-out images' AUROC; decision threshold by Youden's J)",
        f"- architecture: {cfg.arch}, width {cfg.width}, {cfg.image_size}x{cfg.image_size} "
        f"input, {sum(p.numel() for p in net.parameters()):,} parameters",
        "- optimisation: "
        + ", ".join(f"{k}={v}" for k, v in (meta.get("fit_config") or {}).items()),
    ]
    metrics = [
        "- on its held-out synthetic images: "
        + ", ".join(f"{k} {_fmt(v)}" for k, v in (meta.get("synthetic_val_metrics") or {}).items())
    ]
    real = (evaluation or {}).get("real_test")
    if real:
        metrics.append(
            "- on real scans ("
            + str(evaluation.get("call", ""))
            + "): "
            + ", ".join(
                f"{k} {_fmt(v['value'])} [{_fmt(v['low'])}, {_fmt(v['high'])}]"
                for k, v in real.items()
            )
        )
        if evaluation.get("reading"):
            metrics.append(f"- reading: {evaluation['reading']}")
    else:
        metrics.append(
            "- Not measured on real scans: run `medgan finetune --real builtin-labelled "
            "--strategy pretrain --pretrained MODEL` or `medgan audit --model MODEL`."
        )
    body = {
        "Intended use": [
            "Teaching: the starting point that chapter 6 fine-tunes on a few real scans, to "
            "measure what pre-training on synthetic scans adds."
        ],
        "Out-of-scope use": [
            "Any clinical or diagnostic use; lesion detection on real patients; any use "
            "without fine-tuning and validation on real data."
        ],
        "Data": data,
        "Training": training,
        "Metrics": metrics,
        "Subgroup results": _subgroups(audit, f"`{where}`"),
        "Memorization": [
            "Not applicable: a classifier outputs a lesion probability, not images. "
            "(Membership inference against classifiers exists, but it was not assessed.)"
        ],
        "Energy": _energy(meta),
        "Limitations": [
            "- Trained on synthetic images only, from one generator per class: it can learn "
            "to tell the generators apart (their artefacts) rather than lesions; compare its "
            "score on held-out synthetic images with its score on real scans.",
            f"- {cfg.image_size}x{cfg.image_size} single slices of virtual subjects derived "
            "from one template brain with simulated lesions; no real population or pathology.",
            "- Its decision threshold was chosen on synthetic images; on real scans the "
            "threshold needs choosing again (chapter 6 fine-tunes it).",
        ],
        "Licence": [
            "- weights: MIT, like the project",
            "- training data: synthetic images of the shipped generators (MNI152 template "
            "distributed by nilearn under its own permissive licence)",
        ],
    }
    title = name or (str(model) if str(model) == path.name or "/" not in str(model) else path.stem)
    intro = (
        f"A ResNet-style lesion classifier of {cfg.image_size}x{cfg.image_size} grey-scale "
        f"slices (one logit: `{meta.get('positive_class', 'positive')}`). Written by "
        f"`medgan card {model}` from its metadata and the files beside it."
    )
    return _render(title, intro, body)
