"""``torch.amp.GradScaler``: dynamic loss scaling for low-precision training.

The loss is multiplied by ``scale`` before backward so small float16 gradients don't flush to
zero; ``unscale_`` divides the gradients back (multiplying by float32 ``1/scale``, as torch does)
and notes whether any is inf/NaN; ``step`` skips the optimizer's step when one was; ``update``
halves the scale after a skipped step (``backoff_factor``) and doubles it after
``growth_interval`` clean steps in a row (``growth_factor``). One host read per ``step`` (the
found-inf flag, as in torch); the check itself runs on the gradients' device.
"""
from __future__ import annotations

import warnings

import numpy as np

from .._backend.device import array_module


class _Stage:  # where an optimizer is in the iteration (torch's OptState)
    READY, UNSCALED, STEPPED = "ready", "unscaled", "stepped"


class GradScaler:
    """Scale the loss, unscale the gradients, skip steps with inf/NaN gradients, adapt the scale.

    >>> import nnbox
    >>> model = nnbox.nn.Linear(2, 1); opt = nnbox.optim.SGD(model.parameters(), lr=0.1)
    >>> scaler = nnbox.amp.GradScaler("cpu", init_scale=1024.0)
    >>> scaler.scale(model(nnbox.ones(4, 2)).sum()).backward()
    >>> scaler.step(opt); scaler.update(); scaler.get_scale()
    1024.0
    """

    def __init__(self, device: str = "cuda", init_scale: float = 2.0**16, growth_factor: float = 2.0,
                 backoff_factor: float = 0.5, growth_interval: int = 2000, enabled: bool = True) -> None:
        self._device = device
        self._enabled = enabled
        if device == "cuda" and enabled:
            from .. import cuda

            if not cuda.is_available():
                warnings.warn("torch.cuda.amp.GradScaler is enabled, but CUDA is not available.  Disabling.")
                self._enabled = False
        if self._enabled:
            if growth_factor <= 1.0:
                raise AssertionError("The growth factor must be > 1.0.")
            if backoff_factor >= 1.0:
                raise AssertionError("The backoff factor must be < 1.0.")
        self._scale = float(np.float32(init_scale))  # torch keeps the scale in a float32 tensor
        self._growth_factor = float(growth_factor)
        self._backoff_factor = float(backoff_factor)
        self._growth_interval = int(growth_interval)
        self._growth_tracker = 0
        self._per_optimizer: dict[int, dict] = {}
        self._started = False  # torch makes its scale tensor on the first scale() call

    def _check_started(self, what: str) -> None:
        if not self._started:
            raise AssertionError(f"Attempted {what} but _scale is None.  This may indicate your script did not "
                                 "use scaler.scale(loss or outputs) earlier in the iteration.")

    # --- scaling -------------------------------------------------------------------------------
    def scale(self, outputs):
        """``outputs`` (a tensor, or nested lists/tuples of them) times the current scale."""
        if not self._enabled:
            return outputs
        from .._tensor import Tensor

        self._started = True
        if isinstance(outputs, Tensor):
            return outputs * self._scale
        if isinstance(outputs, (list, tuple)):
            return type(outputs)(self.scale(o) for o in outputs)
        raise ValueError("outputs must be a Tensor or an iterable of Tensors")

    def _state(self, optimizer) -> dict:
        return self._per_optimizer.setdefault(id(optimizer), {"stage": _Stage.READY, "found_inf": None})

    def unscale_(self, optimizer) -> None:
        """Divide ``optimizer``'s gradients by the scale (in place) and note any inf/NaN among them."""
        if not self._enabled:
            return
        self._check_started("unscale_")
        state = self._state(optimizer)
        if state["stage"] is _Stage.UNSCALED:
            raise RuntimeError("unscale_() has already been called on this optimizer since the last update().")
        if state["stage"] is _Stage.STEPPED:
            raise RuntimeError("unscale_() is being called after step().")
        inv = np.float32(1.0) / np.float32(self._scale)  # float32 reciprocal, as torch's
        flags = []
        for group in optimizer.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                g = p.grad._data
                xp = array_module(g)
                flags.append(~xp.isfinite(g).all())
                g *= g.dtype.type(inv)
        state["found_inf"] = flags
        state["stage"] = _Stage.UNSCALED

    @staticmethod
    def _found(state) -> bool:
        flags = state["found_inf"]
        if not flags:
            return False
        xp = array_module(flags[0])
        return bool(xp.stack(flags).any())  # the one host read per step

    def step(self, optimizer, *args, **kwargs):
        """``optimizer.step()`` unless the (unscaled) gradients hold inf/NaN; returns its result."""
        if not self._enabled:
            return optimizer.step(*args, **kwargs)
        if "closure" in kwargs:
            raise RuntimeError("Closure use is not currently supported if GradScaler is enabled.")
        state = self._state(optimizer)
        if state["stage"] is _Stage.STEPPED:
            raise RuntimeError("step() has already been called since the last update().")
        if state["stage"] is _Stage.READY:
            self.unscale_(optimizer)
        if state["found_inf"] is None or (not state["found_inf"] and not any(
                p.grad is not None for g in optimizer.param_groups for p in g["params"])):
            raise AssertionError("No inf checks were recorded for this optimizer.")
        found = self._found(state)
        state["found"] = found
        state["stage"] = _Stage.STEPPED
        return None if found else optimizer.step(*args, **kwargs)

    def update(self, new_scale=None) -> None:
        """Adapt the scale for the next iteration (or set it to ``new_scale``)."""
        if not self._enabled:
            return
        self._check_started("update")
        if new_scale is not None:
            self._scale = float(new_scale.item() if hasattr(new_scale, "item") else new_scale)
        else:
            found = [s["found"] for s in self._per_optimizer.values() if "found" in s]
            if not found:
                raise AssertionError("No inf checks were recorded prior to update.")
            if any(found):
                self._scale = float(np.float32(self._scale * self._backoff_factor))
                self._growth_tracker = 0
            else:
                self._growth_tracker += 1
                if self._growth_tracker == self._growth_interval:
                    self._scale = float(np.float32(self._scale * self._growth_factor))
                    self._growth_tracker = 0
        self._per_optimizer = {}

    # --- accessors -------------------------------------------------------------------------------
    def get_scale(self) -> float:
        return self._scale if self._enabled else 1.0

    def get_growth_factor(self) -> float:
        return self._growth_factor

    def set_growth_factor(self, new_factor: float) -> None:
        self._growth_factor = float(new_factor)

    def get_backoff_factor(self) -> float:
        return self._backoff_factor

    def set_backoff_factor(self, new_factor: float) -> None:
        self._backoff_factor = float(new_factor)

    def get_growth_interval(self) -> int:
        return self._growth_interval

    def set_growth_interval(self, new_interval: int) -> None:
        self._growth_interval = int(new_interval)

    def is_enabled(self) -> bool:
        return self._enabled

    def state_dict(self) -> dict:
        if not self._enabled:
            return {}
        return {"scale": self.get_scale(), "growth_factor": self._growth_factor,
                "backoff_factor": self._backoff_factor, "growth_interval": self._growth_interval,
                "_growth_tracker": self._growth_tracker}

    def load_state_dict(self, state_dict: dict) -> None:
        if not self._enabled:
            return
        if len(state_dict) == 0:
            raise RuntimeError("The source state dict is empty, possibly because it was saved from a disabled instance of GradScaler.")
        self._scale = float(state_dict["scale"])
        self._growth_factor = float(state_dict["growth_factor"])
        self._backoff_factor = float(state_dict["backoff_factor"])
        self._growth_interval = int(state_dict["growth_interval"])
        self._growth_tracker = int(state_dict["_growth_tracker"])
