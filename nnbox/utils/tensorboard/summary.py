"""Build TensorBoard ``Summary`` protocol buffers (scalars, histograms, images, text, hparams).

Each function returns a ``tensorboard.compat.proto.summary_pb2.Summary`` in the same form
``torch.utils.tensorboard`` writes, so TensorBoard's dashboards and its ``EventAccumulator``
read them.  Only the ``tensorboard`` package's protos are used (no TensorFlow).
"""
from __future__ import annotations

import io
import math
from typing import Any

import numpy as np

from ..._tensor import Tensor


def to_numpy(x: Any) -> np.ndarray:
    """An nnbox tensor / NumPy array / number / list as a NumPy array (detached, on the host)."""
    if isinstance(x, Tensor):
        a = x.detach()._data
        return a if isinstance(a, np.ndarray) else a.get()
    if hasattr(x, "detach") and hasattr(x, "cpu"):  # a torch tensor, if someone logs one
        return x.detach().cpu().numpy()
    return np.asarray(x)


def scalar(tag: str, value: Any, new_style: bool = False, double_precision: bool = False):
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto

    arr = to_numpy(value)
    if arr.size != 1:
        raise ValueError(f"scalar should be 0D, got a value of shape {arr.shape}")
    v = float(arr.reshape(()))
    if not new_style:
        return Summary(value=[Summary.Value(tag=tag, simple_value=v)])
    if double_precision:
        tensor = TensorProto(dtype="DT_DOUBLE", double_val=[v], tensor_shape=TensorShapeProto())
    else:
        tensor = TensorProto(dtype="DT_FLOAT", float_val=[v], tensor_shape=TensorShapeProto())
    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="scalars"))
    return Summary(value=[Summary.Value(tag=tag, tensor=tensor, metadata=meta)])


def default_bins() -> np.ndarray:
    """TensorFlow's default histogram bucket edges: +-1e-12 * 1.1**k up to 1e20, and 0."""
    pos = []
    v = 1e-12
    while v < 1e20:
        pos.append(v)
        v *= 1.1
    return np.array([-x for x in reversed(pos)] + [0.0] + pos)


def histogram(tag: str, values: Any, bins: Any = "tensorflow", max_bins: int | None = None):
    from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary

    vals = to_numpy(values).astype(np.float64).reshape(-1)
    if vals.size == 0:
        raise ValueError("The histogram is empty, please file a bug report.")
    edges = default_bins() if isinstance(bins, str) and bins == "tensorflow" else bins
    counts, limits = np.histogram(vals, bins=edges)
    if max_bins is not None and len(counts) > max_bins:
        # merge neighbouring buckets so at most max_bins remain
        group = int(math.ceil(len(counts) / max_bins))
        pad = (-len(counts)) % group
        counts = np.pad(counts, (0, pad)).reshape(-1, group).sum(1)
        limits = np.concatenate([limits[:-1:group], limits[-1:]])
    nonzero = np.flatnonzero(counts)
    if nonzero.size == 0:
        raise ValueError("The histogram is empty: no value falls inside the bins")
    # keep the occupied range plus one empty bucket on each side (TensorBoard draws the edges)
    start, end = max(0, nonzero[0] - 1), min(len(counts), nonzero[-1] + 2)
    histo = HistogramProto(
        min=float(vals.min()),
        max=float(vals.max()),
        num=float(vals.size),
        sum=float(vals.sum()),
        sum_squares=float((vals * vals).sum()),
        bucket_limit=limits[start + 1 : end + 1].tolist(),
        bucket=counts[start:end].astype(np.float64).tolist(),
    )
    return Summary(value=[Summary.Value(tag=tag, histo=histo)])


_LAYOUT_AXES = {"CHW": (1, 2, 0), "HWC": (0, 1, 2), "HW": None, "WH": None}


def to_hwc_image(img: Any, dataformats: str = "CHW") -> np.ndarray:
    """Any of torch's image layouts as an (H, W, C) array with C in {1, 3, 4} (still unscaled)."""
    from ...vision.utils import make_grid

    arr = to_numpy(img)
    fmt = dataformats.upper()
    if len(fmt) != arr.ndim or len(set(fmt)) != len(fmt) or not set(fmt) <= set("NCHW"):
        raise ValueError(f"size of input tensor {arr.shape} and input format {dataformats} are different")
    if "N" in fmt:
        # a batch: (N, C, H, W) tiled 8 per row, without padding, as torch's add_images does
        if "C" not in fmt:
            arr, fmt = arr[:, None] if fmt.index("N") == 0 else arr, "NC" + fmt[1:]
        arr = arr.transpose([fmt.index(c) for c in "NCHW"])
        arr = to_numpy(make_grid(Tensor._make(np.ascontiguousarray(arr)), nrow=8, padding=0))
        fmt = "CHW"
    if "C" not in fmt:  # a gray image
        arr = arr.transpose([fmt.index(c) for c in "HW"])[:, :, None]
    else:
        arr = arr.transpose([fmt.index(c) for c in "HWC"])
    if arr.shape[2] == 1:
        arr = np.concatenate([arr] * 3, 2)
    return arr


def _scale_to_uint8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    return np.clip(arr.astype(np.float32) * 255.0, 0, 255).astype(np.uint8)  # floats are in [0, 1]


def encode_png(hwc_uint8: np.ndarray) -> bytes:
    try:
        from PIL import Image  # noqa: PLC0415 - optional dependency
    except ImportError:
        raise ImportError("TensorBoard images need Pillow: pip install pillow") from None
    buf = io.BytesIO()
    Image.fromarray(hwc_uint8).save(buf, format="PNG")
    return buf.getvalue()


def image(tag: str, img: Any, dataformats: str = "CHW"):
    from tensorboard.compat.proto.summary_pb2 import Summary

    hwc = _scale_to_uint8(to_hwc_image(img, dataformats))
    h, w, c = hwc.shape
    pic = Summary.Image(height=h, width=w, colorspace=c, encoded_image_string=encode_png(np.ascontiguousarray(hwc)))
    return Summary(value=[Summary.Value(tag=tag, image=pic)])


def figure_to_image(figure) -> np.ndarray:
    """Render a Matplotlib figure to an (H, W, 4) uint8 RGBA array."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(figure)
    canvas.draw()
    return np.asarray(canvas.buffer_rgba()).copy()


def text(tag: str, text_string: str):
    from tensorboard.compat.proto.summary_pb2 import Summary, SummaryMetadata
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto

    meta = SummaryMetadata(plugin_data=SummaryMetadata.PluginData(plugin_name="text"))
    tensor = TensorProto(
        dtype="DT_STRING",
        string_val=[str(text_string).encode("utf-8")],
        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=1)]),
    )
    return Summary(value=[Summary.Value(tag=tag + "/text_summary", metadata=meta, tensor=tensor)])


def pr_curve_counts(labels: Any, predictions: Any, num_thresholds: int = 127, weights: Any = None) -> np.ndarray:
    """(6, num_thresholds) rows TP, FP, TN, FN, precision, recall at thresholds i / (num_thresholds - 1):
    a prediction counts as positive at threshold t when it is >= t (TensorBoard's definition)."""
    labels = to_numpy(labels).astype(bool).reshape(-1)
    preds = to_numpy(predictions).astype(np.float64).reshape(-1)
    if labels.shape != preds.shape:
        raise ValueError(f"labels {labels.shape} and predictions {preds.shape} must have the same number of elements")
    if preds.size and (preds.min() < 0 or preds.max() > 1):
        raise ValueError("predictions must be probabilities in [0, 1]")
    w = np.ones_like(preds) if weights is None else to_numpy(weights).astype(np.float64).reshape(-1) * np.ones_like(preds)
    bucket = np.floor(preds * (num_thresholds - 1)).astype(np.int64)  # highest threshold each prediction reaches
    pos = np.bincount(bucket, weights=w * labels, minlength=num_thresholds)
    neg = np.bincount(bucket, weights=w * ~labels, minlength=num_thresholds)
    tp, fp = np.cumsum(pos[::-1])[::-1], np.cumsum(neg[::-1])[::-1]  # predictions >= each threshold
    tn, fn = fp[0] - fp, tp[0] - tp
    precision = tp / np.maximum(tp + fp, 1e-7)
    recall = tp / np.maximum(tp + fn, 1e-7)
    return np.stack([tp, fp, tn, fn, precision, recall])


def pr_curve(tag: str, data: np.ndarray, num_thresholds: int):
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
    from tensorboard.plugins.pr_curve import metadata

    data = np.asarray(data, dtype=np.float32)
    tensor = TensorProto(
        dtype="DT_FLOAT",
        float_val=data.reshape(-1).tolist(),
        tensor_shape=TensorShapeProto(dim=[TensorShapeProto.Dim(size=n) for n in data.shape]),
    )
    meta = metadata.create_summary_metadata(display_name=tag, description="", num_thresholds=num_thresholds)
    return Summary(value=[Summary.Value(tag=tag, metadata=meta, tensor=tensor)])


def audio(tag: str, snd: Any, sample_rate: int = 44100):
    """Mono sound in [-1, 1] as a 16-bit WAV (Python's own ``wave`` module)."""
    import wave

    from tensorboard.compat.proto.summary_pb2 import Summary

    x = to_numpy(snd).astype(np.float64).reshape(-1)
    pcm = (np.clip(x, -1, 1) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(int(sample_rate))
        w.writeframes(pcm.tobytes())
    sound = Summary.Audio(sample_rate=float(sample_rate), num_channels=1, length_frames=len(pcm),
                          encoded_audio_string=buf.getvalue(), content_type="audio/wav")
    return Summary(value=[Summary.Value(tag=tag, audio=sound)])


def custom_scalars(layout: dict[str, dict[str, list]]):
    """torch's layout dict ``{category: {chart: ['Multiline', [tags]] or ['Margin', [value, lower, upper]]}}``."""
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.compat.proto.tensor_pb2 import TensorProto
    from tensorboard.compat.proto.tensor_shape_pb2 import TensorShapeProto
    from tensorboard.plugins.custom_scalar import layout_pb2, metadata

    categories = []
    for title, charts in layout.items():
        chart_pbs = []
        for chart_title, (kind, tags) in charts.items():
            if kind == "Multiline":
                chart_pbs.append(layout_pb2.Chart(title=chart_title, multiline=layout_pb2.MultilineChartContent(tag=list(tags))))
            elif kind == "Margin":
                if len(tags) != 3:
                    raise ValueError("a Margin chart takes three tags: value, lower, upper")
                series = layout_pb2.MarginChartContent.Series(value=tags[0], lower=tags[1], upper=tags[2])
                chart_pbs.append(layout_pb2.Chart(title=chart_title, margin=layout_pb2.MarginChartContent(series=[series])))
            else:
                raise ValueError(f"chart kind must be 'Multiline' or 'Margin', got {kind!r}")
        categories.append(layout_pb2.Category(title=title, chart=chart_pbs))
    tensor = TensorProto(dtype="DT_STRING", string_val=[layout_pb2.Layout(category=categories).SerializeToString()],
                         tensor_shape=TensorShapeProto())
    return Summary(value=[Summary.Value(tag=metadata.CONFIG_SUMMARY_TAG, tensor=tensor, metadata=metadata.create_summary_metadata())])


def hparams(hparam_dict: dict[str, Any], metric_dict: dict[str, Any], hparam_domain_discrete=None):
    """The three hparams-plugin summaries (experiment, session start, session end)."""
    from google.protobuf import struct_pb2
    from tensorboard.compat.proto.summary_pb2 import Summary
    from tensorboard.plugins.hparams import api_pb2, metadata, plugin_data_pb2

    if not isinstance(hparam_dict, dict) or not isinstance(metric_dict, dict):
        raise TypeError("hparam_dict and metric_dict should be dictionary.")
    hparam_domain_discrete = hparam_domain_discrete or {}
    infos, start = [], plugin_data_pb2.SessionStartInfo()
    for k, v in hparam_dict.items():
        if v is None:
            continue
        if isinstance(v, Tensor):
            v = to_numpy(v).item()
        if isinstance(v, bool):
            start.hparams[k].bool_value = v
            kind, make = api_pb2.DATA_TYPE_BOOL, lambda d: struct_pb2.Value(bool_value=d)
        elif isinstance(v, (int, float)):
            start.hparams[k].number_value = float(v)
            kind, make = api_pb2.DATA_TYPE_FLOAT64, lambda d: struct_pb2.Value(number_value=float(d))
        elif isinstance(v, str):
            start.hparams[k].string_value = v
            kind, make = api_pb2.DATA_TYPE_STRING, lambda d: struct_pb2.Value(string_value=d)
        else:
            raise ValueError("value should be one of int, float, str, bool, or torch.Tensor")
        info = api_pb2.HParamInfo(name=k, type=kind)
        if k in hparam_domain_discrete:
            info.domain_discrete.CopyFrom(struct_pb2.ListValue(values=[make(d) for d in hparam_domain_discrete[k]]))
        infos.append(info)
    metrics = [api_pb2.MetricInfo(name=api_pb2.MetricName(tag=k)) for k in metric_dict]
    experiment = api_pb2.Experiment(hparam_infos=infos, metric_infos=metrics)
    end = plugin_data_pb2.SessionEndInfo(status=api_pb2.STATUS_SUCCESS)

    def wrap(tag, **content):
        meta = metadata.create_summary_metadata(plugin_data_pb2.HParamsPluginData(**content))
        return Summary(value=[Summary.Value(tag=tag, metadata=meta, tensor=metadata.NULL_TENSOR)])

    return (
        wrap(metadata.EXPERIMENT_TAG, experiment=experiment),
        wrap(metadata.SESSION_START_INFO_TAG, session_start_info=start),
        wrap(metadata.SESSION_END_INFO_TAG, session_end_info=end),
    )
