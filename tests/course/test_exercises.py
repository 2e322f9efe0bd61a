"""Every exercise's check accepts a right answer, rejects a wrong one, and waits for a stub;
every chapter lays its exercises out so that running all cells never overwrites an attempt."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

from medgan_utils import course
from medgan_utils.course import checks  # noqa: F401  (registers the exercises)

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"


def _stub(*args, **kwargs):
    raise NotImplementedError("Exercise: ...")


def _small_labelled():
    import medgan_utils as mu

    return mu.load_dataset("builtin-labelled", 32, n_subjects=8)


def _catalog():
    from medgan_utils.hub.catalog import load_catalog

    return load_catalog()


def _knn_radius_with_self(real, fake, k=3):
    """Precision/recall whose k-NN radius counts each point as its own nearest neighbour."""

    def inside(query, ref):
        radii = torch.cdist(ref, ref).kthvalue(k, dim=1).values
        return float((torch.cdist(query, ref) <= radii).any(dim=1).double().mean())

    return inside(fake, real), inside(real, fake)


def _slice_bootstrap(targets, scores, subjects, n_boot=1000, seed=0):
    """A percentile interval of AUROC that resamples slices, ignoring the subjects."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    draws = (rng.integers(0, len(targets), len(targets)) for _ in range(n_boot))
    aurocs = [roc_auc_score(targets[i], scores[i]) for i in draws]
    return tuple(np.percentile(aurocs, [2.5, 97.5]))


def _slice_split(subjects, fractions, seed):
    """Slices, not subjects, shuffled and cut by the fractions."""
    order = np.random.default_rng(seed).permutation(len(subjects))
    return np.split(order, np.round(np.cumsum(fractions)[:2] * len(subjects)).astype(int))


def _medigan_context():
    """What chapter 5 passes to exercise 5.3: medigan's own Generators over our model."""
    from medgan_utils.gan.zoo import DEFAULT_MODEL
    from medgan_utils.hub.catalog import load_catalog, medigan_generators
    from medgan_utils.hub.generate import fetch_model

    catalog = load_catalog()
    fetch_model(DEFAULT_MODEL, catalog)
    generators = medigan_generators(catalog.medigan_config([DEFAULT_MODEL]))
    return {"generators": generators, "model_id": DEFAULT_MODEL, "catalog": catalog}


def _numpy_seed_only(generators, model_id, n, seed):
    np.random.seed(seed)  # the model draws its noise from torch
    return generators.generate(model_id=model_id, num_samples=n, save_images=False)


def _marked_by_key(path):
    from PIL import Image

    with Image.open(path) as image:
        return "synthetic" in image.text  # also "synthetic=false"


# A minimal app with a Truncation slider (exercise 8.2); IGNORED does not pass it on.
_TRUNCATION_APP = """
import streamlit as st
from medgan_utils.gan.zoo import DEFAULT_MODEL, generate, load_generator
model_id = st.selectbox("Model", [DEFAULT_MODEL])
count = st.slider("Number of images", 1, 64, 4)
seed = st.number_input("Seed", 0, 100, 2)
truncation = st.slider("Truncation", 0.5, 3.0, 3.0)
G = load_generator(model_id)[0]
st.session_state["images"] = generate(G, count, seed=int(seed){extra})
"""


# A plausible mistake for each exercise, and the context its check needs.
WRONG = {
    "1.1": (lambda p, q, dx: float(np.sum(p * np.log((p + 1e-300) / (q + 1e-300))) * dx), {}),
    "1.2": (lambda p_data, p_g: p_g / (p_data + p_g), {}),
    "1.3": (lambda logits: torch.log(1 - torch.sigmoid(logits)).mean(), {}),  # saturating
    "2.1": (lambda ds, site: 0.5, {"ds": _small_labelled}),
    "2.2": (lambda hu, c, w: np.clip((hu - (c - w / 2)) / w, 0, 1), {}),  # onto [0, 1]
    "2.3": (_slice_split, {}),
    "3.1": (lambda r, f: torch.relu(1 - r).mean() + torch.relu(1 - f).mean(), {}),
    "3.3": (
        lambda ci, co: torch.nn.Sequential(  # a transposed conv: same shapes, other layers
            torch.nn.ConvTranspose2d(ci, co, 4, 2, 1, bias=False),
            torch.nn.BatchNorm2d(co),
            torch.nn.ReLU(),
        ),
        {},
    ),
    "3.2": (lambda x: torch.cat([x, x.std(dim=0, keepdim=True).mean().expand_as(x[:, :1])], 1), {}),
    "4.1": (lambda mu1, v1, mu2, v2: float(((mu1 - mu2) ** 2).sum() + (v1 + v2).sum()), {}),
    "4.2": (
        lambda x, y: float(
            ((x @ x.T / x.shape[1] + 1) ** 3).mean()
            + ((y @ y.T / y.shape[1] + 1) ** 3).mean()
            - 2 * ((x @ y.T / x.shape[1] + 1) ** 3).mean()
        ),
        {},
    ),
    "4.3": (_knn_radius_with_self, {}),
    "5.1": (lambda catalog, size: [c.model_id for c in catalog.cards()], {"catalog": _catalog}),
    "5.2": (_marked_by_key, {}),
    "5.3": (_numpy_seed_only, {"context": _medigan_context}),
    "6.1": (lambda targets, scores: 0.5, {}),
    "6.2": (lambda y: np.bincount(y)[y] / len(y), {}),  # frequencies, not inverse
    "6.3": (_slice_bootstrap, {}),
    "7.1": (
        lambda y, p, g: float(
            max(abs(p[(g == a) & (y == 1)].mean() - p[(g == "A") & (y == 1)].mean()) for a in "BC")
        ),
        {},
    ),
    "7.2": (lambda p, g: {k: p[g == k].sum() / p.sum() for k in np.unique(g)}, {}),
    "7.3": (  # squared distances
        lambda s, r, t: (
            (d := torch.cdist(s, r).min(dim=1).values ** 2).numpy(),
            float((d <= t).double().mean()),
        ),
        {},
    ),
    "8.1": (lambda value, most=64: int(value), {}),
    "8.2": (lambda: _TRUNCATION_APP.format(extra=""), {}),
    "8.3": (lambda x: ((x + 1) * 127.5).numpy().astype(np.uint8), {}),  # truncates, no clip
}


def _context(spec):
    out = {}
    for name, make in spec.items():
        value = make()
        out.update(value if name == "context" else {name: value})
    return out


def test_every_exercise_has_a_wrong_answer_here():
    assert set(WRONG) == set(course.EXERCISES)


@pytest.mark.parametrize("key", sorted(WRONG))
def test_a_wrong_answer_fails_with_the_exercise_named(key):
    wrong, context = WRONG[key]
    with pytest.raises(AssertionError, match=rf"^Exercise {re.escape(key)} "):
        course.check(key, wrong, **_context(context))


@pytest.mark.parametrize("key", sorted(WRONG))
def test_a_stub_is_not_attempted_yet(key, capsys):
    assert course.check(key, _stub, **_context(WRONG[key][1])) is False
    assert "not attempted yet" in capsys.readouterr().out


def test_right_answers_pass():
    """Two checks against answers written here from the definitions (the chapters' solutions
    are executed, and their checks asserted, when the book builds)."""

    def optimal(p_data, p_g):
        return p_data / (p_data + p_g)

    def kid(x, y):
        d, m = x.shape[1], len(x)
        k = lambda a, b: (a @ b.T / d + 1) ** 3  # noqa: E731
        kxx, kyy = k(x, x), k(y, y)
        within = (kxx.sum() - kxx.trace() + kyy.sum() - kyy.trace()) / (m * (m - 1))
        return float(within - 2 * k(x, y).mean())

    assert course.check("1.2", optimal) is True
    assert course.check("4.2", kid) is True


def test_an_app_that_passes_truncation_on_passes():
    app = _TRUNCATION_APP.format(extra=", truncation=truncation")
    assert course.check("8.2", lambda: app) is True


def test_unknown_exercise_is_named():
    with pytest.raises(KeyError, match="no exercise '9.9'"):
        course.check("9.9", _stub)


def _cells(path: Path) -> list[dict]:
    return json.loads(path.read_text())["cells"]


def test_chapters_check_each_exercise_and_hide_a_solution_under_its_own_name():
    keys_in_book = set()
    for path in sorted(NOTEBOOKS.glob("0*.ipynb")):
        cells = _cells(path)
        for i, cell in enumerate(cells):
            src = "".join(cell["source"])
            for key, answer in re.findall(r'assert course\.check\("([\d.]+)", (\w+)', src):
                keys_in_book.add(key)
                where = f"{path.name}, exercise {key}"
                assert cell["cell_type"] == "code", where
                assert "hide-cell" in cell["metadata"].get("tags", []), f"{where}: not hidden"
                assert cell["metadata"].get("cellView") == "form", f"{where}: shown on Colab"
                assert src.startswith("# @title Solution"), where
                assert answer.endswith("_solution"), f"{where}: would overwrite the attempt"
                # the learner's check comes before, on the stub's name
                stub = answer.removesuffix("_solution")
                before = "".join("".join(c["source"]) for c in cells[:i])
                assert f'course.check("{key}", {stub}' in before, f"{where}: no check of {stub}"
                assert re.search(rf"def {stub}\(|{stub} = ", before), f"{where}: no stub"
                assert not re.search(rf"^(def {stub}\(|{stub} = )", src, re.M), where
    assert keys_in_book == set(course.EXERCISES)


def test_levels_and_keys():
    for key, ex in course.EXERCISES.items():
        assert re.fullmatch(r"[1-8]\.\d", key) and ex.level in ("easy", "medium", "hard")
        assert ex.chapter == int(key[0]) and ex.title
    assert {e.chapter for e in course.EXERCISES.values()} == set(range(1, 9))  # every chapter
