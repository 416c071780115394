"""stackmix.checkpoints: safe reading, the "best" checkpoint (CER, then loss, then later step),
a run folder → its model file."""
from pathlib import Path

import lightning as L
import pytest
import torch

from stackmix.checkpoints import (BestCheckpoint, CheckpointError, alphabet_mismatch,
                                  best_checkpoint, load, read_model, resolve_model_path,
                                  selection_key)


def test_resolve_model_path_accepts_a_run_folder(tmp_path):
    # (moved from tests/tasks/test_char_masks_task.py)
    ck = tmp_path / "run" / "checkpoints"
    ck.mkdir(parents=True)
    (ck / "last.ckpt").write_bytes(b"x")
    assert resolve_model_path(tmp_path / "run") == ck / "last.ckpt"
    (ck / "best-epoch001-cer0.5.ckpt").write_bytes(b"x")
    assert resolve_model_path(tmp_path / "run").name.startswith("best-")
    with pytest.raises(FileNotFoundError):
        resolve_model_path(tmp_path / "nope.ckpt")


def _best(path: Path, cer: float, loss: float | None, step: int) -> Path:
    state = {"monitor": "val/cer", "current_score": torch.tensor(cer), "current_loss": loss}
    torch.save({"global_step": step, "callbacks": {"BestCheckpoint{'monitor': 'val/cer'}": state}},
               path)
    return path


def test_best_checkpoint_breaks_equal_cer_by_loss_then_the_later_step(tmp_path):
    ck = tmp_path / "checkpoints"
    ck.mkdir()
    _best(ck / "best-epoch000-cer1.0000.ckpt", 1.0, 5.0, 10)
    _best(ck / "best-epoch001-cer1.0000.ckpt", 1.0, 3.0, 20)
    later = _best(ck / "best-epoch002-cer1.0000.ckpt", 1.0, 3.0, 30)
    (ck / "best-epoch009-cer0.0000.ckpt").write_bytes(b"PK\x03\x04 torn")  # skipped, warned
    assert best_checkpoint(tmp_path) == later
    lower = _best(ck / "best-epoch003-cer0.9000.ckpt", 0.9, 9.0, 5)
    assert best_checkpoint(tmp_path) == lower
    assert selection_key(float("nan"), None, 3) > selection_key(1.0, 99.0, 1)


class _Constant(L.LightningModule):
    """Validation CER stays 1.0 (the all-blank phase) while the loss goes down."""

    def __init__(self, losses):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.losses = losses

    def training_step(self, batch, batch_idx):
        return (self.w - 1).pow(2).sum()

    def validation_step(self, batch, batch_idx):
        self.log("val/cer", 1.0)
        self.log("val/loss", self.losses[self.current_epoch])

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)

    def train_dataloader(self):
        return torch.utils.data.DataLoader(torch.zeros(2, 1), batch_size=1)

    val_dataloader = train_dataloader


@pytest.mark.parametrize("losses, best_epoch", [([3.0, 2.0, 2.5], 1), ([2.0, 2.0, 2.0], 2)])
def test_training_keeps_the_lower_loss_then_the_later_epoch_when_cer_ties(tmp_path, losses,
                                                                          best_epoch):
    cb = BestCheckpoint(dirpath=tmp_path / "checkpoints", monitor="val/cer", mode="min",
                        save_top_k=1, filename="best-epoch{epoch:03d}",
                        auto_insert_metric_name=False)
    trainer = L.Trainer(max_epochs=3, callbacks=[cb], logger=False, enable_progress_bar=False,
                        enable_model_summary=False, num_sanity_val_steps=0, accelerator="cpu")
    trainer.fit(_Constant(losses))
    want = f"best-epoch{best_epoch:03d}.ckpt"
    assert Path(cb.best_model_path).name == want
    assert [p.name for p in (tmp_path / "checkpoints").iterdir()] == [want]
    assert best_checkpoint(tmp_path) == Path(cb.best_model_path)


def test_damaged_or_foreign_files_are_named_without_unsafe_advice(tmp_path):
    good = tmp_path / "good.ckpt"
    torch.save({"state_dict": {"w": torch.ones(3)}, "global_step": 1}, good)
    data = good.read_bytes()
    cut = tmp_path / "cut.ckpt"
    cut.write_bytes(data[: len(data) // 2])
    empty = tmp_path / "empty.ckpt"
    empty.write_bytes(b"")
    evil = tmp_path / "evil.ckpt"
    torch.save({"obj": Path("x")}, evil)  # a pickled object a weights-only load refuses
    for path, words in ((cut, "damaged"), (empty, "empty"), (evil, "not written by this project")):
        with pytest.raises(CheckpointError) as e:
            load(path)
        assert str(path) in str(e.value) and words in str(e.value)
        assert "weights_only=False" not in str(e.value)
    with pytest.raises(CheckpointError, match="not a checkpoint of this project.*alphabet"):
        read_model(good)  # a PyTorch file without the model's hyper-parameters


def test_alphabet_mismatch_says_what_differs():
    assert alphabet_mismatch("abc", "abc") is None
    assert "only in the checkpoint: 'x'" in alphabet_mismatch("abx", "abc")
    assert "only in the dataset: 'c'" in alphabet_mismatch("abx", "abc")
    assert "another order" in alphabet_mismatch("bac", "abc")
