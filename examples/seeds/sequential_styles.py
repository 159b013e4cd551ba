"""The three ways to build an ``nn.Sequential`` (seeds 001, 002, 003), printing each model's repr.

Seed code unchanged except the imports (``import nnbox as torch``) and two typos in seed 003's
``Net``: full-width commas and ``super(Net4, self)`` in a class named ``Net``.
"""
from collections import OrderedDict

import nnbox as torch
import nnbox.nn as nn

# --- seed 001, style 1: varargs (layers are named 0, 1, 2, ...) ---
model = nn.Sequential(nn.Flatten(), nn.Linear(784, 300), nn.ReLU())
print(model)

# --- seed 001, style 2: add_module ---
seq_model = nn.Sequential()
seq_model.add_module("flatten", nn.Flatten())
seq_model.add_module("linear1", nn.Linear(784, 300))
seq_model.add_module("bn1", nn.BatchNorm1d(300))
seq_model.add_module("relu1", nn.ReLU())
seq_model.add_module("out", nn.Linear(300, 10))
print(seq_model)

# --- seed 001, style 3: OrderedDict ---
model = nn.Sequential(OrderedDict([("flatten", nn.Flatten())]))
print(model)

# --- seed 002, method 1: add_module() ---
model = nn.Sequential()
model.add_module("layer1", nn.Linear(784, 256))
model.add_module("relu1", nn.ReLU())
model.add_module("layer2", nn.Linear(256, 10))
print(model)

# --- seed 002, method 2: OrderedDict (the seed prints this repr) ---
model = nn.Sequential(OrderedDict([
    ("linear1", nn.Linear(784, 256)),
    ("relu1", nn.ReLU()),
    ("linear2", nn.Linear(256, 10)),
]))
print(model)


# --- seed 003: a three-layer network in a Sequential ---
class Net(nn.Module):
    def __init__(self, in_dim, n_hidden_1, n_hidden_2, out_dim):
        super().__init__()

        self.layer = nn.Sequential(
            nn.Linear(in_dim, n_hidden_1),
            nn.ReLU(True),
            nn.Linear(n_hidden_1, n_hidden_2),
            nn.ReLU(True),
            # 最后一层不需要添加激活函数
            nn.Linear(n_hidden_2, out_dim)
        )

    def forward(self, x):
        x = self.layer(x)
        return x


net = Net(28 * 28, 300, 100, 10)
print(net)
print(net(torch.randn(5, 28 * 28)).shape)
