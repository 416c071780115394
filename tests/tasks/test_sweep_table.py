"""`prepare.py task=sweep_table`: the results table of a fake multirun folder."""
import csv
import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "inference"))
from inference_fixtures import compose_prepare  # noqa: E402

from stackmix.tasks import sweep_table  # noqa: E402

# dataset -> aug -> [(seed, cer, wer)]
RESULTS = {
    "iam": {"base": [(1, 0.10, 0.30), (2, 0.12, 0.34), (3, 0.14, 0.32)],
            "blots": [(1, 0.09, 0.28), (2, 0.11, 0.30)],
            "stackmix": [(1, 0.08, 0.25), (2, 0.08, 0.27), (3, 0.11, 0.26)],
            "blots_stackmix": [(1, 0.07, 0.20), (2, 0.07, 0.20), (3, 0.07, 0.20)]},
    "poilus": {"base": [(1, 0.20, 0.50)], "stackmix": [(1, 0.15, 0.45), (2, 0.17, 0.47)]},
}


def fake_multirun(root: Path) -> Path:
    sweep = root / "multirun" / "train" / "2026-01-02_03-04-05"
    n = 0
    for ds, augs in RESULTS.items():
        for aug, runs in augs.items():
            for seed, cer, wer in runs:
                d = sweep / f"{n}_aug={aug},dataset={ds}"
                (d / ".hydra").mkdir(parents=True)
                (d / ".hydra" / "config.yaml").write_text(
                    f"dataset:\n  name: {ds}\naug:\n  name: {aug}\nseed: {seed}\n")
                (d / "metrics.json").write_text(json.dumps(
                    {"dataset": ds, "aug": aug, "seed": seed, "test/cer": cer, "test/wer": wer}))
                n += 1
    # an unfinished run and one whose metrics.json lacks the names (read from .hydra)
    (sweep / "98_aug=base,dataset=iam").mkdir()
    (sweep / "98_aug=base,dataset=iam" / "metrics.json").write_text(json.dumps({"epochs": 1}))
    d = sweep / "99_aug=none,dataset=poilus"
    (d / ".hydra").mkdir(parents=True)
    (d / ".hydra" / "config.yaml").write_text("dataset:\n  name: poilus\naug:\n  name: none\nseed: 7\n")
    (d / "metrics.json").write_text(json.dumps({"test/cer": 0.3, "test/wer": 0.6}))
    return sweep


def test_sweep_table_from_a_fake_multirun(tmp_path, capsys):
    sweep = fake_multirun(tmp_path)
    cfg = compose_prepare(["task=sweep_table", f"task.multirun={sweep.parent}"], tmp_path)
    res = sweep_table.run(cfg)
    assert res["runs"] == 15 and len(res["skipped"]) == 1
    assert res["columns"] == ["base", "blots", "stackmix", "blots_stackmix", "none"]
    table = res["table"]
    c = table["iam"]["base"]
    assert c.n == 3
    assert c.cer_mean == pytest.approx(0.12) and c.cer_std == pytest.approx(0.02)  # sample std
    assert c.wer_mean == pytest.approx(0.32) and c.wer_std == pytest.approx(0.02)
    assert table["iam"]["blots_stackmix"].cer_std == pytest.approx(0.0)
    assert table["poilus"]["none"].cer_mean == pytest.approx(0.3)

    out = sweep.parent  # default: next to the runs
    md = (out / "sweep_table.md").read_text(encoding="utf-8")
    assert "| dataset | base | blots | stackmix | blots_stackmix | none |" in md
    assert "| iam | 12.00 ± 2.00 (n=3) | 10.00 ± 1.41 (n=2) | 9.00 ± 1.73 (n=3) | 7.00 ± 0.00 (n=3) | – |" in md
    assert "| poilus | 20.00 (n=1) | – | 16.00 ± 1.41 (n=2) | – | 30.00 (n=1) |" in md
    assert "| iam | 32.00 ± 2.00 (n=3) |" in md  # the WER table
    rows = {r["dataset"]: r for r in csv.DictReader((out / "sweep_table.csv").open())}
    assert float(rows["iam"]["stackmix_cer_mean"]) == pytest.approx(9.0)
    assert float(rows["iam"]["stackmix_cer_std"]) == pytest.approx(1.7320508, abs=1e-4)
    assert float(rows["poilus"]["stackmix_wer_mean"]) == pytest.approx(46.0)
    assert rows["poilus"]["blots_n"] == "" and rows["iam"]["blots_n"] == "2"
    assert (out / "sweep_table.png").stat().st_size > 5000
    assert len(list(csv.DictReader((out / "sweep_runs.csv").open()))) == 15
    assert "blots_stackmix" in capsys.readouterr().out


def test_sweep_table_keeps_the_newest_duplicate_and_fails_clearly(tmp_path):
    sweep = fake_multirun(tmp_path)
    again = tmp_path / "multirun" / "train" / "2026-02-01_00-00-00" / "0_aug=base,dataset=poilus"
    again.mkdir(parents=True)
    (again / "metrics.json").write_text(json.dumps(
        {"dataset": "poilus", "aug": "base", "seed": 1, "test/cer": 0.4, "test/wer": 0.8}))
    res = sweep_table.write_sweep_table(sweep.parent, tmp_path / "tables")
    assert res["table"]["poilus"]["base"].cer_mean == pytest.approx(0.4)
    assert (tmp_path / "tables" / "sweep_table.csv").is_file()
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match="no finished runs"):
        sweep_table.write_sweep_table(empty)
    with pytest.raises(FileNotFoundError, match="missing"):
        sweep_table.write_sweep_table(tmp_path / "missing")
