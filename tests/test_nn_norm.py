"""Normalization vs torch: values, input/weight/bias gradients, running statistics, errors."""
import numpy as np
import pytest

import nnbox
import nnbox.nn.functional as NF
from oracle import arr, check, check_error, fd_check


@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 7), (4, 3, 5, 6), (2, 3, 2, 3, 2)])
@pytest.mark.parametrize("affine", [True, False])
def test_batch_norm_training(shape, affine):
    c = shape[1]
    ins = [arr(*shape)] + ([arr(c), arr(c)] if affine else [])

    def fn(m, x, *wb):
        rm, rv = m.zeros(c, dtype=x.dtype), m.ones(c, dtype=x.dtype)
        y = m.nn.functional.batch_norm(x, rm, rv, *wb, training=True, momentum=0.3)
        return y, rm, rv
    check(fn, ins)


@pytest.mark.parametrize("shape", [(8, 5), (4, 5, 6, 3)])
def test_batch_norm_eval(shape):
    c = shape[1]
    ins = [arr(*shape), arr(c), arr(c), arr(c), arr(c, positive=True)]
    check(lambda m, x, w, b, rm, rv: m.nn.functional.batch_norm(x, rm.detach(), rv.detach(), w, b, training=False),
          ins)
    check(lambda m, x, rm, rv: m.nn.functional.batch_norm(x, rm.detach(), rv.detach()), [ins[0], ins[3], ins[4]])


def test_batch_norm_float32_and_no_running():
    check(lambda m, x, w, b: m.nn.functional.batch_norm(x, None, None, w, b, training=True),
          [arr(16, 4, 5, 5, dtype=np.float32), arr(4, dtype=np.float32), arr(4, dtype=np.float32)],
          rtol=1e-4, atol=1e-5)


def test_batch_norm_weight_only_bias_only():
    check(lambda m, x, w: m.nn.functional.batch_norm(x, None, None, w, None, training=True), [arr(6, 3, 4), arr(3)])
    check(lambda m, x, b: m.nn.functional.batch_norm(x, None, None, None, b, training=True), [arr(6, 3, 4), arr(3)])


@pytest.mark.parametrize("shape,ns", [((4, 5), (5,)), ((2, 3, 4), (4,)), ((2, 3, 4), (3, 4)), ((3, 2, 2, 5), (2, 5))])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm(shape, ns, affine):
    ins = [arr(*shape)] + ([arr(*ns)] if affine != "none" else []) + ([arr(*ns)] if affine == "both" else [])
    check(lambda m, x, *wb: m.nn.functional.layer_norm(x, ns, *wb, eps=1e-4), ins)


def test_layer_norm_float32():
    check(lambda m, x, w, b: m.nn.functional.layer_norm(x, (16,), w, b),
          [arr(8, 16, dtype=np.float32), arr(16, dtype=np.float32), arr(16, dtype=np.float32)], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("shape,g", [((4, 6), 3), ((2, 6, 5), 2), ((2, 6, 3, 4), 6), ((3, 4, 2, 3), 1)])
@pytest.mark.parametrize("affine", [True, False])
def test_group_norm(shape, g, affine):
    c = shape[1]
    ins = [arr(*shape)] + ([arr(c), arr(c)] if affine else [])
    check(lambda m, x, *wb: m.nn.functional.group_norm(x, g, *wb), ins)


@pytest.mark.parametrize("shape", [(2, 3, 5), (2, 3, 4, 5)])
def test_instance_norm(shape):
    c = shape[1]
    check(lambda m, x, w, b: m.nn.functional.instance_norm(x, weight=w, bias=b), [arr(*shape), arr(c), arr(c)])

    def with_stats(m, x):
        rm, rv = m.zeros(c, dtype=x.dtype), m.ones(c, dtype=x.dtype)
        y = m.nn.functional.instance_norm(x, rm, rv, momentum=0.2)
        return y, rm, rv
    check(with_stats, [arr(*shape)])
    check(lambda m, x, rm, rv: m.nn.functional.instance_norm(x, rm.detach(), rv.detach(), use_input_stats=False),
          [arr(*shape), arr(c), arr(c, positive=True)])


def test_local_response_norm():
    check(lambda m, x: m.nn.functional.local_response_norm(x, 3), [arr(2, 5, 4)])
    check(lambda m, x: m.nn.functional.local_response_norm(x, 2, alpha=0.1, beta=0.5, k=2.0), [arr(2, 5, 3, 4)])


def test_rms_norm():
    check(lambda m, x, w: m.nn.functional.rms_norm(x, (4,), w, eps=1e-6), [arr(3, 4), arr(4)])


def test_numerical_gradients():
    fd_check(lambda x, w, b: NF.batch_norm(x, None, None, w, b, training=True), [arr(4, 3, 2), arr(3), arr(3)])
    fd_check(lambda x, w, b: NF.layer_norm(x, (2, 3), w, b), [arr(4, 2, 3), arr(2, 3), arr(2, 3)])
    fd_check(lambda x, w, b: NF.group_norm(x, 2, w, b), [arr(2, 4, 3), arr(4), arr(4)])
    fd_check(lambda x, w, b, rm, rv: NF.batch_norm(x, rm.detach(), rv.detach(), w, b),
                  [arr(4, 3, 2), arr(3), arr(3), arr(3), arr(3, positive=True)], wrt=(0, 1, 2))


@pytest.mark.parametrize("fn,ins,msg", [
    (lambda m, x: m.nn.functional.batch_norm(x, m.zeros(3), m.ones(3), training=True), [arr(1, 3)],
     "Expected more than 1 value per channel when training"),
    (lambda m, x: m.nn.functional.batch_norm(x, m.zeros(4), m.ones(3), training=True), [arr(4, 3)],
     "running_mean should contain 3 elements not 4"),
    (lambda m, x: m.nn.functional.batch_norm(x, None, None, training=False), [arr(4, 3)], "must be defined"),
    (lambda m, x: m.nn.functional.layer_norm(x, (4,)), [arr(2, 3)], "normalized_shape"),
    (lambda m, x: m.nn.functional.layer_norm(x, (3,), m.ones(4, dtype=x.dtype)), [arr(2, 3)], "same shape"),
    (lambda m, x: m.nn.functional.group_norm(x, 4), [arr(2, 6, 3)], "divisible by num_groups"),
    (lambda m, x: m.nn.functional.instance_norm(x), [arr(1, 3, 1)], "more than 1 spatial element"),
    (lambda m, x: m.nn.functional.batch_norm(x, m.zeros(3), m.ones(3), training=True), [arr(4, 3)], "mixed dtype"),
])
def test_errors(fn, ins, msg):
    check_error(fn, ins, match=msg)


@pytest.mark.parametrize("fn", [
    lambda m, x: m.nn.functional.batch_norm(x, None, None, training=True),
    lambda m, x: m.nn.functional.layer_norm(x, (4,)),
    lambda m, x: m.nn.functional.group_norm(x, 1),
    lambda m, x: m.nn.functional.instance_norm(x),
])
def test_inplace_add_on_unaffine_output(fn):
    """`out = norm(x); out += x` (the seeds' residual blocks) must not break backward."""
    def run(m, x):
        out = fn(m, x * 1)
        out += x
        return out
    check(run, [arr(3, 4, 4)])


# --- double backward (create_graph=True) --------------------------------------------------------------
@pytest.mark.parametrize("shape", [(8, 5), (4, 3, 7), (2, 3, 2, 3, 2)])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])  # bias only: torch itself fails
def test_batch_norm_training_double_backward(shape, affine):
    c = shape[1]
    w = arr(c) if affine in ("both", "weight") else None
    b = arr(c) if affine in ("both", "bias") else None
    ins = [arr(*shape)] + [a for a in (w, b) if a is not None]

    def fn(m, x, *wb):
        wb = list(wb)
        ww = wb.pop(0) if w is not None else None
        bb = wb.pop(0) if b is not None else None
        return m.nn.functional.batch_norm(x, None, None, ww, bb, training=True)
    check(fn, ins, order=2, rtol=1e-8)


@pytest.mark.parametrize("shape", [(8, 5), (4, 5, 6, 3)])
def test_batch_norm_eval_double_backward(shape):
    c = shape[1]
    ins = [arr(*shape), arr(c), arr(c), arr(c), arr(c, positive=True)]
    check(lambda m, x, w, b, rm, rv: m.nn.functional.batch_norm(x * x, rm.detach(), rv.detach(), w, b), ins, order=2)
    check(lambda m, x, rm, rv: m.nn.functional.batch_norm(x * x, rm.detach(), rv.detach()), [ins[0], ins[3], ins[4]],
          order=2)


@pytest.mark.parametrize("shape,ns", [((4, 5), (5,)), ((2, 3, 4), (3, 4))])
@pytest.mark.parametrize("affine", ["both", "weight", "none"])
def test_layer_norm_double_backward(shape, ns, affine):
    ins = [arr(*shape)] + ([arr(*ns)] if affine != "none" else []) + ([arr(*ns)] if affine == "both" else [])
    check(lambda m, x, *wb: m.nn.functional.layer_norm(x, ns, *wb, eps=1e-4), ins, order=2, rtol=1e-8)


@pytest.mark.parametrize("shape,g", [((4, 6), 3), ((2, 6, 3, 4), 2)])
def test_group_and_instance_and_rms_norm_double_backward(shape, g):
    c = shape[1]
    check(lambda m, x, w, b: m.nn.functional.group_norm(x, g, w, b), [arr(*shape), arr(c), arr(c)], order=2, rtol=1e-8)
    if len(shape) > 2:
        check(lambda m, x, w, b: m.nn.functional.instance_norm(x, weight=w, bias=b), [arr(*shape), arr(c), arr(c)],
              order=2, rtol=1e-8)
    check(lambda m, x, w: m.nn.functional.rms_norm(x, (shape[-1],), w, eps=1e-6), [arr(*shape), arr(shape[-1])],
          order=2, rtol=1e-8)


def test_norm_double_backward_of_a_computed_input():
    """The input is not kept: a second backward rebuilds it (xhat / invstd + mean) on its producer's
    edge; the second derivatives still reach the tensors it came from."""
    check(lambda m, x, w, b: m.nn.functional.batch_norm(x * 1.5 + 0.3, None, None, w, b, training=True) * x,
          [arr(6, 3, 4), arr(3), arr(3)], order=2, rtol=1e-8)
    check(lambda m, x, w, b: m.nn.functional.layer_norm(m.exp(x * 0.5), (4,), w, b) * x,
          [arr(3, 5, 4), arr(4), arr(4)], order=2, rtol=1e-8)
    check(lambda m, x, w: m.nn.functional.rms_norm(x * x, (4,), w) * x, [arr(3, 4), arr(4)], order=2, rtol=1e-8)
    check(lambda m, x: m.nn.functional.group_norm(x * 2.0 + 1.0, 2) * x, [arr(2, 4, 3)], order=2, rtol=1e-8)

    def bn_const_input(m, x, w, b):  # an input without gradient: only weight and bias are differentiated
        y = m.nn.functional.batch_norm(x.detach() * 2.0, None, None, w, b, training=True)
        return y * y
    check(bn_const_input, [arr(6, 3, 4), arr(3), arr(3)], order=2, rtol=1e-8)


def test_norm_gradgrad_finite_differences():
    from oracle import gradgrad_fd

    x = nnbox.tensor(arr(4, 3, 2), requires_grad=True)
    w = nnbox.tensor(arr(3), requires_grad=True)
    b = nnbox.tensor(arr(3), requires_grad=True)
    assert gradgrad_fd(lambda x, w, b: NF.batch_norm(x, None, None, w, b, training=True) * x, (x, w, b))
    x2 = nnbox.tensor(arr(4, 2, 3), requires_grad=True)
    w2 = nnbox.tensor(arr(2, 3), requires_grad=True)
    assert gradgrad_fd(lambda x, w: NF.layer_norm(x, (2, 3), w) * x, (x2, w2))
