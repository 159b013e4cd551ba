"""Graph plumbing for backward formulas that need an input they did not keep.

A normalization's forward keeps ``xhat`` and its statistics, not its input ``x`` (keeping both would
double its saved memory).  Its second derivatives need ``x`` as a Tensor of the graph, connected to
whatever produced it: ``input_tensor`` builds that Tensor from the node's edge and data rebuilt from
what was kept (``x = xhat / invstd + mean``, exact up to rounding; a leaf input is returned itself).
"""
from __future__ import annotations

from .._tensor import Tensor
from ..autograd.function import _graph_tensor


def input_tensor(ctx, k: int, rebuild) -> Tensor:
    """Input ``k`` of node ``ctx`` as a Tensor of the graph (for a ``create_graph`` backward only);
    ``rebuild(ctx)`` returns its data as an array when the input itself is not at hand."""
    e = ctx._edges[k]
    if e is None:  # an input that needs no gradient: a constant with the rebuilt values
        return Tensor._make(rebuild(ctx))
    if type(e) is tuple:  # the output of another node
        return _graph_tensor(rebuild(ctx), e[0], e[1])
    return e  # a leaf: the Tensor itself, its gradient accumulates where the user looks
