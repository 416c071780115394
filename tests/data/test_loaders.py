"""DataLoader workers ignore SIGTERM (so a SLURM group signal does not kill them before the main
process has written its checkpoint); the main process must still exit promptly, in any stage."""
from __future__ import annotations

import os
import subprocess
import sys
import textwrap

from conftest import REPO

# a process with live persistent workers (as during validation) that exits with 143
EXIT_WITH_LIVE_WORKERS = textwrap.dedent("""
    import signal
    import torch
    from stackmix.data.loaders import WorkerLoader, kill_workers_at_exit

    def ignore_sigterm(worker_id):  # what worker_init does, without importing Lightning
        signal.signal(signal.SIGTERM, signal.SIG_IGN)

    kill_workers_at_exit()
    loader = WorkerLoader(torch.arange(64.0), batch_size=2, num_workers=2,
                          persistent_workers=True, worker_init_fn=ignore_sigterm)
    it = iter(loader)
    next(it)  # workers started, busy prefetching, ignoring SIGTERM
    print("workers:", len(it._workers), flush=True)
    raise SystemExit(143)
""")
TIMEOUT_S = 600  # a bound for a loaded machine (importing torch can take minutes); it hung for ever


def test_exit_with_live_workers_that_ignore_sigterm_is_prompt():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run([sys.executable, "-c", EXIT_WITH_LIVE_WORKERS], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=TIMEOUT_S)
    assert done.returncode == 143, done.stderr[-3000:]
    assert "workers: 2" in done.stdout
    # the workers' deaths are not reported as a loader failure
    assert "Exception ignored" not in done.stderr and "killed by signal" not in done.stderr, \
        done.stderr[-3000:]


def test_the_worker_processes_of_worker_loaders_are_recorded():
    import torch
    from torch.utils.data import DataLoader

    from stackmix.data.loaders import _WORKERS, WorkerLoader

    ours, plain = (iter(cls(torch.arange(8.0), batch_size=2, num_workers=1))
                   for cls in (WorkerLoader, DataLoader))
    next(ours), next(plain)
    assert set(ours._workers) <= set(_WORKERS)
    assert not set(plain._workers) & set(_WORKERS)
    ours._shutdown_workers(), plain._shutdown_workers()
