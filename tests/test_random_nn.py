"""Dropout masks, nn.init and every layer's default initialisation draw torch's stream bit for bit
(seeds 0-99 for the samplers; orthogonal_ shares the stream but its QR comes from a different
LAPACK, so its values agree to rounding only)."""
import re
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as TF

import nnbox
import nnbox.nn.functional as F

pytestmark = pytest.mark.cpu_only(reason="compares torch's CPU random stream draw for draw; on cuda nnbox draws from CuPy's generator")

SEEDS = range(100)


def seeded(seed):
    torch.manual_seed(seed)
    nnbox.manual_seed(seed)


def assert_same_and_stream(a, b):
    a, b = a.detach().numpy(), b.detach().numpy()
    assert a.dtype == b.dtype and np.array_equal(a, b)
    assert torch.rand(1).item() == nnbox.rand(1).item()  # both generators moved by the same amount


DROPOUTS = {
    "dropout": lambda F, t, s: F.dropout(t, 0.1 if s % 2 else 0.5),
    "dropout_inplace": lambda F, t, s: F.dropout(t.clone(), 0.3, inplace=True),
    "dropout1d": lambda F, t, s: F.dropout1d(t[0], 0.4),
    "dropout2d": lambda F, t, s: F.dropout2d(t, 0.3),
    "dropout3d": lambda F, t, s: F.dropout3d(t[None], 0.4),
    "alpha_dropout": lambda F, t, s: F.alpha_dropout(t, 0.2, True),
    "feature_alpha_dropout": lambda F, t, s: F.feature_alpha_dropout(t, 0.2, True),
}


@pytest.mark.parametrize("name", sorted(DROPOUTS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dropout_masks_match_torch(name, dtype):
    fn = DROPOUTS[name]
    for seed in SEEDS:
        x = np.random.default_rng(seed).standard_normal((4, 3, 5, 5)).astype(dtype)
        seeded(seed)
        assert_same_and_stream(fn(TF, torch.tensor(x), seed), fn(F, nnbox.tensor(x), seed))


def test_dropout_modules_match_torch():
    for seed in SEEDS[:20]:
        x = np.random.default_rng(seed).standard_normal((2, 4, 3, 3)).astype("float32")
        seeded(seed)
        for mt, mn in [(torch.nn.Dropout(0.3), nnbox.nn.Dropout(0.3)), (torch.nn.Dropout2d(), nnbox.nn.Dropout2d()),
                       (torch.nn.AlphaDropout(0.2), nnbox.nn.AlphaDropout(0.2))]:
            assert_same_and_stream(mt(torch.tensor(x)), mn(nnbox.tensor(x)))


INITS = {
    "uniform_": lambda I, t: I.uniform_(t, -0.5, 1.5),
    "normal_": lambda I, t: I.normal_(t, 0.2, 0.7),
    "kaiming_uniform_": lambda I, t: I.kaiming_uniform_(t, a=5 ** 0.5),
    "kaiming_normal_": lambda I, t: I.kaiming_normal_(t, mode="fan_out"),
    "xavier_uniform_": lambda I, t: I.xavier_uniform_(t),
    "xavier_normal_": lambda I, t: I.xavier_normal_(t, gain=2.0),
    "trunc_normal_": lambda I, t: I.trunc_normal_(t),
    "trunc_normal_vit": lambda I, t: I.trunc_normal_(t, std=0.02),
    "trunc_normal_shifted": lambda I, t: I.trunc_normal_(t, 0.1, 0.5, -0.5, 0.6),
    "sparse_": lambda I, t: I.sparse_(t, 0.3),
}
SHAPES = [(5, 4), (20, 30), (7, 3, 3, 3), (16, 1, 5, 5), (300, 78)]


@pytest.mark.parametrize("name", sorted(INITS))
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_init_matches_torch(name, dtype):
    fn = INITS[name]
    for seed in SEEDS:
        shape = SHAPES[seed % len(SHAPES)]
        if name == "sparse_" and len(shape) != 2:
            continue
        seeded(seed)
        a = fn(torch.nn.init, torch.empty(shape, dtype=getattr(torch, dtype)))
        b = fn(nnbox.nn.init, nnbox.empty(shape, dtype=getattr(nnbox, dtype)))
        assert_same_and_stream(a, b)


# (mean, std, a, b): the interval's mass under N(mean, std^2) on both sides of torch's switch
# between normal proposals (mass >= 0.3) and uniform proposals on [a, b]: narrow, off-centre,
# both tails, a wide tail, a bound at the mean, and both sides of the switch point
TRUNC_INTERVALS = [(0, 1, -0.1, 0.1), (0, 1, 0, 0.5), (0, 1, 0.5, 1.0), (0, 1, 2, 3), (0, 1, -5, -3), (0, 1, 3, 10),
                   (0.3, 2, 1, 2), (1, 0.5, -0.2, 0.9), (0, 1, 0, 0.84), (0, 1, 0, 0.85), (0, 1, -0.38, 0.38),
                   (0, 1, -0.39, 0.39), (0, 1, 0.5, 4), (0, 1, 0, float("inf")), (0, 1, 8, 8.5)]


@pytest.mark.parametrize("interval", TRUNC_INTERVALS, ids=str)
@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_trunc_normal_every_interval_matches_torch(interval, dtype):
    mean, std, a, b = interval
    for seed in SEEDS:
        for n in (1, 15, 16, 17, 33):
            seeded(seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                x = torch.nn.init.trunc_normal_(torch.empty(n, dtype=getattr(torch, dtype)), mean, std, a, b)
                y = nnbox.nn.init.trunc_normal_(nnbox.empty(n, dtype=getattr(nnbox, dtype)), mean, std, a, b)
            assert_same_and_stream(x, y)


@pytest.mark.parametrize("interval", [(0, 1, 1, float("inf")), (0, 1, -float("inf"), -1), (0, 1, 2, 1), (0, 1, 1e39, 1e40)],
                         ids=str)
def test_trunc_normal_bad_interval_raises_as_torch(interval):
    for dtype in ("float32", "float64"):
        if interval[2] == 1e39 and dtype == "float64":
            continue  # torch loops for ever there
        with pytest.raises(Exception) as et, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.nn.init.trunc_normal_(torch.zeros(3, dtype=getattr(torch, dtype)), *interval)
        t = nnbox.zeros(3, dtype=getattr(nnbox, dtype))
        with pytest.raises(type(et.value), match=re.escape(str(et.value))), \
                warnings.catch_warnings():
            warnings.simplefilter("ignore")
            nnbox.nn.init.trunc_normal_(t, *interval)
        assert not t.numpy().any()  # nothing written


def test_orthogonal_shares_the_stream():
    for seed in SEEDS[:20]:
        for shape in [(5, 4), (4, 6), (8, 2, 3)]:
            seeded(seed)
            a = torch.nn.init.orthogonal_(torch.empty(shape, dtype=torch.float64), gain=1.5).numpy()
            b = nnbox.nn.init.orthogonal_(nnbox.empty(shape, dtype=nnbox.float64), gain=1.5).numpy()
            np.testing.assert_allclose(a, b, rtol=0, atol=1e-13)
            assert torch.rand(1).item() == nnbox.rand(1).item()


def layers(L):
    nn = L.nn
    return [nn.Linear(7, 5), nn.Linear(3, 2, bias=False), nn.Conv1d(3, 4, 3), nn.Conv2d(3, 8, 3),
            nn.Conv2d(4, 4, 3, groups=2), nn.Conv3d(2, 3, 2), nn.ConvTranspose2d(3, 5, 3), nn.ConvTranspose1d(2, 3, 2),
            nn.Embedding(10, 4), nn.EmbeddingBag(10, 3), nn.Bilinear(3, 4, 5), nn.RNN(4, 6, 2),
            nn.LSTM(4, 6, bidirectional=True), nn.GRU(3, 5), nn.LSTMCell(3, 4), nn.GRUCell(3, 4), nn.RNNCell(3, 4),
            nn.MultiheadAttention(8, 2), nn.BatchNorm2d(3), nn.LayerNorm(4), nn.PReLU(), nn.GroupNorm(2, 4),
            nn.TransformerEncoderLayer(8, 2, 16), nn.Transformer(8, 2, 1, 1, 16)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_default_layer_initialisation_matches_torch(dtype):
    for seed in range(10):
        seeded(seed)
        torch.set_default_dtype(getattr(torch, dtype))
        nnbox.set_default_dtype(getattr(nnbox, dtype))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                mods_t, mods_n = layers(torch), layers(nnbox)
        finally:
            torch.set_default_dtype(torch.float32)
            nnbox.set_default_dtype(nnbox.float32)
        for mt, mn in zip(mods_t, mods_n):
            pt, pn = dict(mt.named_parameters()), dict(mn.named_parameters())
            assert list(pt) == list(pn)
            for k in pt:
                assert np.array_equal(pt[k].detach().numpy(), pn[k].detach().numpy()), (type(mt).__name__, k)
        assert torch.rand(1).item() == nnbox.rand(1).item()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_rrelu_gumbel_and_attention_dropout_match_torch(dtype):
    for seed in SEEDS[:30]:
        x = np.random.default_rng(seed).standard_normal((3, 4, 8)).astype(dtype)
        seeded(seed)
        assert_same_and_stream(TF.rrelu(torch.tensor(x), training=True), F.rrelu(nnbox.tensor(x), training=True))
        a = TF.gumbel_softmax(torch.tensor(x), tau=0.5)
        b = F.gumbel_softmax(nnbox.tensor(x), tau=0.5)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
        a = TF.scaled_dot_product_attention(*[torch.tensor(x)] * 3, dropout_p=0.3)
        b = F.scaled_dot_product_attention(*[nnbox.tensor(x)] * 3, dropout_p=0.3)
        np.testing.assert_allclose(a.numpy(), b.numpy(), rtol=1e-5, atol=1e-6)
        assert torch.rand(1).item() == nnbox.rand(1).item()


def test_trunc_normal_on_a_device_tensor(standin):
    """Both proposal paths run on the device's arrays (CuPy stand-in) and land inside [a, b]."""
    for a, b in [(-2.0, 2.0), (2.0, 3.0)]:
        t = nnbox.nn.init.trunc_normal_(nnbox.empty(40, 3, device="cuda"), 0.0, 1.0, a, b)
        assert t.device.type == "cuda" and bool(((t >= a) & (t <= b)).all())
