"""Two-process DDP (CPU, gloo) evaluates exactly like one process: corpus-level CER/WER are summed
over ranks and no sample is repeated to even out the shards."""
import lightning as L
import pytest
import torch
from hydra.utils import instantiate

from conftest import compose_train, make_dataset, tiny_train_overrides


def build(root, tmp_path):
    cfg = compose_train(tiny_train_overrides(root), tmp_path)
    dm = instantiate(cfg.data, dataset=cfg.dataset, aug=cfg.aug, _recursive_=False)
    L.seed_everything(0)
    module = instantiate(cfg.model, alphabet=dm.codec.alphabet, image_h=32, image_w=128,
                         _recursive_=False)
    return dm, module


@pytest.mark.slow  # two spawned training processes
def test_ddp_validation_cer_equals_single_process(tmp_path):
    # 9 valid lines: an odd count that a padding DistributedSampler would distort
    root = make_dataset(tmp_path / "d", counts=(16, 9, 3), seed=1)
    dm, module = build(root, tmp_path)
    # a little training so predictions are neither empty nor random
    L.Trainer(accelerator="cpu", max_steps=15, logger=False, enable_checkpointing=False,
              enable_progress_bar=False, enable_model_summary=False,
              use_distributed_sampler=False, num_sanity_val_steps=0, limit_val_batches=0).fit(
        module, datamodule=dm)
    state = {k: v.clone() for k, v in module.state_dict().items()}

    def validate(devices, strategy):
        dm2, m2 = build(root, tmp_path)
        m2.load_state_dict(state)
        trainer = L.Trainer(accelerator="cpu", devices=devices, strategy=strategy, logger=False,
                            enable_checkpointing=False, enable_progress_bar=False,
                            enable_model_summary=False, use_distributed_sampler=False)
        return trainer.validate(m2, datamodule=dm2, verbose=False)[0]

    single = validate(1, "auto")
    double = validate(2, "ddp_spawn")
    assert 0 < single["val/cer"]
    for key in ("val/cer", "val/wer", "val/acc"):
        assert double[key] == pytest.approx(single[key], abs=1e-6), key
