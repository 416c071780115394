"""Shared fixtures: tiny on-disk datasets and Hydra config composition with fast overrides."""
from __future__ import annotations

import functools
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
from hydra import compose, initialize_config_module
from omegaconf import OmegaConf

from stackmix import resolvers  # noqa: F401
from stackmix.data.marking import write_marking

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("STACKMIX_SHARED_DATA", REPO.parent / "shared" / "data"))
POILUS = SHARED_DATA / "poilus"

def cli(script: str, *args: str, cwd: Path, **env) -> subprocess.CompletedProcess:
    """Run one of the repository's scripts (train.py, prepare.py, predict.py) as a user does."""
    return subprocess.run([sys.executable, str(REPO / script), *args], capture_output=True,
                          text=True, timeout=1200, cwd=cwd, env={**os.environ, **env})


WORDS = ["abc", "bad", "cab", "dab", "ace", "bead", "face", "fade", "deaf", "cafe"]


def render_line(text: str, height: int = 32) -> np.ndarray:
    """A quick printed line (OpenCV Hershey font): enough for pipeline tests, not for quality."""
    scale = height / 40
    (w, h), base = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    img = np.full((height, w + 8), 255, np.uint8)
    cv2.putText(img, text, (4, height - base - 2), cv2.FONT_HERSHEY_SIMPLEX, scale, 0, 1, cv2.LINE_AA)
    return img


def make_dataset(root: Path, counts=(24, 8, 8), seed: int = 0, texts=None) -> Path:
    """Write a small valid dataset (marking.csv + PNGs) of random word lines."""
    rng = np.random.default_rng(seed)
    (root / "lines").mkdir(parents=True, exist_ok=True)
    rows = []
    i = 0
    for stage, n in zip(("train", "valid", "test"), counts):
        for _ in range(n):
            text = texts[i] if texts else " ".join(rng.choice(WORDS, size=rng.integers(1, 3)))
            rel = f"lines/{i:04d}.png"
            cv2.imwrite(str(root / rel), render_line(text))
            rows.append({"sample_id": f"s{i:04d}", "path": rel, "stage": stage, "text": text,
                         "writer": f"w{i % 3}"})
            i += 1
    write_marking(root, rows, extra_columns=("writer",))
    return root


@pytest.fixture
def tiny_dataset(tmp_path) -> Path:
    return make_dataset(tmp_path / "tiny")


def compose_train(overrides: list[str], tmp_path: Path | None = None):
    """Compose conf/train.yaml as `python train.py <overrides>` would (no Hydra run dir)."""
    extra = []
    if tmp_path is not None:
        extra = [f"paths.output_dir={tmp_path}/out", f"paths.cache_dir={tmp_path}/cache",
                 f"paths.data_dir={tmp_path}/data", f"paths.tokens_dir={tmp_path}/tokens"]
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        return compose("train", overrides=overrides + extra)


def load_aug(name: str, *overrides: str):
    """The composed, resolved ``aug`` block of ``aug=<name>`` (the files are compositions:
    blots_stackmix = base + both blocks), with extra ``aug.*`` overrides."""
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("prepare", overrides=["task=preview_aug", f"aug={name}", *overrides,
                                            "paths.tokens_dir=/tmp/tokens", "dataset.name=dummy"])
    OmegaConf.resolve(cfg.aug)
    return cfg.aug


@functools.lru_cache(maxsize=1)
def _paper_blots_yaml() -> str:
    return OmegaConf.to_yaml(load_aug("blots").blots)


def paper_blots(**overrides):
    """A HandwrittenBlots with the settings of conf/aug/blots.yaml (their one home), some changed."""
    from stackmix.augment import HandwrittenBlots

    cfg = OmegaConf.to_container(OmegaConf.create(_paper_blots_yaml()))
    cfg.pop("_target_")
    return HandwrittenBlots(**{**cfg, **overrides})


def tiny_train_overrides(root: Path) -> list[str]:
    """Overrides that make a training run take seconds on a CPU."""
    return [
        "dataset=custom", f"dataset.root={root}", "dataset.image_h=32", "dataset.image_w=128",
        "model=small", "model.net.time_steps=32", "model.net.lstm_layers=1",
        "model.net.lstm_hidden=32", "model.net.time_feature_count=32",
        "trainer=cpu", "trainer.max_epochs=2", "trainer.log_every_n_steps=1",
        "trainer.enable_model_summary=false", "trainer.num_sanity_val_steps=0",
        "data.batch_size=8", "data.num_workers=0", "logger=csv",
    ]


def untrained_checkpoint(path: Path, alphabet: str = "abcdef ", seed: int = 0) -> Path:
    """A model checkpoint with random weights in the Lightning format (no training: seconds), for
    tests of loading, page handling and weight transfer rather than of reading quality."""
    import lightning
    import torch
    from hydra.utils import instantiate

    torch.manual_seed(seed)
    cfg = compose_train(tiny_train_overrides(path.parent))
    module = instantiate(cfg.model, alphabet=alphabet, image_h=32, image_w=128,
                         normalize=cfg.dataset.normalize, dataset_name="tiny", _recursive_=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save({"state_dict": module.state_dict(), "hyper_parameters": dict(module.hparams),
                "pytorch-lightning_version": lightning.__version__}, path)
    return path
