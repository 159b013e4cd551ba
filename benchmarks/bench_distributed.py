"""CPU scaling of data-parallel training: samples/s on 1 and 2 processes, nnbox DDP vs torch DDP.

    python benchmarks/bench_distributed.py [--batch 8] [--steps 5] [--procs 1 2]

One training step of ResNet18 (torchvision's architecture, 10 classes, 3x32x32 inputs; the
model comes from ``nnbox.vision.models.resnet18`` when that exists, else the definition below,
which is written once against the shared ``nn`` API and built for both libraries): forward,
cross-entropy, backward (with DDP's gradient all-reduce), SGD step.  Each process works on
``--batch`` samples per step (weak scaling: the global batch grows with the process count).
Every process uses ``--threads`` BLAS/OpenMP threads (default 1, for both libraries): on these
shared 2-core machines OpenBLAS with 2 threads in one process was 5x slower than with 1 (its
threads spin against the other tenants), which would flatter the multi-process figures.

Each configuration runs as its own job under ``nnbox run -n N`` (MPI); torch uses its gloo
backend in the same kind of job.  Figures are medians of ``--steps`` timed
steps after 2 warm-up steps; samples/s = N * batch / median step time; each figure is the median
over ``--rounds`` interleaved rounds of all jobs.  ratio = nnbox / torch
throughput (above 1: nnbox is faster); efficiency = samples/s(N) / (N * samples/s(1)).
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path


def build_resnet18(nn, num_classes: int = 10):
    """torchvision's resnet18 layout written against the ``nn`` namespace given (torch's or nnbox's)."""

    class BasicBlock(nn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = nn.BatchNorm2d(cout)
            self.relu = nn.ReLU(inplace=True)
            self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = nn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.bn2(self.conv2(out))
            return self.relu(out + idt)

    class ResNet18(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = nn.BatchNorm2d(64)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, 2, 1)
            layers, cin = [], 64
            for cout, stride in [(64, 1), (128, 2), (256, 2), (512, 2)]:
                layers.append(nn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)))
                cin = cout
            self.layer1, self.layer2, self.layer3, self.layer4 = layers
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(512, num_classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(self.avgpool(x).flatten(1))

    return ResNet18()


def _worker(framework: str, batch: int, steps: int) -> None:
    """One rank of a job: time DDP training steps, rank 0 prints the result as JSON."""
    import numpy as np

    if framework == "nnbox":
        import nnbox as lib
        import nnbox.distributed as dist

        dist.init_process_group("mpi")
        try:
            from nnbox.vision.models import resnet18

            model = resnet18(num_classes=10)
        except ImportError:
            model = build_resnet18(lib.nn)
    else:
        import torch as lib
        import torch.distributed as dist

        lib.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
        dist.init_process_group("gloo", rank=int(os.environ["RANK"]), world_size=int(os.environ["WORLD_SIZE"]))
        model = build_resnet18(lib.nn)
    rank, world = dist.get_rank(), dist.get_world_size()
    ddp = lib.nn.parallel.DistributedDataParallel(model)
    opt = lib.optim.SGD(ddp.parameters(), lr=0.01, momentum=0.9)
    rng = np.random.default_rng(rank)
    x = lib.from_numpy(rng.normal(size=(batch, 3, 32, 32)).astype(np.float32))
    y = lib.from_numpy(rng.integers(0, 10, size=batch))
    loss_fn = lib.nn.CrossEntropyLoss()
    times = []
    for i in range(steps + 2):
        dist.barrier()
        t0 = time.perf_counter()
        opt.zero_grad()
        loss_fn(ddp(x), y).backward()
        opt.step()
        dist.barrier()
        if i >= 2:
            times.append(time.perf_counter() - t0)
    if rank == 0:
        med = statistics.median(times)
        print("RESULT " + json.dumps({"framework": framework, "world": world, "step_s": med,
                                       "samples_per_s": world * batch / med}), flush=True)
    dist.destroy_process_group()


def _run(framework: str, n: int, batch: int, steps: int, port: int, threads: int) -> dict:
    threads = str(threads)
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads, MKL_NUM_THREADS=threads,
               MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    root = str(Path(__file__).resolve().parents[1])
    env["PYTHONPATH"] = root + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, "-m", "nnbox.distributed.run", "-n", str(n), __file__, "--worker", framework,
           "--batch", str(batch), "--steps", str(steps)]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=1800)
    for line in out.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[7:])
    raise RuntimeError(f"{framework} on {n} process(es) failed:\n{out.stdout[-2000:]}\n{out.stderr[-4000:]}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=8, help="samples per process per step")
    ap.add_argument("--steps", type=int, default=5, help="timed steps (after 2 warm-up steps)")
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--threads", type=int, default=1, help="BLAS/OpenMP threads per process")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of all jobs, interleaved; medians reported")
    ap.add_argument("--worker", choices=["nnbox", "torch"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        _worker(args.worker, args.batch, args.steps)
        return
    print(f"ResNet18 training step, 3x32x32, batch {args.batch} per process, {os.cpu_count()} cores, "
          f"{args.threads} thread(s) per process, median of {args.steps} steps, median of {args.rounds} rounds")
    print(f"{'procs':>5} {'nnbox samples/s':>16} {'torch samples/s':>16} {'ratio':>7} {'nnbox eff':>10} {'torch eff':>10}")
    runs: dict = {}
    for r in range(args.rounds):  # interleaved rounds: drift in the machine's load hits every job alike
        for i, n in enumerate(args.procs):
            for fw in ("nnbox", "torch"):
                res = _run(fw, n, args.batch, args.steps, 29500 + 10 * i + r, args.threads)
                runs.setdefault((fw, n), []).append(res["samples_per_s"])
    med = {k: statistics.median(v) for k, v in runs.items()}
    one = {fw: med[(fw, args.procs[0])] / args.procs[0] for fw in ("nnbox", "torch")}
    for n in args.procs:
        nb, tc = med[("nnbox", n)], med[("torch", n)]
        print(f"{n:>5} {nb:>16.2f} {tc:>16.2f} {nb / tc:>7.2f} {nb / (n * one['nnbox']):>10.2f} "
              f"{tc / (n * one['torch']):>10.2f}", flush=True)

if __name__ == "__main__":
    main()
