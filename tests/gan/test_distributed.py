"""Training on several processes (medgan_utils.gan.distributed): torchrun with gloo on the CPU.

One real ``torchrun`` run of two processes (written once, resumed in one process), two
processes training side by side to show that they end with the same weights, and the
errors of a bad start. Two processes of tiny models keep this file well under a minute.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp
from torch.utils.data import Dataset

from medgan_utils.cli import main
from medgan_utils.gan.distributed import ENV_VARS, World, join
from medgan_utils.gan.models import DCGANConfig
from medgan_utils.gan.record import GeneratorRecord
from medgan_utils.gan.train import GANTrainer, TrainConfig, read_checkpoint_meta

TINY = ["--data", "builtin", "--image-size", "32", "--n-subjects", "2", "--width", "8"]
TINY += ["--batch-size", "16", "--latent-dim", "16", "--quiet", "--precision", "fp32"]
TORCHRUN = ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]


@pytest.fixture
def no_torchrun(monkeypatch):
    """This test process as a plain ``medgan train`` sees it: no torchrun environment."""
    for name in ENV_VARS:
        monkeypatch.delenv(name, raising=False)


def _files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


def test_world_from_the_environment():
    assert World.from_env(environ={}) == World(0, 1, 0, None)
    env = {
        "RANK": "1",
        "WORLD_SIZE": "4",
        "LOCAL_RANK": "1",
        "MASTER_ADDR": "h",
        "MASTER_PORT": "1",
    }
    world = World.from_env(required=True, environ=env)
    assert (world.rank, world.size, world.local_rank, world.is_main) == (1, 4, 1, False)
    assert world.per_rank_batch(64) == 16
    with pytest.raises(ValueError, match=r"--batch-size 66 .* divide by the 4 processes"):
        world.per_rank_batch(66)
    with pytest.raises(ValueError, match="LOCAL_RANK, MASTER_PORT are not set"):
        World.from_env(environ={"RANK": "0", "WORLD_SIZE": "2", "MASTER_ADDR": "h"})
    with pytest.raises(ValueError, match="RANK=3, WORLD_SIZE=2"):
        World.from_env(environ={**env, "RANK": "3", "WORLD_SIZE": "2"})
    with pytest.raises(ValueError, match="not numbers"):
        World.from_env(environ={**env, "RANK": "zero"})
    # MASTER_ADDR alone (exported for other tools) does not make a run distributed
    assert World.from_env(environ={"MASTER_ADDR": "h"}).size == 1
    # one process keeps the seeds runs always had; several get one stream each
    assert World().epoch_seed(7, 3) == 7 * 100_003 + 3
    seeds = {World(r, 2).epoch_seed(7, e) for r in (0, 1) for e in (0, 1)}
    assert len(seeds) == 4


def test_bad_starts_fail_before_anything_is_written(tmp_path, monkeypatch, capsys, no_torchrun):
    out = tmp_path / "run"
    assert main(["train", *TINY, "--epochs", "1", "--out", str(out), "--distributed"]) == 2
    err = capsys.readouterr().err
    assert "RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT are not set" in err
    assert "torchrun" in err
    # what torchrun sets for rank 0 of 3 processes: a batch of 16 does not divide
    env = {"RANK": "0", "WORLD_SIZE": "3", "LOCAL_RANK": "0", "MASTER_ADDR": "127.0.0.1"}
    for name, value in {**env, "MASTER_PORT": "29511"}.items():
        monkeypatch.setenv(name, value)
    assert main(["train", *TINY, "--epochs", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--batch-size 16 is the global batch and must divide by the 3 processes" in err
    assert "e.g. 15 or 18" in err
    assert not out.exists()


class _Images(Dataset):
    """Random images that remember which of them this process loaded."""

    def __init__(self, n: int) -> None:
        self.images = torch.rand(n, 1, 32, 32, generator=torch.Generator().manual_seed(0)) * 2 - 1
        self.seen: list[int] = []

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        self.seen.append(int(i))
        return {"image": self.images[i]}


def _train_one_of_two(rank: int, port: int) -> None:
    """One of two processes: train a tiny GAN with the recipe's multi-forward pieces (R1's
    double backward, DiffAugment, EMA, BatchNorm) and compare everything with the other."""
    env = {"RANK": rank, "WORLD_SIZE": 2, "LOCAL_RANK": rank, "MASTER_PORT": port}
    os.environ.update({k: str(v) for k, v in env.items()}, MASTER_ADDR="127.0.0.1")
    torch.set_num_threads(1)
    with join(World.from_env(required=True), torch.device("cpu")) as world:
        assert world.backend == "gloo" and world.size == 2
        model = DCGANConfig(image_size=32, width=4, latent_dim=8)
        config = TrainConfig(
            epochs=1,
            batch_size=8,
            n_samples=4,
            precision="fp32",
            ema_decay=0.9,
            r1_gamma=1.0,
            augment="translation,cutout",
        )
        trainer = GANTrainer(model, config, world=world)
        assert trainer.batch_per_rank == 4
        if rank == 1:  # a different start: training must begin from rank 0's weights
            with torch.no_grad():
                for p in trainer.D.parameters():
                    p.add_(1.0)
        data = _Images(32)
        trainer.fit(data)
        seen: list[list[int]] = [[], []]
        torch.distributed.all_gather_object(seen, data.seen)
        histories: list[object] = [None, None]
        torch.distributed.all_gather_object(histories, trainer.history)
        state = [t for _, m in trainer._modules() for t in m.state_dict().values()]
        flat = torch.cat([t.detach().double().flatten() for t in state])
        flats = [torch.empty_like(flat) for _ in range(2)]
        torch.distributed.all_gather(flats, flat)
    # each process trained on its own half of the images ...
    assert not set(seen[0]) & set(seen[1]) and len(set(seen[0]) | set(seen[1])) == 32
    assert trainer.steps_per_epoch == 4 and trainer.step == 4
    # ... and both end with the same weights, buffers, average of G and logged losses
    assert torch.equal(flats[0], flats[1])
    assert histories[0] == histories[1] and "r1" in trainer.history[0]


def test_two_processes_keep_identical_weights():
    with socket.socket() as s:  # a free port for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    mp.spawn(_train_one_of_two, args=(port,), nprocs=2)


def test_torchrun_trains_writes_once_and_resumes_in_one_process(
    tmp_path, capsys, one_thread, no_torchrun
):
    two, one = tmp_path / "two", tmp_path / "one"
    proc = subprocess.run(
        [sys.executable, *TORCHRUN, "-m", "medgan_utils.cli", "train", *TINY]
        + ["--epochs", "1", "--out", str(two)],
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("trained 1 epochs into") == 1  # rank 0 alone reports
    record = json.loads((two / "run.json").read_text())
    assert record["distributed"] == {"world_size": 2, "backend": "gloo", "per_rank_batch": 8}
    assert record["epochs_done"] == 1
    card = GeneratorRecord.read(two)
    assert card.distributed == record["distributed"] and card.epochs == 1
    assert len((two / "history.csv").read_text().splitlines()) == 2  # header + one epoch
    assert read_checkpoint_meta(two / "checkpoint.safetensors")["epoch"] == 1

    # exactly the files of a one-process run, no more (rank 1 wrote nothing)
    assert main(["train", *TINY, "--epochs", "1", "--out", str(one)]) == 0
    assert _files(two) == _files(one)
    assert json.loads((one / "run.json").read_text())["distributed"]["world_size"] == 1

    # the checkpoint of two processes resumes in one, at the next epoch
    capsys.readouterr()
    assert main(["train", *TINY, "--epochs", "2", "--out", str(two), "--resume"]) == 0
    assert "trained 2 epochs into" in capsys.readouterr().out
    record = json.loads((two / "run.json").read_text())
    assert record["epochs_done"] == 2 and record["distributed"]["world_size"] == 1
    assert [c["world_size"] for c in record["distributed_changes"]] == [2, 1]
    assert [c["from_epoch"] for c in record["distributed_changes"]] == [0, 1]
    assert (two / "samples" / "epoch_002.png").exists()
    assert len((two / "history.csv").read_text().splitlines()) == 3
