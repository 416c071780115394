"""`python prepare.py task=export_onnx task.ckpt=<run or .ckpt>`: ONNX export (dynamic batch and
width) + a check of onnxruntime's logits against PyTorch's (see stackmix.inference.onnx_export)."""
from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

log = logging.getLogger(__name__)


def render_lines(alphabet: str, n: int, height: int = 64, seed: int = 0) -> list[np.ndarray]:
    """Printed lines of random words over the model's alphabet (for the numeric check only)."""
    import cv2

    rng = np.random.default_rng(seed)
    chars = [c for c in alphabet if c.isascii() and c.isprintable() and c != " "] or ["x"]
    out = []
    for _ in range(n):
        words = ["".join(rng.choice(chars, size=rng.integers(2, 8))) for _ in range(rng.integers(1, 5))]
        text = " ".join(words)
        scale = height / 45
        (w, _), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 2)
        img = np.full((height, w + 16), 255, np.uint8)
        cv2.putText(img, text, (8, height - base - 6), cv2.FONT_HERSHEY_SIMPLEX, scale, 0, 2,
                    cv2.LINE_AA)
        out.append(img)
    return out


def run(cfg: DictConfig) -> dict:
    from stackmix.checkpoints import CheckpointError
    from stackmix.inference.engine import expand_inputs
    from stackmix.inference.onnx_export import check_onnx, export_onnx
    from stackmix.inference.recognizer import Recognizer
    from stackmix.data.image import read_gray
    from stackmix.fs import atomic_write_json

    task = cfg.task
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError as e:
        raise SystemExit(f"export_onnx needs onnx and onnxruntime ({e.name} is missing): "
                         "pip install -e '.[onnx]'") from None
    try:
        recognizer = Recognizer.load(task.ckpt, device="cpu")
    except (FileNotFoundError, CheckpointError) as e:
        raise SystemExit(f"export_onnx: {e}") from None
    if recognizer.backend != "torch":
        raise SystemExit(f"export_onnx: {recognizer.path} is already an ONNX file; give the .ckpt "
                         "it was exported from")
    ckpt, module = recognizer.path, recognizer.module
    out = Path(task.out) if task.get("out") else ckpt.with_suffix(".onnx")
    export_onnx(module, out, opset=int(task.opset))
    result = {"checkpoint": str(ckpt), "onnx": str(out), "size_mb": out.stat().st_size / 1e6}
    if task.get("check", True):
        n = int(task.check_lines)
        if task.get("check_images"):
            images = [read_gray(p) for p in expand_inputs(task.check_images)[:n]]
        else:
            images = render_lines(module.hparams["alphabet"], n)
        check = check_onnx(module, out, images)
        result.update(check)
        tol = float(task.tolerance)
        result["ok"] = check["max_abs_diff"] <= tol
        log.info("onnxruntime vs PyTorch on %d lines: max abs logit difference %.2e (tolerance "
                 "%.0e)", len(images), check["max_abs_diff"], tol)
        if not result["ok"]:
            raise RuntimeError(f"ONNX check failed: max abs difference {check['max_abs_diff']:.3g} "
                               f"> {tol:g} ({out})")
    atomic_write_json(out.with_suffix(".onnx.json"), result)
    msg = f"exported {out} ({result['size_mb']:.1f} MB)"
    if "max_abs_diff" in result:
        msg += (f"; onnxruntime vs PyTorch: max abs logit difference {result['max_abs_diff']:.2e} "
                f"over {len(result['checks'])} batch/width settings")
    print(msg, flush=True)
    return result
