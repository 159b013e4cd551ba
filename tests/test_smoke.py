import pytest

from oracle import arr, check, check_error


@pytest.mark.parametrize("sa,sb", [((3,), (3,)), ((2, 3), (3,)), ((2, 1, 3), (4, 1)), ((), (2, 2))])
@pytest.mark.parametrize("op", ["add", "sub", "mul", "div", "maximum", "minimum"])
def test_binary(op, sa, sb):
    check(lambda m, x, y: getattr(m, op)(x, y), [arr(*sa), arr(*sb, positive=op == "div")])


def test_matmul_linear_chain():
    check(lambda m, x, w, b: m.relu(x @ w.t() + b).sum(1).log_softmax(0), [arr(4, 5), arr(3, 5), arr(3)])


def test_broadcast_error():
    check_error(lambda m, x, y: x + y, [arr(2, 3), arr(4)], match="must match the size")
