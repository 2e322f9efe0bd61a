"""The recipe ablation: its rows, its record, resuming it, and its table and figure."""

from __future__ import annotations

import json

import matplotlib
import pytest

from medgan_utils.errors import DataError
from medgan_utils.evaluation.ablation import (
    RECORDED_ABLATION,
    ablation_settings,
    ablation_table,
    load_recorded_ablation,
    plot_ablation,
    recipe_rows,
    recipe_score,
    roadmap,
    run_ablation,
)

matplotlib.use("Agg")


def _cell(row: str, seed: int, fid: float, floor: float = 2.0) -> dict:
    score = {"value": fid, "floor": floor}
    return {"row": row, "seed": seed, "metrics": {"domain": {"fid": score}}}


def test_the_roadmap_keeps_a_piece_only_when_it_helps():
    rows = recipe_rows(batch_size=64, image_size=64)
    assert [r.key for r in rows][:3] == ["baseline", "ema", "hinge-sn"]
    # StyleGAN2-ADA's R1 weight 0.0002 S^2 / batch
    assert dict(rows[3].train)["r1_gamma"] == pytest.approx(0.0002 * 64**2 / 64)
    cells = [
        *(_cell("baseline", s, 20.0) for s in (0, 1)),
        *(_cell("ema", s, f) for s, f in ((0, 10.0), (1, 14.0))),  # helps: kept
        *(_cell("hinge-sn", s, 40.0) for s in (0, 1)),  # hurts: dropped
        _cell("r1", 0, 8.0),  # one seed of two: not decided yet
    ]
    plan = roadmap(rows, cells, ["domain"], seeds=[0, 1])
    assert [line["key"] for line in plan] == ["baseline", "ema", "hinge-sn", "r1"]
    assert [line["kept"] for line in plan] == [True, True, False, None]
    assert plan[1]["score"] == pytest.approx(2.0 / 12.0)  # mean floor / mean FID
    assert plan[1]["train"] == {"ema_decay": 0.999, "ema_warmup": True}
    assert plan[2]["model"] == {"spectral_norm": True} and plan[2]["train"]["loss"] == "hinge"
    # r1 builds on the best recipe so far (EMA), without the dropped hinge + SN
    assert plan[3]["model"] == {}
    assert plan[3]["train"]["r1_interval"] == 16 and "loss" not in plan[3]["train"]
    assert recipe_score(cells[:2], ["domain"]) == pytest.approx(0.1)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """Two rows x two seeds of the quick settings, one epoch each, domain features."""
    folder = tmp_path_factory.mktemp("ablation")
    spec = ablation_settings(quick=True, epochs=1, extractors=["domain"])
    out = folder / "record.json"
    lines: list[str] = []
    record = run_ablation(
        spec, folder / "runs", out, rows=["baseline", "ema"], log=lines.append, command=["t"]
    )
    return spec, folder, out, record, lines


def test_a_tiny_ablation_records_every_cell(tiny):
    spec, folder, out, record, lines = tiny
    assert [(c["row"], c["seed"]) for c in record["cells"]] == [
        ("baseline", 0),
        ("baseline", 1),
        ("ema", 0),
        ("ema", 1),
    ]
    assert json.loads(out.read_text()) == record
    assert out.with_suffix(".csv").read_text().startswith("row,label,extractor,n_seeds")
    for cell in record["cells"]:
        assert cell["images_seen"] == 256  # 8 subjects x 32 slices, batch 32, one epoch
        fid = cell["metrics"]["domain"]["fid"]
        assert fid["value"] > fid["floor"] > 0  # an untrained-ish generator vs real halves
    # the EMA row's generator is the average, not the live weights: different scores
    base, ema = (
        [c["metrics"]["domain"]["fid"]["value"] for c in record["cells"] if c["row"] == r]
        for r in ("baseline", "ema")
    )
    assert base != ema
    summary = {line["row"]: line for line in record["summary"]}
    assert summary["baseline"]["n_seeds"] == 2 and summary["baseline"]["fid_sd"] > 0
    assert summary["baseline"]["fid"] == pytest.approx(sum(base) / 2)
    assert [line["key"] for line in record["roadmap"]] == ["baseline", "ema", "hinge-sn"]
    assert record["roadmap"][0]["kept"] is True and record["roadmap"][2]["kept"] is None
    assert record["recipe"] in ("baseline", "ema")
    table = ablation_table(record)
    assert list(table["recipe"]) == ["DCGAN (bce)", "+ EMA of G"]
    assert "±" in table.loc[0, "fid (floor)"] and table.loc[0, "piece"] == "kept"
    fig = plot_ablation(record, metrics=("fid",))
    assert len(fig.axes) == 1 and len(fig.axes[0].collections) > 0


def test_resuming_skips_recorded_cells_and_refuses_other_settings(tiny):
    spec, folder, out, record, _ = tiny
    lines: list[str] = []
    again = run_ablation(
        spec, folder / "runs", out, rows=["baseline"], resume=True, log=lines.append
    )
    assert lines == ["baseline seed 0: recorded, skipped", "baseline seed 1: recorded, skipped"]
    assert again["cells"] == record["cells"]
    with pytest.raises(ValueError, match="exists: resume"):
        run_ablation(spec, folder / "runs", out, rows=["baseline"])
    other = {**spec, "epochs": 3}
    with pytest.raises(ValueError, match="other settings"):
        run_ablation(other, folder / "runs", out, resume=True)
    with pytest.raises(ValueError, match="at least 2 different"):
        run_ablation(spec, folder / "runs", folder / "x.json", seeds=[0, 0])
    with pytest.raises(ValueError, match="run 'hinge-sn' first"):
        run_ablation(spec, folder / "runs", out, rows=["r1"], resume=True)
    # cells trained in another number format (an AMX machine's bf16 on a machine without)
    mixed = folder / "bf16.json"
    other_format = json.loads(out.read_text())
    for cell in other_format["cells"]:
        cell["precision_used"] = "float16"
    mixed.write_text(json.dumps(other_format))
    with pytest.raises(ValueError, match="trained in float16, but precision 'auto' means"):
        run_ablation(spec, folder / "runs", mixed, rows=["hinge-sn"], resume=True)
    with pytest.raises(ValueError, match=r"unknown rows \['bogus'\]"):
        run_ablation(spec, folder / "runs", folder / "x.json", rows=["bogus"])


def test_parallel_seeds_measure_what_one_process_measures(tiny, tmp_path):
    spec, _, _, record, _ = tiny
    lines: list[str] = []
    out = tmp_path / "record.json"
    both = run_ablation(
        spec, tmp_path / "runs", out, rows=["baseline"], jobs=2, log=lines.append, command=["t"]
    )
    assert [(c["row"], c["seed"]) for c in both["cells"]] == [("baseline", 0), ("baseline", 1)]
    assert sorted(line for line in lines if line.endswith("measured")) == [
        "baseline seed 0: measured",
        "baseline seed 1: measured",
    ]
    assert json.loads(out.read_text()) == both
    for one, two in zip(record["cells"][:2], both["cells"], strict=True):
        assert one["images_seen"] == two["images_seen"]
        fid = one["metrics"]["domain"]["fid"]["value"]
        # the same seed and data in a worker process (one thread: sums in another order)
        assert two["metrics"]["domain"]["fid"]["value"] == pytest.approx(fid, rel=0.02)
    with pytest.raises(ValueError, match="jobs: need at least 1"):
        run_ablation(spec, tmp_path / "runs", tmp_path / "x.json", jobs=0)


def test_the_recorded_ablation_is_a_full_mode_record_or_a_clear_error(tmp_path):
    if RECORDED_ABLATION.exists():
        record = load_recorded_ablation()
        assert record["settings"] == ablation_settings()  # full mode, as chapter 3 says
        assert record["summary"] and record["roadmap"][0]["kept"] is True  # baseline measured
        cells = {(c["row"], c["seed"]) for c in record["cells"]}
        for line in record["roadmap"]:  # every decided row has both seeds, with its config
            if line["kept"] is not None:
                assert {(line["key"], 0), (line["key"], 1)} <= cells
    bad = tmp_path / "bad.json"
    bad.write_text('{"cells": []}')
    with pytest.raises(DataError, match="not an ablation record"):
        load_recorded_ablation(bad)
    with pytest.raises(DataError, match="cannot read"):
        load_recorded_ablation(tmp_path / "missing.json")
