"""A chapter's prose states no result that its executed cells do not provide (issue 14.4).

A result-like number in a chapter's Markdown (a decimal, a percentage or a duration) must
be glued from an executed cell (``{glue:text}`name```, :mod:`medgan_utils.course.prose`),
be a setting the chapter's code holds (the prose restating it), or be listed in
:data:`ALLOWED` with the reason it is not a result: a definition, a fact of a method or a
standard. Not scanned: code and math (``$...$``), roles and links, study-time estimates
(``**Time:**``) and the check-yourself answers in ``<details>``, whose numbers are
hypothetical cases posed to the reader. Whole numbers without a unit (sizes, counts,
years) are not scanned either: a simple scan to start with, as the issue asks.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb"))

NUMBER = re.compile(
    r"(?<![\w.\-])(\d+(?:\.\d+)?\s?%|\d+(?:\.\d+)?\s?(?:min|minutes|s|seconds|hours?)\b|\d+\.\d+)"
)

# Numbers that are not results, per chapter, with why.
ALLOWED: dict[str, dict[str, str]] = {
    "01_gan_theory": {
        "12.5%": "1/8: a perfect sampler's share of the most popular of 8 modes",
        "100%": "a full collapse's share of one mode, by definition",
    },
    "03_training_a_dcgan": {
        "60%": "the verdict rule's threshold, written in the chapter's code as 0.6",
    },
    "04_evaluating_synthetic_images": {
        "99%": "the memorization rule's quantile (1 %, its complement)",
        "99 %": "the memorization rule's quantile",
        "95 %": "the confidence level of every interval",
        "1%": "the chance flag rate of the 99 % rule",
        "0.1%": "the false-alarm rate of the chance bound (memorization.FALSE_ALARM)",
    },
    "05_pretrained_gans_with_medigan": {
        "127.5": "the 8-bit rounding step of [-1, 1], 2 / 255",
    },
    "06_finetuning_with_synthetic_data": {
        "0.3": "the classifier's size in millions of parameters, printed by the next cell",
        "95 %": "the confidence level of every interval",
        "60 %": "FinetuneConfig.fractions, the split's default, drawn by the design figure",
        "20 %": "FinetuneConfig.fractions, the split's default, drawn by the design figure",
    },
    "07_ethics_bias_privacy": {
        "99 %": "the memorization rule's quantile",
        "1 %": "the chance flag rate of the 99 % rule",
        "0.1 %": "the gate's false-alarm rate (memorization.FALSE_ALARM)",
    },
    "08_the_app": {
        "50%": "a random guess's expected score in a two-way Turing test",
        "3.11": "the Python version Streamlit Cloud is told to use",
    },
}


def _prose(markdown: str) -> str:
    for pattern in (
        r"```.*?```",  # code blocks
        r"<details>.*?</details>",  # check-yourself answers: hypothetical cases
        r"\$\$.*?\$\$",
        r"\$[^$\n]*\$",  # math
        r"\{[\w:-]+\}`[^`]*`",  # roles, glue included
        r"`[^`]*`",  # inline code
        r"\]\([^)]*\)",  # link targets
        r"\*\*Time:\*\*[^\n]*",  # study-time estimates
    ):
        markdown = re.sub(pattern, " ", markdown, flags=re.S)
    return markdown


def _unexplained(path: Path) -> list[str]:
    cells = json.loads(path.read_text())["cells"]
    code = "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")
    allowed = ALLOWED.get(path.stem, {})
    found = []
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "markdown":
            continue
        text = _prose("".join(cell["source"]))
        for m in NUMBER.finditer(text):
            number = m.group(1)
            value = re.match(r"\d+(?:\.\d+)?", number).group(0)
            if number in allowed or re.search(rf"(?<![\d.]){re.escape(value)}(?![\d])", code):
                continue
            around = " ".join(text[max(0, m.start() - 60) : m.end() + 20].split())
            found.append(f"cell {i}: {number!r} in '...{around}...'")
    return found


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_prose_numbers_are_glued_or_settings(path):
    assert not _unexplained(path), (
        "numbers in prose that no executed cell provides: glue them "
        "(medgan_utils.course.prose.glue) or, if they are not results, list them in "
        f"ALLOWED with why: {_unexplained(path)}"
    )


def test_the_scan_catches_a_stated_result(tmp_path):
    nb = {
        "cells": [
            {"cell_type": "code", "source": ["N = 50\n"]},
            {
                "cell_type": "markdown",
                "source": ["AUROC 0.91 at N = 50, {glue:text}`x:.2f`, $0.5$"],
            },
        ]
    }
    path = tmp_path / "09_made_up.ipynb"
    path.write_text(json.dumps(nb))
    found = _unexplained(path)
    assert len(found) == 1 and "'0.91'" in found[0]  # not 50 (a setting), not glued or math
