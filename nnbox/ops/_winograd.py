"""Winograd F(2x2, 3x3): a 3x3 stride-1 convolution with 16 multiplies per 2x2 output tile instead of 36.

The input is cut into overlapping 4x4 tiles (stride 2), each tile ``d`` becomes ``B^T d B``, each
filter ``g`` becomes ``G g G^T`` (both 4x4), and the 16 element positions of the transformed tiles
are 16 independent GEMMs ``U_ab (O, C) @ V_ab (C, tiles*N)``; ``A^T m A`` turns each product tile
back into a 2x2 output tile.  The GEMMs do 2.25x fewer multiply-adds than the im2col GEMM and read
a 16/4 = 4x expanded input instead of im2col's 9x.  The transforms are additions only (``B``, ``A``)
or a tiny matrix over the weights (``G``), so float32 rounding grows by a few ulp at most: results
agree with a direct convolution to about 1e-6 relative to the output's scale (see
tests/test_nn_conv_winograd.py), not bit for bit.

Arrays are in conv.py's channel-major, batch-innermost layout: input (C, Hp, Wp, N) already padded,
output (O, Ho, Wo, N).
"""
from __future__ import annotations

import numpy as np

from . import _pool

# G (4x3): the filter transform of F(2, 3); kron(G, G) maps a flattened 3x3 filter to its 4x4 tile
_G = np.array([[1.0, 0.0, 0.0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0.0, 0.0, 1.0]])
_GG = {np.dtype(np.float32): np.kron(_G, _G).astype(np.float32)}

# below this many input channels the 16 short GEMMs (inner dimension C) and the transforms cost more
# than im2col saves (measured on one thread: C=32..64 slower, C=128 0.88x, C=256/512 0.6-0.66x of im2col)
MIN_CHANNELS = 128


# above this many positions per plane (16x16 and up) the 16 GEMMs' (16, C, tiles*N) operands are
# large: on one thread Winograd still measured 0.88x of im2col at 128 channels on 16x16, but on two
# threads it measured 1.6-3x slower there (while 0.7-0.9x on 8x8 and 4x4), so large planes keep im2col
MAX_PLANE = 100


def usable(x, w, stride, dilation, groups, taps) -> bool:
    """True where Winograd applies and measured faster: float32 NumPy, 3x3, stride 1, dilation 1,
    one group, at least ``MIN_CHANNELS`` input channels and 16 output channels, planes of at most
    ``MAX_PLANE`` positions."""
    return (enabled and type(x) is np.ndarray and x.dtype == np.float32 and w.dtype == np.float32
            and x.ndim == 4 and x.shape[2] * x.shape[3] <= MAX_PLANE
            and groups == 1 and taps is None and w.shape[2:] == (3, 3) and tuple(stride) == (1, 1)
            and tuple(dilation) == (1, 1) and w.shape[0] >= 16 and w.shape[1] >= MIN_CHANNELS)


enabled = True  # tests switch it off to compare with the exact im2col path


def _rows(src, out, k: int, axis: int) -> None:
    """The four combinations of ``B^T`` along ``axis`` (rows 2i .. 2i+3 of each tile, taken as four
    stride-2 views): d0 - d2, d1 + d2, d2 - d1, d1 - d3, written into ``out[0..3]``."""
    def view(j):
        idx = [slice(None)] * src.ndim
        idx[axis] = slice(j, j + 2 * k, 2)
        return src[tuple(idx)]

    d0, d1, d2, d3 = view(0), view(1), view(2), view(3)
    np.subtract(d0, d2, out=out[0])
    np.add(d1, d2, out=out[1])
    np.subtract(d2, d1, out=out[2])
    np.subtract(d1, d3, out=out[3])


def conv3x3(xc: np.ndarray, w: np.ndarray) -> np.ndarray:
    """xc (C, Hp, Wp, N) padded, w (O, C, 3, 3) -> y (O, Hp-2, Wp-2, N), by F(2x2, 3x3).

    >>> import numpy as np
    >>> x = np.ones((1, 5, 5, 1), np.float32); w = np.ones((1, 1, 3, 3), np.float32)
    >>> conv3x3(x, w)[0, :, :, 0].tolist()
    [[9.0, 9.0, 9.0], [9.0, 9.0, 9.0], [9.0, 9.0, 9.0]]
    """
    c, hp, wp, n = xc.shape
    o = w.shape[0]
    ho, wo = hp - 2, wp - 2
    th, tw = (ho + 1) // 2, (wo + 1) // 2
    if 2 * th + 2 != hp or 2 * tw + 2 != wp:  # an odd output size: one more row/column of zeros
        z = _pool.take("wino.z", (c, 2 * th + 2, 2 * tw + 2, n), xc.dtype, zero=True)
        z[:, :hp, :wp] = xc
        xc = z
    dt = xc.dtype
    # every work array is recycled between calls (``_pool``): fresh ones cost page faults each call
    v = _pool.take("wino.v", (4, 4, c, th, tw, n), dt)  # B^T d B

    def tiles(lo, hi):  # input channels lo..hi: along rows, then along columns
        r = _pool.take("wino.r", (4, hi - lo, th, 2 * tw + 2, n), dt)
        _rows(xc[lo:hi], r, th, 1)
        for a in range(4):
            _rows(r[a], v[a, :, lo:hi], tw, 2)
    tiles(0, c)  # on two threads (ops/_chunks.py) these passes measured 1.3x slower: one thread
    u = (_GG[np.dtype(dt)] @ w.reshape(o * c, 9).T).reshape(16, o, c)  # G g G^T, all filters in one GEMM
    m = np.matmul(u, v.reshape(16, c, th * tw * n), out=_pool.take("wino.m", (16, o, th * tw * n), dt))
    m = m.reshape(4, 4, o, th, tw, n)
    y = _pool.take("wino.y", (o, th, 2, tw, 2, n), dt)

    def untile(lo, hi):  # output channels lo..hi: A^T m A, A^T = [[1, 1, 1, 0], [0, 1, -1, -1]]
        mb = m[:, :, lo:hi]
        t = _pool.take("wino.t", (2, 4, hi - lo, th, tw, n), dt)
        np.add(mb[0], mb[1], out=t[0])
        t[0] += mb[2]
        np.subtract(mb[1], mb[2], out=t[1])
        t[1] -= mb[3]
        for a in range(2):
            ta, ya = t[a], y[lo:hi, :, a]
            np.add(ta[0], ta[1], out=ya[:, :, :, 0])
            ya[:, :, :, 0] += ta[2]
            np.subtract(ta[1], ta[2], out=ya[:, :, :, 1])
            ya[:, :, :, 1] -= ta[3]
    untile(0, o)
    return y.reshape(o, 2 * th, 2 * tw, n)[:, :ho, :wo]
