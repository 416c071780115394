"""DataLoader plumbing: worker start-up, worker shutdown at exit, mid-epoch resume state.

Signals. SLURM (and ``kill -TERM -<pgid>``) signal every process of a job: DataLoader workers
ignore SIGTERM so the main process can finish its batch and write the preemption checkpoint. A
worker that ignores SIGTERM cannot be stopped by ``multiprocessing``'s exit handler either (it
terminates daemon children with SIGTERM, then waits for them for ever), so every loader of the
data module is a ``WorkerLoader``, which records the worker processes it starts, and
``kill_workers_at_exit`` makes the main process kill those still alive with SIGKILL when it exits,
whatever the stage (training, validation, test) or the reason. (The workers cannot be recognised
from ``multiprocessing.active_children()``: a started ``Process`` no longer holds its target.)

Resume. ``train_progress`` is what the data module saves in every checkpoint (how far the current
training epoch got, and what the data were); ``resume_sampler`` makes a resumed run's sampler
continue that epoch with the same sample order.
"""
from __future__ import annotations

import atexit
import logging
import multiprocessing
import signal
import weakref

from torch.utils.data import DataLoader, get_worker_info

from stackmix.data.sampler import EpochSampler

log = logging.getLogger(__name__)


def worker_init(worker_id: int) -> None:
    from lightning.fabric.utilities.seed import pl_worker_init_function

    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # see the module docstring
    pl_worker_init_function(worker_id)
    info = get_worker_info()
    if info is not None and hasattr(info.dataset, "reseed"):
        info.dataset.reseed(info.seed)


_EXIT_HOOK_INSTALLED = False
_WORKERS: "weakref.WeakSet[multiprocessing.process.BaseProcess]" = weakref.WeakSet()


class WorkerLoader(DataLoader):
    """A DataLoader whose worker processes are recorded for ``kill_workers_at_exit``."""

    def _get_iterator(self):
        iterator = super()._get_iterator()
        _WORKERS.update(getattr(iterator, "_workers", ()))
        return iterator


def kill_workers_at_exit() -> None:
    """Register (once per process) an exit handler that SIGKILLs the DataLoader workers still alive.

    ``atexit`` runs handlers last-in first-out; this one is registered after ``multiprocessing``'s
    (imported with torch), so it runs before that one would wait for the workers for ever."""
    global _EXIT_HOOK_INSTALLED
    if not _EXIT_HOOK_INSTALLED:
        import multiprocessing.util  # noqa: F401  (its exit handler must be registered first)

        atexit.register(_kill_dataloader_workers)
        _EXIT_HOOK_INSTALLED = True


def _kill_dataloader_workers() -> None:
    """At exit: SIGKILL this process's DataLoader workers (of ``WorkerLoader``s) still alive."""
    workers = [p for p in multiprocessing.active_children() if p in _WORKERS]
    if workers and hasattr(signal, "SIGCHLD"):
        # torch's SIGCHLD handler would report the killed workers as a failure of the loader
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    for p in workers:
        p.kill()
    for p in workers:
        p.join(timeout=5)


class ResumableLoader(WorkerLoader):
    """The train loader. Mid-epoch resumption is done by the data module's ``state_dict`` /
    ``load_state_dict``: the data module's state is restored before the loader is built, whereas
    Lightning restores loader states only after ``configure_optimizers`` has already built and
    started iterating the loader (``estimated_stepping_batches`` for OneCycleLR), i.e. too late.
    These methods only mark the loader as resumable for Lightning."""

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state_dict: dict) -> None:
        pass


def train_progress(trainer, batch_size: int, samples: int, seed: int) -> dict:
    done = int(trainer.fit_loop.epoch_loop.batch_progress.current.processed)
    return {"epoch": int(trainer.current_epoch), "batches_done": done,
            "epoch_done": bool(done >= trainer.num_training_batches),
            "batch_size": int(batch_size), "samples": int(samples), "seed": int(seed)}


def resume_sampler(sampler: EpochSampler, state: dict, batch_size: int) -> None:
    """Position ``sampler`` where the checkpoint's epoch stopped (``state``: ``train_progress``)."""
    now = {"batch_size": int(batch_size), "samples": sampler.n, "seed": sampler.seed}
    changed = {k: (state.get(k), v) for k, v in now.items() if state.get(k) != v}
    if changed:
        log.warning(
            "resume: the train data differ from the checkpoint's (%s), so the interrupted "
            "epoch cannot continue in the same order; it restarts from its beginning",
            ", ".join(f"{k} {a} -> {b}" for k, (a, b) in changed.items()))
        return
    sampler.set_epoch(int(state["epoch"]))
    if not state.get("epoch_done") and state.get("batches_done", 0) > 0:
        n = int(state["batches_done"]) * now["batch_size"]
        sampler.skip(n)
        log.info("resume: epoch %d continues after its first %d batches (%d samples)",
                 state["epoch"], state["batches_done"], n)
