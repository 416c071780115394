"""Recognizer: loads a checkpoint, prepares images as in training, batches, skips bad files."""
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from inference_fixtures import tiny_run  # noqa: E402

from stackmix.data.dataset import LineDataset  # noqa: E402
from stackmix.data.marking import read_marking  # noqa: E402
from stackmix.inference.decoders import GreedyDecoder  # noqa: E402
from stackmix.inference.engine import expand_inputs, recognize  # noqa: E402
from stackmix.inference.recognizer import Recognizer  # noqa: E402
from stackmix.data.image import ImageReadError  # noqa: E402
from stackmix.text import CTCCodec  # noqa: E402


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    return tiny_run(tmp_path_factory)


def test_recognizer_matches_the_module_on_training_inputs(tiny):
    rec = Recognizer.load(tiny.run_dir, device="cpu")  # a run folder: its best checkpoint
    assert (rec.image_h, rec.image_w) == (32, 128)
    assert set(rec.alphabet) == set("abcdef ")
    test = read_marking(tiny.data).stage("test")
    ds = LineDataset(test, CTCCodec(rec.alphabet), 32, 128)
    batch = torch.stack([ds[i]["image"] for i in range(len(ds))])
    want = rec.module.log_probs(batch).detach().numpy()
    prepared = np.stack([rec.prepare_file(s.path) for s in test])
    assert np.array_equal(prepared, batch[:, 0].numpy())  # same preprocessing as training
    got = rec.log_probs(prepared)
    assert got.shape == want.shape and np.allclose(got, want, atol=1e-5)


def test_recognize_batches_in_order_and_skips_unreadable_files(tiny, tmp_path):
    rec = Recognizer.load(tiny.ckpt, device="cpu")
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"not a png")
    paths = list(tiny.test_images[:3]) + [bad] + list(tiny.test_images[3:5])
    one = recognize(rec, paths[:3] + paths[4:], GreedyDecoder(rec.alphabet), batch_size=2,
                    progress=False)
    run = recognize(rec, paths, GreedyDecoder(rec.alphabet), batch_size=2, on_error="skip",
                    progress=False)
    assert [r.path for r in run.results] == [str(p) for p in paths if p != bad]
    assert [r.text for r in run.results] == [r.text for r in one.results]
    assert run.skipped and run.skipped[0][0] == str(bad)
    for r in run.results:
        assert 0.0 <= r.confidence <= 1.0
        assert len(r.char_probs) == len(r.text) and all(0 <= p <= 1 for p in r.char_probs)
    with pytest.raises(ImageReadError, match="broken.png"):
        recognize(rec, paths, GreedyDecoder(rec.alphabet), progress=False)


def test_expand_inputs(tmp_path):
    for rel in ("a/1.png", "a/2.jpg", "a/sub/3.png", "a/notes.txt", "b.png"):
        p = tmp_path / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(b"x")
    names = lambda ps: [p.relative_to(tmp_path).as_posix() for p in ps]  # noqa: E731
    assert names(expand_inputs(tmp_path / "a")) == ["a/1.png", "a/2.jpg", "a/sub/3.png"]
    assert names(expand_inputs(tmp_path / "a", recursive=False)) == ["a/1.png", "a/2.jpg"]
    assert names(expand_inputs([str(tmp_path / "b.png"), str(tmp_path / "a/*.png"),
                                str(tmp_path / "b.png")])) == ["b.png", "a/1.png"]
    with pytest.raises(FileNotFoundError, match="missing.png"):
        expand_inputs(tmp_path / "missing.png")
    with pytest.raises(FileNotFoundError, match=r"\*.tif"):
        expand_inputs(str(tmp_path / "*.tif"))
    with pytest.raises(FileNotFoundError, match="model file not found"):
        Recognizer.load(tmp_path / "nope.ckpt")
