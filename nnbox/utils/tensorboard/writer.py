"""``SummaryWriter``: ``torch.utils.tensorboard.SummaryWriter``'s API over TensorBoard's own
event-file writer."""
from __future__ import annotations

import os
import socket
import time
from datetime import datetime
from typing import Any

import numpy as np

from . import summary as S


def _event_writer_class():
    try:
        from tensorboard.summary.writer.event_file_writer import EventFileWriter  # noqa: PLC0415
    except ImportError:
        raise ImportError(
            "nnbox.utils.tensorboard needs the tensorboard package: pip install tensorboard"
        ) from None
    return EventFileWriter


def default_log_dir(comment: str = "") -> str:
    """``runs/<Mon><DD>_<HH-MM-SS>_<hostname><comment>``, torch's default."""
    current_time = datetime.now().strftime("%b%d_%H-%M-%S")
    return os.path.join("runs", current_time + "_" + socket.gethostname() + comment)


class SummaryWriter:
    """Write TensorBoard event files (scalars, histograms, images, figures, text, hparams).

    >>> import tempfile
    >>> w = SummaryWriter(tempfile.mkdtemp())
    >>> for step in range(3):
    ...     w.add_scalar("Loss/train", 1.0 / (step + 1), step)
    >>> w.close()
    """

    def __init__(
        self,
        log_dir: str | None = None,
        comment: str = "",
        purge_step: int | None = None,
        max_queue: int = 10,
        flush_secs: int = 120,
        filename_suffix: str = "",
    ):
        self._EventFileWriter = _event_writer_class()
        self.log_dir = os.fspath(log_dir) if log_dir is not None else default_log_dir(comment)
        self.purge_step = purge_step
        self.max_queue = max_queue
        self.flush_secs = flush_secs
        self.filename_suffix = filename_suffix
        self.file_writer = None
        self.all_writers: dict[str, Any] = {}
        self._get_file_writer()

    # -- plumbing ----------------------------------------------------------------------------
    def _get_file_writer(self):
        if self.file_writer is None:
            self.file_writer = self._new_writer(self.log_dir)
            if self.purge_step is not None:
                # tells TensorBoard to drop events logged at or after purge_step by a crashed run
                from tensorboard.compat.proto.event_pb2 import Event, SessionLog

                self.file_writer.add_event(
                    Event(step=self.purge_step, wall_time=time.time(), session_log=SessionLog(status=SessionLog.START))
                )
                self.purge_step = None
        return self.file_writer

    def _new_writer(self, logdir: str):
        w = self._EventFileWriter(logdir, self.max_queue, self.flush_secs, self.filename_suffix)
        self.all_writers[logdir] = w
        return w

    def get_logdir(self) -> str:
        return self.log_dir

    @staticmethod
    def _event(summary, global_step, walltime):
        from tensorboard.compat.proto.event_pb2 import Event

        ev = Event(summary=summary, wall_time=time.time() if walltime is None else float(walltime))
        if global_step is not None:
            ev.step = int(S.to_numpy(global_step).reshape(()))
        return ev

    def _add(self, summary, global_step=None, walltime=None, writer=None) -> None:
        # after close() a new event file is opened, as torch does
        (writer or self._get_file_writer()).add_event(self._event(summary, global_step, walltime))

    # -- what torch's SummaryWriter offers ---------------------------------------------------
    def add_scalar(
        self,
        tag: str,
        scalar_value: Any,
        global_step: int | None = None,
        walltime: float | None = None,
        new_style: bool = False,
        double_precision: bool = False,
    ) -> None:
        """Log one number (a float, an int or a one-element tensor) under ``tag``."""
        self._add(S.scalar(tag, scalar_value, new_style, double_precision), global_step, walltime)

    def add_scalars(
        self, main_tag: str, tag_scalar_dict: dict[str, Any], global_step: int | None = None, walltime: float | None = None
    ) -> None:
        """Log several curves on one chart: each key goes to the run ``<log_dir>/<main_tag>_<key>``."""
        walltime = time.time() if walltime is None else walltime
        for tag, value in tag_scalar_dict.items():
            sub = os.path.join(self.log_dir, main_tag.replace("/", "_") + "_" + tag)
            writer = self.all_writers.get(sub) or self._new_writer(sub)
            self._add(S.scalar(main_tag, value), global_step, walltime, writer=writer)

    def add_histogram(
        self,
        tag: str,
        values: Any,
        global_step: int | None = None,
        bins: Any = "tensorflow",
        walltime: float | None = None,
        max_bins: int | None = None,
    ) -> None:
        """Log the distribution of ``values``; ``bins`` is 'tensorflow' (default), an int, a NumPy
        rule name ('auto', 'fd', ...) or explicit edges."""
        self._add(S.histogram(tag, values, bins, max_bins), global_step, walltime)

    def add_image(
        self, tag: str, img_tensor: Any, global_step: int | None = None, walltime: float | None = None, dataformats: str = "CHW"
    ) -> None:
        """Log an image: floats in [0, 1] or uint8 in [0, 255]; ``dataformats`` CHW, HWC or HW."""
        self._add(S.image(tag, img_tensor, dataformats), global_step, walltime)

    def add_images(
        self, tag: str, img_tensor: Any, global_step: int | None = None, walltime: float | None = None, dataformats: str = "NCHW"
    ) -> None:
        """Log a batch of images, tiled 8 per row into one picture (``dataformats`` NCHW or NHWC)."""
        self._add(S.image(tag, img_tensor, dataformats), global_step, walltime)

    def add_figure(
        self, tag: str, figure: Any, global_step: int | None = None, close: bool = True, walltime: float | None = None
    ) -> None:
        """Render a Matplotlib figure (or a list of them) and log it as an image."""
        import numpy as np

        figures = figure if isinstance(figure, list) else [figure]
        images = [S.figure_to_image(f) for f in figures]
        if close:
            import matplotlib.pyplot as plt

            for f in figures:
                plt.close(f)
        if isinstance(figure, list):
            self.add_images(tag, np.stack(images), global_step, walltime, dataformats="NHWC")
        else:
            self.add_image(tag, images[0], global_step, walltime, dataformats="HWC")

    def add_text(self, tag: str, text_string: str, global_step: int | None = None, walltime: float | None = None) -> None:
        """Log a (Markdown) string, shown in TensorBoard's Text tab."""
        self._add(S.text(tag, text_string), global_step, walltime)

    def add_hparams(
        self,
        hparam_dict: dict[str, Any],
        metric_dict: dict[str, Any],
        hparam_domain_discrete: dict[str, list] | None = None,
        run_name: str | None = None,
        global_step: int | None = None,
    ) -> None:
        """Log one trial's hyper-parameters and final metrics for the HParams tab (in a sub-run,
        ``<log_dir>/<run_name>``, as torch does)."""
        if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
            raise TypeError("hparam_dict and metric_dict should be dictionary.")
        run_dir = os.path.join(self.log_dir, run_name or str(time.time()))
        writer = self.all_writers.get(run_dir) or self._new_writer(run_dir)
        for summ in S.hparams(hparam_dict, metric_dict, hparam_domain_discrete):
            self._add(summ, None, None, writer=writer)
        for k, v in metric_dict.items():
            self._add(S.scalar(k, v), global_step, None, writer=writer)

    def add_pr_curve(
        self,
        tag: str,
        labels: Any,
        predictions: Any,
        global_step: int | None = None,
        num_thresholds: int = 127,
        weights: Any = None,
        walltime: float | None = None,
    ) -> None:
        """Log a precision-recall curve from binary ``labels`` and ``predictions`` in [0, 1]."""
        data = S.pr_curve_counts(labels, predictions, num_thresholds, weights)
        self._add(S.pr_curve(tag, data, num_thresholds), global_step, walltime)

    def add_pr_curve_raw(
        self, tag, true_positive_counts, false_positive_counts, true_negative_counts, false_negative_counts,
        precision, recall, global_step=None, num_thresholds: int = 127, weights=None, walltime=None,
    ) -> None:
        """Log a precision-recall curve from counts you computed (each a sequence of num_thresholds)."""
        rows = [true_positive_counts, false_positive_counts, true_negative_counts, false_negative_counts, precision, recall]
        data = np.stack([S.to_numpy(r).astype(np.float64).reshape(-1) for r in rows])
        if data.shape[1] != num_thresholds:
            raise ValueError(f"expected {num_thresholds} values per row, got {data.shape[1]}")
        self._add(S.pr_curve(tag, data, num_thresholds), global_step, walltime)

    def add_graph(self, model, input_to_model=None, verbose: bool = False, use_strict_trace: bool = True) -> None:
        """Log the model's graph for the Graphs tab: every differentiable op of one forward pass on
        ``input_to_model`` (read from the autograd graph, grouped by module), parameters as leaves.
        Running statistics are restored afterwards; ``use_strict_trace`` has no meaning here."""
        from tensorboard.compat.proto.event_pb2 import Event

        from .graph import build_graph

        if input_to_model is None:
            raise ValueError("add_graph needs input_to_model (nnbox builds the graph by running the model)")
        graph, names = build_graph(model, input_to_model)
        if verbose:
            print("\n".join(names))
        self._get_file_writer().add_event(Event(graph_def=graph.SerializeToString(), wall_time=time.time()))

    def add_audio(self, tag: str, snd_tensor: Any, global_step: int | None = None, sample_rate: int = 44100,
                  walltime: float | None = None) -> None:
        """Log a mono sound (values in [-1, 1], shape (L,) or (1, L)) for the Audio tab."""
        self._add(S.audio(tag, snd_tensor, sample_rate), global_step, walltime)

    def add_custom_scalars(self, layout: dict[str, dict[str, list]]) -> None:
        """Group scalar tags into charts on the Custom Scalars tab, e.g.
        ``{"Loss": {"train vs test": ["Multiline", ["Loss/train", "Loss/test"]]}}``."""
        self._add(S.custom_scalars(layout))

    def add_embedding(self, mat: Any, metadata: list | None = None, label_img: Any = None,
                      global_step: int | None = None, tag: str = "default", metadata_header: list | None = None) -> None:
        """Write vectors (N, D) for the Projector tab: ``<log_dir>/<step>/<tag>/tensors.tsv`` plus
        optional labels (``metadata.tsv``) and thumbnails (``sprite.png`` from ``label_img`` (N, C, H, W)),
        registered in ``<log_dir>/projector_config.pbtxt``."""
        from google.protobuf import text_format
        from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

        vectors = S.to_numpy(mat)
        if vectors.ndim != 2:
            raise ValueError(f"mat should be 2D, got shape {vectors.shape}")
        sub = f"{str(global_step or 0).zfill(5)}/{tag}"
        folder = os.path.join(self.log_dir, sub)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, "tensors.tsv"), "w") as fh:
            fh.writelines("\t".join(repr(float(v)) for v in row) + "\n" for row in vectors)
        config = ProjectorConfig()
        path = os.path.join(self.log_dir, "projector_config.pbtxt")
        if os.path.exists(path):
            with open(path) as fh:
                text_format.Parse(fh.read(), config)
        emb = config.embeddings.add(tensor_name=f"{tag}:{str(global_step or 0).zfill(5)}", tensor_path=f"{sub}/tensors.tsv")
        if metadata is not None:
            if len(metadata) != len(vectors):
                raise ValueError(f"#labels ({len(metadata)}) should equal #data points ({len(vectors)})")
            lines = ["\t".join(map(str, metadata_header))] if metadata_header is not None else []
            lines += ["\t".join(map(str, m)) if metadata_header is not None else str(m) for m in metadata]
            with open(os.path.join(folder, "metadata.tsv"), "w") as fh:
                fh.write("\n".join(lines) + "\n")
            emb.metadata_path = f"{sub}/metadata.tsv"
        if label_img is not None:
            from ..._tensor import Tensor
            from ...vision.utils import save_image

            imgs = S.to_numpy(label_img)
            if imgs.ndim != 4 or len(imgs) != len(vectors):
                raise ValueError("label_img should be (N, C, H, W) with one image per data point")
            side = int(np.ceil(np.sqrt(len(imgs))))  # the projector expects a square sprite: pad with blanks
            square = np.zeros((side * side, *imgs.shape[1:]), np.float32)
            square[: len(imgs)] = imgs
            save_image(Tensor._make(square), os.path.join(folder, "sprite.png"), nrow=side, padding=0)
            emb.sprite.image_path = f"{sub}/sprite.png"
            emb.sprite.single_image_dim.extend([imgs.shape[3], imgs.shape[2]])
        with open(path, "w") as fh:
            fh.write(text_format.MessageToString(config))

    def _not_supported(name: str):  # noqa: N805 - builds methods below
        def method(self, *args, **kwargs):
            raise NotImplementedError(f"SummaryWriter.{name} is not implemented in nnbox")

        method.__name__ = name
        return method

    add_video = _not_supported("add_video")
    add_mesh = _not_supported("add_mesh")
    add_onnx_graph = _not_supported("add_onnx_graph")
    del _not_supported

    def flush(self) -> None:
        """Write pending events to disk."""
        for w in self.all_writers.values():
            w.flush()

    def close(self) -> None:
        """Flush and close every event file (the writer can't be used afterwards)."""
        for w in self.all_writers.values():
            w.flush()
            w.close()
        self.all_writers = {}
        self.file_writer = None

    def __enter__(self) -> SummaryWriter:
        return self

    def __exit__(self, exc_type, exc_val, exc_tb) -> None:
        self.close()
