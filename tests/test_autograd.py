"""Autograd semantics against torch: accumulation, retain_graph, autograd.grad/backward options,
hooks, in-place/version-counter errors, user Functions, anomaly detection, grad modes."""
import warnings

import numpy as np
import pytest
import torch

import nnbox

LIBS = [torch, nnbox]


def _np(t):
    return t.detach().numpy()


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_grad_accumulates_over_two_backwards(m):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    (x * 3).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [5.0, 7.0])
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [3.0, 3.0])
    x.grad.zero_()
    (x * 2).sum().backward()
    np.testing.assert_allclose(_np(x.grad), [2.0, 2.0])


def test_grad_not_aliased_between_leaves_and_accumulation_in_place():
    # the same gradient array must not end up in two leaves' .grad (a later += would corrupt both)
    a = nnbox.ones(3, requires_grad=True)
    b = nnbox.ones(3, requires_grad=True)
    (a + b).sum().backward()
    a.grad += 1
    assert b.grad.tolist() == [1.0, 1.0, 1.0]
    g = a.grad
    (a * 2).sum().backward()
    assert a.grad is g and a.grad.tolist() == [4.0, 4.0, 4.0]


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_shared_input_and_diamond(m):
    x = m.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 2
    z = y * y + y.exp() + y
    z.sum().backward()
    expected = 2 * (2 * 2 * np.array([1.0, 2, 3]) + np.exp(2 * np.array([1.0, 2, 3])) + 1)
    np.testing.assert_allclose(_np(x.grad), expected)


def test_backward_nonscalar_needs_gradient():
    for m in LIBS:
        x = m.ones(2, 3, requires_grad=True)
        with pytest.raises(RuntimeError, match="grad can be implicitly created only for scalar outputs"):
            (x * 2).backward()
        (x * 2).backward(m.full((2, 3), 0.5))
        np.testing.assert_allclose(_np(x.grad), np.ones((2, 3)))
        with pytest.raises(RuntimeError, match="Mismatch in shape"):
            (x * 2).backward(m.ones(3))


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_second_backward_through_freed_graph(m):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        y.backward()
    z = (x.exp()).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(_np(x.grad), 2 * np.array([1.0, 2.0]) + 2 * np.exp([1.0, 2.0]))


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_requires_grad_propagation(m):
    a = m.ones(2, requires_grad=True)
    b = m.ones(2)
    assert (a + b).requires_grad and not (b + b).requires_grad
    assert (a + b).grad_fn is not None and (b * 2).grad_fn is None
    assert a.is_leaf and b.is_leaf and not (a * 2).is_leaf
    assert (a * 2).detach().is_leaf and not (a * 2).detach().requires_grad
    assert not (a > 0).requires_grad
    assert (a.argmax()).grad_fn is None
    with pytest.raises(RuntimeError, match="only Tensors of floating point"):
        m.ones(2, dtype=m.int64).requires_grad_()
    with pytest.raises(RuntimeError, match="does not require grad and does not have a grad_fn"):
        (b * 2).sum().backward()
    with pytest.raises(RuntimeError, match="you can only change requires_grad flags of leaf variables"):
        (a * 2).requires_grad_(False)


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_autograd_grad_options(m):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    y = m.tensor([3.0], requires_grad=True)
    w = m.tensor([5.0], requires_grad=True)
    out = (x * x).sum() * y
    gx, gy = m.autograd.grad(out, [x, y], retain_graph=True)
    np.testing.assert_allclose(_np(gx), [6.0, 12.0])
    np.testing.assert_allclose(_np(gy), [5.0])
    assert x.grad is None and y.grad is None
    with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
        m.autograd.grad(out, [x, w], retain_graph=True)
    gx, gw = m.autograd.grad(out, [x, w], allow_unused=True, retain_graph=True)
    assert gw is None
    gx, gw = m.autograd.grad(out, [x, w], allow_unused=True, materialize_grads=True, retain_graph=True)
    np.testing.assert_allclose(_np(gw), [0.0])
    v = x * 2
    (gv,) = m.autograd.grad(v, x, grad_outputs=m.tensor([1.0, 10.0]))
    np.testing.assert_allclose(_np(gv), [2.0, 20.0])
    # gradient w.r.t. an intermediate (non-leaf) tensor
    h = x * 3
    o = (h * h).sum()
    (gh,) = m.autograd.grad(o, h)
    np.testing.assert_allclose(_np(gh), 2 * 3 * np.array([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="does not require grad"):
        m.autograd.grad((x * 2).sum(), m.ones(2))


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_backward_inputs_and_multiple_roots(m):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    y = m.tensor([3.0, 4.0], requires_grad=True)
    z = (x * y).sum()
    z.backward(inputs=[x])
    assert y.grad is None
    np.testing.assert_allclose(_np(x.grad), [3.0, 4.0])
    a, b = x * 2, y * 3
    m.autograd.backward([a.sum(), b.sum()])
    np.testing.assert_allclose(_np(x.grad), [5.0, 6.0])
    np.testing.assert_allclose(_np(y.grad), [3.0, 3.0])
    a, b = x * 2, y * 3
    m.autograd.backward([a, b], grad_tensors=[m.ones(2), m.full((2,), 2.0)])
    np.testing.assert_allclose(_np(y.grad), [9.0, 9.0])


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_hooks_and_retain_grad(m):
    x = m.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    h = x.register_hook(lambda g: seen.append(_np(g).copy()))
    y = x * 3
    y.retain_grad()
    y.register_hook(lambda g: g * 10)  # changes what flows on to x
    (y * y).sum().backward()
    np.testing.assert_allclose(_np(y.grad), 2 * 3 * np.array([1.0, 2.0]) * 10)
    np.testing.assert_allclose(_np(x.grad), 2 * 9 * np.array([1.0, 2.0]) * 10)
    np.testing.assert_allclose(seen[0], _np(x.grad))
    h.remove()
    (x * 1).sum().backward()
    assert len(seen) == 1
    assert y.retains_grad and not x.retains_grad
    with pytest.raises(RuntimeError):
        m.ones(2).register_hook(lambda g: g)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        z = x * 2
        assert z.grad is None
        assert any("non-leaf" in str(i.message) for i in w)


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_inplace_on_saved_tensor_raises(m):
    a = m.tensor([1.0, 2.0], requires_grad=True)
    b = a.exp()  # exp saves its output
    b.add_(1)
    with pytest.raises(RuntimeError, match="one of the variables needed for gradient computation has been modified by an inplace operation"):
        b.sum().backward()
    c = a * 1
    d = c.sigmoid()
    c.mul_(2)  # c is not saved by sigmoid (output is): fine
    d.sum().backward()
    e = a * 1
    f = e * e
    e[0] = 0.0
    with pytest.raises(RuntimeError, match=r"\[torch.FloatTensor \[2\]\], which is output 0 of \S+, is at version 1; expected version 0 instead. Hint:"):
        f.sum().backward()
    g = m.ones(2)
    h = a * g
    g.add_(1)
    with pytest.raises(RuntimeError, match=r"\[torch.FloatTensor \[2\]\] is at version 1; expected version 0 instead"):
        h.sum().backward()


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_inplace_grad_correct(m):
    a = m.tensor([1.0, -2.0, 3.0], requires_grad=True)
    b = a * 2
    b.add_(1)
    b.mul_(3)
    b.relu_() if hasattr(b, "relu_") else None
    b.sum().backward()
    np.testing.assert_allclose(_np(a.grad), [6.0, 0.0, 6.0])
    assert b._version >= 3


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_leaf_inplace_errors(m):
    w = m.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation."):
        w.add_(1)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place operation."):
        w += 1
    with pytest.raises(RuntimeError, match="a view of a leaf Variable that requires grad is being used in an in-place operation."):
        w[:2].mul_(2)
    with m.no_grad():
        w.mul_(2)
        w -= 0.5
    np.testing.assert_allclose(_np(w), [1.5, 1.5, 1.5])
    assert w.is_leaf and w.requires_grad
    w.data.add_(1)  # .data bypasses autograd
    np.testing.assert_allclose(_np(w), [2.5, 2.5, 2.5])


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_data_and_detach_semantics(m):
    x = m.ones(3, requires_grad=True)
    d = x.data
    assert not d.requires_grad and d.is_leaf
    d[0] = 5.0
    assert x[0].item() == 5.0
    v0 = x._version
    x.data.mul_(2)
    assert x._version == v0  # .data has its own version counter
    det = x.detach()
    det.mul_(2)
    assert x._version == v0 + 1  # detach shares it
    x.data = m.zeros(3)
    assert x.requires_grad and x.sum().item() == 0.0


def test_out_nr_and_multi_output_grads():
    from oracle import arr, check

    check(lambda m, x: x.max(1)[0] + x.min(1)[0], [arr(3, 4)])
    check(lambda m, x: m.var_mean(x, 1)[1], [arr(3, 4)])


# --- user-defined Functions ----------------------------------------------------------------------

def _user_functions(m):
    class MulAdd(m.autograd.Function):
        @staticmethod
        def forward(ctx, x, y, k):
            ctx.save_for_backward(x, y)
            ctx.k = k
            return x * y + k

        @staticmethod
        def backward(ctx, g):
            x, y = ctx.saved_tensors
            return (g * y if ctx.needs_input_grad[0] else None, g * x if ctx.needs_input_grad[1] else None, None)

    class SortWithIdx(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            v, i = x.sort()
            ctx.mark_non_differentiable(i)
            ctx.save_for_backward(i)
            return v, i

        @staticmethod
        def backward(ctx, gv, gi):
            (i,) = ctx.saved_tensors
            out = m.zeros_like(gv)
            out[i] = gv
            return out

    class Square(m.autograd.Function):
        @staticmethod
        def forward(x):
            return x * x

        @staticmethod
        def setup_context(ctx, inputs, output):
            (x,) = inputs
            ctx.save_for_backward(x)

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    return MulAdd, SortWithIdx, Square


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_user_function(m):
    MulAdd, SortWithIdx, Square = _user_functions(m)
    x = m.tensor([1.0, 2.0], requires_grad=True)
    y = m.tensor([3.0, 4.0])
    out = MulAdd.apply(x, y, 5.0)
    assert out.grad_fn.name() == "MulAddBackward" and out.requires_grad
    np.testing.assert_allclose(_np(out), [8.0, 13.0])
    out.sum().backward()
    np.testing.assert_allclose(_np(x.grad), [3.0, 4.0])
    v, i = SortWithIdx.apply(m.tensor([3.0, 1.0, 2.0], requires_grad=True))
    assert v.requires_grad and not i.requires_grad
    s = m.tensor([1.0, -3.0], requires_grad=True)
    Square.apply(s).sum().backward()
    np.testing.assert_allclose(_np(s.grad), [2.0, -6.0])
    with m.no_grad():
        assert not MulAdd.apply(x, y, 1.0).requires_grad


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_user_function_wrong_grad_count(m):
    class Bad(m.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g, g

    x = m.ones(2, requires_grad=True)
    with pytest.raises(RuntimeError, match="returned an incorrect number of gradients"):
        Bad.apply(x).sum().backward()


# --- anomaly detection -------------------------------------------------------------------------

def test_detect_anomaly_names_op():
    x = nnbox.tensor([0.0, 1.0], requires_grad=True)
    with nnbox.autograd.detect_anomaly():
        y = nnbox.sqrt(x) * 0.0  # d/dx sqrt at 0 is inf; inf * 0 -> nan in SqrtBackward0
        with pytest.raises(RuntimeError, match="Function 'SqrtBackward0' returned nan values in its 0th output."):
            with pytest.warns(UserWarning, match="Error detected in SqrtBackward0"):
                y.sum().backward()
    tx = torch.tensor([0.0, 1.0], requires_grad=True)
    with torch.autograd.detect_anomaly():
        ty = torch.sqrt(tx) * 0.0
        with pytest.raises(RuntimeError, match="Function 'SqrtBackward0' returned nan values in its 0th output."):
            with pytest.warns(UserWarning):
                ty.sum().backward()
    assert not nnbox.autograd.is_anomaly_enabled()


# --- grad modes ----------------------------------------------------------------------------------

@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_grad_modes(m):
    x = m.ones(2, requires_grad=True)
    with m.no_grad():
        assert not (x * 2).requires_grad
        with m.enable_grad():
            assert (x * 2).requires_grad
    with m.set_grad_enabled(False):
        assert not m.is_grad_enabled()
    assert m.is_grad_enabled()
    m.set_grad_enabled(False)
    assert not (x * 2).requires_grad
    m.set_grad_enabled(True)
    with m.inference_mode():
        assert not (x * 2).requires_grad and m.is_inference_mode_enabled()
    with m.inference_mode(False):
        assert (x * 2).requires_grad

    @m.no_grad()
    def f(t):
        return t * 2

    @m.enable_grad()
    def g(t):
        return t * 2

    @m.inference_mode()
    def h(t):
        return t * 2

    assert not f(x).requires_grad and not h(x).requires_grad
    with m.no_grad():
        assert g(x).requires_grad
    assert m.is_grad_enabled()


def test_grad_mode_restored_after_exception():
    x = nnbox.ones(2, requires_grad=True)
    with pytest.raises(ValueError):
        with nnbox.no_grad():
            raise ValueError
    assert nnbox.is_grad_enabled() and (x * 2).requires_grad


def test_grad_fn_names_match_torch():
    def names(m):
        a = m.ones(2, 3, requires_grad=True)
        b = m.ones(3, 4)
        exprs = [a @ b, a @ m.ones(3), m.addmm(m.ones(4), a, b), a[0], a[[0]], a[0:1], a.double(), a.max(),
                 a.max(1)[0], a.std(), a.logsumexp(1), a.sum(), a.sum(1), a.mean(), a.mean(0), a.t(),
                 a.transpose(0, 1), a.view(6), a + 1, a * a, a - a, a / 2, a.relu(), a.sigmoid(), a.tanh(),
                 a.exp(), a.softmax(1), a.log_softmax(1), m.cat([a, a]), m.stack([a, a]), a.unsqueeze(0),
                 a.expand(2, 2, 3), a.clamp(0, 1), a.masked_fill(a > 0, 0.0), a.tril(), a.pow(2), a.clone(),
                 a.permute(1, 0), a.squeeze(), a.abs(), a.neg(), a.sqrt(), a.prod(1), 1 - a]
        return [e.grad_fn.name() for e in exprs]

    assert names(nnbox) == names(torch)


def test_next_functions():
    a = nnbox.ones(2, requires_grad=True)
    b = nnbox.ones(2)
    c = a * b + a
    fns = c.grad_fn.next_functions
    assert fns[0][0].name() == "MulBackward0"
    assert fns[1][0].name() == "AccumulateGrad" and fns[1][0].variable is a
    assert (a * b).grad_fn.next_functions[1] == (None, 0)


def test_leaf_grad_never_aliases_the_callers_gradient():
    # y = x + 0 passes the upstream gradient through unchanged: .grad must be a copy, or the next
    # accumulation would write into the caller's tensor (and double it every step)
    x = nnbox.ones(2, requires_grad=True)
    y = nnbox.ones(2, requires_grad=True)
    g = nnbox.ones(2)
    for _ in range(3):
        (x + y).backward(g)
    assert g.tolist() == [1.0, 1.0]
    assert x.grad.tolist() == [3.0, 3.0] and y.grad.tolist() == [3.0, 3.0]


def _view_inplace_cases():
    def c1(m, x):
        y = x * 1.0
        y[0] += x[1]
        return y

    def c2(m, x):
        y = x * 1.0
        y[:, 1].mul_(2)
        return y.exp()

    def c3(m, x):
        y = x * 1.0
        y.t()[0].add_(1).mul_(x[:, 0])
        return y

    def c4(m, x):
        y = m.zeros(3, 4, dtype=m.float64)
        y[1:].add_(x[:2])
        return y * 3

    def c5(m, x):
        y = x * 2.0
        y.view(-1)[2:5].mul_(x.view(-1)[:3])
        return y

    def c6(m, x):
        y = x * 2.0
        y[1].zero_()
        y[2, 1:].fill_(5.0)
        return y

    def c7(m, x):
        y = x.tanh() * 1.0  # (tanh saves its output; the copy keeps that one untouched)
        y[0][1] = x[2, 2]  # setitem on a view of a view
        return y.sum(1)

    def c8(m, x):
        y = x * 1.0
        v = y[:, ::2]
        v.clamp_(min=0.0)
        return y + v.sum()

    return [c1, c2, c3, c4, c5, c6, c7, c8]


@pytest.mark.parametrize("k", range(8))
def test_inplace_on_views_rebases_base(k):
    from oracle import arr, check

    check(_view_inplace_cases()[k], [arr(3, 4)])


def test_inplace_on_view_names_and_versions():
    x = nnbox.ones(2, 3, requires_grad=True)
    y = x * 1.0
    v = y[0]
    v.add_(1)
    assert y.grad_fn.name() == "torch::autograd::CopySlices"
    assert v._version == y._version == 1
    tx = torch.ones(2, 3, requires_grad=True)
    ty = tx * 1.0
    ty[0].add_(1)
    assert ty.grad_fn.name() == y.grad_fn.name()


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_backward_inputs_fills_non_leaf_grad(m):
    x = m.ones(2, requires_grad=True)
    h = x * 3
    (h * h).sum().backward(inputs=[h, x])
    np.testing.assert_allclose(_np(h.grad), [6.0, 6.0])
    np.testing.assert_allclose(_np(x.grad), [18.0, 18.0])


@pytest.mark.parametrize("m", LIBS, ids=["torch", "nnbox"])
def test_view_taken_before_base_inplace_sees_the_change(m):
    # the view's gradient must go through the in-place op made on its base afterwards
    x = m.ones(3, requires_grad=True)
    y = x * 1.0
    v = y[0:2]
    w = y.t() if False else y.view(3)
    y.mul_(2)
    (v.sum() + w[2]).backward()
    np.testing.assert_allclose(_np(x.grad), [2.0, 2.0, 2.0])
    a = m.ones(2, 2, requires_grad=True)
    b = a * 1.0
    r0, r1 = b[0], b[1]
    r0.mul_(3)  # a sibling view modified in place
    (r0.sum() + r1.sum() * 10).backward()
    np.testing.assert_allclose(_np(a.grad), [[3.0, 3.0], [10.0, 10.0]])
