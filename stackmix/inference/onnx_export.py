"""ONNX export of a trained recognizer (dynamic batch and width) and its check against PyTorch.

The exported graph takes what the model takes in training and prediction: uint8 line images
(B, 1, image_h, W), white paper, and returns raw class scores (B, T, C) (``log_softmax`` gives the
log-probabilities). ``W`` is free: ``image_w`` is what the model was trained on, but narrower or
wider lines run too.

Two parts of the network need care:

- ``adaptive_avg_pool2d`` to a fixed (features × time steps) grid exports only for a fixed input
  size. The wrapper replaces it by two averaging matrices: a constant one over the
  (channels × height) axis (the height is fixed) and one over the width, built in the graph from
  the feature map's width with integer comparisons, so it reproduces PyTorch's bins exactly for
  any width.
- The BiLSTM exports to ONNX ``LSTM`` nodes with the TorchScript exporter (``dynamo=False``).

The ONNX file carries the alphabet, normalization, input size and fit mode as metadata (key
``stackmix``), so ``predict.py ckpt=model.onnx`` needs nothing else.
"""
from __future__ import annotations

import json
import logging
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn

from stackmix.data.image import DEFAULT_FIT, resize_pad
from stackmix.inference.recognizer import ONNX_META_KEY
from stackmix.fs import atomic_path

log = logging.getLogger(__name__)


def adaptive_avg_matrix(n_in: int, n_out: int) -> torch.Tensor:
    """(n_out, n_in) matrix M with ``M @ x`` = ``adaptive_avg_pool1d(x, n_out)`` along x's axis."""
    i = torch.arange(n_out)[:, None]
    w = torch.arange(n_in)[None, :]
    start = (i * n_in) // n_out
    end = ((i + 1) * n_in + n_out - 1) // n_out
    m = ((w >= start) & (w < end)).float()
    return m / m.sum(1, keepdim=True)


class ExportableRecognizer(nn.Module):
    """The trained network with an exportable adaptive pooling; input uint8, output logits."""

    def __init__(self, module):
        super().__init__()
        net = module.net
        for attr in ("features", "lstm", "head", "feature_count", "time_steps"):
            if not hasattr(net, attr):
                raise TypeError(f"ONNX export supports the CRNN network; {type(net).__name__} "
                                f"has no {attr!r}")
        self.features = net.features
        self.lstm = net.lstm
        self.head = net.head
        self.in_chans = int(getattr(net, "in_chans", 1))
        self.time_steps = int(net.time_steps)
        image_h, image_w = int(module.hparams["image_h"]), int(module.hparams["image_w"])
        with torch.no_grad():
            probe = self.features(torch.zeros(1, self.in_chans, image_h, image_w))
        rows = probe.shape[1] * probe.shape[2]
        self.register_buffer("pool_rows", adaptive_avg_matrix(rows, int(net.feature_count)))
        self.image_h = image_h

    def width_matrix(self, f: torch.Tensor) -> torch.Tensor:
        """(T, W') averaging matrix for the feature map's width, computed in the graph."""
        ones = torch.ones_like(f[0, 0, :])  # (W',)
        pos = ones.cumsum(0) - 1.0  # 0 .. W'-1
        n = ones.sum()
        t = float(self.time_steps)
        i = torch.arange(self.time_steps, dtype=f.dtype, device=f.device)[:, None]
        # w >= floor(i n / T)  <=>  w T + T > i n ;  w < ceil((i + 1) n / T)  <=>  w T < (i + 1) n
        inside = (pos[None, :] * t + t > i * n) & (pos[None, :] * t < (i + 1.0) * n)
        m = inside.to(f.dtype)
        return m / m.sum(1, keepdim=True)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        x = 1.0 - images.float() / 255.0
        if self.in_chans != 1:
            x = x.expand(-1, self.in_chans, -1, -1)
        f = self.features(x).flatten(1, 2)  # (B, C·H', W')
        seq = torch.matmul(torch.matmul(self.pool_rows, f), self.width_matrix(f).t())  # (B, F, T)
        seq, _ = self.lstm(seq.transpose(1, 2))
        return self.head(seq)


def export_onnx(module, path: str | Path, opset: int = 17) -> Path:
    """Export ``module`` (an ``HTRModule``) to ``path`` with dynamic batch and width."""
    path = Path(path)
    module = module.eval().cpu()
    wrapper = ExportableRecognizer(module).eval()
    hp = module.hparams
    dummy = torch.full((2, 1, int(hp["image_h"]), int(hp["image_w"])), 255, dtype=torch.uint8)
    dummy[:, :, 4:-4, 8:-8] = 0
    with torch.no_grad():
        ref = module(dummy).float()
        got = wrapper(dummy).float()
    diff = float((ref - got).abs().max())
    if diff > 1e-4:
        raise RuntimeError(f"exportable wrapper differs from the model by {diff:.3g} (expected "
                           "≤ 1e-4); the network is not supported by the exporter")
    meta = {"alphabet": hp["alphabet"], "image_h": int(hp["image_h"]),
            "image_w": int(hp["image_w"]), "fit": str(hp.get("fit") or DEFAULT_FIT),
            "normalize": dict(hp.get("normalize") or {}),
            "dataset_name": hp.get("dataset_name"), "time_steps": wrapper.time_steps,
            "num_classes": len(hp["alphabet"]) + 1, "input": "uint8 (B, 1, H, W), white paper",
            "output": "logits (B, T, C), class 0 = CTC blank"}
    import onnx

    with atomic_path(path) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapper, (dummy,), str(tmp), input_names=["images"], output_names=["logits"],
            dynamic_axes={"images": {0: "batch", 3: "width"}, "logits": {0: "batch"}},
            opset_version=opset, dynamo=False, do_constant_folding=True,
        )
        model = onnx.load(str(tmp))
        entry = model.metadata_props.add()
        entry.key = ONNX_META_KEY
        entry.value = json.dumps(meta, ensure_ascii=False)
        model.producer_name = "stackmix-htr"
        onnx.checker.check_model(model)
        onnx.save(model, str(tmp))
    log.info("exported %s (%.1f MB)", path, path.stat().st_size / 1e6)
    return path


def check_onnx(module, path: str | Path, images: Sequence[np.ndarray],
               batch_sizes: Sequence[int] = (1, 3), widths: Sequence[int] | None = None) -> dict:
    """Max abs difference of the logits, onnxruntime vs PyTorch, on ``images``.

    ``images`` are gray uint8 lines of any size; each is fitted into ``image_h × w`` for every
    ``w`` of ``widths`` (default: the training width and an odd narrower one) and run in batches of
    each size of ``batch_sizes``. Returns ``{"max_abs_diff", "checks": [...], "mean_abs_logit"}``.
    """
    import onnxruntime as ort

    module = module.eval().cpu()
    hp = module.hparams
    h, w0 = int(hp["image_h"]), int(hp["image_w"])
    fit = str(hp.get("fit") or DEFAULT_FIT)
    widths = list(widths or [w0, max(32, (w0 * 5) // 8 + 3)])
    opts = ort.SessionOptions()
    opts.log_severity_level = 3
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    checks = []
    worst = 0.0
    scale = []
    for w in widths:
        arr = np.stack([resize_pad(img, h, w, fit=fit) for img in images])[:, None]
        for bs in batch_sizes:
            for s in range(0, len(arr), bs):
                x = arr[s:s + bs]
                with torch.no_grad():
                    ref = module(torch.from_numpy(x)).float().numpy()
                got = sess.run(None, {"images": x})[0]
                d = float(np.abs(ref - got).max())
                worst = max(worst, d)
                scale.append(float(np.abs(ref).mean()))
            checks.append({"width": w, "batch_size": bs, "lines": len(arr)})
    return {"max_abs_diff": worst, "checks": checks, "mean_abs_logit": float(np.mean(scale))}
