"""Checkpoints that do not belong (issue 15, items 8, 10, 14): another alphabet on resume, a model
of another dataset for char masks, a truncated file. Each is refused before any work, with a
message that says what differs or what is wrong with the file (and never suggests loading it
unsafely); no good file is replaced."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_module
from hydra.utils import instantiate

from conftest import compose_train, make_dataset, tiny_train_overrides
from stackmix.training.checkpoint_io import ResumeError

ALPHABET = " abcdef"  # the characters of conftest.WORDS


def _checkpoint(path: Path, alphabet: str) -> Path:
    """A real model checkpoint (weights + hyper-parameters) of the tiny network."""
    cfg = compose_train(tiny_train_overrides(Path("unused")))
    module = instantiate(cfg.model, alphabet=alphabet, image_h=32, image_w=128, _recursive_=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "global_step": 3, "epoch": 0}, path)
    return path


def _truncated(path: Path) -> Path:
    data = _checkpoint(path.with_name("whole.ckpt"), ALPHABET).read_bytes()
    path.write_bytes(data[: len(data) // 3])
    return path


def _prepare(overrides: list[str], tmp_path: Path):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        return compose("prepare", overrides=overrides + [f"paths.output_dir={tmp_path}/out",
                                                         f"paths.cache_dir={tmp_path}/cache"])


# --------------------------------------------------------------------------- item 8
@pytest.mark.parametrize("other, words", [("abcdeg ", "only in the checkpoint: 'g'"),
                                          ("abcdefgh", "has 8 characters, the dataset 7")])
def test_resume_with_another_alphabet_is_refused_naming_the_difference(tmp_path, other, words):
    from stackmix.cli.train import run

    data = make_dataset(tmp_path / "data", counts=(8, 2, 2))
    ckpt = _checkpoint(tmp_path / "foreign.ckpt", other)
    cfg = compose_train(tiny_train_overrides(data) + [f"ckpt_path={ckpt}"], tmp_path)
    with pytest.raises(ResumeError) as e:
        run(cfg)
    msg = str(e.value)
    assert str(ckpt) in msg and words in msg and "another alphabet" in msg
    assert not (tmp_path / "out" / "checkpoints").exists()  # refused before training


# --------------------------------------------------------------------------- item 10
def test_char_masks_refuses_a_checkpoint_of_another_alphabet_and_keeps_the_masks(tmp_path):
    from stackmix.tasks import char_masks

    data = make_dataset(tmp_path / "data", counts=(8, 2, 2))
    ckpt = _checkpoint(tmp_path / "foreign.ckpt", "abcxyz ")  # same length, other characters
    out = tmp_path / "char_masks.json"
    out.write_text('{"a good": "masks file"}', encoding="utf-8")
    before = out.read_bytes()
    cfg = _prepare(["task=char_masks", "dataset=custom", f"dataset.root={data}",
                    f"task.ckpt={ckpt}", f"task.out={out}", "task.progress=false"], tmp_path)
    with pytest.raises(SystemExit) as e:
        char_masks.run(cfg)
    msg = str(e.value.code)
    assert "cannot write" in msg and "'def'" in msg and "trained on this dataset" in msg
    assert out.read_bytes() == before


# --------------------------------------------------------------------------- item 14
def test_a_truncated_checkpoint_is_called_damaged_by_every_command(tmp_path):
    from stackmix.cli import predict
    from stackmix.tasks import char_masks, evaluate, export_onnx

    data = make_dataset(tmp_path / "data", counts=(4, 1, 1))
    ckpt = _truncated(tmp_path / "run" / "model.ckpt")
    ds = ["dataset=custom", f"dataset.root={data}"]
    tasks = [(char_masks, ["task=char_masks", *ds, f"task.out={tmp_path}/m.json"]),
             (evaluate, ["task=evaluate", *ds, f"task.out={tmp_path}/eval"]),
             (export_onnx, ["task=export_onnx"])]
    messages = []
    for mod, overrides in tasks:
        pytest.importorskip("onnxruntime") if mod is export_onnx else None
        with pytest.raises(SystemExit) as e:
            mod.run(_prepare([*overrides, f"task.ckpt={ckpt}"], tmp_path))
        messages.append(str(e.value.code))
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("predict", overrides=[f"ckpt={ckpt}", f"input={data}/lines",
                                            "num_workers=0", "progress=false"])
    with pytest.raises(predict.PredictError) as e:
        predict.run(cfg)
    messages.append(str(e.value))
    for msg in messages:
        assert str(ckpt) in msg and "damaged" in msg, msg
        assert "weights_only" not in msg and "Traceback" not in msg, msg
