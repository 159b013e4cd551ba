"""The training loop the seeds write by hand (``train_ch5`` / ``evaluate_accuracy``), done once
properly: progress bar, the seeds' epoch line, TensorBoard, checkpoints that resume exactly,
Ctrl-C, NaN detection and loss/accuracy curves.  Short on purpose: read it, copy it, change it.

>>> import nnbox, nnbox.nn as nn
>>> from nnbox.utils.data import DataLoader, TensorDataset
>>> from nnbox.training import fit
>>> X, y = nnbox.randn(64, 4), nnbox.randint(0, 2, (64,))
>>> loader = DataLoader(TensorDataset(X, y), batch_size=16)
>>> model = nn.Linear(4, 2)
>>> opt = nnbox.optim.SGD(model.parameters(), lr=0.1)
>>> history = fit(model, loader, opt, nn.CrossEntropyLoss(), epochs=2, progress=False)  # doctest: +ELLIPSIS
epoch 1, loss ...
>>> len(history.train_loss)
2
"""
from __future__ import annotations

import math
import os
import random
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import nnbox

CHECKPOINT_NAME = "last.pt"


# --- results ----------------------------------------------------------------------------------
@dataclass
class History:
    """Per-epoch metrics of a ``fit`` run (lists indexed by epoch - 1)."""

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    time: list[float] = field(default_factory=list)
    interrupted: bool = False

    def __len__(self) -> int:
        return len(self.train_loss)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, list) else v for k, v in self.__dict__.items()}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> History:
        return cls(**{k: (list(v) if isinstance(v, list) else v) for k, v in d.items()})

    def plot(self, path: str | None = None, title: str = "Training curves") -> Any:
        """Draw loss and accuracy per epoch (train and test) side by side; save a PNG to ``path``
        (returns the path) or return the Matplotlib figure.  Needs matplotlib."""
        import matplotlib

        if path is not None:
            matplotlib.use("Agg")  # no display needed to write a file
        import matplotlib.pyplot as plt

        epochs = list(range(1, len(self) + 1))
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
        style = dict(marker="o", markersize=4, linewidth=2)
        ax_loss.plot(epochs, self.train_loss, label="train", color="tab:blue", **style)
        if _has_values(self.test_loss):
            ax_loss.plot(epochs, self.test_loss, label="test", color="tab:orange", **style)
        ax_acc.plot(epochs, [100 * a for a in self.train_acc], label="train", color="tab:blue", **style)
        if _has_values(self.test_acc):
            ax_acc.plot(epochs, [100 * a for a in self.test_acc], label="test", color="tab:orange", **style)
            best = int(np.nanargmax(self.test_acc))
            bx, by = epochs[best], 100 * self.test_acc[best]
            ax_acc.plot([bx], [by], marker="*", markersize=14, color="tab:red", zorder=5)
            ax_acc.annotate(
                f"best test {by:.1f}% (epoch {bx})", (bx, by), textcoords="offset points", xytext=(0, -24),
                ha=_label_alignment(best, len(epochs)), fontsize=9, color="tab:red",
            )
        ax_loss.set(title="Loss", xlabel="epoch", ylabel="cross-entropy")
        ax_acc.set(title="Accuracy", xlabel="epoch", ylabel="accuracy (%)")
        for ax in (ax_loss, ax_acc):
            ax.grid(True, alpha=0.3)
            ax.legend(loc="upper right" if ax is ax_loss else "lower right")
            ax.set_xticks(epochs if len(epochs) <= 20 else epochs[:: max(1, len(epochs) // 10)])
            ax.spines[["top", "right"]].set_visible(False)
        fig.suptitle(title, fontsize=13)
        fig.tight_layout()
        if path is None:
            return fig
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        fig.savefig(path)
        plt.close(fig)
        return path


def _label_alignment(index: int, n: int) -> str:
    """Where a label anchored at point ``index`` of ``n`` may extend without leaving the axes:
    leftwards from the right half (the last point included), rightwards from the left half."""
    if n == 1:
        return "center"
    return "right" if index >= (n - 1) / 2 else "left"


def _has_values(xs: list[float]) -> bool:
    return any(x == x for x in xs)  # not all NaN


# --- evaluation -------------------------------------------------------------------------------
def _accuracy_count(outputs, y) -> int:
    """Correct predictions in a batch, for classification outputs (N, classes) and labels (N,)."""
    if outputs.dim() != 2 or y.dim() != 1 or y.is_floating_point():
        return 0
    return int((outputs.argmax(dim=1) == y).sum().item())


def _model_device(model):
    """Where ``model``'s parameters live (cpu for a model without any): fit's default device."""
    for p in model.parameters():
        return p.device
    return nnbox.device("cpu")


def evaluate(model, loader, device=None, loss_fn: Callable | None = None) -> tuple[float, float]:
    """(mean loss, accuracy) of ``model`` over ``loader``, under ``model.eval()`` and ``no_grad()``
    (the seeds' ``evaluate_accuracy``).  The loss is NaN without ``loss_fn``; ``loss_fn`` is
    expected to average over the batch (``reduction='mean'``, the default)."""
    device = _model_device(model) if device is None else device
    was_training = model.training
    model.eval()
    loss_sum, correct, n = 0.0, 0, 0
    with nnbox.no_grad():
        for X, y in loader:
            X, y = X.to(device), y.to(device)
            outputs = model(X)
            if loss_fn is not None:
                loss_sum += loss_fn(outputs, y).item() * y.shape[0]
            correct += _accuracy_count(outputs, y)
            n += y.shape[0]
    model.train(was_training)
    if n == 0:
        return float("nan"), float("nan")
    return (loss_sum / n if loss_fn is not None else float("nan")), correct / n


# --- checkpoints ------------------------------------------------------------------------------
def _loader_generators(loader) -> list[Any]:
    """The random generators a DataLoader shuffles with (its own and its sampler's), if any."""
    gens = []
    for owner in (loader, getattr(loader, "sampler", None), getattr(loader, "batch_sampler", None)):
        g = getattr(owner, "generator", None)
        if g is not None and hasattr(g, "get_state") and all(g is not h for h in gens):
            gens.append(g)
    return gens


def _rng_state(loader) -> dict[str, Any]:
    np_state = np.random.get_state(legacy=False)
    np_state["state"]["key"] = np_state["state"]["key"].tolist()  # plain ints: torch.load-able
    return {
        "nnbox": nnbox.get_rng_state(),
        "python": random.getstate(),
        "numpy": np_state,
        "loader": [g.get_state() for g in _loader_generators(loader)],
    }


def _set_rng_state(state: dict[str, Any], loader) -> None:
    nnbox.set_rng_state(state["nnbox"])
    random.setstate(state["python"])
    np_state = dict(state["numpy"])
    np_state["state"] = dict(np_state["state"], key=np.array(np_state["state"]["key"], dtype=np.uint32))
    np.random.set_state(np_state)
    for g, s in zip(_loader_generators(loader), state["loader"]):
        g.set_state(s)


def save_checkpoint(path: str, model, optimizer, scheduler, epoch: int, history: History, loader,
                    meta: dict[str, Any] | None = None) -> None:
    """Everything needed to continue exactly after ``epoch`` (written atomically); ``meta`` (plain
    values, e.g. the model's and dataset's names) is stored too, to explain a mismatch on resume."""
    nnbox.save(
        {
            "meta": dict(meta or {}),
            "epoch": epoch,
            "model": model.state_dict(),
            "optimizer": optimizer.state_dict(),
            "scheduler": scheduler.state_dict() if scheduler is not None else None,
            "history": history.to_dict(),
            "rng": _rng_state(loader),
        },
        path,
    )


def load_checkpoint(path: str, model, optimizer, scheduler, loader, device="cpu") -> tuple[int, History]:
    """Restore a ``save_checkpoint`` file; returns (epochs done, history so far)."""
    ck = nnbox.load(path, map_location=device)
    try:
        model.load_state_dict(ck["model"])
    except RuntimeError as e:  # another model's checkpoint: say what it was made with, in one line
        made = ", ".join(f"{k} {v}" for k, v in (ck.get("meta") or {}).items())
        first = str(e).splitlines()[0]
        raise RuntimeError(f"{path} does not fit this model{f' (made with {made})' if made else ''}: {first}") from None
    optimizer.load_state_dict(ck["optimizer"])
    if scheduler is not None and ck["scheduler"] is not None:
        scheduler.load_state_dict(ck["scheduler"])
    _set_rng_state(ck["rng"], loader)
    return int(ck["epoch"]), History.from_dict(ck["history"])


# --- progress -----------------------------------------------------------------------------------
class _Progress:
    """A tqdm bar on a terminal; otherwise a plain line every ``every`` seconds (quiet for fast epochs)."""

    def __init__(self, total: int | None, desc: str, enabled: bool, every: float = 10.0):
        self.bar = None
        self.desc, self.total, self.every = desc, total, every
        self.enabled = enabled
        self.start = self.last = time.time()
        self.n = 0
        if enabled and sys.stderr.isatty():
            try:
                from tqdm.auto import tqdm

                self.bar = tqdm(total=total, desc=desc, unit="batch", leave=False, dynamic_ncols=True)
            except ImportError:
                pass

    def update(self, loss: float) -> None:
        self.n += 1
        if self.bar is not None:
            self.bar.set_postfix(loss=f"{loss:.4f}", refresh=False)  # shown by the update's refresh
            self.bar.update(1)
        elif self.enabled and time.time() - self.last >= self.every:
            self.last = time.time()
            of = f"/{self.total}" if self.total else ""
            print(f"  {self.desc}: batch {self.n}{of}, loss {loss:.4f}, {self.last - self.start:.1f} sec", flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


# --- the loop -----------------------------------------------------------------------------------
def _lr(optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def _step_scheduler(scheduler, metric: float) -> None:
    if type(scheduler).__name__ == "ReduceLROnPlateau":
        scheduler.step(metric)
    else:
        scheduler.step()


def fit(
    model,
    train_loader,
    optimizer,
    loss_fn: Callable,
    epochs: int,
    test_loader=None,
    scheduler=None,
    device=None,
    writer=None,
    checkpoint_dir: str | None = None,
    resume: Any = False,
    progress: bool = True,
    on_epoch_start: Callable[[int, Any], None] | None = None,
    checkpoint_meta: dict[str, Any] | None = None,
) -> History:
    """Train ``model`` for ``epochs`` epochs and return its ``History``.

    Each epoch: ``on_epoch_start(epoch, optimizer)`` (0-based epoch; e.g. the seeds' learning-rate
    decay), one pass over ``train_loader`` (zero_grad, forward, loss, backward, step), evaluation on
    ``test_loader``, ``scheduler.step()``, the seeds' line
    ``epoch 1, loss 0.4321, train acc 0.874, test acc 0.902, time 3.1 sec``, TensorBoard scalars
    when ``writer`` is given and a checkpoint ``<checkpoint_dir>/last.pt``.

    ``resume=True`` continues from ``<checkpoint_dir>/last.pt`` (or ``resume`` = a checkpoint path):
    model, optimizer, scheduler, history and every random state (nnbox, Python, NumPy, the loader's
    generator) are restored, so the result equals an uninterrupted run.  Ctrl-C stops after saving
    ``interrupted.pt`` (the state at that moment) and returns the history with ``interrupted=True``.
    A NaN or infinite loss raises ``FloatingPointError`` naming the epoch and batch.
    ``checkpoint_meta`` (plain values, e.g. ``{"model": "mlp"}``) is stored in every checkpoint.
    """
    device = _model_device(model) if device is None else device  # None: train where the model is
    model.to(device)
    history, start = History(), 0
    ckpt = os.path.join(checkpoint_dir, CHECKPOINT_NAME) if checkpoint_dir else None
    if checkpoint_dir:
        os.makedirs(checkpoint_dir, exist_ok=True)
    resume_path = resume if isinstance(resume, (str, os.PathLike)) else (ckpt if resume else None)
    if resume_path and os.path.exists(resume_path):
        start, history = load_checkpoint(resume_path, model, optimizer, scheduler, train_loader, device)
        print(f"resumed from {resume_path} after epoch {start}", flush=True)
    elif resume_path and resume is not True:
        raise FileNotFoundError(f"no checkpoint to resume from at {resume_path}")
    elif resume is True:
        print(f"no checkpoint at {resume_path or '(no checkpoint_dir given)'}: starting fresh", flush=True)

    epoch = start
    try:
        for epoch in range(start, epochs):
            if on_epoch_start is not None:
                on_epoch_start(epoch, optimizer)
            model.train()
            loss_sum, correct, n, batches, t0 = 0.0, 0, 0, 0, time.time()
            bar = _Progress(_len_or_none(train_loader), f"epoch {epoch + 1}/{epochs}", progress)
            try:
                for X, y in train_loader:
                    X, y = X.to(device), y.to(device)
                    outputs = model(X)
                    loss = loss_fn(outputs, y)
                    value = loss.item()
                    if not math.isfinite(value):  # checked before the step: the weights stay finite
                        raise FloatingPointError(
                            f"loss is {value} at epoch {epoch + 1}, batch {batches + 1}: training stopped "
                            f"(try a lower learning rate; the last good checkpoint is {ckpt or 'not saved'})"
                        )
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    loss_sum += value
                    correct += _accuracy_count(outputs.detach(), y)
                    n += y.shape[0]
                    batches += 1
                    bar.update(value)
            finally:
                bar.close()
            test_loss, test_acc = (
                evaluate(model, test_loader, device, loss_fn) if test_loader is not None else (float("nan"), float("nan"))
            )
            train_loss, train_acc = loss_sum / max(batches, 1), correct / max(n, 1)
            history.train_loss.append(train_loss)
            history.train_acc.append(train_acc)
            history.test_loss.append(test_loss)
            history.test_acc.append(test_acc)
            history.lr.append(_lr(optimizer))
            if scheduler is not None:
                _step_scheduler(scheduler, test_loss if test_loader is not None else train_loss)
            history.time.append(time.time() - t0)
            if ckpt:  # saved before the epoch line: a printed epoch is a resumable epoch
                save_checkpoint(ckpt, model, optimizer, scheduler, epoch + 1, history, train_loader, checkpoint_meta)
            if writer is not None:
                _log_epoch(writer, history, epoch + 1)
            print(
                f"epoch {epoch + 1}, loss {train_loss:.4f}, train acc {train_acc:.3f}, test acc {test_acc:.3f}, "
                f"time {history.time[-1]:.1f} sec",
                flush=True,
            )
    except KeyboardInterrupt:
        history.interrupted = True
        if checkpoint_dir:
            path = os.path.join(checkpoint_dir, "interrupted.pt")
            save_checkpoint(path, model, optimizer, scheduler, epoch, history, train_loader, checkpoint_meta)
            print(
                f"\ninterrupted during epoch {epoch + 1}: state saved to {path}"
                + (f"; {ckpt} holds the last complete epoch (resume from it)" if os.path.exists(ckpt) else ""),
                flush=True,
            )
        else:
            print(f"\ninterrupted during epoch {epoch + 1}", flush=True)
    if writer is not None:
        writer.flush()
    return history


def _len_or_none(loader) -> int | None:
    try:
        return len(loader)
    except TypeError:
        return None


def _log_epoch(writer, history: History, step: int) -> None:
    writer.add_scalar("Loss/train", history.train_loss[-1], step)
    writer.add_scalar("Accuracy/train", history.train_acc[-1], step)
    if history.test_acc[-1] == history.test_acc[-1]:
        writer.add_scalar("Loss/test", history.test_loss[-1], step)
        writer.add_scalar("Accuracy/test", history.test_acc[-1], step)
    writer.add_scalar("lr", history.lr[-1], step)


__all__ = ["History", "evaluate", "fit", "save_checkpoint", "load_checkpoint"]
