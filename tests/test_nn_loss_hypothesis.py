"""Property tests for the fused losses and activations: random shapes (N-d class axes, broadcast
targets), random reductions and options give torch's values and gradients."""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from oracle import check

SETTINGS = settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
FLOATS = st.integers(-3 * 1024, 3 * 1024).map(lambda i: i / 1024.0)  # exact binary values


@st.composite
def class_problem(draw):
    n = draw(st.integers(1, 4))
    c = draw(st.integers(1, 5))
    extra = tuple(draw(st.lists(st.integers(1, 3), max_size=2)))
    x = draw(hnp.arrays(np.float64, (n, c) + extra, elements=FLOATS))
    t = draw(hnp.arrays(np.int64, (n,) + extra, elements=st.integers(0, c - 1)))
    return x, t, c


@SETTINGS
@given(class_problem(), st.sampled_from(["mean", "sum", "none"]), st.sampled_from([0.0, 0.2]), st.booleans(),
       st.booleans())
def test_cross_entropy_and_nll_any_shape(problem, reduction, smoothing, use_weight, ignore_first):
    x, t, c = problem
    ignore = int(t.reshape(-1)[0]) if ignore_first else -100
    w = np.linspace(0.5, 2.0, c)

    def f(m, x, t, w):
        kw = dict(reduction=reduction, ignore_index=ignore, weight=w.detach() if use_weight else None)
        return (m.nn.functional.cross_entropy(x, t, label_smoothing=smoothing, **kw),
                m.nn.functional.nll_loss(m.log_softmax(x, 1), t, **kw))
    check(f, [x, t, w])


@SETTINGS
@given(hnp.array_shapes(min_dims=0, max_dims=4, max_side=4).flatmap(
    lambda s: hnp.arrays(np.float64, s, elements=FLOATS)),
    st.sampled_from(["gelu", "elu", "selu", "celu", "silu", "mish", "softplus", "logsigmoid", "hardswish",
                     "hardsigmoid", "leaky_relu", "relu6", "softsign", "tanhshrink", "softshrink", "hardshrink"]))
def test_activations_any_shape(x, name):
    check(lambda m, x: getattr(m.nn.functional, name)(x), [x])


@SETTINGS
@given(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=1, max_dims=3, max_side=3),
       st.sampled_from(["mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss"]),
       st.sampled_from(["mean", "sum", "none"]), st.data())
def test_pointwise_losses_broadcast(shapes, name, reduction, data):
    import warnings

    a, b = shapes.input_shapes
    x = data.draw(hnp.arrays(np.float64, a, elements=FLOATS))
    y = data.draw(hnp.arrays(np.float64, b, elements=FLOATS))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        check(lambda m, x, y: getattr(m.nn.functional, name)(x, y, reduction=reduction), [x, y])
