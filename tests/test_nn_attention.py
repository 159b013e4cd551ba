"""scaled_dot_product_attention, MultiheadAttention and TransformerEncoder(Layer) against torch:
values, weights and ALL gradients with copied parameters; masks of every kind; dropout; errors."""
import numpy as np
import pytest
import torch

import nnbox
from oracle import RNG, arr, assert_same, check, check_error, fd_check

F = lambda m: m.nn.functional  # noqa: E731


@pytest.mark.parametrize("shapes", [((2, 3, 4), (2, 5, 4), (2, 5, 6)), ((2, 2, 3, 4), (2, 2, 5, 4), (2, 2, 5, 4)),
                                    ((3, 4), (6, 4), (6, 2))])
def test_sdpa_plain(shapes):
    check(lambda m, q, k, v: F(m).scaled_dot_product_attention(q, k, v), [arr(*s) for s in shapes])
    check(lambda m, q, k, v: F(m).scaled_dot_product_attention(q, k, v, scale=0.3), [arr(*s) for s in shapes])


def test_sdpa_masks():
    q, k, v = arr(2, 3, 4), arr(2, 5, 4), arr(2, 5, 6)
    bmask = RNG.random((3, 5)) > 0.3
    bmask[1] = False  # a row that may attend to nothing: zeros, as torch
    bmask[0, 0] = True
    check(lambda m, q, k, v, mk: F(m).scaled_dot_product_attention(q, k, v, attn_mask=mk), [q, k, v, bmask])
    # a float mask gets a gradient
    check(lambda m, q, k, v, mk: F(m).scaled_dot_product_attention(q, k, v, attn_mask=mk), [q, k, v, arr(2, 1, 5)])
    check(lambda m, q, k, v: F(m).scaled_dot_product_attention(q, k, v, is_causal=True), [q, k, v])
    check(lambda m, q, k, v: F(m).scaled_dot_product_attention(q, k, v, is_causal=True),
          [arr(2, 4, 3, dtype=np.float32), arr(2, 4, 3, dtype=np.float32), arr(2, 4, 3, dtype=np.float32)],
          rtol=1e-5, atol=1e-6)


def test_sdpa_full_shape_float_mask_gradient():
    """A mask shaped like the scores gets the scores' gradient itself (it was scaled by mistake)."""
    check(lambda m, q, k, v, mk: F(m).scaled_dot_product_attention(q, k, v, attn_mask=mk),
          [arr(2, 3, 4), arr(2, 5, 4), arr(2, 5, 6), arr(2, 3, 5)])


def test_sdpa_errors():
    check_error(lambda m, q, k, v, mk: F(m).scaled_dot_product_attention(q, k, v, attn_mask=mk, is_causal=True),
                [arr(2, 3, 4), arr(2, 5, 4), arr(2, 5, 6), RNG.random((3, 5)) > 0.5],
                match="Explicit attn_mask should not be set when is_causal=True")


@pytest.mark.cpu_only(reason="compares torch's CPU random stream draw for draw; on cuda nnbox draws from CuPy's generator")
def test_sdpa_dropout_uses_one_mask_for_forward_and_backward():
    q, k, v, p = arr(2, 3, 4), arr(2, 5, 4), arr(2, 5, 6), 0.4
    torch.manual_seed(3)  # torch's dropout mask: bernoulli_(1 - p) from the stream nnbox shares
    keep = (torch.empty(2, 3, 5, dtype=torch.float64).bernoulli_(1 - p) / (1 - p)).numpy()
    nnbox.manual_seed(3)
    tq, tk, tv = (torch.tensor(a, requires_grad=True) for a in (q, k, v))
    nq, nk, nv = (nnbox.tensor(a, requires_grad=True) for a in (q, k, v))
    ref = (torch.softmax(tq @ tk.transpose(-1, -2) / 2.0, -1) * torch.tensor(keep)) @ tv
    out = nnbox.nn.functional.scaled_dot_product_attention(nq, nk, nv, dropout_p=p)
    g = RNG.standard_normal(ref.shape)
    (ref * torch.tensor(g)).sum().backward()
    (out * nnbox.tensor(g)).sum().backward()
    assert_same(ref, out)
    for a, b in ((tq, nq), (tk, nk), (tv, nv)):
        assert_same(a.grad, b.grad)
    assert (keep == 0).any()


def test_attention_finite_differences():
    from nnbox.ops.attention import Attention

    def f(q, k, v, mk):
        return Attention.apply(q, k, v, mk, 0.7, 0.0, None, True, True)
    fd_check(f, [arr(2, 3, 2), arr(2, 4, 2), arr(2, 4, 3), arr(1, 3, 4)])


# --- MultiheadAttention -------------------------------------------------------------------------------

def mha_pair(*args, **kw):
    tm = torch.nn.MultiheadAttention(*args, **kw).double()
    nm = nnbox.nn.MultiheadAttention(*args, **kw).double()
    assert repr(nm) == repr(tm)
    assert [(k, tuple(v.shape)) for k, v in nm.state_dict().items()] == \
        [(k, tuple(v.shape)) for k, v in tm.state_dict().items()]
    nm.load_state_dict({k: nnbox.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    return tm, nm


def run_both(tm, nm, inputs, call, grad_inputs=None):
    grad_inputs = range(len(inputs)) if grad_inputs is None else grad_inputs
    t_in = [torch.tensor(a, requires_grad=i in grad_inputs and a.dtype.kind == "f") for i, a in enumerate(inputs)]
    n_in = [nnbox.tensor(a, requires_grad=i in grad_inputs and a.dtype.kind == "f") for i, a in enumerate(inputs)]
    t_out, n_out = call(torch, tm, *t_in), call(nnbox, nm, *n_in)
    assert_same(t_out, n_out)
    t_loss = n_loss = 0
    for a, b in zip(t_out, n_out):
        if a is None:
            assert b is None
            continue
        g = RNG.standard_normal(tuple(a.shape))
        t_loss = t_loss + (a * torch.tensor(g)).sum()
        n_loss = n_loss + (b * nnbox.tensor(g)).sum()
    t_loss.backward()
    n_loss.backward()
    for a, b in zip(t_in, n_in):
        if a.requires_grad:
            assert_same(a.grad, b.grad, what="input grad")
    for (name, tp), (_, np_) in zip(tm.named_parameters(), nm.named_parameters()):
        if tp.grad is None:
            assert np_.grad is None or not np_.grad.numpy().any(), name
        else:
            assert_same(tp.grad, np_.grad, what=f"grad of {name}")


@pytest.mark.parametrize("kw", [{}, {"batch_first": True}, {"bias": False}, {"kdim": 3, "vdim": 5},
                                {"add_bias_kv": True}, {"add_zero_attn": True},
                                {"add_bias_kv": True, "add_zero_attn": True, "batch_first": True}])
@pytest.mark.parametrize("need_weights,average", [(True, True), (True, False), (False, True)])
def test_mha_cross_attention(kw, need_weights, average):
    tm, nm = mha_pair(8, 2, **kw)
    L, S, N = 3, 4, 2
    kd, vd = kw.get("kdim", 8), kw.get("vdim", 8)
    bf = kw.get("batch_first", False)
    shape = (lambda n, e: (N, n, e)) if bf else (lambda n, e: (n, N, e))
    kpm = np.array([[False, False, True, False], [False, True, True, False]])
    run_both(tm, nm, [arr(*shape(L, 8)), arr(*shape(S, kd)), arr(*shape(S, vd)), kpm],
             lambda m, mod, q, k, v, kpm: mod(q, k, v, key_padding_mask=kpm, need_weights=need_weights,
                                              average_attn_weights=average), grad_inputs=(0, 1, 2))


@pytest.mark.parametrize("batch_first", [False, True])
def test_mha_self_attention_masks(batch_first):
    tm, nm = mha_pair(8, 4, batch_first=batch_first)
    x = arr(2, 5, 8) if batch_first else arr(5, 2, 8)
    causal = np.triu(np.ones((5, 5), dtype=bool), 1)
    float_mask = np.where(causal, -np.inf, 0.0)
    mask3d = RNG.random((8, 5, 5)) > 0.7
    mask3d[:, :, 0] = False  # every query keeps at least one key
    for mask in (causal, float_mask, mask3d):
        for need in (True, False):
            run_both(tm, nm, [x, mask], lambda m, mod, x, mk: mod(x, x, x, attn_mask=mk, need_weights=need),
                     grad_inputs=(0,))
    run_both(tm, nm, [x, causal], lambda m, mod, x, mk: mod(x, x, x, attn_mask=mk, is_causal=True, need_weights=False),
             grad_inputs=(0,))


def test_mha_unbatched():
    tm, nm = mha_pair(6, 3)
    run_both(tm, nm, [arr(4, 6), arr(5, 6), arr(5, 6), np.array([False, True, False, False, False])],
             lambda m, mod, q, k, v, kpm: mod(q, k, v, key_padding_mask=kpm), grad_inputs=(0, 1, 2))


def test_mha_errors_and_init():
    for m in (torch, nnbox):
        with pytest.raises(AssertionError, match="embed_dim must be divisible by num_heads"):
            m.nn.MultiheadAttention(8, 3)
        mod = m.nn.MultiheadAttention(4, 2)
        with pytest.raises(RuntimeError, match=r"The shape of the 2D attn_mask is torch.Size\(\[2, 2\]\), but should be \(3, 3\)."):
            x = m.zeros(3, 1, 4)
            mod(x, x, x, attn_mask=m.zeros(2, 2, dtype=m.bool))
        with pytest.raises(RuntimeError, match="Need attn_mask if specifying the is_causal hint"):
            mod(x, x, x, is_causal=True)
    m = nnbox.nn.MultiheadAttention(64, 4)
    assert not m.in_proj_bias.detach().numpy().any() and not m.out_proj.bias.detach().numpy().any()
    bound = np.sqrt(6 / (64 + 192))  # xavier_uniform on (192, 64)
    w = m.in_proj_weight.detach().numpy()
    assert w.max() <= bound and w.min() >= -bound and w.std() > bound / 2


def test_mha_dropout_train_vs_eval():
    m = nnbox.nn.MultiheadAttention(8, 2, dropout=0.5)
    x = nnbox.randn(4, 2, 8)
    a, b = m(x, x, x)[0], m(x, x, x)[0]
    assert not np.allclose(a.detach().numpy(), b.detach().numpy())
    m.eval()
    np.testing.assert_array_equal(m(x, x, x)[0].detach().numpy(), m(x, x, x)[0].detach().numpy())


# --- Transformer encoder ------------------------------------------------------------------------------

@pytest.mark.parametrize("kw", [{}, {"norm_first": True, "activation": "gelu"}, {"batch_first": True, "bias": False}])
def test_transformer_encoder_layer(kw):
    tm = torch.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **kw).double()
    nm = nnbox.nn.TransformerEncoderLayer(8, 2, 16, dropout=0.0, **kw).double()
    assert repr(nm) == repr(tm)
    assert list(nm.state_dict()) == list(tm.state_dict())
    nm.load_state_dict({k: nnbox.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    kpm = np.array([[False, False, True], [False, False, False], [True, False, False], [False, False, False]])
    if not kw.get("batch_first"):
        kpm = kpm.T.copy()
    run_both(tm, nm, [arr(4, 3, 8), kpm], lambda m, mod, x, kpm: (mod(x, src_key_padding_mask=kpm),),
             grad_inputs=(0,))


def test_transformer_encoder_stack():
    layer_args = (8, 2, 16)
    tm = torch.nn.TransformerEncoder(torch.nn.TransformerEncoderLayer(*layer_args, dropout=0.0), 2,
                                     norm=torch.nn.LayerNorm(8), enable_nested_tensor=False).double()
    nm = nnbox.nn.TransformerEncoder(nnbox.nn.TransformerEncoderLayer(*layer_args, dropout=0.0), 2,
                                     norm=nnbox.nn.LayerNorm(8), enable_nested_tensor=False).double()
    assert repr(nm) == repr(tm)
    assert list(nm.state_dict()) == list(tm.state_dict())
    nm.load_state_dict({k: nnbox.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})
    causal = np.triu(np.ones((5, 5), dtype=bool), 1)
    run_both(tm, nm, [arr(5, 2, 8), causal], lambda m, mod, x, mk: (mod(x, mask=mk),), grad_inputs=(0,))
    tm.eval()
    nm.eval()
    with torch.no_grad(), nnbox.no_grad():
        x = arr(5, 2, 8)
        np.testing.assert_allclose(nm(nnbox.tensor(x)).numpy(), tm(torch.tensor(x)).numpy(), rtol=1e-9, atol=1e-10)


def _copy(tm, nm):
    assert repr(nm) == repr(tm)
    assert list(nm.state_dict()) == list(tm.state_dict())
    nm.load_state_dict({k: nnbox.tensor(v.detach().numpy()) for k, v in tm.state_dict().items()})


@pytest.mark.parametrize("kw", [{}, {"norm_first": True, "batch_first": True, "activation": "gelu"}])
def test_transformer_decoder_layer_and_stack(kw):
    tl = torch.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, **kw)
    nl = nnbox.nn.TransformerDecoderLayer(8, 2, 16, dropout=0.0, **kw)
    tm = torch.nn.TransformerDecoder(tl, 2, norm=torch.nn.LayerNorm(8)).double()
    nm = nnbox.nn.TransformerDecoder(nl, 2, norm=nnbox.nn.LayerNorm(8)).double()
    _copy(tm, nm)
    causal = np.triu(np.ones((4, 4), dtype=bool), 1)
    tgt, mem = (arr(2, 4, 8), arr(2, 5, 8)) if kw.get("batch_first") else (arr(4, 2, 8), arr(5, 2, 8))
    mkpm = np.array([[False, False, False, True, True], [False] * 5])
    run_both(tm, nm, [tgt, mem, causal, mkpm],
             lambda m, mod, t, mem, c, k: (mod(t, mem, tgt_mask=c, memory_key_padding_mask=k),), grad_inputs=(0, 1))


def test_transformer_full_model():
    tm = torch.nn.Transformer(8, 2, 2, 2, 16, dropout=0.0).double()
    nm = nnbox.nn.Transformer(8, 2, 2, 2, 16, dropout=0.0).double()
    _copy(tm, nm)
    mask = nnbox.nn.Transformer.generate_square_subsequent_mask(3).numpy()
    np.testing.assert_array_equal(mask, torch.nn.Transformer.generate_square_subsequent_mask(3).numpy())
    run_both(tm, nm, [arr(5, 2, 8), arr(3, 2, 8), mask.astype(np.float64)],
             lambda m, mod, s, t, mk: (mod(s, t, tgt_mask=mk),), grad_inputs=(0, 1))
    for m in (torch, nnbox):
        with pytest.raises(RuntimeError, match="the batch number of src and tgt must be equal"):
            (tm if m is torch else nm)(m.zeros(5, 2, 8, dtype=m.float64), m.zeros(3, 1, 8, dtype=m.float64))


# --- double backward (create_graph=True) --------------------------------------------------------------
def _attn_with_weights(m, q, k, v, mask):
    """Attention returning its weights (MHA's ``need_weights=True`` path): torch composes it from
    differentiable ops; nnbox runs its fused node."""
    if m is torch:
        p = torch.softmax(q @ k.transpose(-1, -2) * 0.7 + mask, -1)
        return p @ v, p
    from nnbox.ops.attention import Attention

    return Attention.apply(q, k, v, mask, 0.7, 0.0, None, False, True)


def test_attention_with_weights_double_backward_matches_torch():
    check(_attn_with_weights, [arr(2, 3, 4), arr(2, 5, 4), arr(2, 5, 6), arr(2, 1, 5)], order=2, rtol=1e-8)
    check(lambda m, q, k, v, mk: _attn_with_weights(m, q, k, v, mk)[0],
          [arr(3, 4), arr(6, 4), arr(6, 2), arr(3, 6)], order=2, rtol=1e-8)


@pytest.mark.parametrize("kw", [{}, {"is_causal": True}])
def test_sdpa_math_path_double_backward_matches_torch(kw):
    """Inputs torch's fused kernel does not take (3-d, broadcast batch, other head dims): torch's
    math path is differentiable twice, and so is nnbox's node."""
    check(lambda m, q, k, v: F(m).scaled_dot_product_attention(q, k, v, **kw), [arr(2, 3, 4), arr(2, 5, 4), arr(2, 5, 6)],
          order=2, rtol=1e-8)
    check(lambda m, q, k, v: F(m).scaled_dot_product_attention(q, k, v, **kw),
          [arr(2, 2, 3, 4), arr(1, 2, 5, 4), arr(1, 2, 5, 4)], order=2, rtol=1e-8)


def test_sdpa_fused_kernel_cannot_be_differentiated_twice_as_torch():
    """torch's fused CPU kernel (4-d SDPA without dropout; MHA without weights) has no double backward."""
    q, k, v = arr(2, 2, 3, 4), arr(2, 2, 5, 4), arr(2, 2, 5, 4)
    errors = []
    for m in (torch, nnbox):
        tq, tk, tv = (m.tensor(a, requires_grad=True) for a in (q, k, v))
        out = F(m).scaled_dot_product_attention(tq, tk, tv)
        (gq,) = m.autograd.grad(out.sum(), (tq,), create_graph=True)
        with pytest.raises(RuntimeError) as e:
            (gq * gq).sum().backward()
        errors.append(str(e.value))
    assert errors[1] == errors[0]


@pytest.mark.cpu_only(reason="compares torch's CPU random stream draw for draw; on cuda nnbox draws from CuPy's generator")
def test_sdpa_dropout_double_backward_matches_torch():
    """With dropout torch takes its math path (differentiable twice); nnbox draws torch's keep-mask
    from the same seed, so the second derivatives are torch's."""
    q, k, v, p = arr(2, 3, 4), arr(2, 5, 4), arr(2, 5, 6), 0.4
    res = []
    for m in (torch, nnbox):
        m.manual_seed(5)
        tq, tk, tv = (m.tensor(a, requires_grad=True) for a in (q, k, v))
        out = F(m).scaled_dot_product_attention(tq, tk, tv, dropout_p=p)
        g = m.tensor(np.cos(np.arange(30.0)).reshape(2, 3, 5) @ np.ones((5, 6)))
        gq, gk, gv = m.autograd.grad(out, (tq, tk, tv), g, create_graph=True)
        ((gq * gq).sum() + (gk * gk).sum() * 0.3 + (gv * gv).sum() * 0.5).backward()
        res.append([out.detach().numpy()] + [t.grad.detach().numpy() for t in (tq, tk, tv)])
    for a, b in zip(*res):
        np.testing.assert_allclose(b, a, rtol=1e-8, atol=1e-10)


def test_attention_third_order_is_a_clear_error():
    q, k, v = (nnbox.tensor(arr(2, 3, 4), requires_grad=True) for _ in range(3))
    out, _ = _attn_with_weights(nnbox, q, k, v, nnbox.tensor(arr(3, 3)))
    (gq,) = nnbox.autograd.grad(out.sum(), (q,), create_graph=True)
    (gk,) = nnbox.autograd.grad((gq * gq).sum(), (k,), create_graph=True)
    with pytest.raises(RuntimeError, match="third order"):
        (gk * gk).sum().backward()


def test_attention_gradgrad_finite_differences():
    from oracle import gradgrad_fd

    q, k = nnbox.tensor(arr(2, 3, 4), requires_grad=True), nnbox.tensor(arr(2, 5, 4), requires_grad=True)
    v, mask = nnbox.tensor(arr(2, 5, 6), requires_grad=True), nnbox.tensor(arr(3, 5), requires_grad=True)
    assert gradgrad_fd(lambda q, k, v, mk: _attn_with_weights(nnbox, q, k, v, mk)[0], (q, k, v, mask))
