"""Whole models across libraries: torch ResNet18 / LSTM checkpoints load into nnbox and back."""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as tnn

import nnbox


def _torch_resnet18(num_classes=10):
    """torchvision's resnet18, built from torch.nn (torchvision isn't installed here): same
    modules, same state_dict keys (conv1, bn1, layerN.M.{conv1,bn1,conv2,bn2,downsample}, fc)."""
    try:
        from torchvision.models import resnet18

        return resnet18(num_classes=num_classes)
    except ImportError:
        pass

    class BasicBlock(tnn.Module):
        def __init__(self, cin, cout, stride):
            super().__init__()
            self.conv1 = tnn.Conv2d(cin, cout, 3, stride, 1, bias=False)
            self.bn1 = tnn.BatchNorm2d(cout)
            self.relu = tnn.ReLU(inplace=True)
            self.conv2 = tnn.Conv2d(cout, cout, 3, 1, 1, bias=False)
            self.bn2 = tnn.BatchNorm2d(cout)
            self.downsample = None
            if stride != 1 or cin != cout:
                self.downsample = tnn.Sequential(tnn.Conv2d(cin, cout, 1, stride, bias=False), tnn.BatchNorm2d(cout))

        def forward(self, x):
            idt = x if self.downsample is None else self.downsample(x)
            out = self.relu(self.bn1(self.conv1(x)))
            return self.relu(self.bn2(self.conv2(out)) + idt)

    class ResNet(tnn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
            self.bn1 = tnn.BatchNorm2d(64)
            self.relu = tnn.ReLU(inplace=True)
            self.maxpool = tnn.MaxPool2d(3, 2, 1)
            cin = 64
            for i, cout in enumerate((64, 128, 256, 512), 1):
                stride = 1 if i == 1 else 2
                setattr(self, f"layer{i}", tnn.Sequential(BasicBlock(cin, cout, stride), BasicBlock(cout, cout, 1)))
                cin = cout
            self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
            self.fc = tnn.Linear(512, num_classes)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
            return self.fc(torch.flatten(self.avgpool(x), 1))

    return ResNet()


def _randomize_bn_stats(model):
    # make running statistics non-trivial so eval() outputs depend on them
    g = torch.Generator().manual_seed(0)
    for m in model.modules():
        if isinstance(m, tnn.BatchNorm2d):
            m.running_mean.copy_(torch.randn(m.running_mean.shape, generator=g) * 0.1)
            m.running_var.copy_(torch.rand(m.running_var.shape, generator=g) + 0.5)
            m.num_batches_tracked.fill_(7)


def test_resnet18_torch_to_nnbox_to_torch(tmp_path):
    import nnbox.vision.models as models
    torch.manual_seed(0)
    t_model = _torch_resnet18()
    _randomize_bn_stats(t_model)
    t_model.eval()
    torch.save(t_model.state_dict(), tmp_path / "resnet18.pt")

    n_model = models.resnet18(num_classes=10)
    sd = nnbox.load(tmp_path / "resnet18.pt")  # no torch involved in reading
    assert list(sd) == list(n_model.state_dict())  # the same keys, in the same order
    n_model.load_state_dict(sd)  # strict
    n_model.eval()
    x = np.random.default_rng(0).normal(size=(2, 3, 64, 64)).astype(np.float32)
    with torch.no_grad(), nnbox.no_grad():
        expected = t_model(torch.from_numpy(x)).numpy()
        got = n_model(nnbox.tensor(x)).numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4)

    nnbox.save(n_model.state_dict(), tmp_path / "back.pt")
    t2 = _torch_resnet18()
    t2.load_state_dict(torch.load(tmp_path / "back.pt"))  # weights_only=True, strict
    for k, v in t_model.state_dict().items():
        assert torch.equal(t2.state_dict()[k], v), k


def test_lstm_nnbox_to_torch_to_nnbox(tmp_path):
    nnbox.manual_seed(0)
    n_lstm = nnbox.nn.LSTM(5, 7, num_layers=2, bidirectional=True, batch_first=True)
    nnbox.save(n_lstm.state_dict(), tmp_path / "lstm.pt")
    t_lstm = tnn.LSTM(5, 7, num_layers=2, bidirectional=True, batch_first=True)
    t_lstm.load_state_dict(torch.load(tmp_path / "lstm.pt"))
    x = np.random.default_rng(1).normal(size=(3, 4, 5)).astype(np.float32)
    with torch.no_grad(), nnbox.no_grad():
        t_out, (t_h, t_c) = t_lstm(torch.from_numpy(x))
        n_out, (n_h, n_c) = n_lstm(nnbox.tensor(x))
    np.testing.assert_allclose(n_out.numpy(), t_out.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(n_c.numpy(), t_c.numpy(), rtol=1e-5, atol=1e-6)
    # and back: torch's file into a fresh nnbox LSTM gives the same outputs
    torch.save(t_lstm.state_dict(), tmp_path / "t.pt")
    n2 = nnbox.nn.LSTM(5, 7, num_layers=2, bidirectional=True, batch_first=True)
    n2.load_state_dict(nnbox.load(tmp_path / "t.pt"))
    with nnbox.no_grad():
        np.testing.assert_array_equal(n2(nnbox.tensor(x))[0].numpy(), n_out.numpy())


def test_resnet18_nnbox_to_torch_to_nnbox(tmp_path):
    import nnbox.vision.models as models
    nnbox.manual_seed(1)
    n_model = models.resnet18(num_classes=10)
    with nnbox.no_grad():  # non-trivial running statistics
        for name, buf in n_model.named_buffers():
            if name.endswith("running_var"):
                buf.copy_(nnbox.rand(buf.shape) + 0.5)
            elif name.endswith("running_mean"):
                buf.copy_(nnbox.randn(buf.shape) * 0.1)
    n_model.eval()
    nnbox.save(n_model.state_dict(), tmp_path / "n.pt")

    t_model = _torch_resnet18()
    t_model.load_state_dict(torch.load(tmp_path / "n.pt"))  # strict, weights_only=True
    t_model.eval()
    x = np.random.default_rng(2).normal(size=(2, 3, 48, 48)).astype(np.float32)
    with torch.no_grad(), nnbox.no_grad():
        np.testing.assert_allclose(n_model(nnbox.tensor(x)).numpy(), t_model(torch.from_numpy(x)).numpy(), rtol=1e-4, atol=1e-4)
    torch.save(t_model.state_dict(), tmp_path / "t.pt")
    back = nnbox.load(tmp_path / "t.pt")
    for k, v in n_model.state_dict().items():
        assert back[k].dtype == v.dtype and np.array_equal(back[k].numpy(), v.numpy()), k
