"""RNN / LSTM / GRU and their cells against torch: state_dict keys, repr, outputs and ALL gradients with
the same weights (stacked, bidirectional, batch_first, initial states, packed sequences), errors."""
import warnings

import numpy as np
import pytest
import torch

import nnbox
from nnbox.nn.utils.rnn import pack_padded_sequence as n_pack
from nnbox.nn.utils.rnn import pad_packed_sequence as n_unpack
from oracle import RNG, assert_same, fd_check

KINDS = ["RNN", "LSTM", "GRU"]


def pair(kind, *args, dtype=torch.float64, **kw):
    """The same layer in torch and nnbox, nnbox's weights copied from torch's."""
    tm = getattr(torch.nn, kind)(*args, **kw).to(dtype)
    nm = getattr(nnbox.nn, kind)(*args, **kw)
    nm = nm.double() if dtype == torch.float64 else nm
    assert list(nm.state_dict()) == list(tm.state_dict())
    assert [tuple(v.shape) for v in nm.state_dict().values()] == [tuple(v.shape) for v in tm.state_dict().values()]
    assert repr(nm) == repr(tm)
    nm.load_state_dict({k: nnbox.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, nm


def run_both(tm, nm, inputs, call, rtol=None, atol=None):
    """Forward both, compare outputs, backprop the same random cotangents, compare every grad."""
    t_in = [torch.tensor(a, requires_grad=True) for a in inputs]
    n_in = [nnbox.tensor(a, requires_grad=True) for a in inputs]
    t_out, n_out = call(torch, tm, *t_in), call(nnbox, nm, *n_in)
    assert_same(t_out, n_out, rtol, atol)
    t_flat, n_flat = _flat(t_out), _flat(n_out)
    t_loss = n_loss = 0
    for a, b in zip(t_flat, n_flat):
        g = RNG.standard_normal(tuple(a.shape))
        t_loss = t_loss + (a * torch.tensor(g, dtype=a.dtype)).sum()
        n_loss = n_loss + (b * nnbox.tensor(g, dtype=b.dtype, device=b.device)).sum()
    t_loss.backward()
    n_loss.backward()
    for i, (a, b) in enumerate(zip(t_in, n_in)):
        assert_same(a.grad, b.grad, rtol, atol, what=f"grad of input {i}")
    for (name, tp), (_, np_) in zip(tm.named_parameters(), nm.named_parameters()):
        assert_same(tp.grad, np_.grad, rtol, atol, what=f"grad of {name}")


def _flat(o):
    if isinstance(o, (tuple, list)):
        return [x for e in o for x in _flat(e)]
    return [o]


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("layers,bidir,batch_first,bias", [(1, False, False, True), (2, True, True, True),
                                                             (2, False, False, False), (3, True, False, True)])
def test_layers_match_torch(kind, layers, bidir, batch_first, bias):
    tm, nm = pair(kind, 4, 5, num_layers=layers, bidirectional=bidir, batch_first=batch_first, bias=bias)
    x = RNG.standard_normal((3, 6, 4))
    run_both(tm, nm, [x], lambda m, mod, x: mod(x))


@pytest.mark.parametrize("kind", KINDS)
def test_initial_states(kind):
    tm, nm = pair(kind, 3, 4, num_layers=2, bidirectional=True)
    x, h = RNG.standard_normal((5, 2, 3)), RNG.standard_normal((4, 2, 4))
    if kind == "LSTM":
        c = RNG.standard_normal((4, 2, 4))
        run_both(tm, nm, [x, h, c], lambda m, mod, x, h, c: mod(x, (h, c)))
    else:
        run_both(tm, nm, [x, h], lambda m, mod, x, h: mod(x, h))


@pytest.mark.parametrize("kind", KINDS)
def test_unbatched_input(kind):
    tm, nm = pair(kind, 3, 4, num_layers=2)
    x, h = RNG.standard_normal((5, 3)), RNG.standard_normal((2, 4))
    if kind == "LSTM":
        run_both(tm, nm, [x, h, h.copy()], lambda m, mod, x, h, c: mod(x, (h, c)))
    else:
        run_both(tm, nm, [x, h], lambda m, mod, x, h: mod(x, h))


def test_relu_rnn_and_float32():
    tm, nm = pair("RNN", 3, 4, 2, "relu")
    run_both(tm, nm, [RNG.standard_normal((5, 2, 3))], lambda m, mod, x: mod(x))
    for kind in KINDS:
        tm, nm = pair(kind, 3, 4, num_layers=2, bidirectional=True, dtype=torch.float32)
        run_both(tm, nm, [RNG.standard_normal((5, 2, 3)).astype(np.float32)], lambda m, mod, x: mod(x),
                 rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_packed_sequences(kind, enforce_sorted):
    tm, nm = pair(kind, 3, 4, num_layers=2, bidirectional=True, batch_first=True)
    lengths = [5, 3, 3, 1] if enforce_sorted else [3, 5, 1, 3]
    x = RNG.standard_normal((4, 5, 3))

    def call(m, mod, x):
        pack = torch.nn.utils.rnn.pack_padded_sequence if m is torch else n_pack
        unpack = torch.nn.utils.rnn.pad_packed_sequence if m is torch else n_unpack
        out, state = mod(pack(x, lengths, batch_first=True, enforce_sorted=enforce_sorted))
        padded, lens = unpack(out, batch_first=True)
        return padded, lens, state
    run_both(tm, nm, [x], call)


@pytest.mark.parametrize("kind", ["RNNCell", "LSTMCell", "GRUCell"])
@pytest.mark.parametrize("bias", [True, False])
def test_cells(kind, bias):
    tm, nm = pair(kind, 3, 5, bias=bias)
    x, h = RNG.standard_normal((4, 3)), RNG.standard_normal((4, 5))
    if kind == "LSTMCell":
        run_both(tm, nm, [x, h, h * 0.5], lambda m, mod, x, h, c: mod(x, (h, c)))
        run_both(tm, nm, [x[0], h[0], h[0]], lambda m, mod, x, h, c: mod(x, (h, c)))
    else:
        run_both(tm, nm, [x, h], lambda m, mod, x, h: mod(x, h))
        run_both(tm, nm, [x[0]], lambda m, mod, x: mod(x))


def test_cell_unrolled_loop_matches_torch():
    tm, nm = pair("LSTMCell", 3, 4)
    x = RNG.standard_normal((6, 2, 3))

    def call(m, mod, x):
        h = c = m.zeros(2, 4, dtype=m.float64)
        outs = []
        for t in range(x.shape[0]):
            h, c = mod(x[t], (h, c))
            outs.append(h)
        return m.stack(outs)
    run_both(tm, nm, [x], call)
    tr, nr = pair("RNNCell", 3, 4, nonlinearity="relu")
    assert repr(nr) == "RNNCell(3, 4, nonlinearity=relu)"


def test_default_init_range():
    m = nnbox.nn.LSTM(3, 16, num_layers=2)
    for p in m.parameters():
        a = p.detach().numpy()
        assert a.min() >= -0.25 and a.max() <= 0.25 and a.std() > 0.1


def test_dropout_between_layers_train_and_eval():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m = nnbox.nn.GRU(3, 4, num_layers=2, dropout=0.5)
    x = nnbox.randn(5, 2, 3)
    nnbox.manual_seed(0)
    a = m(x)[0]
    b = m(x)[0]
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    m.eval()
    np.testing.assert_array_equal(m(x)[0].detach().numpy(), m(x)[0].detach().numpy())
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nnbox.nn.LSTM(3, 4, dropout=0.5)


def test_errors_match_torch():
    def both(fn, exc, match):
        for m in (torch, nnbox):
            with pytest.raises(exc, match=match):
                fn(m)
    lstm = lambda m: m.nn.LSTM(10, 20, 2, bidirectional=True)  # noqa: E731
    both(lambda m: lstm(m)(m.randn(5, 3, 7)), RuntimeError,
         r"input.size\(-1\) must be equal to input_size. Expected 10, got 7")
    both(lambda m: lstm(m)(m.randn(5, 3, 4, 10)), ValueError, "LSTM: Expected input to be 2D or 3D, got 4D instead")
    both(lambda m: lstm(m)(m.randn(5, 3, 10), (m.randn(4, 2, 20), m.randn(4, 3, 20))), RuntimeError,
         r"Expected hidden\[0\] size \(4, 3, 20\), got \[4, 2, 20\]")
    both(lambda m: lstm(m)(m.randn(5, 3, 10), (m.randn(4, 3, 20), m.randn(4, 3, 21))), RuntimeError,
         r"Expected hidden\[1\] size \(4, 3, 20\), got \[4, 3, 21\]")
    both(lambda m: m.nn.GRU(10, 20)(m.randn(5, 3, 10), m.randn(2, 3, 20)), RuntimeError,
         r"Expected hidden size \(1, 3, 20\), got \[2, 3, 20\]")
    both(lambda m: m.nn.GRU(10, 20)(m.randn(5, 10), m.randn(1, 3, 20)), RuntimeError,
         "For unbatched 2-D input, hx should also be 2-D but got 3-D tensor")
    both(lambda m: m.nn.RNN(10, 20)(m.randn(5, 3, 10).long()), ValueError,
         r"RNN input dtype \(torch.int64\) does not match weight dtype \(torch.float32\)")
    both(lambda m: m.nn.LSTMCell(10, 20)(m.randn(3, 7)), RuntimeError, "input has inconsistent input_size: got 7 expected 10")
    both(lambda m: m.nn.LSTMCell(10, 20)(m.randn(3, 10), (m.randn(2, 20), m.randn(3, 20))), RuntimeError,
         "Input batch size 3 doesn't match hidden0 batch size 2")
    both(lambda m: m.nn.GRUCell(10, 20)(m.randn(3, 4, 10)), ValueError, "GRUCell: Expected input to be 1D or 2D, got 3D instead")
    both(lambda m: m.nn.RNN(10, 20, nonlinearity="foo"), ValueError, "Unknown nonlinearity 'foo'")
    both(lambda m: m.nn.LSTM(10, 20, dropout=1.5), ValueError, "dropout should be a number in range")
    both(lambda m: m.nn.GRU(10, 20, proj_size=5), ValueError, "proj_size argument is only supported for LSTM")
    both(lambda m: m.nn.LSTM(10, 20, proj_size=20), ValueError, "proj_size has to be smaller than hidden_size")


@pytest.mark.parametrize("layers,bidir", [(1, False), (2, True)])
def test_lstm_projection(layers, bidir):
    tm, nm = pair("LSTM", 4, 6, num_layers=layers, bidirectional=bidir, proj_size=3, batch_first=True)
    d = 2 if bidir else 1
    x, h, c = RNG.standard_normal((2, 5, 4)), RNG.standard_normal((layers * d, 2, 3)), RNG.standard_normal((layers * d, 2, 6))
    run_both(tm, nm, [x, h, c], lambda m, mod, x, h, c: mod(x, (h, c)))
    run_both(tm, nm, [x], lambda m, mod, x: mod(x))

    def call(m, mod, x):
        pack = torch.nn.utils.rnn.pack_padded_sequence if m is torch else n_pack
        unpack = torch.nn.utils.rnn.pad_packed_sequence if m is torch else n_unpack
        out, state = mod(pack(x, [5, 2], batch_first=True))
        return unpack(out, batch_first=True)[0], state
    run_both(tm, nm, [x], call)


@pytest.mark.parametrize("mode", ["RNN_TANH", "RNN_RELU", "LSTM", "GRU"])
@pytest.mark.parametrize("reverse", [False, True])
def test_recurrence_finite_differences(mode, reverse):
    from nnbox.ops.rnn import GATES, recurrence

    T, B, I, H = 3, 2, 2, 3
    G = GATES[mode] * H
    args = [RNG.standard_normal((T, B, I)), RNG.standard_normal((B, H)), RNG.standard_normal((B, H)),
            RNG.standard_normal((G, I)) * 0.5, RNG.standard_normal((G, H)) * 0.5, RNG.standard_normal(G),
            RNG.standard_normal(G)]

    def f(x, h, c, wi, wh, bi, bh):
        return recurrence(mode, x, h, c if mode == "LSTM" else None, wi, wh, bi, bh, reverse=reverse,
                          batch_sizes=np.array([2, 2, 1]))
    fd_check(f, args if mode == "LSTM" else args[:2] + [np.zeros((B, H))] + args[3:])


# --- double backward (create_graph=True) --------------------------------------------------------------
def _layer(mode, reverse=False, proj=False, bias=True):
    """One recurrent layer on (x, h0[, c0], weights): torch's ``_VF`` kernels vs nnbox's fused node."""
    def fn(m, x, h0, c0, w_ih, w_hh, b_ih, b_hh, w_hr):
        if m is torch:
            xs = x.flip(0) if reverse else x
            params = [w_ih, w_hh] + ([b_ih, b_hh] if bias else []) + ([w_hr] if proj else [])
            name = {"RNN_TANH": "rnn_tanh", "RNN_RELU": "rnn_relu", "GRU": "gru", "LSTM": "lstm"}[mode]
            hx = (h0[None], c0[None]) if mode == "LSTM" else h0[None]
            res = getattr(torch._VF, name)(xs, hx, params, bias, 1, 0.0, True, False, False)
            out, rest = res[0], res[1:]
            return (out.flip(0) if reverse else out,) + tuple(r[0] for r in rest)
        from nnbox.ops.rnn import recurrence

        return recurrence(mode, x, h0, c0 if mode == "LSTM" else None, w_ih, w_hh, b_ih if bias else None,
                          b_hh if bias else None, reverse, None, w_hr if proj else None)
    return fn


@pytest.mark.parametrize("mode,reverse,proj,bias", [("RNN_TANH", False, False, True), ("RNN_TANH", True, False, False),
                                                    ("RNN_RELU", False, False, True), ("GRU", False, False, True),
                                                    ("GRU", True, False, True), ("LSTM", False, False, True),
                                                    ("LSTM", True, False, False), ("LSTM", False, True, True)])
def test_recurrence_double_backward_matches_torch(mode, reverse, proj, bias):
    from oracle import arr, check

    T, B, I, H, P = 4, 3, 2, 3, 2
    k = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    hp = P if proj else H
    ins = [arr(T, B, I), arr(B, hp), arr(B, H), arr(k * H, I) * 0.6, arr(k * H, hp) * 0.6, arr(k * H) * 0.3,
           arr(k * H) * 0.3, arr(P, H)]
    check(_layer(mode, reverse, proj, bias), ins, order=2, rtol=1e-8)


@pytest.mark.parametrize("mode", ["LSTM", "GRU", "RNN_TANH"])
def test_recurrence_packed_gradgrad_finite_differences(mode):
    from nnbox.ops.rnn import recurrence
    from oracle import arr, gradgrad_fd

    k = {"LSTM": 4, "GRU": 3}.get(mode, 1)
    x = nnbox.tensor(arr(3, 3, 2), requires_grad=True)
    w = nnbox.tensor(arr(k * 2, 2) * 0.6, requires_grad=True)
    h0, c0 = nnbox.tensor(arr(3, 2)), nnbox.tensor(arr(3, 2))
    w_hh, b = nnbox.tensor(arr(k * 2, 2) * 0.6), nnbox.tensor(arr(k * 2) * 0.3)
    bs = np.array([3, 2, 1])

    def f(x, w):
        res = recurrence(mode, x, h0, c0 if mode == "LSTM" else None, w, w_hh, b, b, False, bs)
        return (res[0] * res[0]).sum() + (res[1] * res[1]).sum()
    assert gradgrad_fd(f, (x, w))
