"""Winograd F(4x4, 3x3) and F(2x2, 3x3): 3x3 stride-1 convolutions with 36 multiplies per 4x4 output
tile instead of 144 (16 per 2x2 tile instead of 36).

The padded input is cut into overlapping 6x6 tiles (stride 4).  Each tile ``d`` becomes
``V = B^T d B``, each filter ``g`` becomes ``U = G g G^T`` (both 6x6), and the 36 element positions
of the transformed tiles are 36 independent GEMMs ``M_ab = U_ab (O, C) @ V_ab (C, tiles*N)``;
``A^T M A`` turns each product tile back into a 4x4 output tile.  The GEMMs do 4x fewer
multiply-adds than im2col's single GEMM and read a 36/16 = 2.25x expanded input instead of 9x.

Every transform is one GEMM with a small Kronecker matrix (``kron(B^T, B^T)`` is 36x36,
``kron(A^T, A^T)`` 16x36, ``kron(G, G)`` 36x9) over all tiles and channels at once: BLAS runs them
near its peak and on all of its threads, where a chain of NumPy element-wise passes would run
memory-bound on one core (measured on the CIFAR ResNet18 shapes: about as fast on one thread).
The forward pass for filters up to 128 x 128 channels (``_conv3x3_chunked``) instead runs gather,
transforms, GEMMs and untiling a few tiles at a time, so that nothing but the input, the output
(and V, kept for a backward) goes through memory; in cache, ``B^T d B`` and ``A^T m A`` one axis at
a time (two 6x6 products) beat the Kronecker GEMMs about 3x.

The backward pass is the adjoint of the same computation, reusing ``V`` and ``U`` saved by the
forward pass: with ``dM = kron(A, A) gy_tiles``, the weight gradient is ``G^T (dM_ab V_ab^T) G``
(36 GEMMs with the long tiles*N inner dimension) and the input gradient is the overlap-add of the
tiles ``B (U_ab^T dM_ab) B^T``.  No im2col matrix is built at all.

Interpolation points 0, 1, -1, 1/2, -2 (and infinity) rather than the textbook 0, +-1, +-2: the
transforms' entries stay small (at most 5/2 and 8) and float32 results are about 2.5x closer to
the exact convolution (measured max error relative to the output's largest magnitude: about 4e-6,
against 1e-5 with +-2; a direct float32 convolution gets about 4e-7).  tests/test_nn_conv_winograd.py
states and checks the tolerance against torch.

F(2x2, 3x3) (4x4 input tiles, stride 2, 16 GEMMs; points 0, +-1) runs the same whole-batch pipeline
and backward for many-channel layers with too few 4x4 tiles for F(4x4) (``usable`` says which):
2.25x fewer multiplies than im2col, and float32 error about that of a direct convolution (measured:
about 6e-7 of the output's largest magnitude).

Measured and not kept: stride-2 3x3 convolutions the same way (2x2 output tiles from 5x5 input tiles
every 4; per axis the even samples meet taps 0 and 2 by F(2, 2), the odd ones tap 1: 25 multiplies
per tile instead of 36, every transform entry 0 or +-1).  On ResNet18's stride-2 convs at batch 32
(one thread) its 25 GEMMs have only C_in as inner dimension and the whole-batch transforms move
25/4 of the output through memory: 128->256 channels at 16x16 8.9 ms against im2col's 7.2 (its
GEMMs alone 3.8 against 5.5), 64->128 at 32x32 13.4 against 8.3.

Arrays are in conv.py's channel-major, batch-innermost layout: input (C, Hp, Wp, N) zero-padded
to whole tiles; outputs and input gradients come back in (N, C, H, W).
"""
from __future__ import annotations

import numpy as np

from . import _pool, _transpose

# Cook-Toom matrices for the points above; the test checks that they compute a correlation exactly
_AT = np.array([[1, 1, 1, 1, 1, 0],
                [0, 1, -1, 1 / 2, -2, 0],
                [0, 1, 1, 1 / 4, 4, 0],
                [0, 1, -1, 1 / 8, -8, 1]])
_G = np.array([[1, 0, 0],
               [1 / 3, 1 / 3, 1 / 3],
               [-1 / 3, 1 / 3, -1 / 3],
               [-16 / 15, -8 / 15, -4 / 15],
               [1 / 15, -2 / 15, 4 / 15],
               [0, 0, 1]])
_BT = np.array([[1, -3 / 2, -2, 3 / 2, 1, 0],
                [0, -1, 1 / 2, 5 / 2, 1, 0],
                [0, 1, -5 / 2, 1 / 2, 1, 0],
                [0, -2, -1, 2, 1, 0],
                [0, 1 / 2, -1, -1 / 2, 1, 0],
                [0, 1, -3 / 2, -2, 3 / 2, 1]])
_BT32 = _BT.astype(np.float32)               # one axis at a time (the chunked pipeline)
_AT32 = _AT.astype(np.float32)
_A32 = np.ascontiguousarray(_AT.T).astype(np.float32)  # the backward's adjoints, one axis at a time
_B32 = np.ascontiguousarray(_BT.T).astype(np.float32)

# F(2x2, 3x3), points 0, 1, -1 (and infinity): 16 multiplies per 2x2 output tile instead of 36, with
# transforms of 0, +-1 and 1/2 only, so its float32 error is about that of a direct convolution
# (measured max error relative to the output's largest magnitude: about 6e-7)
_AT2 = np.array([[1, 1, 1, 0],
                 [0, 1, -1, -1]])
_G2 = np.array([[1, 0, 0],
                [1 / 2, 1 / 2, 1 / 2],
                [1 / 2, -1 / 2, 1 / 2],
                [0, 0, 1]])
_BT2 = np.array([[1, 0, -1, 0],
                 [0, 1, 1, 0],
                 [0, -1, 1, 0],
                 [0, 1, 0, -1]])


class Scheme:
    """One Winograd algorithm's Kronecker transforms for the whole-batch pipeline: ``bb`` (a^2, a^2)
    input tiles, ``aa`` (m^2, a^2) product tiles, ``gg`` (a^2, 9) filters, and the adjoints; output
    tiles m x m come from input tiles a x a that start every m input rows / columns."""

    def __init__(self, name, at, g, bt):
        self.name = name
        self.m, self.a = at.shape[0], bt.shape[0]  # output and input tile sizes
        self.bb = np.kron(bt, bt).astype(np.float32)
        self.bbt = np.ascontiguousarray(self.bb.T)
        self.aa = np.kron(at, at).astype(np.float32)
        self.aat = np.ascontiguousarray(self.aa.T)
        self.gg = np.kron(g, g).astype(np.float32)


    def __repr__(self):
        return self.name


F4 = Scheme("F(4x4, 3x3)", _AT, _G, _BT)
F2 = Scheme("F(2x2, 3x3)", _AT2, _G2, _BT2)

# Where Winograd measured faster than im2col + GEMM (one thread, float32; see usable()):
MIN_CHANNELS = 16  # smallest number of input and of output channels
# Fewest tiles * batch: the transformed filters U are 4x the weights (36 vs 9 values per filter), and
# every GEMM reads all of U; with few columns computing and reading U costs more than the multiplies
# saved (ResNet18's 512-channel 4x4 stage at batch 32, 32 columns, one thread: forward 12.0 ms by
# Winograd, 11.0 by im2col).  Training keeps the same floor although a step computes U once for the
# forward and both gradients (that stage's forward + backward: 28.5 ms against 34.3, 1% of the step):
# Winograd's larger float32 error (module docstring) then moves a training run off torch's more than
# that gain is worth.  In the seeds' residual blocks at batch 8 (32 columns) it flipped one ReLU whose
# input was -1.35e-6 in torch's float64 result, and the weights left torch's by 1.7e-3 in ten steps
# (by 1.2e-7 with im2col).
MIN_COLUMNS = 64


# F(2x2, 3x3) takes layers below F(4x4)'s column floor with many channels, such as ResNet18's
# 512-channel 4x4 stage (4 tiles per image: 128 columns at batch 32).  Its U is 16/9 of the weights,
# so where F(4x4) needs 64 columns it pays from about 96; it cuts im2col's multiplies 2.25x.  Measured,
# one thread, 3x3 convs with C = O channels at batch N (inference / forward + backward, ms, load 3):
#   512 at 4x4, N=32 (128 columns): im2col 11.6 / 35.7, F(2x2) 9.8 / 26.0, F(4x4) 12.0 / 30.3
#   512 at 4x4, N=24 (96):          im2col  8.7 / 26.6, F(2x2) 8.2 / 22.0
#   512 at 4x4, N=16 (64):          im2col  5.6 / 18.5, F(2x2) 6.5 / 17.2
#   512 at 2x2, N=32 (32):          im2col  3.0 / 10.1, F(2x2) 4.9 / 12.6
#   128 at 8x8, N=8 (128):          im2col 1.16 / 2.65, F(2x2) 0.84 / 2.43
#   128 at 4x4, N=16 (64):          im2col 0.46 / 1.43, F(2x2) 0.44 / 1.18
# The channel floor also keeps small training convs (the seeds' residual blocks, 16 channels) on
# im2col, although F(2x2)'s float32 error is about that of a direct convolution.
MIN_CHANNELS_F2 = 128  # smallest number of input and of output channels
MIN_COLUMNS_F2 = 96    # fewest 2x2 tiles * batch


def usable(x, w_shape, stride, dilation, groups, taps, out_hw) -> Scheme | None:
    """The Winograd algorithm that applies and measured faster, else None: float32 NumPy, 3x3,
    stride 1, dilation 1, one group, untrimmed taps, at least ``MIN_CHANNELS`` input and output
    channels; F4 with ``MIN_COLUMNS`` 4x4 output tiles * batch, and below that column floor F2 with
    at least ``MIN_CHANNELS_F2`` channels and ``MIN_COLUMNS_F2`` 2x2 tiles * batch.  ``x`` is the
    convolution's input or its output gradient, ``out_hw`` its output's (H, W): the forward and the
    backward decide alike."""
    if not (enabled and type(x) is np.ndarray and x.dtype == np.float32 and x.ndim == 4
            and groups == 1 and taps is None and tuple(w_shape[2:]) == (3, 3) and tuple(stride) == (1, 1)
            and tuple(dilation) == (1, 1) and w_shape[0] >= MIN_CHANNELS and w_shape[1] >= MIN_CHANNELS):
        return None
    (h, w), n = out_hw, x.shape[0]
    if -(-h // 4) * -(-w // 4) * n >= MIN_COLUMNS:
        return F4
    if (min(w_shape[0], w_shape[1]) >= MIN_CHANNELS_F2
            and -(-h // 2) * -(-w // 2) * n >= MIN_COLUMNS_F2):
        return F2
    return None


enabled = True  # tests switch it off to compare with the exact im2col path


def tiles(out_hw, sc: Scheme = F4) -> tuple[int, int]:
    """Tiles along each spatial axis for an (H, W) output, in ``sc``'s output tiles."""
    return -(-out_hw[0] // sc.m), -(-out_hw[1] // sc.m)


def input_transform(xc: np.ndarray, th: int, tw: int, sc: Scheme = F4) -> np.ndarray:
    """xc (C, m*th+2, m*tw+2, N) -> V (a^2, C, th*tw*N): every a x a tile (a = m+2) gathered once,
    then one GEMM."""
    k = sc
    a, step = k.a, k.m
    c, n = xc.shape[0], xc.shape[3]
    s = xc.strides
    view = np.lib.stride_tricks.as_strided(xc, (a, a, c, th, tw, n),
                                           (s[1], s[2], s[0], step * s[1], step * s[2], s[3]), writeable=False)
    d = _pool.take("wino.d", view.shape, xc.dtype)
    d[...] = view
    v = np.matmul(k.bb, d.reshape(a * a, -1), out=_pool.take("wino.v", (a * a, c * th * tw * n), xc.dtype))
    return v.reshape(a * a, c, th * tw * n)


def filter_transform(w: np.ndarray, sc: Scheme = F4) -> np.ndarray:
    """w (O, C, 3, 3) -> U (a^2, O, C), all filters in one GEMM."""
    gg = sc.gg
    o, c = w.shape[:2]
    u = np.matmul(gg, w.reshape(o * c, 9).T, out=_pool.take("wino.u", (gg.shape[0], o * c), w.dtype))
    return u.reshape(gg.shape[0], o, c)


def conv3x3(xc: np.ndarray, w: np.ndarray, out_hw, keep: bool = False, bias=None, sc: Scheme = F4):
    """xc (C, m*th+2, m*tw+2, N) zero-padded to whole tiles, w (O, C, 3, 3) -> (y, V, U): y (N, O, H, W)
    contiguous for ``out_hw`` = (H, W) (plus ``bias`` (O,) if given), and the transforms (None unless
    ``keep``) for the backward; ``sc`` is the algorithm, F4 or F2.

    >>> import numpy as np
    >>> x = np.ones((1, 6, 6, 1), np.float32); w = np.ones((1, 1, 3, 3), np.float32)
    >>> y, _, _ = conv3x3(x, w, (3, 3))
    >>> np.round(y[0, 0], 4).tolist()
    [[9.0, 9.0, 9.0], [9.0, 9.0, 9.0], [9.0, 9.0, 9.0]]
    """
    n = xc.shape[3]
    o = w.shape[0]
    if sc is F4 and chunked(w.shape):
        return _conv3x3_chunked(xc, w, out_hw, bias, keep)
    k, m = sc, sc.m
    th, tw = tiles(out_hw, sc)
    v = input_transform(xc, th, tw, sc)
    if not keep and o > BLOCK_ROWS:
        return _conv3x3_oblocks(v, w, n, th, tw, out_hw, bias, sc), None, None
    u = filter_transform(w, sc)
    prod = np.matmul(u, v, out=_pool.take("wino.m", (k.a * k.a, o, v.shape[2]), xc.dtype))
    yt = np.matmul(k.aa, prod.reshape(k.a * k.a, -1), out=_pool.take("wino.yt", (m * m, o * v.shape[2]), xc.dtype))
    y = _untile(yt, n, o, th, tw, out_hw, bias, m)
    return (y, v, u) if keep else (y, None, None)


# Without a backward to keep U for, the whole-batch forward runs ``BLOCK_ROWS`` output channels at a
# time: each block's filter transform, GEMMs and output transform stay in cache (U of 512 x 512
# filters is 16.8 MB by F(2x2), M 4 MB).  Measured, one thread, batch 32, inference, three runs at
# load 2.5: 512 channels at 4x4 (F(2x2)) 10.8-11.1 ms whole, 10.3-10.4 in blocks of 128 (10.1-10.2 of
# 64); 256 at 8x8 (F(4x4)) 7.6-8.2 either way.
BLOCK_ROWS = 128


def _conv3x3_oblocks(v, w, n, th, tw, out_hw, bias, sc):
    """The whole-batch forward from V, ``BLOCK_ROWS`` output channels at a time, into one
    channel-major (O, th, m, tw, m, N) array (plus ``bias``), then (N, O, H, W)."""
    from .conv import _nc_copy

    o, m, aa, cols = w.shape[0], sc.m, sc.a * sc.a, v.shape[2]
    ycm = _pool.take("wino.ycm", (o, th, m, tw, m, n), v.dtype)
    for o0 in range(0, o, BLOCK_ROWS):
        o1 = min(o, o0 + BLOCK_ROWS)
        u = filter_transform(w[o0:o1], sc)
        prod = np.matmul(u, v, out=_pool.take("wino.m", (aa, o1 - o0, cols), v.dtype))
        yt = np.matmul(sc.aa, prod.reshape(aa, -1), out=_pool.take("wino.yt", (m * m, (o1 - o0) * cols), v.dtype))
        tiles6 = yt.reshape(m, m, o1 - o0, th, tw, n).transpose(2, 3, 0, 4, 1, 5)
        if bias is None:
            ycm[o0:o1] = tiles6
        else:
            np.add(tiles6, bias[o0:o1].reshape(-1, 1, 1, 1, 1, 1), out=ycm[o0:o1])
    return _nc_copy(ycm.reshape(o, m * th, m * tw, n)[:, :out_hw[0], :out_hw[1]])


# A forward pass that keeps no transforms for a backward (inference) runs the whole pipeline of
# gather, input transform, the 36 GEMMs, output transform and untiling on a few tiles at a time
# (``CHUNK_COLS`` tiles * images), so the intermediate arrays stay in cache instead of each making a
# round trip through memory (on the whole batch d, V and M are ~19 MB each for ResNet18's first
# stage).  Measured, one thread, batch 32: 64 channels at 32x32 17.2-17.9 -> 14.0-14.6 ms, 128 at
# 16x16 9.8-10.2 -> 8.1-8.3 ms.  Every chunk reads all of U, so from 256 x 256 filters up (U 9.4 MB)
# chunking stopped paying (8x8: 7.8-8.6 -> 8.1-9.3 ms) and the whole-batch pipeline runs.
CHUNK_COLS = 32
CHUNKED_MAX_FILTERS = 128 * 128  # output times input channels


def chunked(w_shape) -> bool:
    """True where the forward and input gradient run chunk by chunk: at most
    ``CHUNKED_MAX_FILTERS`` output x input channels."""
    return w_shape[0] * w_shape[1] <= CHUNKED_MAX_FILTERS


def _tile_chunk(src: np.ndarray, t0: int, x0: int, size: int, k: int, tag: str) -> np.ndarray:
    """The (size, size, C, k, N) tiles of a channel-major (C, H, W, N) array at tile row ``t0`` and
    tile columns ``x0 .. x0+k`` (tiles start every 4 elements), copied into a recycled array."""
    s = src.strides
    view = np.lib.stride_tricks.as_strided(src[:, 4 * t0:, 4 * x0:], (size, size, src.shape[0], k, src.shape[3]),
                                           (s[1], s[2], s[0], 4 * s[2], s[3]), writeable=False)
    out = _pool.take(tag, view.shape, src.dtype)
    out[...] = view
    return out


def _sandwich(mat: np.ndarray, a: np.ndarray, tag: str) -> np.ndarray:
    """``mat @ a @ mat.T`` over the two leading axes of ``a`` (r, r, ...) -> (q, q, ...), one axis at a
    time: two small GEMMs whose operands stay in cache, into recycled arrays."""
    q, r = mat.shape
    rest = a.size // (r * r)
    t = np.matmul(mat, a.reshape(r, -1), out=_pool.take(tag + ".half", (q, r * rest), a.dtype))
    return np.matmul(mat, t.reshape(q, r, rest), out=_pool.take(tag, (q, q, rest), a.dtype))


def _conv3x3_chunked(xc: np.ndarray, w: np.ndarray, out_hw, bias=None, keep: bool = False):
    """``conv3x3``, a tile row's ``CHUNK_COLS`` columns at a time: each chunk's output tiles go into
    one (O, 4, 4*tw, N) tile-row buffer, and each finished row into y (N, O, H, W) (plus ``bias``),
    whole rows by BLAS's transpose (``_transpose``; 64 channels at 32x32, batch 32, one thread:
    11.3-11.5 -> 10.6 ms, 128 at 16x16 7.2-7.4 -> 6.5-6.8).
    With ``keep`` each chunk's V is also copied into its columns of the whole V for the backward
    (one write to memory, where the whole-batch pipeline writes and reads d, V, M and the output
    tiles)."""
    c, n = xc.shape[0], xc.shape[3]
    o = w.shape[0]
    th, tw = tiles(out_hw)
    h, wd = out_hw
    u = filter_transform(w)
    kx = min(tw, -(-CHUNK_COLS // n))  # tiles per chunk along a tile row
    y = _pool.empty(xc, "conv.nc", (n, o, h, wd), xc.dtype)
    row = _pool.take("wino.row", (o, 4, tw, 4, n), xc.dtype)
    vall = _pool.take("wino.v", (36, c, th * tw * n), xc.dtype) if keep else None
    b = None if bias is None else bias.reshape(o, 1, 1, 1, 1)
    for t0 in range(th):
        for x0 in range(0, tw, kx):
            k = min(kx, tw - x0)
            d = _tile_chunk(xc, t0, x0, 6, k, "wino.cd")
            # B^T d B separably (rows, then columns): two 6x6 products in cache measured ~3x faster
            # than the 36x36 Kronecker GEMM (which pays off on whole-batch arrays in memory)
            v = _sandwich(_BT32, d, "wino.cv")
            if keep:
                c0 = (t0 * tw + x0) * n
                vall[:, :, c0:c0 + k * n] = v.reshape(36, c, k * n)
            m = np.matmul(u, v.reshape(36, c, k * n), out=_pool.take("wino.cm", (36, o, k * n), xc.dtype))
            yt = _sandwich(_AT32, m, "wino.cyt")
            tiles5 = yt.reshape(4, 4, o, k, n).transpose(2, 0, 3, 1, 4)  # (O, i, tile, j, N)
            if b is None:
                row[:, :, x0:x0 + k] = tiles5
            else:
                np.add(tiles5, b, out=row[:, :, x0:x0 + k])
        r = min(4, h - 4 * t0)
        band = row.reshape(o, 4, 4 * tw, n)
        if r == 4 and 4 * tw == wd:  # BLAS's transpose of the whole band, then a copy of long runs
            tmp = _pool.take("wino.band", (n, o, 4, wd), xc.dtype)
            if _transpose.transpose(band.reshape(-1, n), tmp.reshape(n, -1)):
                y[:, :, 4 * t0:4 * t0 + 4] = tmp
                continue
        y[:, :, 4 * t0:4 * t0 + r] = band[:, :r, :wd].transpose(3, 0, 1, 2)
    return (y, vall, u) if keep else (y, None, None)


def _untile(yt, n, o, th, tw, out_hw, bias=None, m: int = 4):
    """(m, m, O, th, tw, N) output tiles -> (N, O, H, W) contiguous: a copy into channel-major
    (O, m*th, m*tw, N) with N-long inner runs (adding ``bias`` on the way), then one chunked
    transpose (conv.py's), cropping."""
    from .conv import _nc_copy

    ycm = _pool.take("wino.ycm", (o, th, m, tw, m, n), yt.dtype)
    tiles6 = yt.reshape(m, m, o, th, tw, n).transpose(2, 3, 0, 4, 1, 5)
    if bias is None:
        ycm[...] = tiles6
    else:
        np.add(tiles6, bias.reshape(o, 1, 1, 1, 1, 1), out=ycm)
    ycm = ycm.reshape(o, m * th, m * tw, n)[:, :out_hw[0], :out_hw[1]]
    return _nc_copy(ycm)


def grad_tiles(gy: np.ndarray, th: int, tw: int, sc: Scheme = F4) -> np.ndarray:
    """gy (N, O, H, W) -> dM (a^2, O, th*tw*N) = kron(A, A) applied to its m x m tiles (zero beyond
    H, W)."""
    from .conv import _grad_to_cm

    k, m = sc, sc.m
    n, o, h, w = gy.shape
    gc = _grad_to_cm(gy).reshape(o, h, w, n)  # one chunked transpose: N-long inner runs from here on
    g = _pool.take("wino.g", (m, m, o, th, tw, n), gy.dtype, zero=(h, w) != (m * th, m * tw))
    if (h, w) == (m * th, m * tw):
        g[...] = gc.reshape(o, th, m, tw, m, n).transpose(2, 4, 0, 1, 3, 5)
    else:  # g[i, j, o, ty, tx, n] = gy[n, o, m*ty+i, m*tx+j]: one strided slab per tile position
        for i in range(m):
            for j in range(m):
                src = gc[:, i::m, j::m]
                g[i, j, :, :src.shape[1], :src.shape[2]] = src
    dm = np.matmul(k.aat, g.reshape(m * m, -1), out=_pool.take("wino.dm", (k.a * k.a, o * th * tw * n), gy.dtype))
    return dm.reshape(k.a * k.a, o, th * tw * n)


def grad_weight(dm: np.ndarray, v: np.ndarray, w_shape, sc: Scheme = F4) -> np.ndarray:
    """dW (O, C, 3, 3) = G^T (dM_ab V_ab^T) G, from the saved input transform V."""
    o, c = w_shape[:2]
    gg = sc.gg
    du = np.matmul(dm, v.transpose(0, 2, 1), out=_pool.take("wino.du", (gg.shape[0], o, c), dm.dtype))  # inner dim tiles*N
    # (O*C, a^2) @ (a^2, 9) lands in the weight's own layout (no transposed copy of a weight-sized array)
    return (du.reshape(gg.shape[0], o * c).T @ gg).reshape(w_shape)


def grad_input(dm: np.ndarray, u: np.ndarray, x_shape, pads, th: int, tw: int, sc: Scheme = F4) -> np.ndarray:
    """dx (N, C, H, W): the tiles B (U_ab^T dM_ab) B^T overlap-added into the padded input's
    gradient (a x a tiles every m, so they overlap by two rows and columns), then cropped to the
    unpadded input."""
    from .conv import _nc_copy

    k = sc
    a, m = k.a, k.m
    n, c, h, w = x_shape
    dv = np.matmul(u.transpose(0, 2, 1), dm, out=_pool.take("wino.dv", (a * a, c, dm.shape[2]), dm.dtype))
    dd = np.matmul(k.bbt, dv.reshape(a * a, -1), out=_pool.take("wino.dd", (a * a, c * dm.shape[2]), dm.dtype))
    dd = dd.reshape(a, a, c, th, tw, n).transpose(2, 3, 0, 4, 1, 5)  # (C, ty, i, tx, j, N)
    # the padded gradient with a spare tile row/column of slack: (C, th+1, m, tw+1, m, N)
    acc = _pool.take("wino.acc", (c, th + 1, m, tw + 1, m, n), dm.dtype)
    acc[:, th] = 0
    acc[:, :th, :, tw] = 0
    acc[:, :th, :, :tw] = dd[:, :, :m, :, :m]
    acc[:, 1:, :2, :tw] += dd[:, :, m:, :, :m]   # rows m, m+1 of a tile are rows 0, 1 of the next one
    acc[:, :th, :, 1:, :2] += dd[:, :, :m, :, m:]
    acc[:, 1:, :2, 1:, :2] += dd[:, :, m:, :, m:]
    (lo_h, _), (lo_w, _) = pads
    x = acc.reshape(c, m * th + m, m * tw + m, n)[:, lo_h:lo_h + h, lo_w:lo_w + w]
    return _nc_copy(x)


def _grad_tiles_chunked(gy: np.ndarray, th: int, tw: int) -> np.ndarray:
    """``grad_tiles`` a tile row's ``CHUNK_COLS`` columns at a time, from gy zero-padded to whole tiles
    in channel-major layout (one pass): each chunk's 4x4 tiles and their ``A g A^T`` (one axis at a
    time) stay in cache, only dM goes to memory."""
    from .conv import _to_cm

    n, o, h, w = gy.shape
    gc = _to_cm(gy, ((0, 4 * th - h), (0, 4 * tw - w)))  # (O, 4*th, 4*tw, N)
    kx = min(tw, -(-CHUNK_COLS // n))
    dm = _pool.take("wino.dm", (36, o, th * tw * n), gy.dtype)
    for t0 in range(th):
        for x0 in range(0, tw, kx):
            k = min(kx, tw - x0)
            g = _tile_chunk(gc, t0, x0, 4, k, "wino.cg")
            dmc = _sandwich(_A32, g, "wino.cdm")
            c0 = (t0 * tw + x0) * n
            dm[:, :, c0:c0 + k * n] = dmc.reshape(36, o, k * n)
    return dm


def _grad_input_chunked(dm: np.ndarray, u: np.ndarray, x_shape, pads, th: int, tw: int) -> np.ndarray:
    """``grad_input`` a tile row's ``CHUNK_COLS`` columns at a time: each chunk's U^T dM and
    ``B dV B^T`` (one axis at a time) stay in cache and land in a tile-row buffer, whose tiles are
    overlap-added into the padded gradient (C, 4*th+4, 4*tw+4, N) with two slab additions per row."""
    from .conv import _nc_copy

    n, c, h, w = x_shape
    kx = min(tw, -(-CHUNK_COLS // n))
    acc = _pool.take("wino.cacc", (c, 4 * th + 4, 4 * tw + 4, n), dm.dtype)
    acc[:, :2] = 0
    row = _pool.take("wino.crow", (c, 6, tw, 6, n), dm.dtype)
    ut = u.transpose(0, 2, 1)
    for t0 in range(th):
        for x0 in range(0, tw, kx):
            k = min(kx, tw - x0)
            c0 = (t0 * tw + x0) * n
            dv = np.matmul(ut, dm[:, :, c0:c0 + k * n], out=_pool.take("wino.cdv", (36, c, k * n), dm.dtype))
            dd = _sandwich(_B32, dv, "wino.cdd")
            row[:, :, x0:x0 + k] = dd.reshape(6, 6, c, k, n).transpose(2, 0, 3, 1, 4)  # (C, i, tile, j, N)
        rows = acc[:, 4 * t0:4 * t0 + 6]
        rows[:, 2:] = 0  # rows 0-1 already hold the previous tile row's rows 4-5
        # columns 0-3 of every tile, then columns 4-5 (columns 0-1 of the next tile's place)
        rows[:, :, :4 * tw].reshape(c, 6, tw, 4, n)[...] += row[:, :, :, :4]
        rows[:, :, 4:4 * tw + 4].reshape(c, 6, tw, 4, n)[:, :, :, :2] += row[:, :, :, 4:]
    (lo_h, _), (lo_w, _) = pads
    return _nc_copy(acc[:, lo_h:lo_h + h, lo_w:lo_w + w])


def conv3x3_backward(gy, v, u, x_shape, pads, need_x: bool, need_w: bool, sc: Scheme = F4):
    """(dx, dW) of ``conv3x3`` (algorithm ``sc``) from its output gradient gy (N, O, H, W) and its
    saved V / U."""
    th, tw = tiles(gy.shape[2:], sc)
    if sc is not F4:
        dm = grad_tiles(gy, th, tw, sc)
        gw = grad_weight(dm, v, (gy.shape[1], x_shape[1], 3, 3), sc) if need_w else None
        return (grad_input(dm, u, x_shape, pads, th, tw, sc) if need_x else None), gw
    small = chunked((gy.shape[1], x_shape[1]))
    # chunked where it measured faster (one thread, batch 32/64): the input gradient at 64-128
    # channels (64ch 32x32 15.3 -> 12.8-13.7 ms, 128ch 16x16 7.5 -> 6.3-6.6, the small CNN's 32->64
    # at 14x14 3.8 -> 2.9); the output-gradient tiles only for ragged images (14x14 2.8 -> 2.2 ms),
    # where grad_tiles copies 16 strided slabs (whole tiles take one copy there: 32x32 6.1 vs 6.5)
    ragged = gy.shape[2:] != (4 * th, 4 * tw)
    dm = (_grad_tiles_chunked if small and ragged else grad_tiles)(gy, th, tw)
    gw = grad_weight(dm, v, (gy.shape[1], x_shape[1], 3, 3)) if need_w else None
    gx = (_grad_input_chunked if small else grad_input)(dm, u, x_shape, pads, th, tw) if need_x else None
    return gx, gw
