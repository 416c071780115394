"""Preemption signals of launcher jobs (SLURM through hydra-submitit-launcher).

submitit sends ``SIGUSR2`` (or ``$SUBMITIT_PREEMPT_SIGNAL``) ``signal_delay_s`` before a job's time
limit or on preemption, and its handler resubmits the same Hydra job (same overrides, same run
folder) and requeues it. On its own that handler would drop the training state of the running
job. ``SubmititPreemption`` puts the training's own step first: the signal is turned into a
SIGTERM for this process (Lightning finishes the batch, ``checkpoints/on_exception.ckpt`` is
written), and only then is submitit's handler called to requeue. Launcher jobs resume with
``resume=auto`` by default (``launcher_resume``), so the requeued job continues from that
checkpoint instead of starting again from step 0.
"""
from __future__ import annotations

import logging
import os
import signal
from typing import Any

log = logging.getLogger(__name__)


def submitit_job() -> bool:
    """True inside a job started by submitit (SLURM or local executor)."""
    return bool(os.environ.get("SUBMITIT_EXECUTOR"))


def launcher_resume(resume: Any) -> Any:
    """``resume`` for this process: ``auto`` for a submitit job that did not set it."""
    if resume in (None, "") and submitit_job():
        log.info("submitit job: resume=auto (a requeued job continues from its checkpoint)")
        return "auto"
    return resume


def preempt_signal() -> signal.Signals:
    name = os.environ.get("SUBMITIT_PREEMPT_SIGNAL", "USR2").upper()
    return signal.Signals[name if name.startswith("SIG") else "SIG" + name]


class SubmititPreemption:
    """Install with ``install()``; after the checkpoint, ``requeue()`` hands over to submitit."""

    def __init__(self):
        self.signum: int | None = None
        self._previous: Any = None

    def install(self) -> "SubmititPreemption":
        sig = preempt_signal()
        self._previous = signal.getsignal(sig)
        signal.signal(sig, self._on_signal)
        return self

    def _on_signal(self, signum: int, frame) -> None:
        log.warning("received %s (preemption or time limit): checkpointing, then requeueing",
                    signal.Signals(signum).name)
        self.signum = signum
        os.kill(os.getpid(), signal.SIGTERM)  # Lightning: finish the batch, write the checkpoint

    @property
    def received(self) -> bool:
        return self.signum is not None

    def requeue(self) -> None:
        """Call the handler that was installed before (submitit's: resubmit and requeue)."""
        if self.signum is not None and callable(self._previous):
            self._previous(self.signum, None)
