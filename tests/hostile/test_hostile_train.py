"""Hostile and careless uses of training, generation and the CLI (issue 17, items 5, 6, 10
and 11).

Each input is built in ``tmp_path``: runs that diverge to NaN, weights that are not finite,
two writers into one ``--out``, a writer killed while it holds a folder, starts that fail
or are interrupted, truncated checkpoints, ``--out`` paths that are files, bad devices,
deeply nested and oversized ``generator.json`` files, zero and negative counts, seeds out
of range, ``grid.png`` among the samples, and run ids that shadow a shipped model. Every
expected failure must be one line on stderr (no traceback), a non-zero exit status, and
leave the files as they were.
"""

from __future__ import annotations

import json
import shlex
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from medgan_utils.cli import main
from medgan_utils.errors import DataError, FolderBusyError, TrainingDivergedError
from medgan_utils.evaluation.evaluate import evaluate
from medgan_utils.exports import GRID_FILE, export_pngs, read_samples, sample_files
from medgan_utils.gan import callbacks as callbacks_module
from medgan_utils.gan import zoo
from medgan_utils.gan.models import DCGANConfig, Generator
from medgan_utils.gan.runs import train_run
from medgan_utils.gan.train import Callback, GANTrainer, TrainConfig
from medgan_utils.gan.zoo import check_served_id, latent_noise, load_generator, save_generator
from medgan_utils.settings import CLAIM_FILE, MAX_SEED, claim_folder

pytestmark = pytest.mark.usefixtures("one_thread")

TINY = ["--data", "builtin", "--image-size", "32", "--n-subjects", "2", "--width", "8"]
TINY += ["--batch-size", "16", "--latent-dim", "16", "--quiet", "--precision", "fp32"]
MODEL = DCGANConfig(image_size=32, width=4, latent_dim=8)
OPTIONS = {"n_subjects": 2}


def one_line_error(err: str) -> str:
    """The one line an expected failure prints; fails on a traceback or several lines."""
    assert "Traceback" not in err, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("medgan: error: "), err
    return lines[0]


def snapshot(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` with its bytes."""
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def config(epochs: int, **kw: float) -> TrainConfig:
    return TrainConfig(epochs=epochs, batch_size=16, n_samples=4, precision="fp32", **kw)  # type: ignore[arg-type]


class Poison(Callback):
    """Makes one discriminator weight NaN after batch ``at_step`` (as a diverging step would),
    and keeps the checkpoint's bytes as they were just before."""

    def __init__(self, folder: Path, at_step: int) -> None:
        self.folder, self.at_step, self.before = folder, at_step, b""

    def on_batch_end(self, trainer: GANTrainer, logs: dict[str, float]) -> None:
        if trainer.step == self.at_step:
            self.before = (self.folder / "checkpoint.safetensors").read_bytes()
            with torch.no_grad():
                next(trainer.D.parameters()).view(-1)[0] = float("nan")


# --- item 5: a run that diverges stops, and NaN weights are never saved or loaded ----------


def test_lr_inf_stops_in_the_first_epoch_and_leaves_nothing(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "2", "--out", str(run), "--lr-d", "inf"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "training diverged in epoch 1 (batch 1, step 1)" in line and "is nan" in line
    assert "lr_d inf" in line and "nothing was saved" in line
    # the suggested command starts over (no checkpoint) with the default rate for lr_d
    suggested = shlex.split(line.split("; e.g. ")[1])
    assert "--resume" not in suggested and suggested[-2:] == ["--lr-d", "0.0002"]
    assert not run.exists()  # no run.json blocks the retry
    assert main(suggested[1:]) == 0
    assert json.loads((run / "run.json").read_text())["epochs_done"] == 2
    assert torch.isfinite(load_file(run / "generator.safetensors")["main.0.weight"]).all()


def test_a_later_divergence_keeps_the_last_good_epoch_and_resumes_gently(tmp_path):
    run = tmp_path / "run"
    # 64 images / 16 = 4 steps per epoch: step 5 is epoch 2's first, step 6 sees the NaN
    poison = Poison(run, at_step=5)
    with pytest.raises(TrainingDivergedError, match=r"epoch 2 \(batch 2, step 6\)") as caught:
        train_run(
            "builtin",
            run,
            MODEL,
            config(3),
            progress=False,
            data_options=OPTIONS,
            callbacks=[poison],
        )
    assert caught.value.epoch == 2 and caught.value.last_good == 1
    assert "the last good checkpoint is epoch 1" in str(caught.value)
    assert (run / "checkpoint.safetensors").read_bytes() == poison.before  # not replaced
    assert json.loads((run / "run.json").read_text())["epochs_done"] == 1
    assert load_generator(run)[1].epochs == 1  # the exported generator is epoch 1's
    # continue with lower learning rates: allowed on resume, and recorded
    trainer = train_run(
        "builtin",
        run,
        MODEL,
        config(3, lr_d=1e-4),
        resume=True,
        progress=False,
        data_options=OPTIONS,
    )
    assert trainer.epoch == 3 and trainer.opt_d.param_groups[0]["lr"] == 1e-4
    record = json.loads((run / "run.json").read_text())
    assert record["lr_changes"] == [{"from_epoch": 1, "lr_g": 2e-4, "lr_d": 1e-4}]
    assert record["train_config"]["lr_d"] == 1e-4 and record["epochs_done"] == 3
    with pytest.raises(DataError, match="different run"):  # the recipe itself may not change
        train_run(
            "builtin",
            run,
            MODEL,
            config(4, beta1=0.9),
            resume=True,
            progress=False,
            data_options=OPTIONS,
        )


def test_nan_weights_are_neither_saved_nor_loaded(tmp_path, tiny, capsys):
    folder = tmp_path / "model"
    folder.mkdir()
    for name in ("generator.safetensors", "generator.json"):
        (folder / name).write_bytes((tiny / name).read_bytes())
    good = snapshot(folder)
    G = load_generator(folder)[0]
    with torch.no_grad():
        G.main[0].weight[0, 0, 0, 0] = float("inf")
    with pytest.raises(DataError, match=r"generator.safetensors: refusing to save .* NaN or inf"):
        save_generator(G, G.config, folder)
    assert snapshot(folder) == good  # the good generator stays
    # weights written by other means are refused on load, naming the file and the tensor
    state = load_file(folder / "generator.safetensors")
    state["main.0.weight"][0, 0, 0, 0] = float("nan")
    save_file(state, folder / "generator.safetensors")
    with pytest.raises(DataError, match=r"generator.safetensors: weights hold NaN or inf"):
        load_generator(folder)
    assert main(["generate", "--model", str(folder), "-n", "2", "--out", str(tmp_path / "g")]) == 2
    assert "main.0.weight" in one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "g").exists()


# --- item 6: one writer per output folder ---------------------------------------------------


def test_concurrent_claims_exactly_one_wins(tmp_path):
    folder, n = tmp_path / "out", 8
    start = threading.Barrier(n)
    tried = threading.Barrier(n)
    results: list[str] = []

    def writer() -> None:
        start.wait()
        try:
            with claim_folder(folder):
                results.append("won")
                tried.wait()  # hold the claim until every thread has tried
        except FolderBusyError as err:
            results.append(err.reason)
            tried.wait()

    threads = [threading.Thread(target=writer) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("won") == 1
    assert all("another medgan process is writing here" in r for r in results if r != "won")
    assert list(folder.iterdir()) == []  # the claim is gone with its holder


def test_two_generate_processes_into_one_out(tmp_path):
    out = tmp_path / "same"
    cmd = [sys.executable, "-m", "medgan_utils.cli", "generate", "-n", "200", "--out", str(out)]
    procs = [
        subprocess.Popen([*cmd, "--seed", seed], stderr=subprocess.PIPE, text=True)
        for seed in ("1", "2")
    ]
    errs = [p.communicate(timeout=300)[1] for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes == [0, 2], errs
    loser = errs[[p.returncode for p in procs].index(2)]
    assert "medgan: error: " in loser and "Traceback" not in loser
    names = sorted(p.name for p in out.iterdir())
    assert len(names) == 201 and names[0] == GRID_FILE  # one writer's files, none mixed
    assert len({n.split("_seed")[1][:1] for n in names[1:]}) == 1


def test_train_into_a_held_folder_is_refused_and_changes_nothing(tmp_path, capsys):
    out = tmp_path / "run"
    with claim_folder(out):
        before = snapshot(out)
        assert main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 2
        line = one_line_error(capsys.readouterr().err)
        assert "another medgan process is writing here" in line and "pid" in line
        assert snapshot(out) == before
        assert main(["generate", "-n", "2", "--out", str(out)]) == 2
        assert "another medgan process" in one_line_error(capsys.readouterr().err)


def test_a_killed_writer_does_not_block_its_folder(tmp_path, capsys):
    out = tmp_path / "out"
    code = (
        "import os, sys; from medgan_utils.settings import claim_folder; "
        "held = claim_folder(sys.argv[1]); held.__enter__(); os.kill(os.getpid(), 9)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(out)])
    assert proc.returncode == -9 and (out / CLAIM_FILE).exists()  # left behind
    assert main(["generate", "-n", "3", "--out", str(out)]) == 0
    assert len(sample_files(out) or []) == 3 and not (out / CLAIM_FILE).exists()


# --- item 11: a failed or interrupted start leaves nothing that blocks -----------------------


def test_a_start_interrupted_in_its_first_epoch_can_simply_run_again(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    args = ["train", *TINY, "--epochs", "1", "--out", str(run)]

    def interrupt(self, trainer, logs):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(callbacks_module.NonFiniteGuard, "on_batch_end", interrupt)
        assert main(args) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "nothing was kept" in err
    assert err.strip().splitlines()[-1].strip() == shlex.join(["medgan", *args])
    assert not run.exists()
    assert main(args) == 0


def test_a_run_json_left_by_a_killed_start_blocks_neither_retry_nor_resume(tmp_path):
    for resume in (False, True):
        run = tmp_path / f"run{resume}"
        run.mkdir()
        (run / "run.json").write_text(json.dumps({"data": "other", "epochs_done": 0}))
        train_run(
            "builtin",
            run,
            MODEL,
            config(1),
            resume=resume,
            progress=False,
            data_options=OPTIONS,
        )
        assert json.loads((run / "run.json").read_text())["epochs_done"] == 1


def test_ctrl_c_prints_the_resume_command_that_continues_the_run(tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    args = ["train", *TINY, "--epochs", "3", "--out", str(run)]
    real = callbacks_module.SampleGrid.on_epoch_end

    def interrupt_in_epoch_2(self, trainer, logs):
        if trainer.epoch == 2:
            raise KeyboardInterrupt
        real(self, trainer, logs)

    with monkeypatch.context() as m:
        m.setattr(callbacks_module.SampleGrid, "on_epoch_end", interrupt_in_epoch_2)
        assert main(args) == 130
    err = capsys.readouterr().err
    assert "Traceback" not in err and "the run keeps its last finished epoch" in err
    command = err.strip().splitlines()[-1].strip()
    assert command == shlex.join(["medgan", *args, "--resume"])
    assert json.loads((run / "run.json").read_text())["epochs_done"] == 1
    assert main(shlex.split(command)[1:]) == 0
    assert json.loads((run / "run.json").read_text())["epochs_done"] == 3


# --- item 10: expected failures are one line --------------------------------------------------


def test_out_that_is_a_file_or_unwritable(tmp_path, capsys, monkeypatch):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    for args in (
        ["train", *TINY, "--epochs", "1", "--out", str(afile)],
        ["generate", "-n", "2", "--out", str(afile)],
        ["generate", "-n", "2", "--format", "dicom", "--out", str(afile / "below")],
    ):
        assert main(args) == 2
        line = one_line_error(capsys.readouterr().err)
        assert "afile" in line and ("is a file" in line or "Not a directory" in line)
    assert afile.read_text() == "mine"

    def refuse(*args, **kw):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "mkdir", refuse)
    assert main(["generate", "-n", "2", "--out", str(tmp_path / "locked")]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "locked: cannot create this folder (Permission denied)" in line


def test_bad_devices_are_one_line(tmp_path, capsys):
    for device in ("bogus", "cuda:99"):
        args = ["train", *TINY, "--epochs", "1", "--out", str(tmp_path / "r"), "--device", device]
        assert main(args) == 2
        assert f"device {device!r}" in one_line_error(capsys.readouterr().err)
    assert not (tmp_path / "r").exists()


def test_a_truncated_checkpoint_on_resume(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(run)]) == 0
    checkpoint = run / "checkpoint.safetensors"
    checkpoint.write_bytes(checkpoint.read_bytes()[:2000])
    before = snapshot(run)
    assert main(["train", *TINY, "--epochs", "2", "--out", str(run), "--resume"]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "checkpoint.safetensors: cannot resume from this checkpoint" in line
    assert snapshot(run) == before


def test_deeply_nested_generator_json(tmp_path, tiny, capsys):
    folder = tmp_path / "nested"
    folder.mkdir()
    (folder / "generator.safetensors").write_bytes((tiny / "generator.safetensors").read_bytes())
    depth = 200_000
    (folder / "generator.json").write_text('{"model_config": ' + "[" * depth + "]" * depth + "}")
    assert main(["generate", "--model", str(folder), "-n", "2", "--out", str(tmp_path / "g")]) == 2
    line = one_line_error(capsys.readouterr().err)
    assert "generator.json: unreadable model config (nested too deeply)" in line


def test_a_huge_width_is_refused_from_the_header_before_allocating(tmp_path, tiny, monkeypatch):
    folder = tmp_path / "huge"
    folder.mkdir()
    (folder / "generator.safetensors").write_bytes((tiny / "generator.safetensors").read_bytes())
    meta = json.loads((tiny / "generator.json").read_text())
    built_on: list[str] = []

    class Spy(Generator):
        def __init__(self, config: DCGANConfig) -> None:
            built_on.append(torch.empty(0).device.type)  # the device it is built on
            super().__init__(config)

    monkeypatch.setattr(zoo, "Generator", Spy)
    for width in (1_000_000, 10**12):  # 25 GB of weights; more than any machine has
        meta["model_config"]["width"] = width
        (folder / "generator.json").write_text(json.dumps(meta))
        with pytest.raises(
            DataError,
            match=r"generator.safetensors: weights( do not match|: the config describes no)",
        ):
            load_generator(folder)
    assert built_on and set(built_on) == {"meta"}  # never built with real memory


# --- item 11: counts, seeds, the grid, shipped ids ---------------------------------------------


@pytest.mark.parametrize(
    ("args", "option"),
    [
        (["train", *TINY, "--epochs", "1", "--out", "x", "--n-subjects", "0"], "--n-subjects"),
        (["train", *TINY, "--epochs", "1", "--out", "x", "--n-critic", "0"], "--n-critic"),
        (["train", *TINY, "--epochs", "0", "--out", "x"], "--epochs"),
        (["train", *TINY, "--epochs", "1", "--out", "x", "--seed", "-1"], "--seed"),
        (["metrics", "--real", "builtin", "--fake", "x", "-n", "0"], "-n"),
        (["metrics", "--real", "builtin", "--fake", "x", "-n", "-4"], "-n"),
        (["generate", "--out", "x", "--seed", "-1"], "--seed"),
        (["generate", "--out", "x", "--seed", str(2**64 - 1)], "--seed"),
        (["finetune", "--real", "builtin-labelled", "--n-subjects", "0"], "--n-subjects"),
        (["finetune", "--real", "builtin-labelled", "--n-real", "-3"], "--n-real"),
        (["audit", "--model", "m", "--data", "d", "--bootstrap", "0"], "--bootstrap"),
    ],
)
def test_zero_and_negative_counts_and_seeds_name_the_option(args, option, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(args)
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert f"argument {option}: must be a whole number" in err and "Traceback" not in err


def test_seeds_out_of_range_no_longer_alias(tiny):
    with pytest.raises(ValueError, match="seed must be a whole number from 0 to"):
        latent_noise(2, 8, seed=-1)
    with pytest.raises(ValueError, match="seed must be a whole number from 0 to"):
        latent_noise(2, 8, seed=2**64 - 1)
    assert not torch.equal(latent_noise(2, 8, seed=MAX_SEED), latent_noise(2, 8, seed=0))
    with pytest.raises(ValueError, match="n must be a whole number >= 1, got 0"):
        evaluate(torch.zeros(8, 1, 32, 32), tiny, n=0)


@pytest.mark.filterwarnings("ignore:FID skipped")
def test_metrics_fake_on_a_generate_folder_leaves_the_grid_out(tmp_path):
    images = torch.rand(5, 1, 32, 32) * 2 - 1
    out = tmp_path / "gen"
    export_pngs(images, out, model="tiny", seed=0)
    assert (out / GRID_FILE).exists() and len(list(out.iterdir())) == 6
    assert [p.name for p in sample_files(out) or []] == sorted(
        p.name for p in out.iterdir() if p.name != GRID_FILE
    )
    ds = read_samples(out, 32)
    assert len(ds) == 5
    assert torch.allclose(ds.images, images, atol=1 / 127.5)  # the samples, in order
    real = torch.rand(20, 1, 32, 32) * 2 - 1
    report = evaluate(real, out, extractor="pixels", check_memorization=False, n_splits=1)
    assert f"{out} (5 images)" in report.fake
    assert read_samples(tmp_path) is None  # any other folder reads as before


def test_a_served_run_cannot_take_a_shipped_models_id(tiny):
    from medgan_utils.gan.zoo import DEFAULT_MODEL, model_path

    for name in (DEFAULT_MODEL, DEFAULT_MODEL.upper().replace("-", "_"), f" {DEFAULT_MODEL} "):
        with pytest.raises(DataError, match=f"is the id of the shipped model {DEFAULT_MODEL}"):
            check_served_id(name, tiny)
    check_served_id(DEFAULT_MODEL, model_path(DEFAULT_MODEL))  # the shipped folder itself
    check_served_id("my-brain-run", tiny)


def test_a_label_by_name_or_index_gives_the_same_images(tiny_cond, tmp_path):
    by_name, by_index = tmp_path / "name", tmp_path / "index"
    for label, out in (("no_lesion", by_name), ("1", by_index)):
        argv = ["generate", "--model", str(tiny_cond), "--label", label, "-n", "2"]
        assert main([*argv, "--out", str(out)]) == 0
    names = sorted(p.name for p in by_name.glob("*.png"))
    assert names == sorted(p.name for p in by_index.glob("*.png")) and len(names) == 3
    assert all((by_name / n).read_bytes() == (by_index / n).read_bytes() for n in names)


def test_a_label_that_is_not_a_class(tiny_cond, tmp_path, capsys):
    out = tmp_path / "g"
    for label in ("2", "-1", "tumour"):
        assert main(["generate", "--model", str(tiny_cond), "--label", label, "--out", str(out)])
        assert f"label {label} is not a class" in one_line_error(capsys.readouterr().err)
    assert main(["generate", "--model", str(tiny_cond), "--out", str(out)])  # no --label
    assert "class-conditional: give --label" in one_line_error(capsys.readouterr().err)
    assert not out.exists()
