"""Checkpoints: loaded without unpickling code, written atomically, resume picks the right one."""
from __future__ import annotations

import os
import random
import re
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import REPO
from stackmix.training.checkpoint_io import AtomicCheckpointIO, ResumeError
from stackmix.training.resume import find_resume_checkpoint, resolve_resume
from stackmix.training.rng import rng_state, set_rng_state

LOADERS = re.compile(r"\b(torch\.load|load_from_checkpoint)\(")


def _calls(text: str):
    """(line number, call text up to its closing parenthesis) of every checkpoint load."""
    for m in LOADERS.finditer(text):
        depth, i = 0, m.end() - 1
        while i < len(text):
            depth += {"(": 1, ")": -1}.get(text[i], 0)
            if depth == 0:
                break
            i += 1
        yield text.count("\n", 0, m.start()) + 1, text[m.start(): i + 1]


def test_every_checkpoint_load_in_the_code_base_is_weights_only():
    files = [*(REPO / "stackmix").rglob("*.py"), *REPO.glob("*.py"), *(REPO / "bench").glob("*.py")]
    unsafe = []
    for f in files:
        rel = f.relative_to(REPO).as_posix()
        text = f.read_text(encoding="utf-8")
        for line, call in _calls(text):
            if "weights_only=True" not in call:
                unsafe.append(f"{rel}:{line}: {' '.join(call.split())}")
        if re.search(r"allow_pickle\s*=\s*True|pickle\.loads?\(", text):
            unsafe.append(f"{rel}: unpickles data")
    assert not unsafe, "load checkpoints with weights_only=True:\n" + "\n".join(unsafe)


class Foreign:
    """An arbitrary class: a checkpoint holding it must not be unpickled."""


def _ckpt(step: int, **extra) -> dict:
    return {"global_step": step, "state_dict": {"w": torch.ones(2) * step},
            "optimizer_states": [{}], "loops": {"fit_loop": {"epoch_progress": {
                "total": {"completed": step // 10}}}}, **extra}


def test_atomic_checkpoint_io_never_leaves_a_partial_file(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    path = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint(_ckpt(1), path)
    assert io.load_checkpoint(path)["global_step"] == 1

    def dies_half_way(obj, f):
        Path(f).write_bytes(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt  # e.g. Ctrl-C, or a disk-full OSError, mid-write

    monkeypatch.setattr(torch, "save", dies_half_way)
    with pytest.raises(KeyboardInterrupt):
        io.save_checkpoint(_ckpt(2), path)
    assert sorted(p.name for p in path.parent.iterdir()) == ["last.ckpt"]
    assert io.load_checkpoint(path)["global_step"] == 1  # the previous one, intact


def test_checkpoints_with_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.ckpt"
    torch.save(_ckpt(5, extra=Foreign()), path)
    with pytest.raises(Exception, match="weights_only|Unsupported global|Foreign"):
        AtomicCheckpointIO().load_checkpoint(path, weights_only=False)  # True regardless


def _write(path: Path, ckpt, mtime: float | None = None) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(ckpt, bytes):
        path.write_bytes(ckpt)
    else:
        torch.save(ckpt, path)
    if mtime is not None:
        os.utime(path, (mtime, mtime))
    return path


def test_resume_auto_picks_the_most_advanced_readable_checkpoint(tmp_path, caplog):
    run = tmp_path / "run"
    now = time.time()
    assert find_resume_checkpoint(run) is None
    _write(run / "checkpoints" / "last.ckpt", _ckpt(12), now - 30)
    step = _write(run / "checkpoints" / "step.ckpt", _ckpt(16), now - 20)
    _write(run / "checkpoints" / "best-epoch000.ckpt", _ckpt(6), now - 10)
    assert find_resume_checkpoint(run) == step
    # same step: the newer file wins (e.g. on_exception.ckpt written after step.ckpt)
    exc = _write(run / "checkpoints" / "on_exception.ckpt", _ckpt(16), now - 5)
    assert find_resume_checkpoint(run) == exc
    # SLURM's requeue checkpoint in the run folder counts too
    hpc = _write(run / "hpc_ckpt_1.ckpt", _ckpt(17), now - 40)
    assert find_resume_checkpoint(run) == hpc
    # unreadable, foreign or weights-only files are skipped, with a warning naming them
    _write(run / "checkpoints" / "torn.ckpt", b"PK\x03\x04 torn", now)
    _write(run / "checkpoints" / "evil.ckpt", _ckpt(99, extra=Foreign()), now)
    _write(run / "checkpoints" / "weights.ckpt", {"global_step": 98, "state_dict": {}}, now)
    assert find_resume_checkpoint(run) == hpc
    for name in ("torn.ckpt", "evil.ckpt", "weights.ckpt"):
        assert name in caplog.text


def test_resolve_resume_keys(tmp_path):
    out = tmp_path / "run"
    assert resolve_resume(None, None, out) is None
    assert resolve_resume("auto", None, out) is None  # a new run
    with pytest.raises(ResumeError, match="no usable checkpoint"):
        resolve_resume(str(tmp_path), None, out)
    with pytest.raises(ResumeError, match="not 'auto', a checkpoint file or a run folder"):
        resolve_resume(str(tmp_path / "nope"), None, out)
    with pytest.raises(ResumeError, match="ckpt_path=.*no such checkpoint file"):
        resolve_resume(None, str(tmp_path / "nope.ckpt"), out)
    ck = _write(out / "checkpoints" / "last.ckpt", _ckpt(3))
    assert resolve_resume("auto", None, out) == ck
    assert resolve_resume(str(out), None, tmp_path / "other") == ck
    assert resolve_resume(str(ck), None, tmp_path / "other") == ck
    assert resolve_resume("auto", str(ck), tmp_path / "other") == ck  # ckpt_path wins


def test_rng_state_round_trips_through_a_weights_only_checkpoint(tmp_path):
    torch.manual_seed(1), np.random.seed(2), random.seed(3)
    torch.save({"rng": rng_state()}, tmp_path / "s.ckpt")
    expected = (torch.rand(3), np.random.rand(3), random.random())
    torch.manual_seed(7), np.random.seed(7), random.seed(7)
    set_rng_state(torch.load(tmp_path / "s.ckpt", weights_only=True)["rng"])
    got = (torch.rand(3), np.random.rand(3), random.random())
    assert torch.equal(got[0], expected[0]) and np.array_equal(got[1], expected[1])
    assert got[2] == expected[2]
