"""nn.utils.rnn against torch: pad_sequence, pack/pad_packed round trips with gradients, errors."""
import numpy as np
import pytest

from oracle import arr, check, check_error


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("side", ["right", "left"])
def test_pad_sequence(batch_first, side):
    check(lambda m, a, b, c: m.nn.utils.rnn.pad_sequence([a, b, c], batch_first=batch_first, padding_value=-1.5,
                                                         padding_side=side),
          [arr(3, 2), arr(5, 2), arr(1, 2)])
    check(lambda m, a, b: m.nn.utils.rnn.pad_sequence([a, b]), [np.array([1, 2, 3]), np.array([4])], grad=False)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("enforce_sorted,lengths", [(True, [4, 3, 1]), (False, [1, 4, 3])])
def test_pack_round_trip(batch_first, enforce_sorted, lengths):
    def f(m, x):
        U = m.nn.utils.rnn
        p = U.pack_padded_sequence(x, m.tensor(lengths), batch_first=batch_first, enforce_sorted=enforce_sorted)
        padded, lens = U.pad_packed_sequence(p, batch_first=batch_first, padding_value=0.5, total_length=5)
        return p.data, p.batch_sizes, p.sorted_indices, p.unsorted_indices, padded, lens
    x = arr(3, 4, 2) if batch_first else arr(4, 3, 2)
    check(lambda m, x: tuple(t for t in f(m, x) if t is not None), [x])


def test_pack_sequence_and_unpack():
    def f(m, a, b, c):
        p = m.nn.utils.rnn.pack_sequence([a, b, c], enforce_sorted=False)
        return p.data, m.nn.utils.rnn.unpack_sequence(p)
    check(f, [arr(2, 3), arr(4, 3), arr(1, 3)])


def test_errors():
    U = lambda m: m.nn.utils.rnn  # noqa: E731
    check_error(lambda m, x: U(m).pack_padded_sequence(x, [1, 3]), [arr(3, 2, 1)], match="must be sorted in decreasing order")
    check_error(lambda m, x: U(m).pack_padded_sequence(x, [3, 0]), [arr(3, 2, 1)], match="has to be greater than 0")
    check_error(lambda m, x: U(m).pad_packed_sequence(U(m).pack_padded_sequence(x, [3, 2]), total_length=2),
                [arr(3, 2, 1)], match="Expected total_length to be at least the length of the longest sequence")
