"""`python train.py ...`: compose the config, train, test the best checkpoint, write the reports."""
from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

from stackmix.resolvers import project_root

# torch makes its compiler cache folder as soon as lightning is imported ($TMPDIR/torchinductor_<user>
# by default): keep it in our cache folder (run() moves it to the configured paths.cache_dir).
_OWN_COMPILER_CACHE = "TORCHINDUCTOR_CACHE_DIR" not in os.environ
if _OWN_COMPILER_CACHE:
    os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(
        Path(os.environ.get("STACKMIX_CACHE") or Path(project_root()) / ".cache") / "torchinductor")

import hydra  # noqa: E402
import lightning as L  # noqa: E402
from hydra.utils import instantiate  # noqa: E402
from omegaconf import DictConfig, OmegaConf  # noqa: E402

from stackmix import resolvers  # noqa: F401  (registers ${sm.*} resolvers)
from stackmix.training.checkpoint_io import AtomicCheckpointIO
from stackmix.training.preemption import SubmititPreemption, launcher_resume, submitit_job
from stackmix.training.resume import check_resume_alphabet, finished_run, resolve_resume
from stackmix.training.rng import RNGState
from stackmix.model.schedule import ScheduleOnResume
from stackmix.report import TrainingHistory, summary_table, write_metrics, write_predictions
from stackmix.inference.evaluation import write_evaluation_report
from stackmix.mix import build_generator

log = logging.getLogger("stackmix.train")


class Throughput(L.Callback):
    """Training samples per second, measured over whole epochs (data loading included)."""

    def __init__(self):
        self.samples = 0
        self.seconds = 0.0
        self._t0 = None
        self._n = 0

    def on_train_start(self, trainer, pl_module):
        # a run resumed mid-epoch starts without on_train_epoch_start
        self._t0 = time.perf_counter()
        self._n = 0

    def on_train_epoch_start(self, trainer, pl_module):
        self._t0 = time.perf_counter()
        self._n = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._n += len(batch["texts"])

    def on_train_epoch_end(self, trainer, pl_module):
        if self._t0 is not None:
            self.seconds += time.perf_counter() - self._t0
            self.samples += self._n

    @property
    def rate(self) -> float | None:
        return self.samples / self.seconds if self.seconds > 0 else None


def build(cfg: DictConfig):
    """Instantiate the DataModule, LightningModule and Trainer from a composed config."""
    dm = instantiate(cfg.data, dataset=cfg.dataset, aug=cfg.aug, stackmix_factory=build_generator,
                     _recursive_=False)
    codec = dm.codec
    module = instantiate(
        cfg.model, alphabet=codec.alphabet, image_h=dm.image_h, image_w=dm.image_w,
        normalize=cfg.dataset.get("normalize"), dataset_name=cfg.dataset.name, _recursive_=False,
    )
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
    L.seed_everything(cfg.seed, workers=True)
    if cfg.get("threads"):
        import torch

        torch.set_num_threads(int(cfg.threads))
    out_dir = Path(cfg.paths.output_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    _compiler_caches_in(Path(cfg.paths.cache_dir))
    resume_from = resolve_resume(launcher_resume(cfg.get("resume")), cfg.get("ckpt_path"), out_dir)
    done = finished_run(out_dir, resume_from, cfg.trainer.get("max_epochs"),
                        cfg.trainer.get("max_steps"))
    if done is not None:  # resume=auto on a finished run: say so, change nothing
        print(done["message"], flush=True)
        return done["metrics"]
    dm, module, trainer, history, throughput = build(cfg)
    log.info("output directory: %s", out_dir)
    if resume_from is not None:
        check_resume_alphabet(resume_from, dm.codec.alphabet)
        log.info("resuming from %s", resume_from)
    preemption = SubmititPreemption().install() if submitit_job() else None
    try:
        trainer.fit(module, datamodule=dm, ckpt_path=str(resume_from) if resume_from else None,
                    weights_only=True)
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


def _compiler_caches_in(cache_dir: Path) -> None:
    """torch.compile / Triton caches go to the configured cache folder unless set by the user."""
    cache_dir = cache_dir.expanduser().resolve()
    if _OWN_COMPILER_CACHE:
        os.environ["TORCHINDUCTOR_CACHE_DIR"] = str(cache_dir / "torchinductor")
    os.environ.setdefault("TRITON_CACHE_DIR", str(cache_dir / "triton"))


PREEMPTED_EXIT_CODE = 128 + 15  # as if killed by SIGTERM: schedulers see the job did not finish


def _preempted(trainer, out_dir: Path, testing: bool = False,
               preemption: SubmititPreemption | None = None) -> None:
    """SIGTERM (e.g. SLURM preemption): the checkpoint is written (callbacks.on_exception); say how
    to continue and exit with 143 rather than Lightning's exit status 0."""
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


@hydra.main(version_base="1.3", config_path="../conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    metrics = run(cfg)
    # Return the optimized value so Hydra sweepers (e.g. Optuna) can use it.
    return metrics.get("test/cer", metrics.get("best_val_cer"))


if __name__ == "__main__":
    main()
