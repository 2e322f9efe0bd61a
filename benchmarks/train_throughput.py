"""Time our GAN training step against pytorch/examples' DCGAN step; roofline; what each piece
of the modern recipe costs; generation latency.

Usage:
    python benchmarks/train_throughput.py                # batch 64, 5 rounds of 10 steps each
    python benchmarks/train_throughput.py --steps 2 --warmup 1 --batch-size 8   # a quick run
    python benchmarks/train_throughput.py --tables recipe --bf16   # the recipe's costs only
    python benchmarks/train_throughput.py --device cuda --tables sizes --image-sizes 64 128 \
        --precisions tf32 bf16 --channels-last --compile --matmul-size 8192   # a GPU's table

Ours (``GANTrainer.train_step``) and the reference (the loop of pytorch/examples
``dcgan/main.py``, written out below) train the same 64x64 grey-scale DCGAN on one random
batch in [-1, 1]. Their rounds alternate, so a change in machine load hits both alike;
each row reports the median over rounds. Both loops reuse the D-step fakes for the G
step, so one training image costs ``training_flops_per_image`` = 3 G_fwd + 9 D_fwd FLOPs
in both. A full CPU run takes minutes; timings vary with machine load.

The recipe table times ``GANTrainer.train_step`` with each piece of the modern recipe
(``medgan_utils.gan``: EMA, hinge + spectral norm, R1, DiffAugment, upsample + conv,
minibatch std) added alone to the plain DCGAN, and all of them together, in rounds
interleaved as above. Lazy R1 runs once every 16 steps, so its rate is an average only
over rounds that cover many steps (use ``--steps 16`` or more).

The sizes table times ``GANTrainer.train_step`` (the plain DCGAN) at each of
``--image-sizes`` in each setting: a precision (``fp32``; ``tf32``, fp32 with TensorFloat-32
in cuDNN's convolutions and cuBLAS's matmuls, CUDA only; ``bf16`` autocast), a memory
format (``+cl``: channels_last) and ``+compile`` (``torch.compile`` of G and D, default
mode; its compilation happens in the warmup steps, so use ``--warmup 3`` or more). Each
setting's rate is given as a share of the matmul rate in its own precision and of the bf16
matmul rate, both measured by ``matmul_gflops`` as for the CPU (on a GPU use
``--matmul-size 8192``: a smaller product is too short to time against the launch and the
synchronisation). The batch is placed on the device beforehand (data loading is timed by
``data_loading.py``); ``train_step``'s own ``.item()`` calls are timed, as they are part of
every step our trainer runs. On CUDA ``fp32`` means true fp32: PyTorch lets cuDNN use TF32
for convolutions by default, so ``fp32`` turns that off and ``tf32`` turns it on for both.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

import torch
from _common import print_table
from torch import nn

from medgan_utils.gan.models import (
    DCGANConfig,
    Generator,
    count_parameters,
    training_flops_per_image,
)
from medgan_utils.gan.train import GANTrainer, TrainConfig
from medgan_utils.gan.zoo import DEFAULT_MODEL, generate, list_models, load_generator
from medgan_utils.settings import pick_device, pick_precision

BF16 = "bf16 autocast + channels_last"
POLICY = "translation,cutout,brightness,contrast"  # DiffAugment for grey-scale scans
# (DCGANConfig overrides, TrainConfig overrides): each piece alone on the plain DCGAN
RECIPE_PIECES: dict[str, tuple[dict[str, Any], dict[str, Any]]] = {
    "plain DCGAN (bce)": ({}, {}),
    "+ EMA of G's weights": ({}, {"ema_decay": 0.999}),
    "+ hinge loss, spectral norm in D": ({"spectral_norm": True}, {"loss": "hinge"}),
    "+ R1 every step": ({}, {"r1_gamma": 1.0}),
    "+ R1 lazy, every 16 steps": ({}, {"r1_gamma": 1.0, "r1_interval": 16}),
    f"+ DiffAugment ({POLICY})": ({}, {"augment": POLICY}),
    "+ upsample (nearest) + conv in G": ({"upsample": "nearest"}, {}),
    "+ minibatch std in D (groups of 4)": ({"minibatch_std": 4}, {}),
}
RECIPE_PIECES["full recipe (lazy R1)"] = (
    {k: v for m, _ in RECIPE_PIECES.values() for k, v in m.items()},
    {
        **{k: v for _, t in RECIPE_PIECES.values() for k, v in t.items()},
        "r1_interval": 16,
    },
)
STEP_NAMES = {"ours": "ours: GANTrainer.train_step", "reference": "reference: pytorch/examples"}
SIZE_PRECISIONS = ("fp32", "tf32", "bf16")  # the sizes table's precisions
SIZE_OPTIONS = ("cl", "compile")  # what may follow a precision: "bf16+cl+compile"


def _sync(device: torch.device) -> None:
    """Wait for queued GPU work, so that a timer read after it is honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def _weights_init(m: nn.Module) -> None:  # pytorch/examples' custom init
    classname = m.__class__.__name__
    if classname.find("Conv") != -1:
        nn.init.normal_(m.weight, 0.0, 0.02)
    elif classname.find("BatchNorm") != -1:
        nn.init.normal_(m.weight, 1.0, 0.02)
        nn.init.zeros_(m.bias)


class ReferenceDCGAN:
    """pytorch/examples ``dcgan/main.py``: its nets, optimisers and one loop iteration.

    ``amp_dtype`` None is the example as written (fp32); bf16 wraps the forwards in
    autocast and puts nets and batch in channels_last, as our trainer does.
    """

    def __init__(
        self,
        device: torch.device,
        nz: int,
        ngf: int,
        ndf: int,
        nc: int,
        amp_dtype: torch.dtype | None,
    ) -> None:
        self.netG = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False),  # Z -> (ngf*8) x 4 x 4
            nn.BatchNorm2d(ngf * 8),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False),  # (ngf*4) x 8 x 8
            nn.BatchNorm2d(ngf * 4),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False),  # (ngf*2) x 16 x 16
            nn.BatchNorm2d(ngf * 2),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False),  # (ngf) x 32 x 32
            nn.BatchNorm2d(ngf),
            nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False),  # (nc) x 64 x 64
            nn.Tanh(),
        )
        self.netD = nn.Sequential(
            nn.Conv2d(nc, ndf, 4, 2, 1, bias=False),  # (nc) x 64 x 64 -> (ndf) x 32 x 32
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf, ndf * 2, 4, 2, 1, bias=False),  # (ndf*2) x 16 x 16
            nn.BatchNorm2d(ndf * 2),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 2, ndf * 4, 4, 2, 1, bias=False),  # (ndf*4) x 8 x 8
            nn.BatchNorm2d(ndf * 4),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 4, ndf * 8, 4, 2, 1, bias=False),  # (ndf*8) x 4 x 4
            nn.BatchNorm2d(ndf * 8),
            nn.LeakyReLU(0.2, inplace=True),
            nn.Conv2d(ndf * 8, 1, 4, 1, 0, bias=False),  # 1 x 1 x 1
            nn.Sigmoid(),
        )
        self.memory_format = torch.channels_last if amp_dtype else torch.contiguous_format
        for net in (self.netG, self.netD):
            net.apply(_weights_init)
            net.to(device, memory_format=self.memory_format)
        self.device, self.nz, self.amp_dtype = device, nz, amp_dtype
        self.criterion = nn.BCELoss()
        self.optimizerD = torch.optim.Adam(self.netD.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.optimizerG = torch.optim.Adam(self.netG.parameters(), lr=2e-4, betas=(0.5, 0.999))

    def amp(self) -> Any:
        if self.amp_dtype is None:
            return nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def step(self, real_cpu: torch.Tensor) -> tuple[float, ...]:
        """The body of the example's ``for i, data in enumerate(dataloader)`` loop.

        Changes from the original: ``with self.amp()`` around the forwards, and
        ``output.float()`` so that ``BCELoss`` (unsafe under autocast) runs in fp32;
        both are no-ops in fp32. The per-iteration ``print`` is left out, its ``.item()``
        calls kept (our ``train_step`` returns the same numbers).
        """
        device, real_label, fake_label = self.device, 1.0, 0.0
        netD, netG, criterion = self.netD, self.netG, self.criterion
        # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
        # train with real
        netD.zero_grad()
        real_cpu = real_cpu.to(device, memory_format=self.memory_format)
        batch_size = real_cpu.size(0)
        label = torch.full((batch_size,), real_label, dtype=real_cpu.dtype, device=device)
        with self.amp():
            output = netD(real_cpu).view(-1)
        errD_real = criterion(output.float(), label)
        errD_real.backward()
        D_x = output.mean().item()
        # train with fake
        noise = torch.randn(batch_size, self.nz, 1, 1, device=device)
        with self.amp():
            fake = netG(noise)
            output = netD(fake.detach()).view(-1)
        label.fill_(fake_label)
        errD_fake = criterion(output.float(), label)
        errD_fake.backward()
        D_G_z1 = output.mean().item()
        errD = errD_real + errD_fake
        self.optimizerD.step()
        # (2) Update G network: maximize log(D(G(z))), on the same fakes
        netG.zero_grad()
        label.fill_(real_label)  # fake labels are real for generator cost
        with self.amp():
            output = netD(fake).view(-1)
        errG = criterion(output.float(), label)
        errG.backward()
        D_G_z2 = output.mean().item()
        self.optimizerG.step()
        return errD.item(), errG.item(), D_x, D_G_z1, D_G_z2  # what the example prints


@contextmanager
def tf32(device: torch.device, enabled: bool) -> Iterator[None]:
    """On CUDA, allow TensorFloat-32 in fp32 convolutions and matmuls (``enabled``) or forbid
    it (true fp32) inside the block; elsewhere nothing changes."""
    if device.type != "cuda":
        yield
        return
    backends = torch.backends
    before = backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32
    backends.cudnn.allow_tf32 = backends.cuda.matmul.allow_tf32 = enabled
    try:
        yield
    finally:
        backends.cudnn.allow_tf32, backends.cuda.matmul.allow_tf32 = before


def matmul_gflops(n: int, dtype: torch.dtype, device: torch.device, repeat: int = 5) -> float:
    """Median GFLOP/s of an ``n x n`` by ``n x n`` matmul (``2 n^3`` FLOPs), after warmup.

    Each timing runs enough matmuls (one for n >= 128) to be long against timer noise. On
    CUDA an fp32 product runs as the global TF32 setting says (see :func:`tf32`).
    """
    a, b = (torch.randn(n, n, device=device).to(dtype) for _ in range(2))
    calls = max(1, 2**21 // n**3)
    times = []
    for run in range(2 + repeat):
        _sync(device)
        start = time.perf_counter()
        for _ in range(calls):
            a @ b
        _sync(device)
        if run >= 2:  # the first two are warmup
            times.append((time.perf_counter() - start) / calls)
    return 2 * n**3 / statistics.median(times) / 1e9


def time_training(
    args: argparse.Namespace, device: torch.device, precisions: dict[str, Any]
) -> dict[str, float]:
    """Median images/s of ours and the reference in each precision, over interleaved rounds."""
    b, config = args.batch_size, DCGANConfig(image_size=64, channels=1, width=args.width)
    real = torch.rand(b, 1, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    steps: dict[str, Callable[[], Any]] = {}  # "ours fp32" -> one training step, ...
    for label, dtype in precisions.items():
        precision = "bf16" if dtype else "fp32"
        train_config = TrainConfig(batch_size=b, precision=precision, device=str(device))
        trainer = GANTrainer(config, train_config)
        ref = ReferenceDCGAN(device, config.latent_dim, args.width, args.width, 1, dtype)
        n_ref = sum(p.numel() for net in (ref.netG, ref.netD) for p in net.parameters())
        assert n_ref == count_parameters(trainer.G) + count_parameters(trainer.D)

        def ours(trainer: GANTrainer = trainer) -> Any:  # noise drawn on the CPU, as fit() does
            return trainer.train_step(real, None, torch.randn(b, config.latent_dim))

        steps[f"ours {label}"] = ours
        steps[f"reference {label}"] = lambda ref=ref: ref.step(real)

    return _median_rates(steps, args, device)


def _median_rates(
    steps: dict[str, Callable[[], Any]], args: argparse.Namespace, device: torch.device
) -> dict[str, float]:
    """Median images/s of each step function over ``args.rounds`` interleaved rounds.

    ``--clock cpu`` divides by this process's CPU time instead of wall time: on a machine
    that other jobs share, it measures the work a step does rather than its share of the
    cores (use it with ``--threads 1``; CPU only, GPU work is not counted).
    """
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    for step in steps.values():
        for _ in range(args.warmup):
            step()
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for r in range(args.rounds):  # interleaved: ours, reference, ours, reference, ...
        print(f"round {r + 1}/{args.rounds}", file=sys.stderr, flush=True)
        for name, step in steps.items():
            _sync(device)
            start = clock()
            for _ in range(args.steps):
                step()
            _sync(device)
            rates[name].append(args.steps * args.batch_size / (clock() - start))
    return {name: statistics.median(v) for name, v in rates.items()}


def time_recipe(
    args: argparse.Namespace, device: torch.device, precisions: dict[str, Any]
) -> dict[str, float]:
    """Median images/s of ``train_step`` with each recipe piece, keyed "piece | precision"."""
    b = args.batch_size
    real = torch.rand(b, 1, 64, 64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    steps: dict[str, Callable[[], Any]] = {}
    for label, dtype in precisions.items():
        for piece, (model_kw, train_kw) in RECIPE_PIECES.items():
            config = DCGANConfig(image_size=64, channels=1, width=args.width, **model_kw)
            precision = "bf16" if dtype else "fp32"
            train_config = TrainConfig(
                batch_size=b, precision=precision, device=str(device), **train_kw
            )
            trainer = GANTrainer(config, train_config)
            rng = torch.Generator().manual_seed(0)

            def step(trainer: GANTrainer = trainer, rng: torch.Generator = rng) -> Any:
                z = torch.randn(b, trainer.model_config.latent_dim, generator=rng)
                return trainer.train_step(real, None, z, rng)

            steps[f"{piece} | {label}"] = step
    return _median_rates(steps, args, device)


def parse_variant(text: str) -> tuple[str, bool, bool]:
    """``"bf16+cl+compile"`` -> ``("bf16", True, True)``: precision, channels_last, compile.

    Raises:
        ValueError: an unknown precision or option, naming it.
    """
    precision, *options = text.split("+")
    if precision not in SIZE_PRECISIONS:
        raise ValueError(f"setting {text!r}: the precision must be one of {SIZE_PRECISIONS}")
    unknown = set(options) - set(SIZE_OPTIONS)
    if unknown:
        raise ValueError(f"setting {text!r}: unknown {sorted(unknown)}; options: {SIZE_OPTIONS}")
    return precision, "cl" in options, "compile" in options


def describe_variant(text: str) -> str:
    """``"bf16+cl+compile"`` -> ``"bf16 autocast, channels_last, compiled"``."""
    precision, channels_last, compiled = parse_variant(text)
    words = [{"fp32": "fp32", "tf32": "TF32", "bf16": "bf16 autocast"}[precision]]
    words.append("channels_last" if channels_last else "contiguous")
    return ", ".join(words + (["compiled"] if compiled else ["eager"]))


def sized_step(
    size: int, variant: str, args: argparse.Namespace, device: torch.device
) -> Callable[[], Any]:
    """One ``GANTrainer.train_step`` of the plain ``size`` x ``size`` DCGAN in ``variant``
    (see :func:`parse_variant`), on a batch already on ``device``."""
    precision, channels_last, compiled = parse_variant(variant)
    b, config = args.batch_size, DCGANConfig(image_size=size, channels=1, width=args.width)
    train_config = TrainConfig(
        batch_size=b, precision="bf16" if precision == "bf16" else "fp32", device=str(device)
    )
    trainer = GANTrainer(config, train_config)
    # The trainer picks channels_last exactly when it autocasts; here the setting decides.
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    trainer.memory_format = fmt
    trainer.G.to(memory_format=fmt)
    trainer.D.to(memory_format=fmt)
    if compiled:  # train_step calls them; their parameters stay the optimisers'
        trainer.G = torch.compile(trainer.G)
        trainer.D = torch.compile(trainer.D)
    real = torch.rand(b, 1, size, size, generator=torch.Generator().manual_seed(0)) * 2 - 1
    real = real.to(device, memory_format=fmt)

    def step() -> Any:  # noise drawn on the CPU, as fit() does
        with tf32(device, precision == "tf32"):
            return trainer.train_step(real, None, torch.randn(b, config.latent_dim))

    return step


def time_sizes(args: argparse.Namespace, device: torch.device) -> dict[str, float]:
    """Median images/s of the plain DCGAN's step per image size and setting, keyed
    ``"size | setting"``, over interleaved rounds."""
    steps = {
        f"{size} | {variant}": sized_step(size, variant, args, device)
        for size in args.image_sizes
        for variant in args.variants
    }
    return _median_rates(steps, args, device)


def generation_latency(
    device: torch.device, sizes: list[int], repeat: int
) -> tuple[str, list[tuple[int, float]]]:
    """What was timed, and the median seconds of ``generate(G, n, seed=0)`` for each ``n``."""
    if DEFAULT_MODEL in list_models():
        G, _ = load_generator(DEFAULT_MODEL, device)
        title = f"shipped model {DEFAULT_MODEL}"
    else:
        G = Generator(DCGANConfig()).to(device).eval()
        title = (
            f"a FRESHLY INITIALISED default 64x64 Generator ({DEFAULT_MODEL}'s weights are "
            "not on disk yet; latency does not depend on the weights)"
        )
    latency = []
    for n in sizes:
        generate(G, n, seed=0)  # warmup
        times = []
        for _ in range(repeat):
            start = time.perf_counter()
            generate(G, n, seed=0)  # returns a CPU tensor: the GPU work is done
            times.append(time.perf_counter() - start)
        latency.append((n, statistics.median(times)))
    return title, latency


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--width", type=int, default=64, help="ngf = ndf (64 in the example)")
    parser.add_argument("--steps", type=int, default=10, help="timed steps per round")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps per variant")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; median")
    parser.add_argument("--matmul-size", type=int, default=2048)
    parser.add_argument("--latency-sizes", type=int, nargs="+", default=[1, 16, 64])
    parser.add_argument("--latency-repeat", type=int, default=5, help="calls per size; median")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's own)")
    parser.add_argument(
        "--tables",
        nargs="+",
        choices=("reference", "recipe", "latency", "sizes"),
        default=["reference", "recipe", "latency"],
        help="which tables to measure and print (default: all but sizes)",
    )
    sizes = parser.add_argument_group("the sizes table (--tables sizes)")
    sizes.add_argument("--image-sizes", type=int, nargs="+", default=[64], choices=(32, 64, 128))
    sizes.add_argument(
        "--precisions",
        nargs="+",
        choices=SIZE_PRECISIONS,
        help="fp32, tf32 (CUDA only), bf16 (default: fp32, and bf16 where the trainer picks it "
        "or with --bf16)",
    )
    sizes.add_argument("--channels-last", action="store_true", help="every setting channels_last")
    sizes.add_argument("--compile", action="store_true", help="every setting torch.compile'd")
    sizes.add_argument(
        "--variants",
        nargs="+",
        metavar="SETTING",
        help="the settings to time, instead of --precisions x --channels-last x --compile: "
        "a precision and options joined by +, e.g. fp32 tf32+cl bf16+cl+compile",
    )
    parser.add_argument(
        "--clock",
        choices=("wall", "cpu"),
        default="wall",
        help="time steps by wall clock (default) or by CPU time (a shared machine)",
    )
    parser.add_argument(
        "--bf16", action="store_true", help="time bf16 too where the device lacks native bf16"
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)

    try:
        device = pick_device(args.device)
    except ValueError as err:
        parser.error(str(err))
    precisions = {"fp32": None}
    if args.bf16 or pick_precision(device, "auto") == torch.bfloat16:  # what our trainer picks
        precisions[BF16] = torch.bfloat16
    if args.variants is None:
        chosen = args.precisions or ["bf16" if dtype else "fp32" for dtype in precisions.values()]
        options = ["cl"] * args.channels_last + ["compile"] * args.compile
        args.variants = ["+".join([p, *options]) for p in chosen]
    try:
        used = {parse_variant(v)[0] for v in args.variants}
    except ValueError as err:
        parser.error(str(err))
    if "tf32" in used and device.type != "cuda":
        parser.error(f"tf32 is a setting of CUDA GPUs; this run is on {device.type}")
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else device.type
    setting = (
        f"device {name}, torch {torch.__version__}, torch threads {torch.get_num_threads()}; "
        f"batch {args.batch_size} of 64x64x1, ngf = ndf = {args.width}; median of "
        f"{args.rounds} interleaved rounds of {args.steps} steps after {args.warmup} warmup"
        + ("; images per CPU-second" if args.clock == "cpu" else "")
    )
    if "reference" in args.tables:
        print_reference_table(args, device, precisions, setting)
    if "recipe" in args.tables:
        print_recipe_table(args, device, precisions, setting)
    if "latency" in args.tables:
        print_latency_table(args, device)
    if "sizes" in args.tables:
        print_sizes_table(args, device, name)


def print_reference_table(
    args: argparse.Namespace, device: torch.device, precisions: dict[str, Any], setting: str
) -> None:
    """Ours against pytorch/examples, in GFLOP/s and as a share of matmul's."""
    median = time_training(args, device, precisions)
    flops = training_flops_per_image(DCGANConfig(image_size=64, channels=1, width=args.width))
    matmul = {
        label: matmul_gflops(args.matmul_size, dtype or torch.float32, device)
        for label, dtype in precisions.items()
    }
    print(setting)
    print(
        f"one training image = {flops / 1e9:.3f} GFLOP (3 G_fwd + 9 D_fwd); "
        f"matmul {args.matmul_size}x{args.matmul_size}, median of 5"
    )
    if BF16 in precisions:
        speedup = median[f"ours {BF16}"] / median["reference fp32"]
        print(f"ours with its automatic bf16 vs the example as written (fp32): {speedup:.2f}x")
    rows = []
    for label in precisions:
        for who in ("ours", "reference"):
            rate = median[f"{who} {label}"]
            ratio = f"{rate / median[f'reference {label}']:.2f}x" if who == "ours" else ""
            gflops = rate * flops / 1e9
            pct = f"{100 * gflops / matmul[label]:.1f}%"
            rows.append([STEP_NAMES[who], label, f"{rate:,.1f}", ratio, f"{gflops:,.1f}", pct])
    for label, rate in matmul.items():
        dtype_name = "bf16" if precisions[label] else "fp32"
        n = args.matmul_size
        rows.append([f"matmul {n}x{n}", dtype_name, "", "", f"{rate:,.1f}", ""])
    print()
    print_table(["step", "precision", "images/s", "ours/ref", "GFLOP/s", "% of matmul"], rows, 2)
    print()


def print_recipe_table(
    args: argparse.Namespace, device: torch.device, precisions: dict[str, Any], setting: str
) -> None:
    """Images/s of our training step with each recipe piece, and its cost against plain."""
    median = time_recipe(args, device, precisions)
    print("what each piece of the modern recipe costs: GANTrainer.train_step, " + setting)
    print()
    rows = []
    for label in precisions:
        plain = median[f"{next(iter(RECIPE_PIECES))} | {label}"]
        for piece in RECIPE_PIECES:
            rate = median[f"{piece} | {label}"]
            rows.append([piece, label, f"{rate:,.1f}", f"{rate / plain:.2f}x"])
    print_table(["training step", "precision", "images/s", "vs plain"], rows, 2)
    print()


def print_sizes_table(args: argparse.Namespace, device: torch.device, name: str) -> None:
    """Images/s of the plain DCGAN's step per image size and setting, in GFLOP/s and as a
    share of the matmul rate in the setting's precision and in bf16."""
    median = time_sizes(args, device)
    n = args.matmul_size
    dtypes = {"fp32": torch.float32, "tf32": torch.float32, "bf16": torch.bfloat16}
    matmul = {}
    for precision in dict.fromkeys(["bf16", *(parse_variant(v)[0] for v in args.variants)]):
        with tf32(device, precision == "tf32"):
            matmul[precision] = matmul_gflops(n, dtypes[precision], device)
    print(
        f"GANTrainer.train_step of the plain DCGAN by image size and setting: device {name}, "
        f"torch {torch.__version__}, torch threads {torch.get_num_threads()}; batch "
        f"{args.batch_size} of SxSx1 on the device, ngf = ndf = {args.width}; median of "
        f"{args.rounds} interleaved rounds of {args.steps} steps after {args.warmup} warmup "
        f"steps (which hold any compilation); matmul {n}x{n}, median of 5"
        + ("; images per CPU-second" if args.clock == "cpu" else "")
    )
    print()
    rows = []
    for size in args.image_sizes:
        flops = training_flops_per_image(DCGANConfig(image_size=size, channels=1, width=args.width))
        for variant in args.variants:
            rate = median[f"{size} | {variant}"]
            gflops = rate * flops / 1e9
            own = matmul[parse_variant(variant)[0]]
            rows.append(
                [
                    f"{size}x{size}",
                    describe_variant(variant),
                    f"{rate:,.1f}",
                    f"{gflops:,.1f}",
                    f"{100 * gflops / own:.1f}%",
                    f"{100 * gflops / matmul['bf16']:.1f}%",
                ]
            )
    for precision, rate in matmul.items():
        rows.append([f"matmul {n}x{n}", precision, "", f"{rate:,.1f}", "", ""])
    header = ["image size", "setting", "images/s", "GFLOP/s", "% of its matmul", "% of bf16"]
    print_table(header, rows, 2)
    print()


def print_latency_table(args: argparse.Namespace, device: torch.device) -> None:
    """Seconds per ``generate`` call of the shipped (or a fresh) generator."""
    gen_title, latency = generation_latency(device, args.latency_sizes, args.latency_repeat)
    print(
        f"generation latency of {gen_title}; generate(G, n, seed=0), "
        f"median of {args.latency_repeat} calls"
    )
    print()
    rows = [[str(n), f"{1e3 * t:.1f}", f"{n / t:,.0f}"] for n, t in latency]
    print_table(["images per call", "ms per call", "images/s"], rows, left=0)


if __name__ == "__main__":
    main()
