"""Recurrent layers ``RNN``, ``LSTM``, ``GRU`` and the cells ``RNNCell``, ``LSTMCell``, ``GRUCell``.

Parameter names, shapes, gate order and default init are torch's (``weight_ih_l0``,
``weight_hh_l0_reverse`` ..., all ~ U(-1/sqrt(hidden), 1/sqrt(hidden))), so a torch ``state_dict``
loads one to one.  Each layer and direction runs as one fused node (``ops.rnn.Recurrence``).
``PackedSequence`` inputs run on the padded batch with per-step batch sizes: padded steps are
never computed and ``h_n`` holds each sequence's last valid state, as in torch.

>>> import nnbox, nnbox.nn as nn
>>> lstm = nn.LSTM(10, 20, num_layers=2, batch_first=True)
>>> out, (h, c) = lstm(nnbox.randn(3, 5, 10))
>>> out.shape, h.shape
(torch.Size([3, 5, 20]), torch.Size([2, 3, 20]))
"""
from __future__ import annotations

import math
import numbers
import warnings

import numpy as np

from ..._backend import dtype as _dt
from ..._backend.device import CPU, as_device, move, xp_for
from ..._tensor import Tensor
from ...ops.rnn import GATES, cell_step, recurrence
from .. import init
from ..parameter import Parameter
from ..utils.rnn import PackedSequence
from .module import Module

__all__ = ["RNNBase", "RNN", "LSTM", "GRU", "RNNCellBase", "RNNCell", "LSTMCell", "GRUCell"]


def _param(shape: tuple, device, dtype) -> Parameter:
    dt = _dt.to_numpy_dtype(_dt.get_default_dtype() if dtype is None else dtype)
    return Parameter(Tensor._make(xp_for(as_device(device)).zeros(shape, dtype=dt)))


def _size(shape) -> str:
    return "(" + ", ".join(map(str, shape)) + ")"


def _list(shape) -> str:
    return "[" + ", ".join(map(str, shape)) + "]"


class RNNBase(Module):
    """Shared machinery of RNN / LSTM / GRU: parameters, checks, the layer/direction loop."""

    __constants__ = ["mode", "input_size", "hidden_size", "num_layers", "bias", "batch_first", "dropout",
                     "bidirectional", "proj_size"]

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None) -> None:
        super().__init__()
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        num_directions = 2 if bidirectional else 1
        if (not isinstance(dropout, numbers.Number) or not 0 <= dropout <= 1 or isinstance(dropout, bool)):
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn(
                "dropout option adds dropout after all but last recurrent layer, so non-zero dropout expects "
                f"num_layers greater than 1, but got dropout={dropout} and num_layers={num_layers}",
                stacklevel=3,
            )
        if not isinstance(hidden_size, int) or isinstance(hidden_size, bool):
            raise TypeError(f"hidden_size should be of type int, got: {type(hidden_size).__name__}")
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if proj_size and mode != "LSTM":
            raise ValueError("proj_size argument is only supported for LSTM, not RNN or GRU")
        gate_size = GATES[mode] * hidden_size
        real_hidden = proj_size if proj_size > 0 else hidden_size
        self._flat_weights_names: list[str] = []
        self._all_weights: list[list[str]] = []
        for layer in range(num_layers):
            for direction in range(num_directions):
                layer_input = input_size if layer == 0 else real_hidden * num_directions
                suffix = "_reverse" if direction == 1 else ""
                names = [f"weight_ih_l{layer}{suffix}", f"weight_hh_l{layer}{suffix}"]
                shapes = [(gate_size, layer_input), (gate_size, real_hidden)]
                if bias:
                    names += [f"bias_ih_l{layer}{suffix}", f"bias_hh_l{layer}{suffix}"]
                    shapes += [(gate_size,), (gate_size,)]
                if proj_size > 0:
                    names.append(f"weight_hr_l{layer}{suffix}")
                    shapes.append((proj_size, hidden_size))
                for name, shape in zip(names, shapes):
                    setattr(self, name, _param(shape, device, dtype))
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def flatten_parameters(self) -> None:
        """Kept for API compatibility: nnbox's weights need no flattening."""

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, n) for n in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        return [[getattr(self, n) for n in names] for names in self._all_weights]

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s

    # --- forward ----------------------------------------------------------------------------------
    def _name(self) -> str:
        return "RNN" if self.mode.startswith("RNN") else self.mode

    def forward(self, input, hx=None):
        lstm = self.mode == "LSTM"
        num_directions = 2 if self.bidirectional else 1
        packed = isinstance(input, PackedSequence)
        batch_sizes = None
        if packed:
            from ..utils.rnn import pad_packed_sequence

            data, bs, sorted_indices, unsorted_indices = input
            x, _ = pad_packed_sequence(PackedSequence(data, bs, None, None))  # (T, B, I), sorted order
            batch_sizes = np.asarray(move(bs._data, CPU), dtype=np.int64)
            batched = True
            if hx is not None:
                hx = self._permute_hidden(hx, sorted_indices)
        else:
            x = input
            d = x.dim()
            if d not in (2, 3):
                raise ValueError(f"{self._name()}: Expected input to be 2D or 3D, got {d}D instead")
            batched = d == 3
            hx = self._check_hx_dims(hx, batched)
            if not batched:
                x = x.unsqueeze(1)
                if hx is not None:
                    hx = tuple(h.unsqueeze(1) for h in hx) if lstm else hx.unsqueeze(1)
            elif self.batch_first:
                x = x.transpose(0, 1)
        w0 = getattr(self, self._flat_weights_names[0])
        if x._data.dtype != w0._data.dtype:
            raise ValueError(
                f"RNN input dtype ({x.dtype}) does not match weight dtype ({w0.dtype}). Convert input: "
                f"input.to({w0.dtype}), or convert model: model.to({x.dtype})"
            )
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, "
                               f"got {x.shape[-1]}")
        B = x.shape[1]
        real_hidden = self.proj_size if self.proj_size > 0 else self.hidden_size
        expected = (self.num_layers * num_directions, B, real_hidden)
        expected_c = (self.num_layers * num_directions, B, self.hidden_size)
        if hx is None:
            from ...ops.creation import zeros

            h0 = zeros(expected, dtype=x.dtype, device=x.device)
            c0 = zeros(expected_c, dtype=x.dtype, device=x.device) if lstm else None
        elif lstm:
            h0, c0 = hx
            for k, (h, want) in enumerate(((h0, expected), (c0, expected_c))):
                if tuple(h.shape) != want:
                    raise RuntimeError(f"Expected hidden[{k}] size {_size(want)}, got {_list(h.shape)}")
        else:
            h0, c0 = hx, None
            if tuple(h0.shape) != expected:
                raise RuntimeError(f"Expected hidden size {_size(expected)}, got {_list(h0.shape)}")
        out, h_n, c_n = self._run(x, h0, c0, batch_sizes)
        if packed:
            from ..utils.rnn import _long, _packed_rows

            T = out.shape[0]
            rows = _long(_packed_rows(batch_sizes, B), out)
            data_out = out.reshape(T * B, out.shape[2])[rows]
            output = PackedSequence(data_out, bs, sorted_indices, unsorted_indices)
            h_n = self._permute_hidden(h_n, unsorted_indices)
            c_n = self._permute_hidden(c_n, unsorted_indices) if lstm else None
        else:
            output = out
            if not batched:
                output, h_n = output.squeeze(1), h_n.squeeze(1)
                c_n = c_n.squeeze(1) if lstm else None
            elif self.batch_first:
                output = output.transpose(0, 1)
        return (output, (h_n, c_n)) if lstm else (output, h_n)

    def _run(self, x: Tensor, h0: Tensor, c0, batch_sizes):
        from ...ops.dropout import dropout
        from ...ops.shape import cat, stack

        lstm = self.mode == "LSTM"
        num_directions = 2 if self.bidirectional else 1
        hs, cs = [], []
        layer_in = x
        for layer in range(self.num_layers):
            outs = []
            for direction in range(num_directions):
                k = layer * num_directions + direction
                ws = [getattr(self, n) for n in self._all_weights[k]]
                b_ih, b_hh = (ws[2], ws[3]) if self.bias else (None, None)
                w_hr = ws[-1] if self.proj_size > 0 else None
                res = recurrence(self.mode, layer_in, h0[k], c0[k] if lstm else None, ws[0], ws[1], b_ih, b_hh,
                                 reverse=direction == 1, batch_sizes=batch_sizes, w_hr=w_hr)
                outs.append(res[0])
                hs.append(res[1])
                if lstm:
                    cs.append(res[2])
            layer_in = outs[0] if num_directions == 1 else cat(outs, 2)
            if self.dropout and self.training and layer < self.num_layers - 1:
                layer_in = dropout(layer_in, self.dropout, True)
        return layer_in, stack(hs, 0), (stack(cs, 0) if lstm else None)

    def _check_hx_dims(self, hx, batched: bool):
        if hx is None:
            return None
        want = 3 if batched else 2
        if self.mode == "LSTM":
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise RuntimeError("LSTM: hx must be a tuple (h_0, c_0)")
            if hx[0].dim() != want or hx[1].dim() != want:
                kind = "batched 3-D" if batched else "unbatched 2-D"
                raise RuntimeError(f"For {kind} input, hx and cx should also be {want}-D but got "
                                   f"({hx[0].dim()}-D, {hx[1].dim()}-D) tensors")
            return tuple(hx)
        if hx.dim() != want:
            kind = "batched 3-D" if batched else "unbatched 2-D"
            raise RuntimeError(f"For {kind} input, hx should also be {want}-D but got {hx.dim()}-D tensor")
        return hx

    @staticmethod
    def _permute_hidden(hx, permutation):
        if permutation is None or hx is None:
            return hx
        if isinstance(hx, tuple):
            return tuple(h.index_select(1, permutation) for h in hx)
        return hx.index_select(1, permutation)


class RNN(RNNBase):
    """Elman RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu), stacked and optionally bidirectional."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None) -> None:
        if nonlinearity == "tanh":
            mode = "RNN_TANH"
        elif nonlinearity == "relu":
            mode = "RNN_RELU"
        else:
            raise ValueError(f"Unknown nonlinearity '{nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__(mode, input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """Long short-term memory; returns ``output, (h_n, c_n)`` (``proj_size``: project h to that size)."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None) -> None:
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)


class GRU(RNNBase):
    """Gated recurrent unit (gate order r, z, n as torch); returns ``output, h_n``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False,
                 proj_size: int = 0, device=None, dtype=None) -> None:
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional,
                         proj_size, device=device, dtype=dtype)


# --- cells --------------------------------------------------------------------------------------------


class RNNCellBase(Module):
    """Parameters and checks shared by the cells: weight_ih (G*H, I), weight_hh (G*H, H), two biases."""

    __constants__ = ["input_size", "hidden_size", "bias"]
    _mode = ""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None,
                 dtype=None) -> None:
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = _param((num_chunks * hidden_size, input_size), device, dtype)
        self.weight_hh = _param((num_chunks * hidden_size, hidden_size), device, dtype)
        if bias:
            self.bias_ih = _param((num_chunks * hidden_size,), device, dtype)
            self.bias_hh = _param((num_chunks * hidden_size,), device, dtype)
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        stdv = 1.0 / math.sqrt(self.hidden_size) if self.hidden_size > 0 else 0
        for weight in self.parameters():
            init.uniform_(weight, -stdv, stdv)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _step(self, input: Tensor, hx, lstm: bool):
        d = input.dim()
        if d not in (1, 2):
            raise ValueError(f"{type(self).__name__}: Expected input to be 1D or 2D, got {d}D instead")
        if hx is not None:
            hd = [h.dim() for h in hx] if lstm else [hx.dim()]
            if any(h != d for h in hd):
                kind = "1-D" if d == 1 else "2-D"
                raise RuntimeError(f"{type(self).__name__}: Expected hidden to be {kind} but got "
                                   f"{hd[0]}-D tensor instead" if not lstm else
                                   f"{type(self).__name__}: Expected hx[0] to be {kind} but got {hd[0]}-D tensor")
        batched = d == 2
        x = input if batched else input.unsqueeze(0)
        if x.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {x.shape[1]} expected {self.input_size}")
        if hx is None:
            from ...ops.creation import zeros

            z = zeros(x.shape[0], self.hidden_size, dtype=x.dtype, device=x.device)
            hx = (z, z) if lstm else z
        elif not batched:
            hx = tuple(h.unsqueeze(0) for h in hx) if lstm else hx.unsqueeze(0)
        for k, h in enumerate(hx if lstm else (hx,)):
            if h.shape[0] != x.shape[0]:
                raise RuntimeError(f"Input batch size {x.shape[0]} doesn't match hidden{k} batch size {h.shape[0]}")
            if h.shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden{k} has inconsistent hidden_size: got {h.shape[1]}, expected "
                                   f"{self.hidden_size}")
        h, c = (hx[0], hx[1]) if lstm else (hx, None)
        res = cell_step(self._mode, x, h, c, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
        if not batched:
            res = tuple(r.squeeze(0) for r in res) if lstm else res.squeeze(0)
        return res


class RNNCell(RNNCellBase):
    """One step of an Elman RNN: h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh) (or relu)."""

    __constants__ = ["input_size", "hidden_size", "bias", "nonlinearity"]

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 1, device, dtype)
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity: {nonlinearity}")
        self.nonlinearity = nonlinearity
        self._mode = "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx, False)


class LSTMCell(RNNCellBase):
    """One LSTM step; returns ``(h', c')``."""

    _mode = "LSTM"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 4, device, dtype)

    def forward(self, input: Tensor, hx=None):
        return self._step(input, hx, True)


class GRUCell(RNNCellBase):
    """One GRU step; returns ``h'``."""

    _mode = "GRU"

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__(input_size, hidden_size, bias, 3, device, dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx, False)
