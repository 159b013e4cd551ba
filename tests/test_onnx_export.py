"""``nnbox.onnx.export`` run in onnxruntime: the seeds' MLP and ResNet18, torchvision-style resnet18,
an LSTM classifier and a TransformerEncoder classifier.  Each exported file passes onnx.checker, its
onnxruntime output on an input it was *not* traced on is within 1e-5 of nnbox's, and the same model
exported by torch (same weights) gives the same onnxruntime output."""
import io
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

import nnbox

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")

SEEDS = Path(__file__).resolve().parent.parent / "examples" / "seeds"


def _seed_module(name: str, lib: str):
    """The seed program ``name`` with nnbox (as written) or with torch swapped in for it."""
    src = (SEEDS / f"{name}.py").read_text()
    if lib == "torch":
        src = src.replace("import nnbox as torch", "import torch").replace("import nnbox.nn as nn", "import torch.nn as nn")
        src = src.replace("import nnbox.nn.functional as F", "import torch.nn.functional as F")
        assert "nnbox" not in re.sub(r'""".*?"""', "", src, flags=re.S)
    ns = {"__name__": f"seed_{name}_{lib}"}
    import contextlib

    with contextlib.redirect_stdout(io.StringIO()):
        exec(compile(src, str(SEEDS / f"{name}.py"), "exec"), ns)
    return ns


def _lstm_clf(m):
    nn = m.nn

    class LSTMClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.emb = nn.Embedding(50, 16)
            self.lstm = nn.LSTM(16, 32, num_layers=2, batch_first=True)
            self.fc = nn.Linear(32, 5)

        def forward(self, x):
            out, (h, c) = self.lstm(self.emb(x))
            return self.fc(out[:, -1])
    return LSTMClassifier()


def _transformer_clf(m):
    nn = m.nn

    class TransformerClassifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.proj = nn.Linear(8, 32)
            layer = nn.TransformerEncoderLayer(32, 4, 64, dropout=0.1, batch_first=True)
            self.enc = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
            self.norm = nn.LayerNorm(32)
            self.fc = nn.Linear(32, 3)

        def forward(self, x):
            return self.fc(self.norm(self.enc(self.proj(x)).mean(1)))
    return TransformerClassifier()


def _resnet18(m):
    if m is nnbox:
        return nnbox.vision.models.resnet18(num_classes=10)
    # torchvision is not installed with the oracle: the torch twin is nnbox.vision's resnet module
    # (torchvision's architecture and names) run on torch
    src = (Path(nnbox.__file__).parent / "vision" / "models" / "resnet.py").read_text()
    src = src.replace("from ... import flatten", "from torch import flatten").replace("from ... import nn", "from torch import nn")
    src = src.replace("from ._utils import check_weights, drop_progress", "")
    ns = {"__name__": "resnet_on_torch"}
    exec(compile(src, "resnet_on_torch", "exec"), ns)
    return ns["ResNet"](ns["BasicBlock"], [2, 2, 2, 2], num_classes=10)


RNG = np.random.default_rng(5)
MODELS = {
    "seeds_mlp": (lambda m: _seed_module("model_containers", m.__name__)["Model_Seq"](784, 300, 100, 10),
                  lambda: RNG.standard_normal((3, 1, 28, 28)).astype(np.float32)),
    "seeds_resnet18": (lambda m: _seed_module("resnet18", m.__name__)["RestNet18"](),
                       lambda: RNG.standard_normal((2, 3, 32, 32)).astype(np.float32)),
    "resnet18": (_resnet18, lambda: RNG.standard_normal((2, 3, 32, 32)).astype(np.float32)),
    "lstm": (_lstm_clf, lambda: RNG.integers(0, 50, (2, 7)).astype(np.int64)),
    "transformer": (_transformer_clf, lambda: RNG.standard_normal((2, 5, 8)).astype(np.float32)),
}


def _perturb_stats(model):
    # non-trivial running statistics, so BatchNorm's eval mode is really exercised
    with nnbox.no_grad():
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(nnbox.tensor(RNG.uniform(-0.2, 0.2, b.shape).astype(np.float32)))
            elif name.endswith("running_var"):
                b.copy_(nnbox.tensor(RNG.uniform(0.5, 1.5, b.shape).astype(np.float32)))


def _run(data: bytes, x: np.ndarray) -> np.ndarray:
    sess = ort.InferenceSession(data, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


@pytest.mark.parametrize("name", list(MODELS))
def test_export_runs_in_onnxruntime_like_nnbox_and_torch(name, tmp_path):
    build, sample = MODELS[name]
    model = build(nnbox)
    _perturb_stats(model)
    model.train()  # export must switch to eval itself (and switch back)
    x_trace, x_run = sample(), sample()
    path = tmp_path / f"{name}.onnx"
    nnbox.onnx.export(model, (nnbox.tensor(x_trace),), str(path), input_names=["x"], output_names=["y"],
                      dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    assert model.training
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version >= 17
    state = {k for k, _ in model.state_dict().items()}
    assert {t.name for t in proto.graph.initializer} & state  # weights named by their state_dict keys
    model.eval()
    with nnbox.no_grad():
        ref = model(nnbox.tensor(x_run)).numpy()
    got = _run(path.read_bytes(), x_run)
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= 1e-5

    # the same model and weights exported by torch give the same onnxruntime output
    tmodel = build(torch)
    tmodel.load_state_dict({k: torch.tensor(v.numpy()) for k, v in model.state_dict().items()})
    tmodel.eval()
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(tmodel, (torch.tensor(x_trace),), buf, dynamo=False, input_names=["x"], output_names=["y"],
                          opset_version=17, dynamic_axes={"x": {0: "batch"}, "y": {0: "batch"}})
    tgot = _run(buf.getvalue(), x_run)
    assert np.abs(tgot - got).max() <= 1e-5


class _GRUClassifier(nnbox.nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = nnbox.nn.GRU(6, 12, num_layers=2, batch_first=True, bidirectional=True)
        self.fc = nnbox.nn.Linear(24, 3)

    def forward(self, x):
        out, h = self.gru(x)
        return nnbox.nn.functional.log_softmax(self.fc(out[:, -1]), dim=-1)


class _RecurrentMix(nnbox.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = nnbox.nn.LSTM(6, 8, bidirectional=True)
        self.rnn = nnbox.nn.RNN(16, 5, nonlinearity="relu")

    def forward(self, x):
        return self.rnn(self.lstm(x)[0])[0]


class _Attention(nnbox.nn.Module):
    def __init__(self):
        super().__init__()
        self.att = nnbox.nn.MultiheadAttention(16, 4, batch_first=True)

    def forward(self, x):
        y, w = self.att(x, x, x)
        return y + w.sum()


class _Conv2dMix(nnbox.nn.Module):
    def __init__(self):
        super().__init__()
        nn = nnbox.nn
        self.c = nn.Conv2d(3, 6, 3, stride=2)
        self.p = nn.MaxPool2d(2, ceil_mode=True)
        self.a = nn.AvgPool2d(3, stride=1, padding=1, count_include_pad=False)
        self.ln = nn.LayerNorm([6, 4, 4])
        self.ad = nn.AdaptiveAvgPool2d((2, 2))

    def forward(self, x):
        F = nnbox.nn.functional
        y = self.ln(self.a(self.p(F.relu6(self.c(x)))))
        a, b = y.chunk(2, dim=1)
        z = nnbox.cat([a * 2 - b, b.transpose(2, 3).flip(3)], 1)
        return self.ad(F.silu(z)).flatten(1).unsqueeze(1).squeeze(1)


class _Pointwise(nnbox.nn.Module):
    def forward(self, x):
        F = nnbox.nn.functional
        return (F.hardtanh(x) + F.elu(x) + F.softplus(x) + x.clamp(-0.5, 0.5) + x.pow(2) + x.exp().log()
                + x.abs().sqrt() + x.mean(-1, keepdim=True) + x.sum(-1, keepdim=True) + F.mish(x) + F.selu(x)
                + x.max(dim=-1, keepdim=True).values + nnbox.where(x > 0, x, 0.5 * x) + F.hardswish(x))


def _norms():
    nn = nnbox.nn
    return nn.Sequential(nn.Conv2d(3, 8, 3), nn.GroupNorm(4, 8), nn.InstanceNorm2d(8, affine=True), nn.ReLU(),
                         nn.GroupNorm(2, 8, affine=False), nn.Flatten(1), nn.RMSNorm(8 * 6 * 6), nn.LayerNorm(288))


def _conv1d_mix():
    nn = nnbox.nn
    return nn.Sequential(nn.Conv1d(3, 8, 3, padding=1), nn.GELU(), nn.AvgPool1d(2), nn.Conv1d(8, 8, 3, groups=2, dilation=2),
                         nn.Tanh(), nn.AdaptiveAvgPool1d(3), nn.Flatten(), nn.Dropout(0.3), nn.Linear(24, 4),
                         nn.GELU(approximate="tanh"), nn.Sigmoid(), nn.LeakyReLU(0.1), nn.Softmax(dim=1))


@pytest.mark.parametrize("build,shape", [(_GRUClassifier, (2, 5, 6)), (_RecurrentMix, (5, 2, 6)), (_Attention, (2, 5, 16)),
                                         (_Conv2dMix, (2, 3, 17, 17)), (_Pointwise, (2, 5)), (_conv1d_mix, (2, 3, 16)),
                                         (_norms, (2, 3, 8, 8))])
def test_more_layers_export(build, shape):
    model = build().eval()
    x = RNG.standard_normal(shape).astype(np.float32)
    proto = nnbox.onnx.export(model, (nnbox.tensor(x),), None)
    onnx.checker.check_model(proto, full_check=True)
    with nnbox.no_grad():
        ref = model(nnbox.tensor(x)).numpy()
    assert np.abs(_run(proto.SerializeToString(), x) - ref).max() <= 1e-5


@pytest.mark.parametrize("name", ["lstm", "seeds_resnet18", "resnet18"])
def test_dynamic_batch(name):
    # (the TransformerEncoder's attention reshapes fold the batch into a middle dim: its traced
    # reshapes keep the traced batch size, so that export is for the traced batch size only)
    build, sample = MODELS[name]
    model = build(nnbox).eval()
    buf = io.BytesIO()
    nnbox.onnx.export(model, (nnbox.tensor(sample()),), buf, input_names=["x"], dynamic_axes={"x": {0: "batch"}})
    x = np.concatenate([sample(), sample()])  # twice the traced batch
    with nnbox.no_grad():
        ref = model(nnbox.tensor(x)).numpy()
    assert np.abs(_run(buf.getvalue(), x) - ref).max() <= 1e-5


def test_padding_mask_is_a_graph_input_not_a_constant():
    nn = nnbox.nn

    class Masked(nn.Module):
        def __init__(self):
            super().__init__()
            self.enc = nn.TransformerEncoder(nn.TransformerEncoderLayer(16, 2, 32, batch_first=True), 1,
                                             enable_nested_tensor=False)

        def forward(self, x, mask):
            return self.enc(x, src_key_padding_mask=mask)

    model = Masked().eval()
    x = RNG.standard_normal((2, 4, 16)).astype(np.float32)
    traced = np.array([[False, False, True, True], [False, False, False, True]])
    other = np.array([[False, True, True, True], [False, False, False, False]])
    buf = io.BytesIO()
    nnbox.onnx.export(model, (nnbox.tensor(x), nnbox.tensor(traced)), buf, input_names=["x", "mask"])
    sess = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"x": x, "mask": other})[0]
    with nnbox.no_grad():
        ref = model(nnbox.tensor(x), nnbox.tensor(other)).numpy()
    assert np.abs(got - ref).max() <= 1e-5


def test_an_input_read_outside_the_ops_warns():
    class Opaque(nnbox.nn.Module):
        def forward(self, x):
            return nnbox.Tensor._make(x._data * 2) + 1  # raw array code: invisible to the trace

    with pytest.warns(UserWarning, match="the input 'x' is not used by the exported graph"):
        nnbox.onnx.export(Opaque(), (nnbox.randn(2, 3),), None)


@pytest.mark.parametrize("opset", [18, 20, 21])
def test_newer_opsets(opset):
    model = nnbox.nn.Sequential(nnbox.nn.Conv2d(3, 4, 3), nnbox.nn.BatchNorm2d(4), nnbox.nn.ReLU(),
                                nnbox.nn.AdaptiveAvgPool2d(1), nnbox.nn.Flatten(), nnbox.nn.LayerNorm(4)).eval()
    x = RNG.standard_normal((2, 3, 8, 8)).astype(np.float32)
    proto = nnbox.onnx.export(model, (nnbox.tensor(x),), None, opset_version=opset)
    onnx.checker.check_model(proto, full_check=True)
    assert proto.opset_import[0].version == opset
    with nnbox.no_grad():
        ref = model(nnbox.tensor(x)).numpy()
    assert np.abs(_run(proto.SerializeToString(), x) - ref).max() <= 1e-5


def test_dynamic_batch_and_export_params_false():
    model = _seed_module("model_containers", "nnbox")["Model_Seq"](784, 30, 20, 10)
    buf = io.BytesIO()
    proto = nnbox.onnx.export(model, nnbox.randn(2, 1, 28, 28), buf, dynamic_axes={"x": [0], "output": [0]})
    assert [i.name for i in proto.graph.input] == ["x"] and [o.name for o in proto.graph.output] == ["output"]
    x = RNG.standard_normal((5, 1, 28, 28)).astype(np.float32)
    with nnbox.no_grad():
        ref = model.eval()(nnbox.tensor(x)).numpy()
    assert np.abs(_run(buf.getvalue(), x) - ref).max() <= 1e-5
    proto = nnbox.onnx.export(model, (nnbox.randn(2, 1, 28, 28),), None, export_params=False)
    assert not proto.graph.initializer or all(not t.name.startswith("linear") for t in proto.graph.initializer)
    assert "linear1.weight" in [i.name for i in proto.graph.input]


def test_unsupported_op_is_named_and_nothing_is_left_patched():
    class Running(nnbox.nn.Module):
        def forward(self, x):
            return nnbox.relu(x).cumsum(1)

    before = nnbox.autograd.Function.__dict__["apply"]
    with pytest.raises(nnbox.onnx.UnsupportedOp, match="cannot export the op 'Cumsum' \\(grad_fn CumsumBackward0\\)"):
        nnbox.onnx.export(Running(), (nnbox.randn(2, 3),), None)
    assert nnbox.autograd.Function.__dict__["apply"] is before
    assert not nnbox.onnx.is_in_onnx_export()
    x = nnbox.randn(2, 3, requires_grad=True)
    x.cumsum(1).sum().backward()  # ops and autograd work as before
    assert x.grad.tolist() == [[3.0, 2.0, 1.0]] * 2


@pytest.mark.parametrize("kw,exc", [({"opset_version": 13}, ValueError), ({"dynamic_shapes": {"x": {0: "b"}}}, NotImplementedError),
                                    ({"no_such_argument": 1}, TypeError)])
def test_bad_arguments(kw, exc):
    with pytest.raises(exc):
        nnbox.onnx.export(nnbox.nn.Linear(2, 2), (nnbox.randn(1, 2),), None, **kw)
