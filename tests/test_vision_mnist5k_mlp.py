"""Must-show: the seeds' MLP (784-300-100-10 with BatchNorm1d, ``Model_Seq``) trains on the
real MNIST5k digits through a DataLoader with Normalize to >= 90% test accuracy, and loading
with two worker processes gives exactly the same run."""
from __future__ import annotations

import nnbox as torch
from nnbox import nn, optim
from nnbox.nn import functional as F
from nnbox.utils.data import DataLoader
from nnbox.vision import datasets, transforms


class Model_Seq(nn.Module):  # the seed's code, unchanged
    def __init__(self, in_dim, n_hidden_1, n_hidden_2, out_dim):
        super().__init__()
        self.flatten = nn.Flatten()
        self.linear1 = nn.Linear(in_dim, n_hidden_1)
        self.bn1 = nn.BatchNorm1d(n_hidden_1)
        self.linear2 = nn.Linear(n_hidden_1, n_hidden_2)
        self.bn2 = nn.BatchNorm1d(n_hidden_2)
        self.out = nn.Linear(n_hidden_2, out_dim)

    def forward(self, x):
        x = self.flatten(x)
        x = F.relu(self.bn1(self.linear1(x)))
        x = F.relu(self.bn2(self.linear2(x)))
        x = F.softmax(self.out(x), dim=1)
        return x


def run(num_workers: int, epochs: int = 2, device: str = "cpu"):
    torch.manual_seed(0)
    tf = transforms.Compose([transforms.ToTensor(), transforms.Normalize([0.5], [0.5])])
    train = datasets.MNIST5k(train=True, transform=tf)
    test = datasets.MNIST5k(train=False, transform=tf)
    g = torch.Generator().manual_seed(0)
    train_loader = DataLoader(train, batch_size=64, shuffle=True, num_workers=num_workers, generator=g)
    test_loader = DataLoader(test, batch_size=256, num_workers=num_workers)
    model = Model_Seq(28 * 28, 300, 100, 10)
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(epochs):
        model.train()
        for img, label in train_loader:
            img, label = img.to(device), label.to(device)
            out = model(img)
            loss = criterion(out, label)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            losses.append(loss.item())
    model.eval()
    correct = 0
    with torch.no_grad():
        for img, label in test_loader:
            img, label = img.to(device), label.to(device)
            _, pred = torch.max(model(img).data, 1)
            correct += (pred == label).sum().item()
    return correct / len(test), losses


def test_seed_mlp_trains_on_mnist5k_and_workers_change_nothing(device):
    acc, losses = run(num_workers=0, device=device)
    assert acc >= 0.90, f"test accuracy {acc:.3f}"
    acc2, losses2 = run(num_workers=2, device=device)
    assert acc2 == acc and losses2 == losses
