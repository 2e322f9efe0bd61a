"""The visual Turing test: its rounds and scoring, and the dashboard that plays them."""

from __future__ import annotations

import numpy as np
import pytest
import torch

ipywidgets = pytest.importorskip("ipywidgets")

from medgan_utils.dashboards import (  # noqa: E402
    turing_test,
)
from medgan_utils.dashboards._common import _png  # noqa: E402
from medgan_utils.dashboards.turing import TuringTestDashboard  # noqa: E402
from medgan_utils.data.load import load_dataset  # noqa: E402
from medgan_utils.evaluation.turing import TuringImage, TuringTest, heldout_set  # noqa: E402
from medgan_utils.gan.zoo import (  # noqa: E402
    DEFAULT_MODEL,
    generate,
    load_generator,
)
from medgan_utils.stats import accuracy_interval  # noqa: E402
from medgan_utils.viz import to_uint8  # noqa: E402

# -- visual Turing test: the logic ---------------------------------------------------------


@pytest.fixture(scope="module")
def generator_and_heldout():
    G, meta = load_generator(DEFAULT_MODEL)
    return G, heldout_set(meta, n_subjects=2)


def test_heldout_set_is_new_subjects_of_the_training_set_kind(generator_and_heldout):
    _, real = generator_and_heldout
    assert len(real) == 64 and real.images.shape[1:] == (1, 64, 64)
    seen = load_dataset("builtin", 64, n_subjects=2)  # the training set's first subjects
    assert not torch.allclose(real.images, seen.images)
    with pytest.raises(ValueError, match="not on a built-in set"):
        heldout_set({"data": "my_scans/"})


def test_a_round_has_the_count_asked_and_a_reproducible_coin(generator_and_heldout):
    G, real = generator_and_heldout
    test = TuringTest.draw(real, G, n=12, seed=3, model=DEFAULT_MODEL)
    again = TuringTest.draw(real, G, n=12, seed=3, model=DEFAULT_MODEL)
    assert test.n == 12 and not test.answers and not test.done
    truth = [im.synthetic for im in test.images]
    assert truth == [im.synthetic for im in again.images]
    pairs = zip(test.images, again.images, strict=True)
    assert all(np.array_equal(a.pixels, b.pixels) for a, b in pairs)
    assert truth == list(np.random.default_rng(3).random(12) < 0.5)  # the seeded coin
    assert 0 < sum(truth) < 12
    assert [im.synthetic for im in TuringTest.draw(real, G, 12, seed=4).images] != truth
    fakes = to_uint8(generate(G, sum(truth), seed=3)[:, 0])  # synthetic i is generate()'s i
    shown = [im.pixels for im in test.images if im.synthetic]
    assert all(np.array_equal(a, b) for a, b in zip(shown, fakes, strict=True))
    pool = to_uint8(real.images[:, 0])
    for im in test.images:
        assert im.pixels.shape == (64, 64) and im.pixels.dtype == np.uint8
        if not im.synthetic:
            assert any(np.array_equal(im.pixels, p) for p in pool)  # a held-out real image
            assert im.origin.startswith("real: subject vs-")
        else:
            assert im.origin.startswith(f"synthetic: {DEFAULT_MODEL}, seed 3, image ")
    with pytest.raises(ValueError, match="1 to"):
        TuringTest.draw(real, G, n=0)


def _hand_made(truth: list[bool]) -> TuringTest:
    blank = np.zeros((4, 4), np.uint8)
    return TuringTest([TuringImage(blank, t, f"image {i}") for i, t in enumerate(truth)])


def test_scoring_and_the_wilson_interval_on_a_hand_made_round():
    truth = [True, False, True, True, False, False, True, False, True, False]
    answers = [True, False, False, True, True, False, True, False, True, True]  # 7 right
    test = _hand_made(truth)
    assert test.interval() == (0.0, 1.0) and "0 of 10 answered" in test.summary()
    results = [test.answer(a) for a in answers]
    assert results == [t == a for t, a in zip(truth, answers, strict=True)]
    s = test.score()
    counts = (s.correct, s.n, s.synthetic_caught, s.n_synthetic, s.real_kept, s.n_real)
    assert counts == (7, 10, 4, 5, 3, 5)
    # Wilson by hand: (p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)
    p, n, z = 0.7, 10, 1.959963984540054
    centre, half = p + z**2 / (2 * n), z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    expected = ((centre - half) / (1 + z**2 / n), (centre + half) / (1 + z**2 / n))
    assert test.interval() == pytest.approx(expected, abs=1e-9)
    assert accuracy_interval(7, 10) == pytest.approx((0.3968, 0.8922), abs=1e-4)
    assert accuracy_interval(10, 10)[1] == 1.0 and accuracy_interval(10, 10)[0] < 0.75
    assert "7 of 10 right (70%" in test.summary() and "includes chance" in test.summary()
    with pytest.raises(RuntimeError, match="round is over"):
        test.answer(True)


def test_the_reveal_lists_the_truth_only_at_the_end():
    truth = [True, False, False]
    test = _hand_made(truth)
    test.answer(False)
    with pytest.raises(RuntimeError, match="still to answer"):
        test.reveal()
    test.answer(False)
    test.answer(True)
    verdicts = test.reveal()
    assert [v.synthetic for v in verdicts] == truth
    assert [v.answer for v in verdicts] == [False, False, True]
    assert [v.correct for v in verdicts] == [False, True, False]
    assert [v.origin for v in verdicts] == ["image 0", "image 1", "image 2"]


# -- visual Turing test: the dashboard -----------------------------------------------------


@pytest.fixture()
def turing() -> TuringTestDashboard:
    widget = turing_test(n=4, seed=0, n_subjects=2)
    assert isinstance(widget, ipywidgets.Widget)
    return widget.dashboard


def test_turing_dashboard_shows_one_image_at_a_time(turing: TuringTestDashboard):
    test = turing.test
    assert test.n == 4 and test.seed == 0 and turing.widget.dashboard is turing
    assert turing.image.value == _png(test.images[0].pixels, scale=4)
    assert "Image 1 of 4" in turing.caption.value and not turing.reveal.children
    assert "synthetic" in turing.widget.children[0].value.lower()  # says what is shown
    turing.real_button.click()
    assert test.answers == [False] and "Image 2 of 4" in turing.caption.value
    assert turing.image.value == _png(test.images[1].pixels, scale=4)
    assert turing.score.value == ""  # no score mid-round: it would give answers away
    turing.synthetic_button.click()
    assert test.answers == [False, True]


def test_turing_dashboard_reveals_and_scores_at_the_end(turing: TuringTestDashboard):
    test = turing.test
    for _ in range(4):
        turing.synthetic_button.click()
    assert test.done and turing.finished == [test]
    assert turing.real_button.disabled and turing.synthetic_button.disabled
    assert turing.image.layout.display == "none"
    right = sum(im.synthetic for im in test.images)
    assert f"{right} of 4 right" in turing.caption.value and "Wilson" in turing.caption.value
    assert f"<b>All rounds so far</b>: {right} of 4 right" in turing.score.value
    assert len(turing.reveal.children) == 4
    for verdict, cell in zip(test.reveal(), turing.reveal.children, strict=True):
        assert ("SYNTHETIC" if verdict.synthetic else "real") in cell.children[1].value
        assert "you said synthetic" in cell.children[1].value
    turing.synthetic_button.click()  # disabled in the browser; ignored here
    assert len(test.answers) == 4
    turing.new_button.click()
    assert turing.test is not test and turing.test.seed == 1 and not turing.test.answers
    assert turing.controls["seed"].value == 1 and not turing.reveal.children
    assert not turing.real_button.disabled and "Image 1 of 4" in turing.caption.value
    for _ in range(4):
        turing.real_button.click()
    assert turing.total() == (right + turing.test.score().correct, 8)  # the running score
