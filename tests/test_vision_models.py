"""nnbox.vision.models: torchvision's documented parameter counts and output shapes, and a
key-by-key weight transfer into an independent torch reference of the ResNet architecture
(torchvision's module names) with equal outputs."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn as tnn

import nnbox
from nnbox.vision import models

# torchvision's documented parameter counts (1000 classes unless noted)
COUNTS = {
    "resnet18": 11_689_512, "resnet34": 21_797_672, "resnet50": 25_557_032, "mobilenet_v2": 3_504_872,
    "resnext50_32x4d": 25_028_904,
}
SLOW_COUNTS = {
    "resnet101": 44_549_160, "resnet152": 60_192_808, "alexnet": 61_100_840, "vgg11": 132_863_336,
    "vgg11_bn": 132_868_840, "vgg16": 138_357_544, "vgg16_bn": 138_365_992, "wide_resnet50_2": 68_883_240,
}


def n_params(m) -> int:
    return sum(p.numel() for p in m.parameters())


@pytest.mark.parametrize("name", list(COUNTS))
def test_parameter_counts(name):
    assert n_params(getattr(models, name)()) == COUNTS[name]


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SLOW_COUNTS))
def test_parameter_counts_big_models(name):
    assert n_params(getattr(models, name)()) == SLOW_COUNTS[name]


def test_small_models_counts_and_shapes():
    assert n_params(models.lenet5()) == 61_706
    assert models.lenet5()(nnbox.randn(2, 1, 28, 28)).shape == (2, 10)
    cifar = models.resnet18_cifar()
    assert n_params(cifar) == 11_173_962 and cifar.conv1.kernel_size == (3, 3)
    assert isinstance(cifar.maxpool, nnbox.nn.Identity)
    assert cifar(nnbox.randn(2, 3, 32, 32)).shape == (2, 10)
    assert models.mobilenet_v2(num_classes=4)(nnbox.randn(2, 3, 32, 32)).shape == (2, 4)
    assert models.resnet18(num_classes=3)(nnbox.randn(1, 3, 40, 40)).shape == (1, 3)


def test_pretrained_weights_are_a_clear_error():
    for builder in (models.resnet18, models.vgg16, models.alexnet, models.mobilenet_v2):
        with pytest.raises(RuntimeError, match="pretrained weights are not available in nnbox"):
            builder(weights="IMAGENET1K_V1")
    with pytest.raises(RuntimeError, match="weights=None"):
        models.resnet50(pretrained=True)
    models.resnet18(pretrained=False, progress=False)


def test_initialisation_follows_torchvision():
    m = models.resnet18()
    w = m.layer3[0].conv1.weight.detach().numpy()
    fan_out = w.shape[0] * w.shape[2] * w.shape[3]
    assert abs(w.std() - math.sqrt(2.0 / fan_out)) / math.sqrt(2.0 / fan_out) < 0.05  # kaiming normal, fan_out
    assert (m.bn1.weight.detach().numpy() == 1).all() and (m.bn1.bias.detach().numpy() == 0).all()
    assert m.conv1.bias is None
    z = models.resnet18(zero_init_residual=True)
    assert (z.layer1[0].bn2.weight.detach().numpy() == 0).all() and (z.layer1[0].bn1.weight.detach().numpy() == 1).all()
    zb = models.ResNet(models.Bottleneck, [1, 1, 1, 1], zero_init_residual=True)
    assert (zb.layer2[0].bn3.weight.detach().numpy() == 0).all()
    v = models.mobilenet_v2()
    lin = v.classifier[1].weight.detach().numpy()
    assert abs(lin.std() - 0.01) < 0.001 and (v.classifier[1].bias.detach().numpy() == 0).all()


def test_module_names_match_torchvision():
    keys = list(models.resnet18().state_dict())
    assert keys[:6] == ["conv1.weight", "bn1.weight", "bn1.bias", "bn1.running_mean", "bn1.running_var",
                        "bn1.num_batches_tracked"]
    assert "layer2.0.downsample.0.weight" in keys and "layer2.0.downsample.1.running_var" in keys
    assert keys[-2:] == ["fc.weight", "fc.bias"] and len(keys) == 122
    mk = models.mobilenet_v2().state_dict()
    for k in ["features.0.0.weight", "features.0.1.running_mean", "features.1.conv.0.0.weight",
              "features.1.conv.1.weight", "features.2.conv.0.0.weight", "features.2.conv.1.0.weight",
              "features.2.conv.2.weight", "features.2.conv.3.running_var", "features.18.0.weight",
              "classifier.1.weight"]:
        assert k in mk, k


# --- an independent torch reference of torchvision's ResNet, for a key-by-key weight transfer --------

class TBasic(tnn.Module):
    expansion = 1

    def __init__(self, inp, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inp, planes, 3, stride, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.relu = tnn.ReLU(inplace=True)
        self.conv2 = tnn.Conv2d(planes, planes, 3, 1, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.downsample = downsample

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        return self.relu(self.bn2(self.conv2(self.relu(self.bn1(self.conv1(x))))) + idt)


class TBottle(tnn.Module):
    expansion = 4

    def __init__(self, inp, planes, stride=1, downsample=None):
        super().__init__()
        self.conv1 = tnn.Conv2d(inp, planes, 1, bias=False)
        self.bn1 = tnn.BatchNorm2d(planes)
        self.conv2 = tnn.Conv2d(planes, planes, 3, stride, 1, bias=False)
        self.bn2 = tnn.BatchNorm2d(planes)
        self.conv3 = tnn.Conv2d(planes, planes * 4, 1, bias=False)
        self.bn3 = tnn.BatchNorm2d(planes * 4)
        self.relu = tnn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x):
        idt = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        return self.relu(self.bn3(self.conv3(out)) + idt)


class TResNet(tnn.Module):
    def __init__(self, block, layers, num_classes):
        super().__init__()
        self.inplanes = 64
        self.conv1 = tnn.Conv2d(3, 64, 7, 2, 3, bias=False)
        self.bn1 = tnn.BatchNorm2d(64)
        self.relu = tnn.ReLU(inplace=True)
        self.maxpool = tnn.MaxPool2d(3, 2, 1)
        for i, (planes, n) in enumerate(zip((64, 128, 256, 512), layers)):
            stride = 1 if i == 0 else 2
            down = None
            if stride != 1 or self.inplanes != planes * block.expansion:
                down = tnn.Sequential(tnn.Conv2d(self.inplanes, planes * block.expansion, 1, stride, bias=False),
                                      tnn.BatchNorm2d(planes * block.expansion))
            blocks = [block(self.inplanes, planes, stride, down)]
            self.inplanes = planes * block.expansion
            blocks += [block(self.inplanes, planes) for _ in range(1, n)]
            setattr(self, f"layer{i + 1}", tnn.Sequential(*blocks))
        self.avgpool = tnn.AdaptiveAvgPool2d((1, 1))
        self.fc = tnn.Linear(512 * block.expansion, num_classes)

    def forward(self, x):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.fc(torch.flatten(self.avgpool(x), 1))


def transfer(nb_model, t_model):
    """Load nnbox's state_dict into the torch model key by key (strict: names and shapes must match)."""
    sd = {k: torch.from_numpy(np.array(v.numpy())) for k, v in nb_model.state_dict().items()}
    t_model.load_state_dict(sd, strict=True)


@pytest.mark.parametrize("block,tblock,layers", [(models.BasicBlock, TBasic, [2, 2, 2, 2]),
                                                 (models.Bottleneck, TBottle, [1, 1, 1, 1])])
def test_resnet_matches_torch_reference(block, tblock, layers):
    nnbox.manual_seed(0)
    nb = models.ResNet(block, layers, num_classes=7)
    for m in nb.modules():  # non-trivial BN statistics so eval mode is tested for real
        if isinstance(m, nnbox.nn.BatchNorm2d):
            m.running_mean.copy_(nnbox.rand(m.running_mean.shape) * 0.1)
            m.running_var.copy_(nnbox.rand(m.running_var.shape) + 0.5)
    tm = TResNet(tblock, layers, 7)
    transfer(nb, tm)
    x = np.random.default_rng(0).standard_normal((2, 3, 40, 40)).astype(np.float32)
    nb.eval(), tm.eval()
    with torch.no_grad():
        ref = tm(torch.tensor(x)).numpy()
    np.testing.assert_allclose(nb(nnbox.tensor(x)).detach().numpy(), ref, rtol=1e-4, atol=1e-4)
    # training mode (batch statistics) and gradients in float64: BN over a 2 x 2 x 2 map at layer4
    # is ill-conditioned enough that float32 rounding alone moves early gradients by ~1%
    nb, tm = nb.double().train(), tm.double().train()
    xt = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    xn = nnbox.tensor(x.astype(np.float64), requires_grad=True)
    tout, nout = tm(xt), nb(xn)
    np.testing.assert_allclose(nout.detach().numpy(), tout.detach().numpy(), rtol=1e-9, atol=1e-9)
    tout.square().sum().backward()
    nout.square().sum().backward()
    for (name, p), (_, q) in zip(nb.named_parameters(), tm.named_parameters()):
        g = q.grad.numpy()
        np.testing.assert_allclose(p.grad.numpy(), g, rtol=1e-6, atol=1e-9 * np.abs(g).max(), err_msg=name)
    np.testing.assert_allclose(xn.grad.numpy(), xt.grad.numpy(), rtol=1e-7, atol=1e-9)
    # running statistics moved the same way
    np.testing.assert_allclose(nb.bn1.running_mean.numpy(), tm.bn1.running_mean.numpy(), rtol=1e-9, atol=1e-12)


def test_seed_restnet18_exactly_as_written():
    m = models.RestNet18()
    keys = list(m.state_dict())
    assert "conv1.bias" in keys and "layer2.0.extra.0.weight" in keys and "layer2.0.extra.1.running_mean" in keys
    assert "layer1.0.conv2.bias" in keys and "fc.weight" in keys
    assert m.layer2[0].conv1.stride == (2, 2) and m.layer2[0].conv2.stride == (1, 1)
    assert m.fc.out_features == 10 and n_params(m) == 11_186_442
    x = nnbox.randn(2, 3, 64, 64)
    out = m(x)
    assert out.shape == (2, 10)
    out.sum().backward()
    assert all(p.grad is not None for p in m.parameters())
    text = repr(m)
    assert "(extra): Sequential(" in text and text.startswith("RestNet18(\n  (conv1): Conv2d(3, 64, kernel_size=(7, 7)")


def test_resnet18_trains_one_step():
    m = models.resnet18_cifar()
    opt = nnbox.optim.SGD(m.parameters(), lr=0.1, momentum=0.9)
    x, y = nnbox.randn(2, 3, 16, 16), nnbox.tensor([0, 1])
    loss_fn = nnbox.nn.CrossEntropyLoss()
    first = loss_fn(m(x), y)
    first.backward()
    opt.step()
    opt.zero_grad()
    for _ in range(2):
        loss = loss_fn(m(x), y)
        loss.backward()
        opt.step()
        opt.zero_grad()
    assert loss.item() < first.item()


def test_torch_checkpoint_loads_into_resnet18(tmp_path):
    """A torchvision-layout checkpoint written by torch.save loads key by key (strict) through nnbox.load."""
    torch.manual_seed(0)
    tm = TResNet(TBasic, [2, 2, 2, 2], 1000).eval()
    for m in tm.modules():
        if isinstance(m, tnn.BatchNorm2d):
            m.running_mean.uniform_(-0.1, 0.1)
            m.running_var.uniform_(0.5, 1.5)
    torch.save(tm.state_dict(), tmp_path / "resnet18.pth")
    nb = models.resnet18()
    result = nb.load_state_dict(nnbox.load(str(tmp_path / "resnet18.pth")))
    assert not result.missing_keys and not result.unexpected_keys
    x = np.random.default_rng(1).standard_normal((1, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        ref = tm(torch.tensor(x)).numpy()
    np.testing.assert_allclose(nb.eval()(nnbox.tensor(x)).detach().numpy(), ref, rtol=1e-4, atol=1e-4)
