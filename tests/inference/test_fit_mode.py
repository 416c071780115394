"""A model trained with ``dataset.fit=paper`` is used in that mode by every inference path
(Recognizer.prepare, the batch engine behind predict.py and evaluate, its ONNX export); models
saved before the option existed keep the ``height`` fit they were trained with."""
from pathlib import Path

import numpy as np
import pytest
import torch

from conftest import compose_train, tiny_train_overrides, untrained_checkpoint
from stackmix.data.image import read_gray, resize_pad
from stackmix.inference.engine import iter_batches
from stackmix.inference.recognizer import Recognizer


@pytest.fixture(scope="module")
def paper_ckpt(tmp_path_factory) -> tuple[Path, list[Path]]:
    """A checkpoint written by a (one-step) training of train.py's ``build`` with
    ``dataset.fit=paper`` at 48 px, on 32 px lines (so the two fit modes differ), and its lines."""
    from conftest import make_dataset
    from stackmix.cli.train import build

    tmp = tmp_path_factory.mktemp("paper_fit")
    data = make_dataset(tmp / "data", counts=(8, 4, 4))
    cfg = compose_train(tiny_train_overrides(data) + [
        "dataset.fit=paper", "dataset.image_h=48", "trainer.max_epochs=1",
        "trainer.limit_train_batches=1", "trainer.limit_val_batches=1",
        "trainer.enable_checkpointing=false", "logger=[]", "callbacks=[]",
        "trainer.enable_progress_bar=false"], tmp)
    dm, module, trainer, *_ = build(cfg)
    trainer.fit(module, datamodule=dm)
    trainer.save_checkpoint(tmp / "paper.ckpt")
    return tmp / "paper.ckpt", sorted((data / "lines").glob("*.png"))[:3]


def test_a_paper_fit_checkpoint_prepares_lines_in_paper_fit(paper_ckpt):
    ckpt, lines = paper_ckpt
    assert torch.load(ckpt, weights_only=True)["hyper_parameters"]["fit"] == "paper"
    rec = Recognizer.load(ckpt, device="cpu")
    assert rec.fit == "paper" and (rec.image_h, rec.image_w) == (48, 128)
    img = read_gray(lines[0])
    got = rec.prepare(img)
    np.testing.assert_array_equal(got, resize_pad(img, 48, 128, fit="paper"))
    assert not np.array_equal(got, resize_pad(img, 48, 128, fit="height"))
    top = (48 - img.shape[0]) // 2  # not upscaled, centred vertically, left-aligned
    np.testing.assert_array_equal(got[top:top + img.shape[0], :img.shape[1]], img[:, :128])
    # the batch engine (predict.py, evaluate) prepares files the same way
    idx, batch, bad = next(iter_batches(rec, lines, batch_size=8))
    assert idx == [0, 1, 2] and not bad
    for path, x in zip(lines, batch):
        np.testing.assert_array_equal(x, rec.prepare_file(path))


def test_the_onnx_export_carries_the_fit_mode(paper_ckpt, tmp_path):
    pytest.importorskip("onnx", reason="optional package onnx is not installed")
    pytest.importorskip("onnxruntime", reason="optional package onnxruntime is not installed")
    from stackmix.inference.onnx_export import export_onnx

    rec = Recognizer.load(paper_ckpt[0], device="cpu")
    onnx_rec = Recognizer.load(export_onnx(rec.module, tmp_path / "m.onnx"))
    assert onnx_rec.fit == "paper"
    img = read_gray(paper_ckpt[1][0])
    np.testing.assert_array_equal(onnx_rec.prepare(img), rec.prepare(img))


def test_checkpoints_without_a_fit_mode_keep_the_height_fit(tmp_path):
    path = untrained_checkpoint(tmp_path / "old.ckpt")
    ckpt = torch.load(path, weights_only=True)
    assert ckpt["hyper_parameters"].pop("fit") == "height"  # today's default is saved too
    torch.save(ckpt, path)  # as a checkpoint made before dataset.fit existed
    rec = Recognizer.load(path, device="cpu")
    assert rec.fit == "height"
    img = np.zeros((16, 40), np.uint8)
    np.testing.assert_array_equal(rec.prepare(img), resize_pad(img, 32, 128, fit="height"))
