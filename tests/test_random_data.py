"""Samplers, random_split and DataLoader shuffling/worker seeds draw exactly as torch's, so a
seeded epoch visits the same batches in the same order."""
import random

import numpy as np
import pytest
import torch

import nnbox

pytestmark = pytest.mark.cpu_only(reason="compares torch's CPU random stream draw for draw; on cuda nnbox draws from CuPy's generator")


def both(fn, seed=0):
    torch.manual_seed(seed)
    nnbox.manual_seed(seed)
    a, b = fn(torch), fn(nnbox)
    assert a == b
    assert torch.rand(1).item() == nnbox.rand(1).item()


@pytest.mark.parametrize("n", [1, 5, 16, 100, 1000])
def test_random_sampler(n):
    for seed in range(20):
        both(lambda L: list(L.utils.data.RandomSampler(range(n))), seed)
        both(lambda L: list(L.utils.data.RandomSampler(range(n), num_samples=2 * n + 3)), seed)
        both(lambda L: list(L.utils.data.RandomSampler(range(n), replacement=True, num_samples=70)), seed)
        both(lambda L: list(L.utils.data.RandomSampler(range(n), generator=L.Generator().manual_seed(seed))), seed)


def test_subset_random_sampler_and_random_split():
    for seed in range(20):
        both(lambda L: list(L.utils.data.SubsetRandomSampler(list(range(3, 40, 2)))), seed)
        both(lambda L: [list(s) for s in L.utils.data.random_split(range(50), [0.6, 0.3, 0.1])], seed)
        both(lambda L: [list(s) for s in L.utils.data.random_split(
            range(10), [7, 3], generator=L.Generator().manual_seed(seed))], seed)


class _Items:
    """Each item reports the worker's seeds and one draw from every generator a worker seeds."""

    def __init__(self, lib):
        self.lib = lib

    def __len__(self):
        return 12

    def __getitem__(self, i):
        return [i, self.lib.initial_seed(), random.random(), float(np.random.random()), self.lib.rand(1).item()]


@pytest.mark.parametrize("num_workers", [0, 2])
def test_dataloader_epochs_and_worker_seeds(num_workers):
    def run(L):
        loader = L.utils.data.DataLoader(_Items(L), batch_size=5, shuffle=True, num_workers=num_workers)
        epochs = [[[[float(v) for v in col] for col in batch] for batch in loader] for _ in range(2)]
        if num_workers == 0:  # the main process's random/np.random are not the loader's: drop them
            epochs = [[[b[0], b[1], b[4]] for b in ep] for ep in epochs]
        return epochs

    both(run, 3)


def test_distributed_sampler_shuffle():
    for rank in (0, 1, 2):
        for epoch in (0, 3):
            def indices(L):
                s = L.utils.data.DistributedSampler(range(23), num_replicas=3, rank=rank, shuffle=True, seed=5)
                s.set_epoch(epoch)
                return list(s)

            both(indices)


def _torchvision_fakedata_item(index, offset, shape, num_classes):
    """torchvision's FakeData item as its behaviour was observed (torchvision 0.28 against torch
    2.13): seed the global generator with index + offset, randn(shape), a randint label, restore
    the state, and ToPILImage's ``mul(255).byte()`` (HWC; one channel drops its axis)."""
    state = torch.get_rng_state()
    torch.manual_seed(index + offset)
    img = torch.randn(*shape)
    target = int(torch.randint(0, num_classes, (1,))[0])
    torch.set_rng_state(state)
    arr = img.mul(255).byte().permute(1, 2, 0).numpy()
    return (arr[:, :, 0] if shape[0] == 1 else arr), target


@pytest.mark.parametrize("shape", [(3, 4, 4), (1, 5, 3), (3, 17, 9), (4, 3, 3)], ids=str)
@pytest.mark.parametrize("offset", [0, 7])
def test_fakedata_draws_as_torchvision(shape, offset):
    ds = nnbox.vision.datasets.FakeData(size=40, image_size=shape, num_classes=9, random_offset=offset)
    for seed in range(3):
        torch.manual_seed(seed)
        nnbox.manual_seed(seed)
        for i in range(len(ds)):
            img, target = ds[i]
            want, want_target = _torchvision_fakedata_item(i, offset, shape, 9)
            assert np.array_equal(np.asarray(img), want) and target == want_target and type(target) is int
        assert torch.rand(1).item() == nnbox.rand(1).item()  # the caller's stream did not move


def test_fakedata_matches_torchvision_when_installed():
    tv = pytest.importorskip("torchvision.datasets")
    a, b = tv.FakeData(size=5, image_size=(3, 6, 5), random_offset=2), nnbox.vision.datasets.FakeData(
        size=5, image_size=(3, 6, 5), random_offset=2)
    for i in range(5):
        assert np.array_equal(np.asarray(a[i][0]), np.asarray(b[i][0])) and a[i][1] == b[i][1]
