"""Cards of catalog models: what a medigan catalog entry says about a model, normalised.

medigan's catalog (``config/global.json``) is written by many hands: image sizes come as
ints, strings or with a channel count (``["224", "192"]``, ``[128, 128, 1]``), metrics are
nested, partly empty or numbers in strings, some entries record no metrics at all, the
generator type is free text, and which models need input images is only implied.
:class:`ModelCard` turns an entry into one shape; the raw entry stays in ``card.entry``.
:func:`modality_of` and :func:`class_options` read a card the way every view shows it (the
app, the catalog browser, the CLI, chapter 5).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

__all__ = [
    "ALL_MODALITIES",
    "MODALITIES",
    "ModelCard",
    "class_options",
    "modality_of",
    "flatten_metrics",
    "missing_dependencies",
    "metrics_table",
    "format_table",
    "DEFAULT_METRICS",
]

# Query words that stand for a group of catalog spellings (the catalog has no vocabulary).
SYNONYMS = [
    {"mri", "mr", "t1", "t2", "t1c", "flair", "dce-mri", "brain mri", "cranial mri"},
    {"x-ray", "xray", "cxr", "radiograph", "chest x-ray"},
    {"mmg", "mammography", "mammogram", "x-ray mammography"},
    {"endoscopy", "gastrointestinal endoscopy", "colonoscopy"},
    {"brain", "cranial", "head"},
    {"lung", "lungs", "thorax"},
    {"breast", "breasts"},
]
# The modality groups the views offer: label -> query (matched with SYNONYMS).
ALL_MODALITIES = "All modalities"
MODALITIES = {
    "MRI": "mri",
    "Mammography": "mammography",
    "X-ray": "x-ray",
    "Endoscopy": "endoscopy",
}
NEEDS_INPUT = ("image to image", "mask to image", "image inpainting", "cross-modal synthesis")
INPUT_TYPES = ("cyclegan", "pix2pix", "pix2pixhd", "inpaint")


def _ints(values: Sequence[Any]) -> list[int]:
    """``["224", "192"]``, ``[128, 128, 1]`` or ``[224.0]`` -> ints (the catalog mixes them)."""
    out = []
    for v in values:
        try:
            out.append(int(float(v)))
        except (TypeError, ValueError):
            continue
    return out


def _number(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def flatten_metrics(performance: Any, prefix: str = "") -> dict[str, Any]:
    """The metrics a catalog records, as ``{"FID": 67.6, "CLF.trained_on_real.f1": 0.9}``.

    Empty values (``None``, ``""``, ``{}``, ``[]``) are left out; numbers given as strings
    become floats.
    """
    if not isinstance(performance, Mapping):
        return {}
    out: dict[str, Any] = {}
    for key, value in performance.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten_metrics(value, f"{name}."))
        elif value not in (None, "", [], {}):
            out[name] = [_number(v) for v in value] if isinstance(value, list) else _number(value)
    return out


def missing_dependencies(entry: Mapping[str, Any]) -> list[str]:
    """The entry's pip requirements that are not installed (or at a version it excludes)."""
    from importlib.metadata import PackageNotFoundError, version

    from packaging.requirements import InvalidRequirement, Requirement

    missing = []
    for dep in entry.get("execution", {}).get("dependencies") or []:
        try:
            req = Requirement(str(dep))
            have = version(req.name)
        except (InvalidRequirement, PackageNotFoundError):
            missing.append(str(dep))
            continue
        if req.specifier and not req.specifier.contains(have, prereleases=True):
            missing.append(f"{dep} (installed: {have})")
    return missing


@dataclass
class ModelCard:
    """What the catalog says about one model, normalised (the raw entry is ``entry``)."""

    model_id: str
    title: str
    source: str  # "medigan" (official catalog) or "medgan-utils" (the project's own)
    description: str
    authors: str | None
    publication: str | None
    doi: list[str]
    training_data: list[str]
    licence: str | None
    metrics: dict[str, Any]
    dependencies: list[str]
    package_size: int | None  # bytes, None when unknown
    on_disk: bool
    modality: list[str]
    anatomy: list[str]
    tags: list[str]
    generator_type: str
    image_size: tuple[int, int]  # (height, width)
    channels: int | None
    needs_input: bool  # image-to-image, mask-to-image, inpainting: needs input images
    input_args: list[str]  # generate arguments that take input images
    conditional: bool
    classes: list[str]
    generate_args: dict[str, Any]  # per-model extra arguments of generate, with defaults
    year: str | None
    package_link: str
    entry: dict[str, Any] = field(repr=False, default_factory=dict)

    @classmethod
    def from_entry(
        cls,
        model_id: str,
        entry: Mapping[str, Any],
        source: str = "medigan",
        on_disk: bool = False,
        package_size: int | None = None,
        authors: str | None = None,
    ) -> ModelCard:
        ex, sel, desc = (entry.get(k) or {} for k in ("execution", "selection", "description"))
        custom = dict(((ex.get("generate_method") or {}).get("args") or {}).get("custom") or {})
        size = _ints(ex.get("image_size") or [])
        hw = size[:2] if len(size) >= 2 else _ints([sel.get("height"), sel.get("width")])
        hw = (hw + [0, 0])[:2] if hw else [0, 0]
        functions = [str(f).lower() for f in sel.get("function") or []]
        kind = str(sel.get("type") or "unknown")
        inputs = [k for k in custom if re.search(r"(input_path|paths_input|img_path)$|^input", k)]
        needs_input = (
            any(f in functions for f in NEEDS_INPUT)
            or any(t in compact_text(kind) for t in INPUT_TYPES)
            or bool(inputs)
        )
        classes = [str(c) for c in sel.get("condition") or []] if source != "medigan" else []
        return cls(
            model_id=model_id,
            title=str(desc.get("title") or model_id),
            source=source,
            description=str(desc.get("comment") or ""),
            authors=desc.get("authors") or authors,
            publication=desc.get("publication") or None,
            doi=[str(d) for d in desc.get("doi") or [] if d],
            training_data=[str(d) for d in sel.get("dataset") or []],
            licence=sel.get("license") or None,
            metrics=flatten_metrics(sel.get("performance")),
            dependencies=[str(d) for d in ex.get("dependencies") or []],
            package_size=package_size,
            on_disk=on_disk,
            modality=[str(m) for m in sel.get("modality") or []],
            anatomy=[str(o) for o in sel.get("organ") or []],
            tags=[str(t) for t in sel.get("tags") or []],
            generator_type=kind,
            image_size=(hw[0], hw[1]),
            channels=size[2] if len(size) > 2 else None,
            needs_input=needs_input,
            input_args=inputs,
            conditional="condition" in custom or "conditional" in kind.lower() or bool(classes),
            classes=classes,
            generate_args=custom,
            year=str(sel["year"]) if sel.get("year") else None,
            package_link=str(ex.get("package_link") or ""),
            entry=dict(entry),
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields (without the raw entry)."""
        d = asdict(self)
        d.pop("entry")
        d["image_size"] = list(self.image_size)
        d["missing_dependencies"] = missing_dependencies(self.entry)
        return d

    def to_text(self) -> str:
        """The card as ``medgan models show`` prints it."""
        h, w = self.image_size
        size = "unknown" if self.package_size is None else f"{self.package_size / 1e6:.1f} MB"
        missing = missing_dependencies(self.entry)
        lines = [
            f"{self.model_id}: {self.title}",
            f"source        {self.source}",
            f"type          {self.generator_type}, {h}x{w}"
            + (f"x{self.channels}" if self.channels else ""),
            "generates     "
            + (
                "from input images (" + ", ".join(self.input_args) + ")"
                if self.needs_input
                else "from noise"
            )
            + (
                f"; conditional on {', '.join(self.classes) or 'a class (see generate args)'}"
                if self.conditional
                else ""
            ),
            f"modality      {', '.join(self.modality) or 'not recorded'}",
            f"anatomy       {', '.join(self.anatomy) or 'not recorded'}",
            f"training data {', '.join(self.training_data) or 'not recorded'}",
            f"licence       {self.licence or 'not recorded'}",
            f"authors       {self.authors or 'not recorded in the catalog (see publication/DOI)'}",
            f"publication   {self.publication or 'none recorded'}",
            f"doi           {', '.join(self.doi) or 'none recorded'}",
            "metrics       "
            + (", ".join(f"{k} {v}" for k, v in self.metrics.items()) or "none recorded"),
            f"dependencies  {', '.join(self.dependencies) or 'none'}",
            f"  missing     {', '.join(missing) or 'none'}",
            f"generate args {json.dumps(self.generate_args) if self.generate_args else 'none'}",
            f"package       {size}; {'on disk' if self.on_disk else 'not on disk'}",
            f"tags          {', '.join(self.tags)}",
            "",
            self.description,
        ]
        return "\n".join(lines)


def compact_text(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def words(values: Sequence[str]) -> set[str]:
    """Every value lower-cased, whole and split into words."""
    out = set()
    for v in values:
        v = v.lower().strip()
        out |= {v, *re.split(r"[^a-z0-9]+", v)}
    return out - {""}


def matches(query: str, values: Sequence[str]) -> bool:
    q = query.lower().strip()
    wanted = next((group for group in SYNONYMS if q in group), {q})
    return bool(wanted & words(values))


def modality_of(card: ModelCard) -> str:
    """The modality group of a card (``"MRI"``, ``"Mammography"``, ...), else its first
    recorded modality, else ``"modality not recorded"``."""
    for label, query in MODALITIES.items():
        if matches(query, card.modality):
            return label
    return card.modality[0] if card.modality else "modality not recorded"


def class_options(card: ModelCard) -> list[str]:
    """Classes a conditional model takes (``[]`` for unconditional models).

    Our models list their class names; medigan's conditional models describe theirs in the
    catalog's ``inputs`` text (``"condition: ... Either 0, 1 or None ..."``).
    """
    if not card.conditional:
        return []
    if card.classes:
        return list(card.classes)
    for text in card.entry.get("description", {}).get("inputs") or []:
        m = re.search(r"condition:.*?[Ee]ither ([\d, ]+?),? or None", str(text))
        if m:
            return re.findall(r"\d+", m.group(1))
    return []


DEFAULT_METRICS = ("FID", "FID_ratio", "FID_RADIMAGENET", "FID_no_images", "SSIM", "PSNR")


def metrics_table(
    cards: Sequence[ModelCard], metrics: Sequence[str] = DEFAULT_METRICS
) -> list[dict[str, Any]]:
    """One row per model: id, type, size and the catalog's values of ``metrics`` (or None).

    FID values from different models are not comparable unless they were computed on the
    same real images with the same number of samples (``FID_no_images``).
    """
    return [
        {
            "model_id": c.model_id,
            "type": c.generator_type,
            "size": "x".join(map(str, c.image_size)),
            **{m: c.metrics.get(m) for m in metrics},
        }
        for c in cards
    ]


def format_table(rows: Sequence[Mapping[str, Any]], missing: str = "-") -> str:
    """Rows of dicts as a plain-text table with a header (``None`` shows as ``missing``)."""
    if not rows:
        return "(no rows)"
    keys = list(rows[0])
    cells = [[missing if r.get(k) is None else str(r[k]) for k in keys] for r in rows]
    widths = [max(len(k), *(len(row[i]) for row in cells)) for i, k in enumerate(keys)]
    lines = ["  ".join(k.upper().ljust(w) for k, w in zip(keys, widths, strict=True))]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells]
    return "\n".join(line.rstrip() for line in lines)
