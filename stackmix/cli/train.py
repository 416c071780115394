"""`python train.py ...`: compose the config, train, test the best checkpoint, write the reports.

Only Hydra and OmegaConf are imported before the command line is parsed and the composed config
is checked: `--help`, `--cfg job` and configuration errors answer in about a second, and
Lightning/torch are loaded by :func:`run`.
"""
from __future__ import annotations

import logging
import os
import sys
import time
import warnings
from pathlib import Path

import hydra
from omegaconf import DictConfig, OmegaConf

from stackmix import conf, resolvers  # noqa: F401  (registers the schemas and ${sm.*} resolvers)
from stackmix.cli.errors import reporting_errors
from stackmix.cli.overrides import entry_point
from stackmix.conf.checks import ConfigError, check_train

log = logging.getLogger("stackmix.train")


def build(cfg: DictConfig):
    """Instantiate the DataModule, LightningModule and Trainer from a composed config."""
    from hydra.utils import instantiate

    from stackmix.report import TrainingHistory
    from stackmix.training.checkpoint_io import AtomicCheckpointIO
    from stackmix.model.schedule import ScheduleOnResume
    from stackmix.training.rng import RNGState
    from stackmix.training.throughput import Throughput

    from stackmix.mix import build_generator
    from stackmix.model import init_from as init

    dm = instantiate(cfg.data, dataset=cfg.dataset, aug=cfg.aug, stackmix_factory=build_generator,
                     _recursive_=False)
    model_cfg = cfg.model.copy()
    src = init.load_source(cfg.init_from) if cfg.get("init_from") else None
    if src is not None:  # start from a model: its network, an alphabet per alphabet=union|new
        from stackmix.text import derive_alphabet

        data_alphabet = str(dm.dataset_cfg.get("alphabet") or "") or derive_alphabet(
            s.text for s in dm.marking.stage("train"))
        dm.dataset_cfg["alphabet"] = init.plan_alphabet(src.alphabet, data_alphabet,
                                                        str(cfg.get("alphabet") or "union"))
        model_cfg.net = OmegaConf.create(src.net)
    codec = dm.codec
    module = instantiate(
        model_cfg, alphabet=codec.alphabet, image_h=dm.image_h, image_w=dm.image_w, fit=dm.fit,
        normalize=cfg.dataset.get("normalize"), dataset_name=cfg.dataset.name, _recursive_=False,
    )
    if src is not None:
        init.transfer_weights(module, src, codec.alphabet)
    out_dir = Path(cfg.paths.output_dir)
    callbacks = [instantiate(c) for c in (cfg.get("callbacks") or {}).values() if c]
    history = TrainingHistory(str(out_dir))
    throughput = Throughput()
    callbacks += [history, throughput, RNGState(), ScheduleOnResume()]
    loggers = [instantiate(c) for c in (cfg.get("logger") or {}).values() if c]
    # checkpoints: written atomically in their own folder, loaded with weights_only=True
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False,
                          plugins=[AtomicCheckpointIO()])
    return dm, module, trainer, history, throughput


def run(cfg: DictConfig) -> dict:
    t0 = time.perf_counter()
    _compiler_caches_in(Path(cfg.paths.cache_dir))  # before torch is imported
    import lightning as L

    from stackmix.conf.hardware import set_threads
    from stackmix.inference.evaluation import write_evaluation_report
    from stackmix.report import summary_table, write_metrics, write_predictions
    from stackmix.training.preemption import SubmititPreemption, launcher_resume, submitit_job
    from stackmix.training.resume import check_resume_alphabet, finished_run, resolve_resume

    L.seed_everything(cfg.seed, workers=True)
    set_threads(cfg.get("threads"))
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    resume = launcher_resume(cfg.get("resume"))
    resume_from = resolve_resume(resume, cfg.get("ckpt_path"), out_dir)
    done = finished_run(out_dir, resume_from, cfg.trainer.get("max_epochs"),
                        cfg.trainer.get("max_steps"))
    if done is not None:  # resume=auto on a finished run: say so, change nothing
        print(done["message"], flush=True)
        return done["metrics"]
    if resume_from is None and str(resume) != "auto":
        refuse_used_run_folder(out_dir)
    dm, module, trainer, history, throughput = build(cfg)
    log_config(trainer, cfg)
    log.info("output directory: %s", out_dir)
    if resume_from is not None:
        check_resume_alphabet(resume_from, dm.codec.alphabet)
        log.info("resuming from %s", resume_from)
    preemption = SubmititPreemption().install() if submitit_job() else None
    try:
        with warnings.catch_warnings():
            if resume_from is None:
                # Lightning turns ckpt_path=None into "last" when an OnExceptionCheckpoint is
                # configured, and warns about it; refuse_used_run_folder made sure there is none
                for text in LIGHTNING_LAST_CKPT_WARNINGS:
                    warnings.filterwarnings("ignore", message=text)
            trainer.fit(module, datamodule=dm,
                        ckpt_path=str(resume_from) if resume_from else None, weights_only=True)
    except BaseException:
        if getattr(trainer, "received_sigterm", False):
            _preempted(trainer, out_dir, preemption=preemption)
        raise

    metrics: dict = {"dataset": dm.name, "aug": cfg.aug.get("name"), "seed": cfg.seed, **dm.info()}
    blank = module.all_blank_warning()
    if blank:
        log.warning(blank)
    metrics["all_blank"] = bool(blank)
    metrics.pop("alphabet", None)
    metrics["epochs"] = trainer.current_epoch
    ckpt_cb = trainer.checkpoint_callback
    best = getattr(ckpt_cb, "best_model_path", "") or None
    if ckpt_cb is not None and ckpt_cb.best_model_score is not None:
        metrics["best_val_cer"] = float(ckpt_cb.best_model_score)
    metrics["best_checkpoint"] = best
    metrics["train_samples_per_s"] = throughput.rate
    metrics["nonfinite_steps"] = int(module.nonfinite_steps)
    if resume_from is not None:
        metrics["resumed_from"] = str(resume_from)

    fast = bool(cfg.trainer.get("fast_dev_run"))
    if cfg.get("test_after_fit", True):
        try:
            results = trainer.test(module, datamodule=dm,
                                   ckpt_path=None if fast or not best else best, weights_only=True)
        except BaseException:
            if getattr(trainer, "received_sigterm", False):
                _preempted(trainer, out_dir, testing=True)
            raise
        if results:
            metrics.update({k: float(v) for k, v in results[0].items()})
        if trainer.is_global_zero:
            write_predictions(out_dir / "predictions_test.csv", module.test_rows)
            write_evaluation_report(
                out_dir / "evaluation", module.test_rows, images=dm.splits["test"],
                title=f"{dm.name}: test split", strict=False,
                info={"checkpoint": best, "dataset": dm.name, "aug": cfg.aug.get("name")})
    metrics["wall_time_s"] = time.perf_counter() - t0
    if trainer.is_global_zero:
        write_metrics(out_dir / "metrics.json", metrics)
        print(summary_table(metrics), flush=True)
        log.info("predictions, metrics.json and curves.png are in %s", out_dir)
    return metrics


LIGHTNING_LAST_CKPT_WARNINGS = (
    r"`\.fit\(ckpt_path=None\)` was called without a model",
    r'\.fit\(ckpt_path="last"\) is set, but there is no last checkpoint available',
)


def refuse_used_run_folder(out_dir: Path) -> None:
    """A new run must not start in the folder of an earlier one: Lightning would silently restore
    its last checkpoint (and the two runs' files would mix)."""
    found = sorted(p.name for p in (out_dir / "checkpoints").glob("*.ckpt"))
    if found:
        shown = ", ".join(found[:4]) + (f" and {len(found) - 4} more" if len(found) > 4 else "")
        raise ConfigError(
            f"{out_dir} already holds the checkpoints of a run ({shown}). Continue that run with "
            "resume=auto (same hydra.run.dir), start from one of its checkpoints in a new folder "
            f"with resume={out_dir} and no hydra.run.dir, or choose an empty hydra.run.dir.")


def log_config(trainer, cfg: DictConfig) -> None:
    """The whole composed config (dataset, aug, model, data, trainer, seed...) as the run's
    hyperparameters in every logger (CSV hparams.yaml, TensorBoard, W&B config)."""
    from omegaconf import OmegaConf

    params = OmegaConf.to_container(cfg, resolve=True)
    for logger in trainer.loggers:
        logger.log_hyperparams(params)


_CACHE_VARS = {"TORCHINDUCTOR_CACHE_DIR": "torchinductor", "TRITON_CACHE_DIR": "triton"}
_set_here: dict[str, str] = {}  # the values this module put in the environment


def _compiler_caches_in(cache_dir: Path) -> None:
    """torch.compile / Triton caches go to the configured cache folder unless the user set them
    (torch would otherwise make $TMPDIR/torchinductor_<user> as soon as it is imported)."""
    cache_dir = cache_dir.expanduser().resolve()
    for var, sub in _CACHE_VARS.items():
        if var not in os.environ or os.environ[var] == _set_here.get(var):
            os.environ[var] = _set_here[var] = str(cache_dir / sub)


PREEMPTED_EXIT_CODE = 128 + 15  # as if killed by SIGTERM: schedulers see the job did not finish


def _preempted(trainer, out_dir: Path, testing: bool = False, preemption=None) -> None:
    """SIGTERM (e.g. SLURM preemption): the checkpoint is written (callbacks.on_exception); say how
    to continue and exit with 143 rather than Lightning's exit status 0. ``preemption``: the
    SubmititPreemption handler of a submitit job (it requeues the job)."""
    if testing:
        # training is complete (last.ckpt); the exception checkpoint holds the test's weights
        (out_dir / "checkpoints" / "on_exception.ckpt").unlink(missing_ok=True)
        msg = (f"stopped by SIGTERM while testing, after training finished ({trainer.current_epoch} "
               f"epochs, step {trainer.global_step}); nothing is retrained when you continue with "
               f"the same command plus hydra.run.dir={out_dir} resume=auto: it runs the test")
        log.warning(msg)
        print(msg, file=sys.stderr, flush=True)
        raise SystemExit(PREEMPTED_EXIT_CODE)
    ckpts = sorted((out_dir / "checkpoints").glob("*.ckpt"), key=lambda p: p.stat().st_mtime)
    where = ckpts[-1] if ckpts else "none (callbacks.on_exception is disabled)"
    msg = (f"stopped by SIGTERM at epoch {trainer.current_epoch}, step {trainer.global_step}; "
           f"checkpoint: {where}. Continue with the same command plus "
           f"hydra.run.dir={out_dir} resume=auto")
    log.warning(msg)
    print(msg, file=sys.stderr, flush=True)
    if preemption is not None and preemption.received:
        preemption.requeue()  # submitit: resubmit this job (it resumes with resume=auto)
    raise SystemExit(PREEMPTED_EXIT_CODE)


def objective(metrics: dict) -> float | None:
    """The value main() returns to Hydra sweepers (Optuna minimizes it): the best validation CER.
    Never the test CER: a search tuned on the test split would report an optimistic result."""
    return metrics.get("best_val_cer")


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def hydra_main(cfg: DictConfig) -> float | None:
    def train() -> float | None:
        check_train(cfg)
        return objective(run(cfg))

    return reporting_errors("train.py", train)


# the scripts and console entry points: a null-block override is a message, then Hydra
main = entry_point("train.py", "train", hydra_main)

if __name__ == "__main__":
    main()
