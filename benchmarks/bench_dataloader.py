"""DataLoader throughput (samples/s) over MNIST-shaped data with ToTensor + Normalize: nnbox vs torch.

    python benchmarks/bench_dataloader.py [--samples 6000] [--batch-size 64] [--repeats 3]

Each library reads the same 28 x 28 uint8 images through a map-style Dataset whose items are
``(normalized 1 x 28 x 28 float tensor, int label)``: nnbox with ``nnbox.vision.transforms``
(ToTensor, Normalize), torch with the torch ops torchvision's ToTensor/Normalize run
(``from_numpy(...).to(float).div(255)``, ``sub_(mean).div_(std)``), since torchvision is not
installed.  A second table does the same for ImageNet-shaped RGB images (224 x 224, batches of 19 MB,
which nnbox's workers hand over through shared memory).  One timing is a full shuffled epoch, batches collated by the default collate; with
workers, "fresh" includes starting the worker processes (a new iterator per epoch, the default)
and "persistent" is the steady state with ``persistent_workers=True``.  Medians of ``--repeats``
epochs, the two libraries alternating so both see the same machine load; the ratio is nnbox
samples/s over torch samples/s (above 1: nnbox is faster).
"""
from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import torch
import torch.utils.data as tdata

import nnbox.utils.data as ndata
from nnbox.vision import transforms as T

MEAN, STD = 0.1307, 0.3081


class NnboxDigits(ndata.Dataset):
    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images, self.labels = images, labels
        self.transform = T.Compose([T.ToTensor(), T.Normalize((MEAN,), (STD,))])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        return self.transform(self.images[i]), int(self.labels[i])


class TorchDigits(tdata.Dataset):
    def __init__(self, images: np.ndarray, labels: np.ndarray) -> None:
        self.images, self.labels = images, labels
        self.mean, self.std = torch.tensor([MEAN]).view(-1, 1, 1), torch.tensor([STD]).view(-1, 1, 1)

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i):
        # torchvision's ToTensor (HxW(xC) ndarray -> CxHxW, /255) then Normalize (not in place)
        img = self.images[i]
        img = img[None] if img.ndim == 2 else img.transpose(2, 0, 1)
        x = torch.from_numpy(img).contiguous().to(torch.get_default_dtype()).div(255)
        return x.sub(self.mean).div(self.std), int(self.labels[i])


def epoch_seconds(loader) -> float:
    t0 = time.perf_counter()
    n = 0
    for _x, y in loader:
        n += len(y)
    return time.perf_counter() - t0


def compare(make_n, make_t, repeats: int, persistent: bool) -> tuple[float, float, float]:
    """Median seconds per epoch for nnbox and torch, and the median per-round time ratio."""
    ln, lt = (make_n(), make_t()) if persistent else (None, None)
    if persistent:  # start the workers outside the timed epochs
        epoch_seconds(ln), epoch_seconds(lt)
    tn, tt = [], []
    for _ in range(repeats):
        tn.append(epoch_seconds(ln if persistent else make_n()))
        tt.append(epoch_seconds(lt if persistent else make_t()))
    return statistics.median(tn), statistics.median(tt), statistics.median(b / a for a, b in zip(tn, tt))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--samples", type=int, default=6000)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    torch.set_num_threads(1)  # the per-sample work is tiny; BLAS threads only add contention

    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(args.samples, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=args.samples)
    nds, tds = NnboxDigits(images, labels), TorchDigits(images, labels)
    # the same values come out of both pipelines
    np.testing.assert_allclose(nds[5][0].numpy(), tds[5][0].numpy(), rtol=1e-6, atol=1e-6)

    print(f"DataLoader epoch over {args.samples} MNIST-shaped samples, batch {args.batch_size}, "
          f"ToTensor+Normalize; median of {args.repeats}")
    table(nds, tds, args.samples, args.batch_size, args.repeats)

    # ImageNet-shaped batches (32 x 3 x 224 x 224 float32, 19 MB): what moving big batches costs
    n_big = 256
    big = rng.integers(0, 256, size=(n_big, 224, 224, 3), dtype=np.uint8)
    nbig, tbig = NnboxDigits(big, labels[:n_big]), TorchDigits(big, labels[:n_big])
    nbig.transform = T.Compose([T.ToTensor(), T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))])
    tbig.mean = torch.tensor([0.485, 0.456, 0.406]).view(-1, 1, 1)
    tbig.std = torch.tensor([0.229, 0.224, 0.225]).view(-1, 1, 1)
    print(f"\nDataLoader epoch over {n_big} 224 x 224 RGB samples, batch 32, ToTensor+Normalize")
    table(nbig, tbig, n_big, 32, args.repeats)


def table(nds, tds, samples: int, batch_size: int, repeats: int) -> None:
    print(f"{'workers':>20} {'nnbox samples/s':>16} {'torch samples/s':>16} {'ratio':>7}")
    for workers, persistent in [(0, False), (2, False), (2, True)]:
        kw = dict(batch_size=batch_size, shuffle=True, num_workers=workers, persistent_workers=persistent)
        tn, tt, ratio = compare(lambda: ndata.DataLoader(nds, **kw), lambda: tdata.DataLoader(tds, **kw),
                                repeats, persistent)
        label = f"{workers}" + (" (persistent)" if persistent else " (fresh)" if workers else "")
        print(f"{label:>20} {samples / tn:16,.0f} {samples / tt:16,.0f} {ratio:7.2f}")



if __name__ == "__main__":
    main()
