"""The benchmark scripts run end to end with their smallest settings and print their tables."""

from __future__ import annotations

import subprocess
import sys


def _run(root, script: str, *args: str) -> str:
    proc = subprocess.run(
        [sys.executable, str(root / "benchmarks" / script), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def test_train_throughput_tiny(root):
    out = _run(
        root,
        "train_throughput.py",
        # One thread: on a busy machine, two spinning OpenMP threads make tiny ops 100x slower.
        *("--device", "cpu", "--threads", "1", "--steps", "1", "--warmup", "0", "--rounds", "1"),
        *("--batch-size", "4", "--width", "8", "--matmul-size", "64"),
        *("--latency-sizes", "1", "--latency-repeat", "1"),
    )
    assert "| step " in out and "| ours/ref |" in out
    for row in ("| ours: GANTrainer.train_step | fp32", "| reference: pytorch/examples | fp32"):
        assert row in out
    assert "| matmul 64x64 " in out
    assert "generation latency of " in out
    assert out.rstrip().splitlines()[-1].startswith("|               1 |")


def test_data_loading_tiny(root):
    out = _run(
        root,
        "data_loading.py",
        *("--n-subjects", "2", "--image-size", "32", "--batch-size", "8", "--repeat", "1"),
        *("--folder-images", "4", "--folder-size", "32"),
    )
    for row in ("| first build (+ write cache)", "| load from cache", "| DataLoader pass"):
        assert row in out
    for row in ("| read folder: 4 PNGs of 32x32", "| same folder + 1 PNG bomb (skipped)"):
        assert row in out


def test_app_benchmark_tiny(root):
    args = ("--counts", "4", "--sessions", "2", "--load-count", "4", "--repeat", "1")
    out = _run(root, "app.py", *args, "--no-browser")
    assert "| cold start to first render" in out and "| load test: 2 sessions x 4 images" in out
    assert "| generation alone, 4 images (zoo.generate)" in out


def test_finetune_benchmark_tiny(root):
    args = ("--steps", "1", "--n-val", "8", "--n-infer", "8", "--repeat", "1", "--width", "4")
    out = _run(root, "finetune.py", *args, "--batch-size", "4", "--threads", "1")
    assert "| precision | s / epoch |" in out and "| fp32 " in out
