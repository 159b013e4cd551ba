"""``DataParallel``: one process drives several GPUs -- replicate, scatter, run, gather.

torch's semantics: without CUDA (or with ``device_ids`` empty) the wrapped module runs as is;
with one device the inputs are moved there and the module runs; with several, each forward

1. ``scatter``s the batch along ``dim`` (tensors split, other arguments copied),
2. ``replicate``s the module: each replica's parameters are differentiable copies of the
   originals (``ToDevice``), so backward sums every replica's gradient into the original ``.grad``,
3. ``parallel_apply``s the replicas in threads (one per device; CuPy releases the GIL),
4. ``gather``s the outputs onto ``output_device`` (differentiable: backward scatters the grads).

The pieces are public as in ``torch.nn.parallel`` and take any list of devices, so they are
tested on the CPU (``['cpu', 'cpu']``) where the autograd plumbing is the same as on GPUs.
"""
from __future__ import annotations

import threading

from ..._backend.device import as_device, device_of, move
from ..._tensor import Tensor
from ...ops.convert import ToDevice
from ..modules.module import Module


def _devices(ids) -> list:
    return [as_device(d) if not isinstance(d, int) else as_device(f"cuda:{d}") for d in ids]


def _scatter_obj(obj, devices: list, dim: int):
    """Per device: ``obj`` with every tensor replaced by its chunk along ``dim`` on that device."""
    n = len(devices)
    if isinstance(obj, Tensor):
        chunks = obj.chunk(n, dim)
        return [ToDevice.apply(c, d) for c, d in zip(chunks, devices)]
    if isinstance(obj, tuple) and obj and hasattr(obj, "_fields"):  # namedtuple
        return [type(obj)(*parts) for parts in zip(*(_scatter_obj(o, devices, dim) for o in obj))]
    if isinstance(obj, (tuple, list)) and obj:
        return [type(obj)(parts) for parts in zip(*(_scatter_obj(o, devices, dim) for o in obj))]
    if isinstance(obj, dict) and obj:
        keys = list(obj)
        per = [_scatter_obj(obj[k], devices, dim) for k in keys]
        return [type(obj)(zip(keys, vals)) for vals in zip(*per)]
    return [obj for _ in devices]


def scatter(inputs, target_gpus: list, dim: int = 0) -> list:
    """Split ``inputs`` (tensors inside tuples/lists/dicts) across ``target_gpus`` along ``dim``.

    Fewer chunks than devices come out when the batch is smaller than the device count.
    """
    devices = _devices(target_gpus)
    parts = _scatter_obj(inputs, devices, dim)
    first = _first_tensor(inputs)
    if first is not None:  # chunk() may give fewer pieces than devices
        parts = parts[: min(len(devices), first.shape[dim] if first.dim() else 1)]
    return parts


def _first_tensor(obj):
    if isinstance(obj, Tensor):
        return obj
    if isinstance(obj, (tuple, list)):
        for o in obj:
            t = _first_tensor(o)
            if t is not None:
                return t
    if isinstance(obj, dict):
        return _first_tensor(list(obj.values()))
    return None


def scatter_kwargs(inputs: tuple, kwargs: dict, target_gpus: list, dim: int = 0):
    ins = scatter(inputs, target_gpus, dim) if inputs else []
    kws = scatter(kwargs, target_gpus, dim) if kwargs else []
    # as many pieces as the batch splits into (a batch smaller than the device count uses fewer)
    n = len(ins) if ins else len(kws)
    ins = list(ins) + [()] * (n - len(ins))
    kws = (list(kws) + [{}] * (n - len(kws)))[:n]
    return tuple(tuple(i) for i in ins), tuple(kws)


def replicate(network: Module, devices: list, detach: bool = False) -> list:
    """Copies of ``network`` on ``devices`` sharing the originals' gradients (through ``ToDevice``)."""
    devs = _devices(devices)
    modules = list(network.modules())
    replicas = []
    for dev in devs:
        clone_of = {}
        for m in modules:
            r = m.__new__(type(m))
            r.__dict__.update(m.__dict__)
            r.__dict__["_parameters"] = dict(m._parameters)
            r.__dict__["_buffers"] = dict(m._buffers)
            r.__dict__["_modules"] = dict(m._modules)
            clone_of[id(m)] = r
        for m in modules:
            r = clone_of[id(m)]
            for k, p in m._parameters.items():
                if p is not None:
                    r._parameters[k] = Tensor._make(move(p._data, dev)) if detach else ToDevice.apply(p, dev)
            for k, b in m._buffers.items():
                if b is not None and device_of(b._data) != dev:
                    r._buffers[k] = Tensor._make(move(b._data, dev))
            for k, c in m._modules.items():
                if c is not None:
                    r._modules[k] = clone_of[id(c)]
        replicas.append(clone_of[id(network)])
    return replicas


def parallel_apply(modules: list, inputs: list, kwargs_tup=None, devices=None) -> list:
    """Run ``modules[i](*inputs[i], **kwargs_tup[i])``, one thread per module; re-raises errors."""
    kwargs_tup = kwargs_tup or ({},) * len(modules)
    devs = _devices(devices) if devices is not None else [None] * len(modules)
    results: list = [None] * len(modules)

    def work(i):
        try:
            dev = devs[i]
            args = inputs[i] if isinstance(inputs[i], (tuple, list)) else (inputs[i],)
            if dev is not None and dev.type == "cuda":
                import cupy  # noqa: PLC0415

                with cupy.cuda.Device(dev.index or 0):
                    results[i] = modules[i](*args, **kwargs_tup[i])
            else:
                results[i] = modules[i](*args, **kwargs_tup[i])
        except BaseException as e:  # noqa: BLE001 - re-raised in the caller's thread
            results[i] = e

    if len(modules) == 1:
        work(0)
    else:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(modules))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results


def gather(outputs: list, target_device, dim: int = 0):
    """Concatenate the replicas' outputs along ``dim`` on ``target_device`` (differentiable)."""
    from ...ops.shape import cat

    dev = _devices([target_device])[0] if target_device != -1 else as_device("cpu")
    first = outputs[0]
    if isinstance(first, Tensor):
        moved = [ToDevice.apply(o, dev) for o in outputs]
        if first.dim() == 0:  # scalars (e.g. a loss) are stacked into a vector, as torch does
            moved = [m.reshape(1) for m in moved]
        return cat(moved, dim)
    if first is None:
        return None
    if isinstance(first, dict):
        return type(first)((k, gather([o[k] for o in outputs], target_device, dim)) for k in first)
    if isinstance(first, tuple) and hasattr(first, "_fields"):
        return type(first)(*(gather(list(parts), target_device, dim) for parts in zip(*outputs)))
    if isinstance(first, (tuple, list)):
        return type(first)(gather(list(parts), target_device, dim) for parts in zip(*outputs))
    return first


class DataParallel(Module):
    """Split each batch across GPUs in one process (torch's ``nn.DataParallel``).

    >>> import nnbox, nnbox.nn as nn
    >>> device = "cuda" if nnbox.cuda.is_available() else "cpu"
    >>> model = nn.DataParallel(nn.Linear(3, 2).to(device))  # without a GPU: runs the module as is
    >>> model(nnbox.ones(4, 3, device=device)).shape
    torch.Size([4, 2])
    """

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0):
        super().__init__()
        from ... import cuda

        self.module = module
        d = self.__dict__
        d["dim"] = dim
        if not cuda.is_available():
            d["device_ids"], d["output_device"], d["src_device_obj"] = [], None, None
            return
        if device_ids is None:
            device_ids = list(range(cuda.device_count()))
        ids = [d_.index if hasattr(d_, "index") else int(d_) for d_ in device_ids]
        if output_device is None:
            output_device = ids[0] if ids else None
        d["device_ids"] = ids
        d["output_device"] = output_device.index if hasattr(output_device, "index") else output_device
        d["src_device_obj"] = as_device(f"cuda:{ids[0]}") if ids else None

    def _check_on_source(self) -> None:
        src = self.src_device_obj
        for t in list(self.module.parameters()) + list(self.module.buffers()):
            if t.device != src:
                raise RuntimeError(
                    f"module must have its parameters and buffers on device {src} (device_ids[0]) but found "
                    f"one of them on device: {t.device}"
                )

    def forward(self, *inputs, **kwargs):
        if not self.device_ids:
            return self.module(*inputs, **kwargs)
        self._check_on_source()
        ins, kws = scatter_kwargs(inputs, kwargs, self.device_ids, self.dim)
        if not ins and not kws:
            ins, kws = ((),), ({},)
        if len(self.device_ids) == 1 or len(ins) == 1:
            return self.module(*ins[0], **kws[0])
        replicas = replicate(self.module, self.device_ids[: len(ins)], not _grad_enabled())
        outputs = parallel_apply(replicas, ins, kws, self.device_ids[: len(ins)])
        return gather(outputs, self.output_device, self.dim)


def _grad_enabled() -> bool:
    from ...autograd import grad_mode

    return grad_mode.is_grad_enabled()


def data_parallel(module: Module, inputs, device_ids=None, output_device=None, dim: int = 0, module_kwargs=None):
    """Functional ``DataParallel``: one forward of ``module`` over ``device_ids``."""
    if not isinstance(inputs, tuple):
        inputs = (inputs,) if inputs is not None else ()
    dp = DataParallel(module, device_ids, output_device, dim)
    return dp(*inputs, **(module_kwargs or {}))
