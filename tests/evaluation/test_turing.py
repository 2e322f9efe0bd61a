"""Tests of the visual Turing test's protocol and score (medgan_utils.evaluation.turing) that
need no widgets; the dashboard's tests (tests/dashboards/test_turing_test.py) drive the rest."""

from __future__ import annotations

import numpy as np
import pytest

from medgan_utils.evaluation.turing import TuringImage, TuringScore, TuringTest, heldout_set
from medgan_utils.gan.zoo import DEFAULT_MODEL, generate, load_generator
from medgan_utils.stats import accuracy_interval
from medgan_utils.viz import to_uint8


@pytest.fixture(scope="module")
def generator_and_real():
    G, meta = load_generator(DEFAULT_MODEL)
    return G, heldout_set(meta, n_subjects=1)  # 32 slices


def test_a_balanced_round_has_half_synthetic_images_in_a_seeded_order(generator_and_real):
    G, real = generator_and_real
    orders = set()
    for seed in range(6):
        for n in (2, 7, 10):
            test = TuringTest.draw(real, G, n=n, seed=seed, balanced=True)
            truth = [im.synthetic for im in test.images]
            assert sum(truth) == n // 2 and test.n == n
            orders.add(tuple(truth))
    assert len(orders) > 6  # the order depends on the seed
    a = TuringTest.draw(real, G, n=10, seed=3, balanced=True)
    b = TuringTest.draw(real, G, n=10, seed=3, balanced=True)
    assert all(np.array_equal(x.pixels, y.pixels) for x, y in zip(a.images, b.images, strict=True))
    fakes = to_uint8(generate(G, 5, seed=3)[:, 0])  # the i-th synthetic is generate()'s i-th
    shown = [im.pixels for im in a.images if im.synthetic]
    assert all(np.array_equal(x, y) for x, y in zip(shown, fakes, strict=True))


def test_the_score_adds_up_over_rounds_and_reads_its_interval():
    s = TuringScore.from_answers([True, False, True, False], [True, True, False, False])
    assert (s.correct, s.n, s.synthetic_caught, s.real_kept) == (2, 4, 1, 1)
    assert s.interval() == accuracy_interval(2, 4)
    assert "2 of 4 right (50%)" in s.text() and "no better than guessing" in s.text()
    assert s.summary().startswith("2 of 4 right (50%; 95% Wilson interval")
    assert "includes chance" in s.summary()
    total = TuringScore.total([s, s, s, s, s])
    assert (total.correct, total.n, total.n_synthetic, total.n_real) == (10, 20, 10, 10)
    assert TuringScore.total([]) == TuringScore(0, 0, 0, 0, 0, 0)
    expert = TuringScore.from_answers([True, False] * 10, [True, False] * 10)
    assert "excludes chance" in expert.summary() and "can tell them apart" in expert.text()
    swapped = TuringScore.from_answers([True, False] * 10, [False, True] * 10)
    assert "wrong way round" in swapped.text()


def test_a_round_reports_its_score_as_it_goes():
    blank = np.zeros((4, 4), np.uint8)
    test = TuringTest([TuringImage(blank, t, f"image {i}") for i, t in enumerate([True, False])])
    assert test.summary() == "0 of 2 answered" and test.current is test.images[0]
    test.answer(True)
    assert test.score() == TuringScore(1, 1, 1, 1, 0, 0)
    assert test.summary() == test.score().summary()
