"""Seed 003's ``Net`` with named layers from ``OrderedDict`` (conv block + dense block).

The seed writes ``super(Net4, self)`` in a class named ``Net`` (fixed) and defines no forward; the
lines after the class run the two blocks on a batch to show the shapes fit.
"""
from collections import OrderedDict

import nnbox as torch


class Net(torch.nn.Module):
    def __init__(self):
        super(Net, self).__init__()

        self.conv = torch.nn.Sequential(
            OrderedDict(
                [
                    ("conv1", torch.nn.Conv2d(3, 32, 3, 1, 1)),
                    ("relu1", torch.nn.ReLU()),
                    ("pool", torch.nn.MaxPool2d(2))
                ]
            ))

        self.dense = torch.nn.Sequential(
            OrderedDict([
                ("dense1", torch.nn.Linear(32 * 3 * 3, 128)),
                ("relu2", torch.nn.ReLU()),
                ("dense2", torch.nn.Linear(128, 10))
            ])
        )


model = Net()
print(model)
x = torch.randn(4, 3, 6, 6)
features = model.conv(x)
print(features.shape)
print(model.dense(features.view(features.size(0), -1)).shape)
print([name for name, _ in model.named_parameters()])
