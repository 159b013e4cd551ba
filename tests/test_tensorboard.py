"""nnbox.utils.tensorboard.SummaryWriter: read the event files back with TensorBoard's reader."""
from __future__ import annotations

import os
import re

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # [test] extra

import nnbox
from nnbox.utils.tensorboard import SummaryWriter


def _read(logdir):
    acc = EventAccumulator(str(logdir), size_guidance={"images": 0, "histograms": 0, "scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


def test_scalars_with_steps_and_tensor_values(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(5):
            w.add_scalar("Loss/train", 1.0 / (step + 1), step)
        w.add_scalar("acc", nnbox.tensor(0.75), global_step=nnbox.tensor(9))
        w.add_scalar("new", 2.5, 3, new_style=True)
        w.add_scalar("dbl", 1.0 / 3, 4, new_style=True, double_precision=True)
        with pytest.raises(ValueError):
            w.add_scalar("bad", nnbox.ones(2))
    acc = _read(tmp_path)
    ev = acc.Scalars("Loss/train")
    assert [e.step for e in ev] == list(range(5))
    np.testing.assert_allclose([e.value for e in ev], [1.0 / (s + 1) for s in range(5)], rtol=1e-6)
    assert acc.Scalars("acc")[0].step == 9 and acc.Scalars("acc")[0].value == 0.75
    t = acc.Tensors("new")[0]
    assert t.step == 3 and t.tensor_proto.float_val == [2.5]
    assert acc.Tensors("dbl")[0].tensor_proto.double_val == [1.0 / 3]
    assert acc.SummaryMetadata("new").plugin_data.plugin_name == "scalars"
    files = os.listdir(tmp_path)
    assert len(files) == 1 and files[0].startswith("events.out.tfevents.")


def test_add_scalars_writes_one_run_per_curve(tmp_path):
    with SummaryWriter(tmp_path) as w:
        for step in range(3):
            w.add_scalars("run/acc", {"train": 0.5 + step / 10, "test": 0.4 + step / 10}, step)
    assert sorted(d for d in os.listdir(tmp_path) if not d.startswith("events")) == ["run_acc_test", "run_acc_train"]
    tr = _read(tmp_path / "run_acc_train").Scalars("run/acc")
    np.testing.assert_allclose([e.value for e in tr], [0.5, 0.6, 0.7], rtol=1e-6)


def test_histogram_statistics(tmp_path):
    vals = np.random.default_rng(0).normal(size=1000).astype(np.float32)
    with SummaryWriter(tmp_path) as w:
        w.add_histogram("w", nnbox.tensor(vals), 1)
        w.add_histogram("w10", vals, 2, bins=10)
        w.add_histogram("wmax", vals, 3, max_bins=20)
        with pytest.raises(ValueError, match="empty"):
            w.add_histogram("empty", np.zeros(0))
    acc = _read(tmp_path)
    h = acc.Histograms("w")[0].histogram_value
    assert h.num == 1000 and np.isclose(h.min, vals.min()) and np.isclose(h.max, vals.max())
    assert np.isclose(h.sum, vals.astype(np.float64).sum()) and np.isclose(h.sum_squares, (vals.astype(np.float64) ** 2).sum())
    assert sum(h.bucket) == 1000 and len(h.bucket) == len(h.bucket_limit)
    assert list(h.bucket_limit) == sorted(h.bucket_limit)
    counts, edges = np.histogram(vals, bins=10)
    h10 = acc.Histograms("w10")[0].histogram_value
    assert list(h10.bucket) == counts.tolist() and np.allclose(h10.bucket_limit, edges[1:])
    hm = acc.Histograms("wmax")[0].histogram_value
    assert sum(hm.bucket) == 1000 and len(hm.bucket) <= 20


def test_images_all_layouts(tmp_path):
    import io

    from PIL import Image

    rng = np.random.default_rng(0)
    chw = rng.uniform(0, 1, size=(3, 8, 10)).astype(np.float32)
    with SummaryWriter(tmp_path) as w:
        w.add_image("chw", nnbox.tensor(chw), 0)
        w.add_image("hwc", chw.transpose(1, 2, 0), 0, dataformats="HWC")
        w.add_image("hw", chw[0], 0, dataformats="HW")
        w.add_image("u8", (chw * 255).astype(np.uint8), 0)
        w.add_images("batch", nnbox.tensor(rng.uniform(0, 1, size=(10, 1, 4, 5)).astype(np.float32)), 0)
        with pytest.raises(ValueError):
            w.add_image("bad", chw, 0, dataformats="HWC2")
    acc = _read(tmp_path)
    expect = (chw.transpose(1, 2, 0) * 255).clip(0, 255).astype(np.uint8)
    for tag in ("chw", "hwc"):
        im = acc.Images(tag)[0]
        assert (im.height, im.width) == (8, 10)
        np.testing.assert_array_equal(np.asarray(Image.open(io.BytesIO(im.encoded_image_string))), expect)
    gray = np.asarray(Image.open(io.BytesIO(acc.Images("hw")[0].encoded_image_string)))
    assert gray.shape == (8, 10, 3) and (gray[..., 0] == gray[..., 2]).all()
    b = acc.Images("batch")[0]
    assert (b.height, b.width) == (2 * 4, 8 * 5)  # 10 images, 8 per row, no padding


def test_figure_text_hparams(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure(figsize=(2, 1), dpi=50)
    plt.plot([0, 1], [1, 0])
    with SummaryWriter(tmp_path) as w:
        w.add_figure("fig", fig, 0)
        w.add_text("notes", "**lr** = 0.1", 2)
        w.add_hparams({"lr": 0.1, "bs": 64, "opt": "sgd", "bn": True}, {"hparam/acc": 0.9}, run_name="trial")
        with pytest.raises(NotImplementedError, match="add_video"):
            w.add_video("v", nnbox.ones(1, 2, 3, 4, 4))
    assert not plt.fignum_exists(fig.number)  # close=True closed it
    acc = _read(tmp_path)
    im = acc.Images("fig")[0]
    assert (im.width, im.height) == (100, 50)
    t = acc.Tensors("notes/text_summary")[0]
    assert t.step == 2 and t.tensor_proto.string_val == [b"**lr** = 0.1"]
    assert acc.SummaryMetadata("notes/text_summary").plugin_data.plugin_name == "text"
    run = _read(tmp_path / "trial")
    from tensorboard.plugins.hparams import metadata

    tags = run.Tags()["tensors"]
    assert {metadata.EXPERIMENT_TAG, metadata.SESSION_START_INFO_TAG, metadata.SESSION_END_INFO_TAG} <= set(tags)
    start = metadata.parse_session_start_info_plugin_data(
        run.SummaryMetadata(metadata.SESSION_START_INFO_TAG).plugin_data.content
    )
    assert start.hparams["lr"].number_value == 0.1 and start.hparams["opt"].string_value == "sgd"
    assert start.hparams["bn"].bool_value is True
    exp = metadata.parse_experiment_plugin_data(run.SummaryMetadata(metadata.EXPERIMENT_TAG).plugin_data.content)
    assert [m.name.tag for m in exp.metric_infos] == ["hparam/acc"]
    assert run.Scalars("hparam/acc")[0].value == pytest.approx(0.9)


def test_default_logdir_comment_and_purge(tmp_path, monkeypatch):
    import socket

    monkeypatch.chdir(tmp_path)
    w = SummaryWriter(comment="_lr0.1")
    w.close()
    assert re.fullmatch(
        r"runs/[A-Z][a-z]{2}\d{2}_\d{2}-\d{2}-\d{2}_" + re.escape(socket.gethostname()) + "_lr0.1", w.get_logdir()
    )
    assert os.path.isdir(w.get_logdir())
    w = SummaryWriter(tmp_path / "p", purge_step=5, filename_suffix=".x")
    w.add_scalar("a", 1.0, 5)
    w.close()
    assert os.listdir(tmp_path / "p")[0].endswith(".x")
    assert [e.step for e in _read(tmp_path / "p").Scalars("a")] == [5]


def test_pr_curve_counts_against_a_direct_count(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.random(200) > 0.6
    preds = np.clip(labels * 0.3 + rng.random(200) * 0.7, 0, 1)
    with SummaryWriter(tmp_path) as w:
        w.add_pr_curve("pr", nnbox.tensor(labels), nnbox.tensor(preds), 3, num_thresholds=11)
        w.add_pr_curve_raw("raw", [3, 1], [2, 0], [0, 2], [0, 2], [0.6, 1.0], [1.0, 0.33], 4, num_thresholds=2)
        with pytest.raises(ValueError, match="probabilities"):
            w.add_pr_curve("bad", labels, preds * 3)
    acc = _read(tmp_path)
    ev = acc.Tensors("pr")[0]
    assert ev.step == 3 and acc.SummaryMetadata("pr").plugin_data.plugin_name == "pr_curves"
    data = np.array(ev.tensor_proto.float_val).reshape(6, 11)
    for i in range(11):
        # a prediction counts as positive at threshold t when its bucket floor(p * 10) >= i
        hit = np.floor(preds * 10) >= i
        assert data[0, i] == (hit & labels).sum() and data[1, i] == (hit & ~labels).sum()
        assert data[2, i] == (~hit & ~labels).sum() and data[3, i] == (~hit & labels).sum()
    np.testing.assert_allclose(data[4], data[0] / np.maximum(data[0] + data[1], 1e-7), rtol=1e-6)
    assert np.array(acc.Tensors("raw")[0].tensor_proto.float_val).reshape(6, 2)[0].tolist() == [3, 1]


def test_add_graph_from_the_autograd_graph(tmp_path):
    import nnbox.nn as nn

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 4)
            self.bn = nn.BatchNorm1d(4)
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x):
            return self.relu(self.bn(self.fc(x)) + x)  # a residual add done in forward itself

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.block = Block()
            self.head = nn.Linear(4, 2)

        def forward(self, x):
            return self.head(self.block(x))

    model = Net()
    before = model.block.bn.running_mean.clone()
    with SummaryWriter(tmp_path) as w:
        w.add_graph(model, nnbox.randn(3, 4))
        with pytest.raises(ValueError):
            w.add_graph(model)
    assert nnbox.equal(model.block.bn.running_mean, before)  # running statistics untouched
    graph = _read(tmp_path).Graph()
    nodes = {n.name: n for n in graph.node}
    params = {n for n, nd in nodes.items() if nd.op == "Parameter"}
    assert params == {"Net/block/fc/weight", "Net/block/fc/bias", "Net/block/bn/weight", "Net/block/bn/bias",
                      "Net/head/weight", "Net/head/bias"}
    add = next(nd for nd in graph.node if nd.op == "Add")
    assert add.name == "Net/block/Add"  # claimed by the module whose forward did it
    assert add.input[1] == "input/input.0" and add.input[0].startswith("Net/block/bn/")
    relu = next(nd for nd in graph.node if nd.op == "Relu")
    assert relu.name.startswith("Net/block/relu/") and list(relu.input) == [add.name]
    head = next(nd for nd in graph.node if nd.name.startswith("Net/head/") and nd.op != "Parameter")
    assert relu.name in head.input and "Net/head/weight" in head.input
    out = nodes["output/output.0"]
    assert list(out.input) == [head.name]
    assert [d.size for d in out.attr["_output_shapes"].list.shape[0].dim] == [3, 2]
    # every input names an existing node
    assert all(i in nodes for nd in graph.node for i in nd.input)


def test_audio_custom_scalars_embedding(tmp_path):
    import wave

    from google.protobuf import text_format
    from tensorboard.plugins.custom_scalar import layout_pb2
    from tensorboard.plugins.custom_scalar import metadata as cs_meta
    from tensorboard.plugins.projector.projector_config_pb2 import ProjectorConfig

    t = np.linspace(0, 1, 800, endpoint=False)
    snd = 0.5 * np.sin(2 * np.pi * 440 * t)
    rng = np.random.default_rng(0)
    vecs = rng.normal(size=(5, 3)).astype(np.float32)
    with SummaryWriter(tmp_path) as w:
        w.add_audio("tone", nnbox.tensor(snd[None]), 1, sample_rate=800)
        w.add_custom_scalars({"Loss": {"both": ["Multiline", ["Loss/train", "Loss/test"]],
                                       "band": ["Margin", ["m", "lo", "hi"]]}})
        w.add_embedding(nnbox.tensor(vecs), metadata=list("abcde"), label_img=nnbox.rand(5, 1, 4, 4), global_step=2)
        w.add_embedding(vecs, metadata=[[1, "x"], [2, "y"], [3, "z"], [4, "u"], [5, "v"]],
                        metadata_header=["id", "name"], tag="second")
        with pytest.raises(ValueError, match="#labels"):
            w.add_embedding(vecs, metadata=["a"])
    acc = _read(tmp_path)
    a = acc.Audio("tone")[0]
    assert a.step == 1 and a.sample_rate == 800 and a.length_frames == 800 and a.content_type == "audio/wav"
    import io

    with wave.open(io.BytesIO(a.encoded_audio_string)) as wav:
        frames = np.frombuffer(wav.readframes(800), "<i2")
    np.testing.assert_allclose(frames / 32767, snd, atol=1e-4)
    layout = layout_pb2.Layout.FromString(acc.Tensors(cs_meta.CONFIG_SUMMARY_TAG)[0].tensor_proto.string_val[0])
    charts = {c.title: c for c in layout.category[0].chart}
    assert list(charts["both"].multiline.tag) == ["Loss/train", "Loss/test"] and charts["band"].margin.series[0].upper == "hi"
    config = text_format.Parse((tmp_path / "projector_config.pbtxt").read_text(), ProjectorConfig())
    first, second = config.embeddings
    assert first.tensor_path == "00002/default/tensors.tsv" and second.tensor_name == "second:00000"
    got = np.loadtxt(tmp_path / first.tensor_path, delimiter="\t")
    np.testing.assert_array_equal(got.astype(np.float32), vecs)
    assert (tmp_path / first.metadata_path).read_text().split() == list("abcde")
    assert (tmp_path / second.metadata_path).read_text().splitlines()[:2] == ["id\tname", "1\tx"]
    from PIL import Image

    assert Image.open(tmp_path / first.sprite.image_path).size == (12, 12)  # 3 x 3 cells of 4 x 4
    assert list(first.sprite.single_image_dim) == [4, 4]
