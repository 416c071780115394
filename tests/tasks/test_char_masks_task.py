import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_module

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mix"))
from stackmix_fixtures import TEXTS, make_masked_dataset  # noqa: E402

from stackmix.data.image import resize_pad  # noqa: E402
from stackmix.mix import masking  # noqa: E402
from stackmix.mix.boundaries import input_scale_x  # noqa: E402
from stackmix.mix.masks import CharMasks, boundary_errors  # noqa: E402
from stackmix.tasks import char_masks  # noqa: E402
from stackmix.text import CTCCodec  # noqa: E402

H, W, T = 32, 256, 64


class FakeModel:
    """A recognizer that emits each character of ``emit[text]`` on the frame over its true
    centre."""

    def __init__(self, truth: CharMasks, emit: dict[str, str], alphabet: str | None = None,
                 fit: str = "height", image_h: int = H):
        self.alphabet = alphabet or "".join(sorted(set("".join(TEXTS))))
        self.codec = CTCCodec(self.alphabet)
        self.image_h, self.image_w, self.fit = image_h, W, fit
        self.normalize, self.dataset_name = {}, "tiny"
        self.device, self.path = "cpu", Path("model.ckpt")
        self.queue = []
        for m in truth.lines:
            b = np.asarray(m.bounds)
            centres = (b[:-1] + b[1:]) / 2 * input_scale_x(m.height, m.width, image_h, W, fit)
            frames = np.floor(centres / (W / T)).astype(int)
            shown = emit.get(m.text, m.text)
            path = np.zeros(T, dtype=int)
            for f, ch in zip(frames, shown):
                path[f] = self.codec.encode(ch)[0]
            lp = np.full((T, self.codec.num_classes), -6.0)
            lp[np.arange(T), path] = -0.01
            self.queue.append(lp)

    def prepare(self, image):
        return resize_pad(image, self.image_h, W, fit=self.fit)

    def log_probs(self, x):
        out = np.stack([self.queue.pop(0) for _ in range(len(x))])
        return torch.from_numpy(out)


def _use(monkeypatch, fake):
    monkeypatch.setattr(char_masks.Recognizer, "load", staticmethod(lambda path, device: fake))


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
    _use(monkeypatch, fake)
    out = char_masks.run(_cfg(tmp_path, root, "task.preview=2"))
    masks = CharMasks.load(tmp_path / "masks.json")
    assert out["used"] == len(TEXTS) - 1 == len(masks.lines)
    assert masks.summary["rejected"] == {masking.REJECT_TEXT: 1}
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


def test_masks_of_a_paper_fit_model_map_its_columns_back_to_the_line(tmp_path, monkeypatch):
    """A model trained with dataset.fit=paper saw these 32 px lines unscaled in its 64 px input
    (``height`` would have doubled them): the masks must use the scale the model saw."""
    root = tmp_path / "data"
    truth = make_masked_dataset(root)
    assert max(m.height for m in truth.lines) < 64
    _use(monkeypatch, FakeModel(truth, {}, fit="paper", image_h=64))
    out = char_masks.run(_cfg(tmp_path, root, "task.preview=0"))
    masks = CharMasks.load(tmp_path / "masks.json")
    assert out["used"] == len(TEXTS) and masks.meta["fit"] == "paper"
    extents = {m.sample_id: np.stack([m.bounds[:-1], m.bounds[1:]], 1).tolist()
               for m in truth.lines}
    err = boundary_errors(masks, extents)
    assert err["median"] < 0.33, err


def test_forced_alignment_accepts_lines_with_few_errors(tmp_path, monkeypatch):
    root = tmp_path / "data"
    truth = make_masked_dataset(root)
    fake = FakeModel(truth, {"bad cab": "bad cad", "abc de": "xbc de".replace("x", "b")})
    _use(monkeypatch, fake)
    out = char_masks.run(_cfg(tmp_path, root, "task.align=forced", "task.max_cer=0.2",
                              "task.preview=0"))
    masks = CharMasks.load(tmp_path / "masks.json")
    assert out["used"] == len(TEXTS)
    forced = {m.text: m.cer for m in masks.lines}
    assert forced["bad cab"] > 0 and forced["cafe bead"] == 0


@pytest.mark.parametrize("extra, tried, advice, not_advice", [
    ((), "align=greedy", "task.align=forced task.max_cer=0.1", None),
    (("task.align=forced", "task.max_cer=0.05"), "align=forced", "task.max_cer=0.1",
     "task.align=forced"),
])
def test_no_usable_line_fails_says_what_was_tried_and_keeps_the_old_file(
        tmp_path, monkeypatch, extra, tried, advice, not_advice):
    root = tmp_path / "data"
    truth = make_masked_dataset(root)
    # the model misreads every line (one character in each)
    fake = FakeModel(truth, {t: "f" + t[1:] if t[0] != "f" else "a" + t[1:] for t in TEXTS})
    _use(monkeypatch, fake)
    out = tmp_path / "masks.json"
    truth.save(out)
    before = out.read_bytes()
    with pytest.raises(SystemExit) as e:
        char_masks.run(_cfg(tmp_path, root, "task.preview=0", *extra))
    msg = str(e.value.code)
    assert e.value.code not in (0, None)
    assert f"none of the {len(TEXTS)} train lines was usable" in msg and tried in msg
    assert "left as it was" in msg and "What would help" in msg and advice in msg
    if not_advice:
        assert not_advice not in msg.split("What would help")[1]  # not what was already passed
    assert out.read_bytes() == before


def test_train_limit_masks_the_subset_the_model_was_trained_on(tmp_path, monkeypatch):
    """dataset.train_limit=N: the masks cover the same seeded N train lines training used, and
    the alphabet check asks only for their characters (a subset model lacks the others)."""
    from stackmix.data.marking import read_marking
    from stackmix.data.splits import limit_train

    root = tmp_path / "data"
    truth = make_masked_dataset(root, texts=TEXTS + ["hag egg"])  # g, h: in one line only
    train = read_marking(root).stage("train")
    seed = next(k for k in range(100)  # a subset without that line
                if "hag egg" not in [s.text for s in limit_train(train, {"train_limit": 3}, k)])
    kept = limit_train(train, {"train_limit": 3}, seed)
    ids = {s.sample_id for s in kept}
    subset = CharMasks(truth.dataset, truth.root, [m for m in truth.lines if m.sample_id in ids])
    alphabet = "".join(sorted(set("".join(s.text for s in kept))))
    assert "g" not in alphabet
    _use(monkeypatch, FakeModel(subset, {}, alphabet=alphabet))
    out = char_masks.run(_cfg(tmp_path, root, "task.preview=0", "dataset.train_limit=3", f"seed={seed}"))
    masks = CharMasks.load(tmp_path / "masks.json")
    assert out["lines"] == 3 and {m.sample_id for m in masks.lines} == ids
