import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_module
from lightning.pytorch.utilities.parsing import AttributeDict

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mix"))
from stackmix_fixtures import TEXTS, make_masked_dataset  # noqa: E402

from stackmix.mix.boundaries import input_scale_x  # noqa: E402
from stackmix.mix.masks import CharMasks, boundary_errors  # noqa: E402
from stackmix.tasks import char_masks  # noqa: E402
from stackmix.text import CTCCodec  # noqa: E402

H, W, T = 32, 256, 64


class FakeModel:
    """Emits each character of ``emit[text]`` on the frame over its true centre."""

    def __init__(self, truth: CharMasks, emit: dict[str, str]):
        self.codec = CTCCodec("".join(sorted(set("".join(TEXTS)))))
        self.hparams = AttributeDict(image_h=H, image_w=W, normalize={}, dataset_name="tiny")
        self.queue = []
        for m in truth.lines:
            b = np.asarray(m.bounds)
            centres = (b[:-1] + b[1:]) / 2 * input_scale_x(m.height, m.width, H, W)
            frames = np.floor(centres / (W / T)).astype(int)
            shown = emit.get(m.text, m.text)
            path = np.zeros(T, dtype=int)
            for f, ch in zip(frames, shown):
                path[f] = self.codec.encode(ch)[0]
            lp = np.full((T, self.codec.num_classes), -6.0)
            lp[np.arange(T), path] = -0.01
            self.queue.append(lp)

    def log_probs(self, x):
        out = np.stack([self.queue.pop(0) for _ in range(len(x))])
        return torch.from_numpy(out)


def _cfg(tmp_path, root, *extra):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        return compose("prepare", overrides=[
            "task=char_masks", "dataset=custom", f"dataset.root={root}", "task.ckpt=unused",
            f"task.out={tmp_path}/masks.json", f"paths.output_dir={tmp_path}", "task.batch_size=4",
            "task.progress=false", *extra])


def test_exact_lines_are_masked_close_to_the_truth(tmp_path, monkeypatch):
    root = tmp_path / "data"
    truth = make_masked_dataset(root)
    # the model misreads one line: "bad cab" -> "bad cad"
    fake = FakeModel(truth, {"bad cab": "bad cad"})
    monkeypatch.setattr(char_masks, "resolve_checkpoint", lambda p: Path("model.ckpt"))
    monkeypatch.setattr(char_masks, "load_model", lambda ckpt, device: fake)
    out = char_masks.run(_cfg(tmp_path, root, "task.preview=2"))
    masks = CharMasks.load(tmp_path / "masks.json")
    assert out["used"] == len(TEXTS) - 1 == len(masks.lines)
    assert masks.summary["rejected"] == {char_masks.REJECT_TEXT: 1}
    assert "bad cab" not in [m.text for m in masks.lines]
    assert masks.meta["image_h"] == H and masks.meta["align"] == "greedy"
    assert (tmp_path / "masks.preview.png").is_file()
    for m in masks.lines:
        assert len(m.bounds) == len(m.text) + 1 and (np.diff(m.bounds) >= 0).all()
        assert (root / m.path).is_file()
    extents = {m.sample_id: np.stack([m.bounds[:-1], m.bounds[1:]], 1).tolist()
               for m in truth.lines}
    err = boundary_errors(masks, extents)
    assert err["median"] < 0.33, err


def test_forced_alignment_accepts_lines_with_few_errors(tmp_path, monkeypatch):
    root = tmp_path / "data"
    truth = make_masked_dataset(root)
    fake = FakeModel(truth, {"bad cab": "bad cad", "abc de": "xbc de".replace("x", "b")})
    monkeypatch.setattr(char_masks, "resolve_checkpoint", lambda p: Path("model.ckpt"))
    monkeypatch.setattr(char_masks, "load_model", lambda ckpt, device: fake)
    out = char_masks.run(_cfg(tmp_path, root, "task.align=forced", "task.max_cer=0.2",
                              "task.preview=0"))
    masks = CharMasks.load(tmp_path / "masks.json")
    assert out["used"] == len(TEXTS)
    forced = {m.text: m.cer for m in masks.lines}
    assert forced["bad cab"] > 0 and forced["cafe bead"] == 0


def test_resolve_checkpoint_accepts_a_run_folder(tmp_path):
    ck = tmp_path / "run" / "checkpoints"
    ck.mkdir(parents=True)
    (ck / "last.ckpt").write_bytes(b"x")
    assert char_masks.resolve_checkpoint(tmp_path / "run") == ck / "last.ckpt"
    (ck / "best-epoch001-cer0.5.ckpt").write_bytes(b"x")
    assert char_masks.resolve_checkpoint(tmp_path / "run").name.startswith("best-")
    with pytest.raises(FileNotFoundError):
        char_masks.resolve_checkpoint(tmp_path / "nope.ckpt")
