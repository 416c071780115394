"""The SLURM (submitit) launcher composes without a cluster; sweeps list one job per run."""
import subprocess
import sys

import yaml
from hydra import compose, initialize_config_module

from conftest import REPO


def test_slurm_launcher_config_composes_on_the_cli():
    cmd = [sys.executable, str(REPO / "train.py"), "hydra/launcher=slurm", "aug=blots", "seed=3",
           "--cfg", "hydra"]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True).stdout
    launcher = yaml.safe_load(out)["hydra"]["launcher"]
    assert launcher["_target_"].endswith("submitit_launcher.SlurmLauncher")
    assert launcher["gpus_per_node"] == 1 and launcher["max_num_timeout"] >= 1
    job = subprocess.run(cmd[:-2] + ["--cfg", "job"], capture_output=True, text=True, timeout=120,
                         check=True).stdout
    assert yaml.safe_load(job)["aug"]["name"] == "blots"


def test_sweep_over_augs_and_seeds_gives_one_job_each(tmp_path):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("train", overrides=["hydra/launcher=slurm", "trainer=ddp",
                                          f"paths.output_dir={tmp_path}"], return_hydra_config=True)
    assert cfg.trainer.strategy == "ddp"
    from hydra.core.override_parser.overrides_parser import OverridesParser

    parser = OverridesParser.create()
    sweep = parser.parse_overrides(["aug=base,blots,stackmix,blots_stackmix", "seed=1,2,3"])
    sizes = [len(list(o.sweep_iterator())) for o in sweep]
    assert sizes == [4, 3]  # 12 jobs
