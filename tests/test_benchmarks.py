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


def test_train_throughput_sizes_table_tiny(root):
    """The GPU table's settings on the CPU: image sizes, bf16, channels_last (compile and
    TF32 are left to benchmarks/gpu_run.sh: compiling takes minutes on a CPU)."""
    out = _run(
        root,
        "train_throughput.py",
        *("--device", "cpu", "--threads", "1", "--steps", "1", "--warmup", "0", "--rounds", "1"),
        *("--batch-size", "4", "--width", "8", "--matmul-size", "64", "--tables", "sizes"),
        *("--image-sizes", "32", "64", "--precisions", "fp32", "bf16", "--channels-last"),
    )
    assert "| image size " in out and "| % of its matmul | % of bf16 |" in out
    for size in ("32x32", "64x64"):
        for setting in ("fp32, channels_last, eager", "bf16 autocast, channels_last, eager"):
            assert f"| {size.ljust(12)} | {setting}" in out
    assert "| matmul 64x64 | bf16 " in out and "| matmul 64x64 | fp32 " in out
    proc = subprocess.run(
        [sys.executable, str(root / "benchmarks" / "train_throughput.py")]
        + ["--device", "cpu", "--tables", "sizes", "--variants", "tf32+cl"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2 and "tf32 is a setting of CUDA GPUs" in proc.stderr


def test_data_loading_tiny(root):
    out = _run(
        root,
        "data_loading.py",
        *("--n-subjects", "2", "--image-size", "32", "--batch-size", "8", "--repeat", "1"),
        *("--png-images", "4", "--png-size", "32"),
        *("--folder-images", "8", "--folder-size", "32"),
    )
    for row in ("| first build (+ write cache)", "| load from cache", "| DataLoader pass"):
        assert row in out
    for row in ("| read folder: 4 PNGs of 32x32", "| same folder + 1 PNG bomb (skipped)"):
        assert row in out
    assert "folder: 8 RGB JPEGs of 32x32" in out
    for row in ("| plain loop: PIL + F.interpolate", "| load_dataset, first read (writes the"):
        assert row in out
    assert "| load_dataset, cached read " in out and "cached read: read from " in out


def test_app_benchmark_tiny(root):
    args = ("--counts", "4", "--sessions", "2", "--load-count", "4", "--repeat", "1")
    out = _run(root, "app.py", *args, "--no-browser")
    assert "| cold start to first render" in out and "| load test: 2 sessions x 4 images" in out
    assert "| generation alone, 4 images (zoo.generate)" in out


def test_finetune_benchmark_tiny(root):
    args = ("--steps", "1", "--n-val", "8", "--n-infer", "8", "--repeat", "1", "--width", "4")
    out = _run(root, "finetune.py", *args, "--batch-size", "4", "--threads", "1")
    assert "| precision | s / epoch |" in out and "| fp32 " in out


def test_conditional_init_tiny(root):
    out = _run(
        root,
        "conditional_init.py",
        *("--steps", "2", "--every", "1", "--width", "4", "--n-subjects", "4"),
    )
    assert "within-label spread of 64 lesion samples" in out
    for row in ("| bce   | N(0, 1) ", "| bce   | N(0, 0.02) ", "| hinge | N(0, 0.02) "):
        assert row in out


def test_conditional_label_tiny(root):
    out = _run(
        root,
        "conditional_label.py",
        *("--steps", "2", "--every", "1", "--width", "4", "--n-subjects", "8", "--n", "16"),
    )
    assert "share of lesion-label / no-lesion-label samples the domain lesion head" in out
    for row in ("| embedding in z ", "| conditional BatchNorm "):
        line = next(line for line in out.splitlines() if line.startswith(row))
        assert line.count("% / ") == 2  # a lesion / no-lesion pair at steps 1 and 2


def test_gan_ablation_tiny(root, tmp_path):
    args = ("--quick", "--epochs", "1", "--rows", "baseline", "--extractors", "domain")
    where = ("--out", str(tmp_path / "a.json"), "--runs", str(tmp_path / "runs"))
    out = _run(root, "gan_ablation.py", *args, *where, "--threads", "1")
    assert "quick ablation: 1 epochs of 8 subjects" in out
    assert "| DCGAN (bce) | domain   |" in out
    assert (tmp_path / "a.json").exists() and (tmp_path / "a.csv").exists()
