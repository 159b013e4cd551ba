"""Finite-difference checks (float64) of every hand-written backward in the core ops, and of
``gradcheck`` itself."""
import numpy as np
import pytest
import torch

import nnbox
from nnbox.autograd import GradcheckError, gradcheck, gradgradcheck

RNG = np.random.default_rng(7)


def T(*shape, low=-2.0, high=2.0, positive=False, grad=True):
    a = RNG.uniform(0.3 if positive else low, high, size=shape)
    if not positive:  # keep away from the kinks at 0 (abs, relu, sign ...)
        a = np.where(np.abs(a) < 0.1, 0.5, a)
    return nnbox.tensor(a, dtype=nnbox.float64, requires_grad=grad)


def I(*vals):
    return nnbox.tensor(list(vals))


CASES = {
    # elementwise binary, with broadcasting and scalars
    "add": (lambda a, b: nnbox.add(a, b, alpha=2.5), [T(2, 3), T(3)]),
    "sub": (lambda a, b: nnbox.sub(a, b, alpha=-1.5), [T(2, 1, 3), T(4, 1)]),
    "mul": (lambda a, b: a * b, [T(2, 3), T(2, 1)]),
    "div": (lambda a, b: a / b, [T(2, 3), T(3, positive=True)]),
    "rdiv": (lambda a: 2.0 / a, [T(4, positive=True)]),
    "pow_tt": (lambda a, b: a ** b, [T(2, 3, positive=True), T(3)]),
    "pow_ts": (lambda a: a ** 3, [T(5)]),
    "pow_frac": (lambda a: a ** 0.7, [T(5, positive=True)]),
    "rpow": (lambda a: 1.7 ** a, [T(5)]),
    "maximum": (lambda a, b: nnbox.maximum(a, b), [T(3, 4), T(4)]),
    "minimum": (lambda a, b: nnbox.minimum(a, b), [T(3, 4), T(3, 1)]),
    "atan2": (lambda a, b: nnbox.atan2(a, b), [T(3, 4), T(4, positive=True)]),
    "remainder": (lambda a, b: nnbox.remainder(a, b), [T(6, low=0.1, high=0.9), T(6, low=1.5, high=2.0)]),
    "fmod": (lambda a, b: nnbox.fmod(a, b), [T(6, low=0.1, high=0.9), T(6, low=1.5, high=2.0)]),
    "lerp": (lambda a, b, w: nnbox.lerp(a, b, w), [T(3), T(3), T(3)]),
    # unary math
    **{name: (getattr(nnbox, name), [T(2, 3)]) for name in
       ["neg", "abs", "exp", "exp2", "expm1", "square", "sin", "cos", "atan", "sinh", "cosh", "tanh", "sigmoid",
        "relu", "frac"]},
    **{name: (getattr(nnbox, name), [T(2, 3, positive=True)]) for name in
       ["log", "log2", "log10", "log1p", "sqrt", "rsqrt", "reciprocal"]},
    **{name: (getattr(nnbox, name), [T(2, 3, low=-0.8, high=0.8)]) for name in ["asin", "acos", "tan"]},
    "rounding": (lambda a: a.floor() + a.ceil() + a.round() + a.trunc() + a.sign(), [T(2, 3, low=0.1, high=0.4)]),
    "clamp": (lambda a: a.clamp(-1.0, 1.0), [T(3, 4)]),
    "clamp_tensor": (lambda a, lo: a.clamp(min=lo), [T(3, 4), T(4)]),
    # reductions
    "sum": (lambda a: a.sum(), [T(2, 3)]),
    "sum_dim": (lambda a: a.sum((0, 2), keepdim=True), [T(2, 3, 2)]),
    "mean": (lambda a: a.mean(1), [T(2, 3)]),
    "prod": (lambda a: a.prod(), [T(4)]),
    "prod_dim": (lambda a: a.prod(1), [T(2, 3)]),
    "prod_zero": (lambda a: (a * nnbox.tensor([1.0, 0.0, 1.0, 1.0], dtype=nnbox.float64)).prod(), [T(4)]),
    "max_dim": (lambda a: a.max(1)[0], [T(3, 4)]),
    "min_dim": (lambda a: a.min(0, keepdim=True).values, [T(3, 4)]),
    "max_all": (lambda a: a.max(), [T(3, 4)]),
    "amax": (lambda a: a.amax((0, 1)), [T(2, 3, 2)]),
    "var": (lambda a: a.var(1), [T(3, 4)]),
    "var_corr0": (lambda a: a.var(correction=0), [T(3, 4)]),
    "std": (lambda a: a.std(0, keepdim=True), [T(3, 4)]),
    "logsumexp": (lambda a: a.logsumexp(1), [T(3, 4)]),
    "cumsum": (lambda a: a.cumsum(1), [T(3, 4)]),
    "cumprod": (lambda a: a.cumprod(1), [T(3, 4)]),
    "cumprod_zero": (lambda a: (a * nnbox.tensor([1.0, 0.0, 1.0], dtype=nnbox.float64)).cumprod(0), [T(3)]),
    "softmax": (lambda a: a.softmax(1), [T(3, 4)]),
    "log_softmax": (lambda a: a.log_softmax(0), [T(3, 4)]),
    # linear algebra
    "mm": (lambda a, b: a @ b, [T(2, 3), T(3, 4)]),
    "mv": (lambda a, b: a @ b, [T(2, 3), T(3)]),
    "vm": (lambda a, b: a @ b, [T(3), T(3, 4)]),
    "dot": (lambda a, b: a @ b, [T(3), T(3)]),
    "bmm_broadcast": (lambda a, b: a @ b, [T(2, 1, 2, 3), T(3, 3, 2)]),
    "addmm": (lambda c, a, b: nnbox.addmm(c, a, b, beta=0.5, alpha=2.0), [T(4), T(2, 3), T(3, 4)]),
    "einsum": (lambda a, b: nnbox.einsum("bij,bjk->bik", a, b), [T(2, 2, 3), T(2, 3, 2)]),
    "einsum_sum": (lambda a: nnbox.einsum("ij->j", a), [T(2, 3)]),
    "einsum3": (lambda a, b, c: nnbox.einsum("ij,jk,kl->il", a, b, c), [T(2, 3), T(3, 2), T(2, 2)]),
    "norm": (lambda a: a.norm(dim=1), [T(3, 4)]),
    "diag": (lambda a: nnbox.diag(a, 1), [T(3, 3)]),
    "diag_embed": (lambda a: nnbox.diag(a), [T(3)]),
    # shape
    "view": (lambda a: a.view(3, 2) * 2, [T(2, 3)]),
    "reshape_copy": (lambda a: a.t().reshape(-1), [T(2, 3)]),
    "squeeze": (lambda a: a.squeeze(1).unsqueeze(0), [T(2, 1, 3)]),
    "permute": (lambda a: a.permute(2, 0, 1), [T(2, 3, 2)]),
    "expand": (lambda a: a.expand(2, 3, 4), [T(3, 1)]),
    "repeat": (lambda a: a.repeat(2, 1, 3), [T(2, 3)]),
    "repeat_interleave": (lambda a: a.repeat_interleave(2, dim=1), [T(2, 3)]),
    "repeat_interleave_t": (lambda a: a.repeat_interleave(nnbox.tensor([1, 3]), dim=0), [T(2, 3)]),
    "contiguous": (lambda a: a.t().contiguous(), [T(2, 3)]),
    "clone": (lambda a: a.clone(), [T(2, 3)]),
    "cat": (lambda a, b: nnbox.cat([a, b], 1), [T(2, 3), T(2, 2)]),
    "stack": (lambda a, b: nnbox.stack([a, b], 2), [T(2, 3), T(2, 3)]),
    "split": (lambda a: a.split([1, 3], 1)[1] * a.split(2, 1)[0].sum(), [T(2, 4)]),
    "unbind": (lambda a: a.unbind(1)[2], [T(2, 3)]),
    "flip": (lambda a: a.flip((0, 1)), [T(2, 3)]),
    "roll": (lambda a: a.roll((1, -1), (0, 1)), [T(2, 3)]),
    "narrow": (lambda a: a.narrow(1, 1, 2), [T(2, 4)]),
    "tril": (lambda a: a.tril(-1) + a.triu(1), [T(3, 3)]),
    # indexing
    "slice": (lambda a: a[1:, ::2, None], [T(3, 4)]),
    "index_int_tensor": (lambda a: a[nnbox.tensor([0, 2, 0])], [T(3, 4)]),
    "index_bool": (lambda a: a[a > 0], [T(3, 4)]),
    "index_pair": (lambda a: a[I(0, 1), I(2, 2)], [T(3, 4)]),
    "gather": (lambda a: a.gather(1, nnbox.tensor([[0, 0], [2, 1]])), [T(2, 3)]),
    "scatter": (lambda a, s: a.scatter(1, nnbox.tensor([[2], [0]]), s), [T(2, 3), T(2, 1)]),
    "scatter_add": (lambda a, s: a.scatter_add(0, nnbox.tensor([[1, 1, 0]]), s), [T(2, 3), T(1, 3)]),
    "index_select": (lambda a: a.index_select(1, nnbox.tensor([2, 0, 2])), [T(2, 3)]),
    "index_add": (lambda a, s: a.index_add(0, nnbox.tensor([1, 1]), s), [T(2, 3), T(2, 3)]),
    "where": (lambda a, b: nnbox.where(a > 0, a, b), [T(3, 4), T(4)]),
    "masked_fill": (lambda a: a.masked_fill(a < 0, 0.5), [T(3, 4)]),
    "masked_select": (lambda a: a.masked_select(a > 0), [T(3, 4)]),
    "sort": (lambda a: a.sort(1)[0], [T(3, 4)]),
    "topk": (lambda a: a.topk(2)[0], [T(3, 4)]),
    "median": (lambda a: a.median(1)[0], [T(3, 5)]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradcheck_core_op(name):
    fn, inputs = CASES[name]
    assert gradcheck(fn, inputs, eps=1e-6, atol=1e-6, rtol=1e-4)


def _setitem(a, v):
    y = a * 1.0
    y[1, 1:] = v
    return y


def _inplace_chain(a, b):
    y = a * 1.0
    y.mul_(b).add_(1.0).abs_().pow_(2)
    return y


def _inplace_on_view(a, b):
    y = a * 1.0
    y.t()[1:, 0].mul_(b)  # CopySlices for y, and a view re-derived from it
    v = y[:, 0]
    v.add_(2.0)
    return y * v.sum()


def test_gradcheck_setitem_and_inplace():
    assert gradcheck(_setitem, [T(3, 4), T(3)])
    assert gradcheck(_inplace_chain, [T(3), T(3)])
    assert gradcheck(_inplace_on_view, [T(3, 4), T(3)])


def test_gradcheck_cast_through_float32():
    # float32 rounding makes fine differences noisy: a coarse step and tolerance
    assert gradcheck(lambda a: a.float().double() * 2, (T(3),), eps=1e-2, atol=1e-3, rtol=1e-3)


def test_gradcheck_user_function():
    class Cube(nnbox.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * x * g

    assert gradcheck(Cube.apply, (T(4),))


def test_gradcheck_catches_wrong_backward():
    class Wrong(nnbox.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = T(3)
    with pytest.raises(GradcheckError, match="Jacobian mismatch for output 0 with respect to input 0"):
        gradcheck(Wrong.apply, (x,))
    assert gradcheck(Wrong.apply, (x,), raise_exception=False) is False
    # torch's gradcheck raises the same kind of error for the same mistake
    class TWrong(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, g):
            return g * 3

    from torch.autograd.gradcheck import GradcheckError as TorchGradcheckError

    with pytest.raises(TorchGradcheckError):
        torch.autograd.gradcheck(TWrong.apply, (torch.rand(3, dtype=torch.float64, requires_grad=True),))


def test_gradcheck_arguments():
    with pytest.raises(ValueError):
        gradcheck(lambda a: a * 2, (nnbox.ones(2, dtype=nnbox.float64),))
    with pytest.warns(UserWarning, match="not a double precision"):
        gradcheck(lambda a: a * 2, (nnbox.ones(2, requires_grad=True),), atol=1e-2, rtol=1e-2, eps=1e-3)
    with pytest.raises(NotImplementedError, match="check_forward_ad"):
        gradcheck(lambda a: a * 2, (T(2),), check_forward_ad=True)
    assert gradgradcheck(lambda a: a * a * 2, (T(2),))
    # several outputs, non-tensor arguments passed through, an input that does not require grad
    assert gradcheck(lambda a, k, b: (a * k, a + b), (T(2, 2), 3.0, T(2, 2, grad=False)))
    assert nnbox.autograd.gradcheck is gradcheck


def test_gradgradcheck_catches_a_wrong_second_derivative():
    class Square(nnbox.autograd.Function):  # right first derivative, but its gradient ignores x
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return g * 2 * x.detach()

    x = T(3)
    assert gradcheck(Square.apply, (x,))
    with pytest.raises(GradcheckError):
        gradgradcheck(Square.apply, (x,))
    assert gradgradcheck(lambda a: Square.apply(a) * 1.0, (x,), raise_exception=False) is False
