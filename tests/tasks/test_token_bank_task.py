import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "mix"))
from stackmix_fixtures import make_masked_dataset  # noqa: E402

from stackmix.mix.bank import TokenBank  # noqa: E402
from stackmix.tasks import token_bank as stackmix_task  # noqa: E402


def _cfg(tmp_path, *extra):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        return compose("prepare", overrides=[
            "task=token_bank", "dataset=custom", f"dataset.root={tmp_path}/data",
            f"paths.output_dir={tmp_path}", f"paths.tokens_dir={tmp_path}/tokens",
            "task.progress=false", *extra])


def test_bank_job_writes_one_pixel_file_and_an_index(tmp_path):
    masks = make_masked_dataset(tmp_path / "data")
    masks.save(tmp_path / "tokens" / "custom" / "char_masks.json")
    out = stackmix_task.run(_cfg(tmp_path))
    bank = TokenBank(tmp_path / "tokens" / "custom" / "bank")
    assert bank.height == 32  # the masked model's image_h recorded in the masks
    assert out["crops"] == bank.num_crops and out["lines"] == len(masks.lines)
    assert len(list((tmp_path / "tokens" / "custom").glob("*.pixels.npy"))) == 1
    stackmix_task.run(_cfg(tmp_path, "task.height=24", "task.max_span=3"))
    bank = TokenBank(tmp_path / "tokens" / "custom" / "bank")
    assert bank.height == 24 and int(bank.span_len.max()) == 3


def test_missing_masks_name_the_command(tmp_path):
    with pytest.raises(SystemExit, match="python prepare.py task=char_masks dataset=custom"):
        stackmix_task.run(_cfg(tmp_path))
