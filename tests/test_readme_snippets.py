"""The README's Python snippets run as written (only the placeholder paths are replaced)."""
import contextlib
import io
import re

import cv2
import numpy as np

from conftest import REPO, render_line, untrained_checkpoint


def _python_block(containing: str) -> str:
    blocks = re.findall(r"```python\n(.*?)```", (REPO / "README.md").read_text(encoding="utf-8"), re.S)
    found = [b for b in blocks if containing in b]
    assert len(found) == 1, f"one README python block with {containing!r}, found {len(found)}"
    return found[0]


def test_python_api_snippet(tmp_path):
    code = _python_block("Recognizer.load(")
    ckpt = untrained_checkpoint(tmp_path / "model.ckpt")
    lines = []
    for i, text in enumerate(("bad cab", "face")):
        lines.append(tmp_path / f"line{i + 1}.png")
        cv2.imwrite(str(lines[-1]), render_line(text))
    code = code.replace('"outputs/train/<run>"', repr(str(ckpt)))
    code = code.replace('["line1.png", "line2.png"]', repr([str(p) for p in lines]))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    printed = out.getvalue().splitlines()
    assert [p.split(" ", 1)[0] for p in printed] == [str(p) for p in lines]


def test_augmentation_snippet(tmp_path, monkeypatch):
    code = _python_block("build_train_transform(")
    monkeypatch.chdir(tmp_path)
    cv2.imwrite("line.png", render_line("bad cab", height=48))
    scope: dict = {}
    exec(compile(code, "README.md", "exec"), scope)
    out, img = scope["out"], scope["img"]
    assert out.dtype == np.uint8 and out.ndim == 2
    # the rotation (±3°, fit_output) only grows the canvas, by at most sin(3°)·width in height
    assert img.shape[0] <= out.shape[0] <= img.shape[0] + 0.06 * img.shape[1] + 2
    assert img.shape[1] <= out.shape[1] <= img.shape[1] + 0.06 * img.shape[0] + 2
