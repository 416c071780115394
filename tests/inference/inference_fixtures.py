"""A tiny trained model shared by the inference tests (trained once per test session)."""
from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

from hydra import compose, initialize_config_module

from conftest import compose_train, make_dataset, tiny_train_overrides

DONE = "tiny_run.json"


def tiny_run(tmp_path_factory) -> SimpleNamespace:
    """Train the tiny model of tests/conftest.py on a 24/8/8-line printed dataset (once per
    session, cached in the session's base temp folder) and return where everything is."""
    base = tmp_path_factory.getbasetemp() / "stackmix_tiny_run"
    marker = base / DONE
    if not marker.is_file():
        from stackmix.cli.train import run

        base.mkdir(parents=True, exist_ok=True)
        data = make_dataset(base / "data", counts=(24, 8, 8))
        cfg = compose_train(tiny_train_overrides(data) + ["~callbacks.progress_bar",
                                                          "trainer.enable_progress_bar=false"],
                            base)
        metrics = run(cfg)
        marker.write_text(json.dumps({"best_checkpoint": metrics["best_checkpoint"]}))
    info = json.loads(marker.read_text())
    out = base / "out"
    return SimpleNamespace(base=base, data=base / "data", run_dir=out,
                           ckpt=Path(info["best_checkpoint"]),
                           predictions=out / "predictions_test.csv",
                           test_images=sorted((base / "data" / "lines").glob("*.png"))[32:40])


def compose_prepare(overrides: list[str], tmp_path: Path):
    """Compose conf/prepare.yaml as `python prepare.py <overrides>` would (no Hydra run dir)."""
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        return compose("prepare", overrides=overrides + [f"paths.output_dir={tmp_path}/out",
                                                         f"paths.cache_dir={tmp_path}/cache"])


def tiny_dataset_overrides(data: Path) -> list[str]:
    return ["dataset=custom", f"dataset.root={data}", "dataset.image_h=32", "dataset.image_w=128"]
