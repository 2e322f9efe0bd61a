"""Tests of evaluate() and its report (medgan_utils.evaluation.evaluate)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import torch

from medgan_utils.errors import DataError
from medgan_utils.evaluation.evaluate import (
    DEFAULT_SPACES,
    FLOOR_ROW,
    EvaluationReport,
    evaluate,
    reports_table,
)
from medgan_utils.gan.models import DCGANConfig, Generator
from medgan_utils.gan.zoo import DEFAULT_MODEL, list_models


def test_shipped_model_beats_an_untrained_generator(real):
    assert DEFAULT_MODEL in list_models(), "the shipped generator's weights are missing"
    shipped = evaluate(real, DEFAULT_MODEL, n=256)
    torch.manual_seed(0)
    untrained = evaluate(real, Generator(DCGANConfig()), n=256, check_memorization=False)
    fid, bad = shipped.scores["fid"], untrained.scores["fid"]
    assert fid.name == "domain FID" and fid.n == 256 and fid.floor == bad.floor
    assert fid.value < 0.5 * bad.value and fid.value < 20 * fid.floor
    assert shipped.scores["precision"].value > untrained.scores["precision"].value
    assert shipped.memorization is not None and shipped.memorization.share_flagged < 0.1
    text = shipped.to_text()
    assert "real-vs-real floor" in text and "not comparable" in text
    assert json.loads(json.dumps(shipped.to_dict()))["scores"]["fid"]["value"] == fid.value


def test_evaluate_tensors_and_small_sets(real):
    with pytest.warns(UserWarning, match="FID skipped"):
        report = evaluate(real.images[:200], real.images[200:300], n=150, extractor="pixels")
    assert "fid" not in report.scores and "kid" in report.scores
    assert report.n == 100  # the floor needs two disjoint real subsets of n
    assert any("used n=100" in note for note in report.notes)
    assert any("split by image" in note for note in report.notes)


def test_evaluate_rejects_bad_input(real, tmp_path):
    x = real.images[:64]
    with pytest.raises(ValueError, match="one size and channel count"):
        evaluate(x, x[:, :, ::2, ::2], extractor="pixels", check_memorization=False)
    with pytest.raises(ValueError, match="one size and channel count"):
        evaluate(x, x.repeat(1, 3, 1, 1), extractor="pixels", check_memorization=False)
    nan = x.clone()
    nan[3, 0, 5, 5] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        evaluate(x, nan, extractor="pixels")
    with pytest.raises(ValueError, match="not a model"):
        evaluate(Generator(DCGANConfig()), x, extractor="pixels")
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="no images"):
        evaluate(tmp_path / "empty", x, extractor="pixels")


def test_reports_as_rows_and_side_by_side(real):
    x = real.images
    kw = {"n": 64, "extractor": "pixels-4", "check_memorization": False, "n_splits": 1}
    good = evaluate(x[:256], x[256:352], **kw)  # real images of other subjects
    noise = evaluate(x[:256], torch.rand(96, 1, 64, 64) * 2 - 1, **kw)
    rows = good.to_rows(digits=4)
    assert [r["metric"] for r in rows] == [s.name for s in good.scores.values()]
    fid = good.scores["fid"]
    assert rows[0] == {
        "metric": fid.name,
        "model": round(fid.value, 4),
        FLOOR_ROW: round(fid.floor, 4),
        "n": 64,
        "better": "lower",
    }
    better = {r["metric"]: r["better"] for r in good.to_rows()}
    assert better["precision"] == "higher" and better["recall"] == "higher"
    assert better[good.scores["diversity"].name] == "near the floor"

    table = reports_table({"other subjects": good, "noise": noise})
    assert list(table.columns) == [s.name for s in good.scores.values()]
    assert list(table.index) == ["other subjects", "noise", FLOOR_ROW]
    assert table.loc["noise", fid.name] == noise.scores["fid"].value
    assert table.loc[FLOOR_ROW].tolist() == [s.floor for s in good.scores.values()]
    assert table.loc["noise", fid.name] > table.loc["other subjects", fid.name]

    no_fid = replace(good, scores={k: v for k, v in good.scores.items() if k != "fid"})
    assert np.isnan(reports_table({"a": good, "b": no_fid}).loc["b", fid.name])
    other_floor = replace(good, scores={**good.scores, "fid": replace(fid, floor=2 * fid.floor)})
    with pytest.raises(ValueError, match="another .* floor"):  # other real images, n or seed
        reports_table({"a": good, "b": other_floor})
    with pytest.raises(ValueError, match="at least one"):
        reports_table({})


def test_evaluate_reports_both_feature_spaces_with_their_floors(real):
    assert DEFAULT_SPACES == ("domain", "anatomy")
    g = torch.Generator().manual_seed(0)
    noised = (real.images + 0.2 * torch.randn(real.images.shape, generator=g)).clamp(-1, 1)
    kw = {"n": 160, "check_memorization": False, "n_splits": 2}
    report = evaluate(real, noised, **kw)  # both spaces by default; halves of 8 subjects
    assert report.spaces == {"domain": 128, "anatomy": 128}
    assert report.extractor == "domain" and report.feature_dim == 128
    metrics = ("fid", "kid", "precision", "recall")
    assert list(report.scores) == [
        *metrics,
        *(f"anatomy_{m}" for m in metrics),
        "diversity",
    ]
    names = {k: s.name for k, s in report.scores.items()}
    assert names["fid"] == "domain FID" and names["anatomy_fid"] == "anatomy FID"
    assert names["precision"] == "domain precision"
    assert names["anatomy_recall"] == "anatomy recall"
    for m in metrics:
        domain, anatomy = report.scores[m], report.scores[f"anatomy_{m}"]
        assert (domain.extractor, anatomy.extractor) == ("domain", "anatomy")
        assert domain.floor != anatomy.floor  # each space has its own floor
    # plainly noised real slices: far above the floor in both spaces
    for key in ("fid", "anatomy_fid"):
        assert report.scores[key].value > 3 * report.scores[key].floor
    # one space alone is the report it always was
    domain_only = evaluate(real, noised, extractor="domain", **kw)
    assert domain_only.spaces == {"domain": 128}
    assert list(domain_only.scores) == [*metrics, "diversity"]
    assert domain_only.scores["precision"].name == "precision"
    for m in metrics:
        assert domain_only.scores[m].floor == pytest.approx(report.scores[m].floor)
    text = report.to_text()
    assert "features  domain (128-d): " in text and "anatomy (128-d): " in text
    assert "anatomy FID" in text and "domain and anatomy FID/KID" in text
    record = json.loads(json.dumps(report.to_dict()))
    assert record["spaces"] == {"domain": 128, "anatomy": 128}
    assert record["scores"]["anatomy_fid"]["value"] == report.scores["anatomy_fid"].value
    table = reports_table({"noised": report})
    assert {"domain FID", "anatomy FID", "domain precision", "anatomy precision"} <= set(
        table.columns
    )
    assert table.loc[FLOOR_ROW, "anatomy FID"] == report.scores["anatomy_fid"].floor
    with pytest.raises(ValueError, match="each feature space once"):
        evaluate(real, noised, extractor=["domain", "domain"], **kw)
    with pytest.raises(ValueError, match="at least one feature space"):
        evaluate(real, noised, extractor=[], **kw)


def test_a_report_from_before_the_second_space_reads_as_one_space():
    report = EvaluationReport("r", "f", 64, 64, "domain", 128, 0, 1, scores={})
    assert report.spaces == {"domain": 128}
