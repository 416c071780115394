"""Every benchmark script starts (its --help runs), so `make bench` cannot rot unnoticed; the
train-step, StackMix and pipeline benchmarks print their figures on a fresh checkout."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

SCRIPTS = sorted((REPO / "bench").glob("*.py"))


def run_script(name: str, *args: str, timeout: int = 600) -> str:
    proc = subprocess.run([sys.executable, str(REPO / "bench" / name), *args], capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-3000:]
    return proc.stdout


def tiny_synthetic(tmp_path: Path) -> list[str]:
    """Overrides for a 20-line synthetic dataset generated under ``tmp_path`` in seconds."""
    return [f"paths.cache_dir={tmp_path / 'cache'}", "dataset.synthetic.n_train=20",
            "dataset.synthetic.n_valid=4", "dataset.synthetic.n_test=4",
            "dataset.synthetic.workers=0"]


@pytest.mark.parametrize("script", SCRIPTS, ids=[s.name for s in SCRIPTS])
def test_bench_script_help(script):
    proc = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True,
                          timeout=180, cwd=REPO)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "usage" in proc.stdout.lower()


def test_no_bench_script_shadows_the_package():
    assert not (REPO / "bench" / "stackmix.py").exists()


def test_train_step_baseline_prints_both_rates_and_the_ratio():
    out = run_script("train_step.py", "--baseline", "--model", "small", "--height", "48",
                     "--width", "448", "--batch-sizes", "2", "--steps", "2", "--windows", "1",
                     "--warmup", "1", "--threads", "1")
    rates = dict(re.findall(r"bs=2 (original|project)\s*: ([\d.]+) samples/s", out))
    assert set(rates) == {"original", "project"}, out
    assert all(float(r) > 0 for r in rates.values())
    ratio = re.search(r"bs=2 ratio project/original: ([\d.]+)x", out)
    assert ratio, out
    assert float(ratio.group(1)) == pytest.approx(float(rates["project"]) / float(rates["original"]),
                                                 rel=0.05, abs=0.02)


def test_stackmix_gen_on_a_fresh_clone_uses_the_synthetic_true_extents(tmp_path):
    out = run_script("stackmix_gen.py", "--masks", str(tmp_path / "no_masks.json"), "--n", "50",
                     "--override", *tiny_synthetic(tmp_path))
    assert re.search(r"^bank\s+source: true character extents of the synthetic dataset", out, re.M), out
    assert re.search(r"^bank\s+20 masked lines of synthetic", out, re.M), out
    assert re.search(r"^generation [\d.]+ ms/line", out, re.M), out


def test_pipeline_reports_lines_per_worker_count_and_workers_needed(tmp_path):
    out = run_script("pipeline.py", "--dataset", "synthetic", "--augs", "blots_stackmix",
                     "--workers", "0", "1", "--batches", "2", "--batch-size", "4", "--height", "32",
                     "--width", "256", "--step-rate", "100000", "--override",
                     *tiny_synthetic(tmp_path))
    for who in ("main process \\(0 workers\\)", "1 worker"):
        assert re.search(rf"aug=blots_stackmix bs=4 {who}: [\d.]+ lines/s", out), out
    need = re.search(r"aug=blots_stackmix: (\d+) workers keep up with a train step of 100000", out)
    assert need and int(need.group(1)) > 1, out


def test_workers_needed():
    sys.path.insert(0, str(REPO / "bench"))
    from pipeline import workers_needed

    assert workers_needed({0: 500.0, 2: 900.0}, 800.0)[0] == 2      # measured
    assert workers_needed({1: 400.0, 2: 700.0}, 2000.0)[0] == 5     # 400 lines/s per worker
    assert workers_needed({0: 300.0}, 200.0)[0] == 1                # never 0: loading runs beside the step


def test_rotation_cut_measures_what_a_framed_rotation_loses(tmp_path):
    from conftest import make_dataset
    long = "the quick brown fox jumps over the lazy dog and runs far away"  # ~16 times as wide as high
    root = make_dataset(tmp_path / "data", counts=(6, 1, 1), texts=[long] * 8)
    out = run_script("rotation_cut.py", "--data", str(root), "--angles", "3", "0")
    cut = dict(re.findall(r"rotated by ([\d.]+) deg within the frame: ink cut off mean (-?[\d.]+) %", out))
    assert set(cut) == {"3", "0"}, out
    assert float(cut["3"]) > 1.0 and float(cut["0"]) < 0.5, out  # no turn, nothing cut


def test_channels_last_prints_both_formats_and_the_ratio():
    out = run_script("channels_last.py", "--repeats", "1", "--steps", "1")
    found = re.findall(r"NCHW ([\d.]+) ms/step .* channels_last ([\d.]+) ms/step .*: ([\d.]+)x", out)
    assert len(found) == 2, out
    for nchw, nhwc, ratio in found:
        assert float(ratio) == pytest.approx(float(nchw) / float(nhwc), rel=0.05, abs=0.02)


def test_trim_padding_prints_the_kept_width_and_the_ratio(tmp_path):
    out = run_script("trim_padding.py", "--dataset", "synthetic", "--batches", "2", "--repeats",
                     "1", "--override", *tiny_synthetic(tmp_path), "data.batch_size=4")
    share = re.search(r"trimmed batches keep ([\d.]+) % of the input width", out)
    assert share and 0 < float(share.group(1)) < 100, out  # synthetic lines are shorter than 512 px
    found = re.search(r"full width: ([\d.]+) ms/step .* trimmed: ([\d.]+) ms/step .*: ([\d.]+)x", out)
    assert found, out
    full, cut, ratio = map(float, found.groups())
    assert ratio == pytest.approx(full / cut, rel=0.05, abs=0.02)
