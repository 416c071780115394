"""The CPU recipe (experiment=cpu) gets a 30-line dataset out of CTC's all-blank phase quickly."""
import pytest

from conftest import compose_train, make_dataset


def _recipe(root, tmp_path, steps):
    return compose_train([
        "experiment=cpu", "dataset=custom", f"dataset.root={root}",
        # the recipe's network, schedule and batch size; short lines so CI runs it in seconds
        "dataset.image_h=32", "dataset.image_w=192", "model.net.time_steps=48",
        "trainer.max_time=null", f"trainer.max_steps={steps}", "trainer.val_check_interval=50",
        "trainer.enable_model_summary=false",
        "data.num_workers=0", "logger=csv", "threads=null",
    ], tmp_path)


@pytest.mark.parametrize("steps", [250])
def test_thirty_lines_leave_the_all_blank_phase(tmp_path, steps):
    from stackmix.cli.train import run

    root = make_dataset(tmp_path / "d30", counts=(30, 8, 8))
    metrics = run(_recipe(root, tmp_path, steps))
    assert metrics["all_blank"] is False
    assert metrics["counts"]["train"] == 30
    # it reads: most test characters right after a few hundred steps
    assert metrics["test/cer"] < 0.5


def test_a_run_that_stops_in_the_blank_phase_says_so(tmp_path, caplog):
    from stackmix.cli.train import run

    root = make_dataset(tmp_path / "d30", counts=(30, 8, 8))
    with caplog.at_level("WARNING", logger="stackmix.train"):
        metrics = run(_recipe(root, tmp_path, 4))
    assert metrics["all_blank"] is True
    assert "has not left CTC's all-blank phase" in caplog.text
