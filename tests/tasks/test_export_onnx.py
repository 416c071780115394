"""`prepare.py task=export_onnx`: dynamic batch and width, onnxruntime = PyTorch within 1e-3."""
import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("onnx", reason="optional package onnx is not installed (pip install -e '.[onnx]')")
pytest.importorskip("onnxruntime", reason="optional package onnxruntime is not installed")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "inference"))
from inference_fixtures import compose_prepare, tiny_run  # noqa: E402

from stackmix.inference.decoders import GreedyDecoder  # noqa: E402
from stackmix.inference.engine import recognize  # noqa: E402
from stackmix.inference.recognizer import Recognizer  # noqa: E402
from stackmix.inference.onnx_export import adaptive_avg_matrix  # noqa: E402
from stackmix.tasks import export_onnx  # noqa: E402


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    return tiny_run(tmp_path_factory)


def test_adaptive_pool_matrix_matches_torch():
    x = torch.randn(3, 37)
    for n_out in (1, 5, 16, 37, 64):
        want = torch.nn.functional.adaptive_avg_pool1d(x[None], n_out)[0]
        got = x @ adaptive_avg_matrix(37, n_out).t()
        assert torch.allclose(got, want, atol=1e-6), n_out


def test_export_onnx_matches_pytorch_and_predicts_the_same(tiny, tmp_path):
    out = tmp_path / "model.onnx"
    cfg = compose_prepare(["task=export_onnx", f"task.ckpt={tiny.run_dir}", f"task.out={out}",
                           f"task.check_images={tiny.data / 'lines'}", "task.check_lines=5"],
                          tmp_path)
    res = export_onnx.run(cfg)
    assert res["ok"] and res["max_abs_diff"] <= 1e-3
    widths = {c["width"] for c in res["checks"]}
    batches = {c["batch_size"] for c in res["checks"]}
    assert len(widths) == 2 and 128 in widths and batches == {1, 3}  # dynamic width and batch
    assert json.loads(out.with_suffix(".onnx.json").read_text())["ok"] is True

    onnx_rec = Recognizer.load(out)
    torch_rec = Recognizer.load(tiny.ckpt, device="cpu")
    assert onnx_rec.backend == "onnx" and onnx_rec.alphabet == torch_rec.alphabet
    assert (onnx_rec.image_h, onnx_rec.image_w) == (32, 128)
    batch = np.stack([torch_rec.prepare_file(p) for p in tiny.test_images])
    diff = np.abs(onnx_rec.logits(batch) - torch_rec.logits(batch)).max()
    assert diff <= 1e-3
    a = recognize(onnx_rec, tiny.test_images, GreedyDecoder(onnx_rec.alphabet), progress=False)
    b = recognize(torch_rec, tiny.test_images, GreedyDecoder(torch_rec.alphabet), progress=False)
    assert [r.text for r in a.results] == [r.text for r in b.results]
