"""nnbox: a neural-network toolbox with PyTorch's API, on NumPy (CPU) and CuPy (GPU).

>>> import nnbox as torch
>>> x = torch.ones(2, 2, requires_grad=True)
>>> (x * 3).sum().backward()
>>> x.grad
tensor([[3., 3.],
        [3., 3.]])
"""
from __future__ import annotations

# NumPy first, on its own: imported from deep inside nnbox's chain (amp -> autocast state -> dtypes)
# its typing modules took 30-40 ms longer to load (measured with -X importtime; cause not found)
import numpy as _numpy  # noqa: F401

from . import amp, autograd, cuda  # noqa: F401,E402
from ._backend.device import device, get_default_device, set_default_device  # noqa: F401
from ._backend.dtype import (  # noqa: F401
    bfloat16,
    bool,
    cdouble,
    cfloat,
    complex64,
    complex128,
    double,
    dtype,
    float,
    float16,
    float32,
    float64,
    get_default_dtype,
    half,
    int,
    int8,
    int16,
    int32,
    int64,
    long,
    set_default_dtype,
    short,
    uint8,
)
from ._backend.random import (  # noqa: F401
    Generator,
    default_generator,
    get_rng_state,
    initial_seed,
    manual_seed,
    seed,
    set_rng_state,
)
from ._backend.threads import (  # noqa: F401
    get_num_interop_threads,
    get_num_threads,
    set_num_interop_threads,
    set_num_threads,
)
from ._backend.type_info import finfo, iinfo  # noqa: F401
from ._legacy import (  # noqa: E402,F401
    BFloat16Tensor,
    BoolTensor,
    ByteTensor,
    DoubleTensor,
    FloatTensor,
    HalfTensor,
    IntTensor,
    LongTensor,
)
from ._tensor import Tensor, is_tensor  # noqa: F401
from ._tensor_str import set_printoptions  # noqa: F401
from ._version import __version__ as __version__  # noqa: E402  (a str that compares as a version)
from .amp.autocast_mode import (  # noqa: F401
    autocast,
    autocast_decrement_nesting,
    autocast_increment_nesting,
    clear_autocast_cache,
    get_autocast_cpu_dtype,
    get_autocast_dtype,
    get_autocast_gpu_dtype,
    is_autocast_cache_enabled,
    is_autocast_cpu_enabled,
    is_autocast_enabled,
    set_autocast_cache_enabled,
    set_autocast_cpu_dtype,
    set_autocast_cpu_enabled,
    set_autocast_dtype,
    set_autocast_enabled,
    set_autocast_gpu_dtype,
)
from .autograd.grad_mode import (  # noqa: F401
    enable_grad,
    inference_mode,
    is_grad_enabled,
    is_inference_mode_enabled,
    no_grad,
    set_grad_enabled,
)
from .cuda.memory import OutOfMemoryError  # noqa: F401,E402
from .ops import convert as _convert  # noqa: F401  (attaches .to/.float/...)
from .ops import inplace as _inplace  # noqa: F401  (attaches add_/zero_/...)
from .ops.complex import (  # noqa: F401
    angle,
    complex,
    conj,
    conj_physical,
    imag,
    polar,
    real,
    resolve_conj,
    view_as_complex,
    view_as_real,
)
from .ops.creation import (  # noqa: F401
    arange,
    as_tensor,
    asarray,
    bernoulli,
    diag_embed,
    diagonal,
    empty,
    empty_like,
    eye,
    from_numpy,
    full,
    full_like,
    linspace,
    logspace,
    meshgrid,
    multinomial,
    normal,
    ones,
    ones_like,
    poisson,
    rand,
    rand_like,
    randint,
    randint_like,
    randn,
    randn_like,
    randperm,
    tensor,
    tril_indices,
    triu_indices,
    zeros,
    zeros_like,
)
from .ops.decomp import cholesky, matrix_exp  # noqa: F401
from .ops.distance import cdist  # noqa: F401
from .ops.elementwise import (  # noqa: F401
    abs,
    absolute,
    acos,
    add,
    allclose,
    arccos,
    arcsin,
    arctan,
    arctan2,
    asin,
    atan,
    atan2,
    bitwise_and,
    bitwise_not,
    bitwise_or,
    bitwise_xor,
    ceil,
    clamp,
    clamp_max,
    clamp_min,
    clip,
    cos,
    cosh,
    div,
    divide,
    eq,
    equal,
    erf,
    exp,
    exp2,
    expm1,
    fix,
    float_power,
    floor,
    floor_divide,
    fmax,
    fmin,
    fmod,
    frac,
    ge,
    greater,
    greater_equal,
    gt,
    isclose,
    isfinite,
    isinf,
    isnan,
    le,
    lerp,
    less,
    less_equal,
    log,
    log1p,
    log2,
    log10,
    logical_and,
    logical_not,
    logical_or,
    logical_xor,
    lt,
    maximum,
    minimum,
    mul,
    multiply,
    ne,
    neg,
    negative,
    not_equal,
    pow,
    reciprocal,
    relu,
    remainder,
    round,
    rsqrt,
    sigmoid,
    sign,
    sin,
    sinh,
    sqrt,
    square,
    sub,
    subtract,
    tan,
    tanh,
    true_divide,
    trunc,
)
from .ops.index import (  # noqa: F401
    argsort,
    argwhere,
    bincount,
    gather,
    index_add,
    index_copy,
    index_fill,
    index_put,
    index_select,
    kthvalue,
    masked_fill,
    masked_select,
    msort,
    nonzero,
    scatter,
    scatter_add,
    searchsorted,
    sort,
    take,
    take_along_dim,
    topk,
    unique,
    where,
)
from .ops.linalg import (  # noqa: F401
    addbmm,
    addmm,
    addmv,
    baddbmm,
    bmm,
    diag,
    dist,
    dot,
    einsum,
    ger,
    inner,
    inverse,
    matmul,
    mm,
    mv,
    norm,
    outer,
    tensordot,
    trace,
)
from .ops.reduce import (  # noqa: F401
    all,
    amax,
    amin,
    aminmax,
    any,
    argmax,
    argmin,
    count_nonzero,
    cumprod,
    cumsum,
    logsumexp,
    max,
    mean,
    median,
    min,
    nanmean,
    nansum,
    prod,
    std,
    std_mean,
    sum,
    var,
    var_mean,
)
from .ops.shape import (  # noqa: F401
    Size,
    atleast_1d,
    atleast_2d,
    atleast_3d,
    broadcast_shapes,
    broadcast_tensors,
    broadcast_to,
    cat,
    chunk,
    clone,
    column_stack,
    concat,
    concatenate,
    dstack,
    flatten,
    flip,
    fliplr,
    flipud,
    hstack,
    moveaxis,
    movedim,
    narrow,
    permute,
    ravel,
    repeat_interleave,
    reshape,
    roll,
    row_stack,
    split,
    squeeze,
    stack,
    swapaxes,
    swapdims,
    t,
    tensor_split,
    tile,
    transpose,
    tril,
    triu,
    unbind,
    unflatten,
    unsqueeze,
    vstack,
)
from .ops.softmax import log_softmax, softmax, softmin  # noqa: F401
from .ops.special import digamma, erfc, erfinv, lgamma, logit, polygamma, xlogy  # noqa: F401  (erf: the elementwise row)

strided = "torch.strided"
contiguous_format = preserve_format = channels_last = None
import math as _math  # noqa: E402

from ._tensor import _mark_unimplemented  # noqa: E402

_mark_unimplemented()  # every op module has attached its Tensor methods by now

pi, e, inf, nan = _math.pi, _math.e, _math.inf, _math.nan


def numel(input: Tensor) -> int:
    """The number of elements of ``input``."""
    return input.numel()


def is_floating_point(input: Tensor) -> bool:
    return input.is_floating_point()


def is_complex(input: Tensor) -> bool:
    return input.is_complex()


def is_nonzero(input: Tensor) -> bool:
    return input.__bool__()

# Subpackages that are heavier or optional load on first use (``import nnbox`` stays fast).
_LAZY = {
    "nn": "nnbox.nn",
    "optim": "nnbox.optim",
    "utils": "nnbox.utils",
    "vision": "nnbox.vision",
    "distributed": "nnbox.distributed",
    "linalg": "nnbox.linalg",
    "backends": "nnbox.backends",
    "testing": "nnbox.testing",
    "multiprocessing": "nnbox.multiprocessing",
    "onnx": "nnbox.onnx",
    "fft": "nnbox.fft",
    "jit": "nnbox.jit",
    "training": "nnbox.training",
    "hub": "nnbox.hub",
    "func": "nnbox.func",
    "accelerator": "nnbox.accelerator",
    "version": "nnbox.version",
    "compiler": "nnbox.compiler",
    "special": "nnbox.special",
    "cpu": "nnbox.cpu",
    "distributions": "nnbox.distributions",
}
_LAZY_ATTRS = {"save": "nnbox.serialization", "load": "nnbox.serialization"}
for _n in (
    "set_default_tensor_type",
    "set_float32_matmul_precision",
    "get_float32_matmul_precision",
    "use_deterministic_algorithms",
    "are_deterministic_algorithms_enabled",
    "is_deterministic_algorithms_warn_only_enabled",
    "set_deterministic_debug_mode",
    "get_deterministic_debug_mode",
):
    _LAZY_ATTRS[_n] = "nnbox._switches"
_LAZY_ATTRS["compile"] = "nnbox.compiler"
_LAZY_ATTRS["_standard_gamma"] = _LAZY_ATTRS["_sample_dirichlet"] = "nnbox.distributions._gamma_sample"


def __getattr__(name: str):
    import importlib

    if name in _LAZY:
        try:
            return importlib.import_module(_LAZY[name])
        except ModuleNotFoundError as e:
            if e.name != _LAZY[name]:  # a dependency inside the subpackage is missing: say that
                raise
        # a subpackage not written yet falls through to the "does not implement" message
    if name in _LAZY_ATTRS:
        return getattr(importlib.import_module(_LAZY_ATTRS[name]), name)
    from ._missing import attribute_error

    raise attribute_error("torch", name, __dir__(), f"module 'nnbox' has no attribute '{name}'")


def __dir__() -> list:
    # the lazily loaded subpackages and functions are part of the namespace too
    import importlib.util

    lazy = {n for n, m in _LAZY.items() if importlib.util.find_spec(m) is not None}
    return sorted(set(globals()) | lazy | set(_LAZY_ATTRS))
