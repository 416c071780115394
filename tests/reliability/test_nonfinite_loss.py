"""A NaN/inf loss skips the update (weights and optimizer state untouched) and is counted."""
import math

import lightning as L
import torch

from conftest import compose_train, tiny_train_overrides
from stackmix.cli.train import build

BAD_BATCH = 1


class Snapshots(L.Callback):
    def __init__(self):
        self.before, self.after = {}, {}

    @staticmethod
    def _state(trainer, pl_module):
        opt = trainer.optimizers[0]
        moments = [v.clone() for s in opt.state.values() for v in s.values() if torch.is_tensor(v)]
        return [p.detach().clone() for p in pl_module.parameters()], moments

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.before[batch_idx] = self._state(trainer, pl_module)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.after[batch_idx] = self._state(trainer, pl_module)


def same(a, b):
    return len(a) == len(b) and all(torch.equal(x, y) for x, y in zip(a, b))


def test_nonfinite_loss_skips_the_step_and_counts_it(tiny_dataset, tmp_path):
    cfg = compose_train(tiny_train_overrides(tiny_dataset) + [
        "trainer.max_epochs=1", "trainer.limit_train_batches=3", "trainer.limit_val_batches=0",
        "data.batch_size=4", "callbacks.step_checkpoint=null", "callbacks.last_checkpoint=null",
        "callbacks.model_checkpoint=null", "callbacks.progress_bar=null",
        "trainer.enable_progress_bar=false"], tmp_path)
    dm, module, trainer, *_ = build(cfg)
    snaps = Snapshots()
    trainer.callbacks.append(snaps)
    real_loss = module.ctc_loss

    def poisoned(log_probs, batch):
        loss = real_loss(log_probs, batch)
        if trainer.fit_loop.epoch_loop.batch_idx == BAD_BATCH:
            return loss * float("nan")
        return loss

    module.ctc_loss = poisoned
    trainer.fit(module, datamodule=dm)

    assert int(module.nonfinite_steps) == 1
    # the poisoned batch left weights and AdamW moments exactly as they were
    w0, m0 = snaps.before[BAD_BATCH]
    w1, m1 = snaps.after[BAD_BATCH]
    assert same(w0, w1) and same(m0, m1)
    # the batches around it trained normally, and nothing is NaN
    assert not same(*[snaps.before[0][0], snaps.after[0][0]])
    assert not same(*[snaps.before[2][0], snaps.after[2][0]])
    assert all(torch.isfinite(p).all() for p in module.parameters())
    # the counter is part of the checkpointed state
    assert int(module.state_dict()["nonfinite_steps"]) == 1
    assert math.isfinite(float(trainer.callback_metrics["train/loss_epoch"]))
