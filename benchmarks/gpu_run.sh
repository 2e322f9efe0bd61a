#!/usr/bin/env bash
# The GPU measurements of issue 16 item 4, in one run of at most 8 minutes on one machine:
#
#   1. training images/s of the plain DCGAN at 64 and 128 px (GANTrainer.train_step, batch
#      256 on the device) in fp32, TF32 and bf16 autocast, contiguous and channels_last,
#      as a share of the GPU's matmul rate in the same precision and in bf16 (measured as
#      benchmarks/train_throughput.py measures the CPU's);
#   2. bf16 channels_last with torch.compile, beside the same setting eager;
#   3. with two GPUs or more, a 2-process torchrun run of `medgan train` (NCCL) resumed in one
#      process; with one GPU this step is skipped and says so.
#
# Everything printed also goes to $OUT/gpu_run.md (the device tool brings $OUT back), or to
# benchmarks/gpu_results.md where $OUT is unset. Copy the tables into
# benchmarks/gpu_results.md and the README's "Training on many GPUs" section.
#
# The machine's python3 has torch; `import medgan_utils` also needs pydicom and nibabel, and
# the built-in set of step 3 nilearn. Where they are missing, bring them as wheels (from the
# repository root, on a machine with pip; .whl/ must be git-ignored, e.g. in
# .git/info/exclude):
#
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 \
#       --implementation cp --platform manylinux_2_17_x86_64 -d .whl \
#       nibabel==5.4.2 pydicom==3.0.2 nilearn==0.14.1          # 17 MB, pure-Python wheels
#
# and run this script with .whl carried: the device tool's run(command="bash
# benchmarks/gpu_run.sh", carry=[".whl"], timeout_s=540). It installs them into /tmp/site.
# Each step has its own time limit (140 + 2 x 110 + 90 s), so the whole run ends within 8
# minutes and a step that runs out still leaves the tables of the others.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PY=${PYTHON:-python3}
LOG=${OUT:+$OUT/gpu_run.md}
LOG=${LOG:-benchmarks/gpu_results.md}
export PYTHONUNBUFFERED=1 MEDGAN_OFFLINE=1 MPLBACKEND=Agg
export MEDGAN_HOME=${MEDGAN_HOME:-/tmp/medgan-gpu-run}
: >"$LOG"
say() { echo "$@" | tee -a "$LOG"; }

if compgen -G ".whl/*.whl" >/dev/null; then
    $PY -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || { say "installing .whl/*.whl failed"; exit 1; }
    export PYTHONPATH=/tmp/site:$ROOT
else
    export PYTHONPATH=$ROOT
fi
if ! why=$($PY -c "import medgan_utils, torch; assert torch.cuda.is_available(), 'no CUDA GPU'" \
    2>&1); then
    say "$why"
    say "cannot run: a missing package (carry .whl as this script's header says), or no CUDA"
    say "GPU (this script is for a GPU machine)"
    exit 1
fi
GPUS=$($PY -c "import torch; print(torch.cuda.device_count())")
say "# GPU run of $(date -u +%Y-%m-%d), commit $(git rev-parse --short HEAD 2>/dev/null || echo ?)"
say
say "$(nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1)"
say "$($PY -c 'import sys, torch; print("python", sys.version.split()[0], "torch", torch.__version__, "CUDA", torch.version.cuda)')"
say

BENCH=("$PY" benchmarks/train_throughput.py --device cuda --tables sizes
    --batch-size 256 --steps 20 --warmup 3 --rounds 5 --matmul-size 8192)
ERR=/tmp/medgan-gpu-run.stderr
# bench SECONDS ARGS...: one table, within SECONDS; on failure the end of its stderr
bench() {
    local limit=$1 status
    shift
    timeout "$limit" "${BENCH[@]}" "$@" 2>"$ERR" | tee -a "$LOG"
    status=${PIPESTATUS[0]}
    if [ "$status" -ne 0 ]; then
        say "(failed or ran out of its $limit s: exit $status; the end of its stderr:)"
        tail -n 15 "$ERR" | tee -a "$LOG"
    fi
    say
}

say "## 1. eager: precision and memory format"
say
bench 140 --image-sizes 64 128 --variants fp32 tf32 tf32+cl bf16 bf16+cl

# One size per run, so that a slow compilation of one leaves the other's table.
say "## 2. torch.compile of G and D (compiled in the untimed warmup steps)"
say
bench 110 --image-sizes 64 --variants bf16+cl bf16+cl+compile
bench 110 --image-sizes 128 --variants bf16+cl bf16+cl+compile

say "## 3. torchrun, 2 processes (NCCL), resumed in one"
say
if [ "$GPUS" -lt 2 ]; then
    say "skipped: this machine has $GPUS GPU; a 2-process NCCL run needs 2 or more."
    say "(tests/gan/test_distributed.py runs 2 processes with gloo on the CPU.)"
else
    RUN=/tmp/medgan-gpu-run/two
    rm -rf "$RUN"
    TRAIN=(-m medgan_utils.cli train --data builtin --image-size 64 --n-subjects 8
        --batch-size 32 --quiet --out "$RUN")
    if timeout 60 $PY -m torch.distributed.run --standalone --nproc_per_node=2 \
        "${TRAIN[@]}" --epochs 1 2>&1 | tail -n 3 | tee -a "$LOG" \
        && timeout 30 $PY "${TRAIN[@]}" --epochs 2 --resume 2>&1 | tail -n 3 | tee -a "$LOG"
    then  # (pipefail: a pipeline fails when its command does)
        $PY -c "import json, sys; r = json.load(open(sys.argv[1]));
print('run.json:', r['epochs_done'], 'epochs;', r['distributed_changes'])" \
            "$RUN/run.json" | tee -a "$LOG"
    else
        say "the torchrun run failed (output above)"
    fi
fi
