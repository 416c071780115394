"""An override under a block the chosen config leaves null is a message, not OmegaConf's
AssertionError (stackmix/cli/overrides.py)."""
import pytest

from conftest import cli
from stackmix.cli import overrides
from stackmix.cli.overrides import check_null_blocks
from stackmix.conf.checks import ConfigError


def test_a_key_under_a_block_the_aug_leaves_out_names_the_override_and_the_aug():
    with pytest.raises(ConfigError) as e:
        check_null_blocks("train", ["aug=blots", "aug.stackmix.corpus=train"])
    msg = str(e.value)
    assert msg.startswith("aug.stackmix.corpus=train: aug=blots leaves aug.stackmix null")
    assert "drop the override" in msg
    with pytest.raises(ConfigError, match="aug=none leaves aug.base null"):
        check_null_blocks("train", ["aug.base.clahe.p=0.3"])  # aug=none is the default


def test_a_sweep_names_the_job_that_lacks_the_block():
    with pytest.raises(ConfigError, match=r"aug=base \(a job of this sweep\) leaves aug.stackmix"):
        check_null_blocks("train", ["-m", "aug=stackmix,base", "seed=1,2",
                                    "aug.stackmix.p=0.5,0.8"])


@pytest.mark.parametrize("argv", [
    ["aug=stackmix", "aug.stackmix.corpus=train"],
    ["-m", "aug=blots,blots_stackmix", "aug.blots.p=0.3"],
    ["aug=blots", "aug.nothere.x=1"],           # a misspelt key: Hydra's own message
    ["aug=blots", "aug.stackmix.corpus=train", "--help"],
])
def test_overrides_that_reach_a_block_pass(argv):
    check_null_blocks("train", argv)


def test_a_command_without_a_deep_override_composes_nothing(monkeypatch):
    monkeypatch.setattr(overrides, "_compose", lambda *a: pytest.fail("composed"))
    check_null_blocks("train", ["aug=blots", "trainer.max_time=00:00:01:00", "seed=3"])


def test_train_py_answers_with_one_paragraph(tmp_path):
    proc = cli("train.py", "aug=blots", "aug.stackmix.corpus=train",
               f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "AssertionError" not in proc.stderr
    assert "train.py: error: aug.stackmix.corpus=train: aug=blots leaves" in proc.stderr
    assert not (tmp_path / "run").exists()


def test_prepare_py_answers_with_one_paragraph(tmp_path):
    """prepare.py composes aug too (task=preview_aug, the StackMix tasks): the same check."""
    proc = cli("prepare.py", "task=preview_aug", "aug=blots", "aug.stackmix.p=0.5",
               f"hydra.run.dir={tmp_path}/run", cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr and "AssertionError" not in proc.stderr
    assert "prepare.py: error: aug.stackmix.p=0.5: aug=blots leaves aug.stackmix null" in proc.stderr
    assert not (tmp_path / "run").exists()
