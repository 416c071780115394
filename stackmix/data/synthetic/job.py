"""Generating the synthetic dataset: one job per line (deterministic whatever the number of
worker processes), the folder written atomically and reused while its parameters match."""
from __future__ import annotations

import json
import logging
import multiprocessing as mp
import os
import shutil
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np
from filelock import FileLock

from stackmix.data.marking import STAGES, write_marking
from stackmix.data.synthetic.fonts import font_files, font_metrics
from stackmix.data.synthetic.params import (EXTENTS_FILE, LINES_DIR, PARAMS_FILE, RUN_KEYS,
                                            SyntheticDataError, stamp, synthetic_params)
from stackmix.data.synthetic.rendering import Rendered, render_line
from stackmix.data.synthetic.texts import cdf_of, load_words, sample_text
from stackmix.fs import atomic_write_json, atomic_write_text

log = logging.getLogger("stackmix.data.synthetic")


@dataclass(frozen=True)
class _Job:
    out_dir: str
    stage: str
    index: int
    params: dict


def _sample_id(stage: str, index: int) -> str:
    return f"{stage}_{index:06d}"


def _line_rng(seed: int, stage: str, index: int) -> np.random.Generator:
    """The generator of one line: a function of (seed, stage, index) only."""
    return np.random.default_rng([seed, STAGES.index(stage), index])


@lru_cache(maxsize=8)
def _vocabulary(vocab_size: int) -> tuple[tuple[str, ...], np.ndarray, np.ndarray]:
    words, probs = load_words(vocab_size)
    return words, probs, cdf_of(probs)


def make_line(params: dict, stage: str, index: int) -> tuple[str, str, Rendered]:
    """Text, font family and rendering of line ``index`` of ``stage`` (deterministic)."""
    rng = _line_rng(params["seed"], stage, index)
    words, probs, cdf = _vocabulary(params["vocab_size"])
    text = sample_text(rng, words, probs, params["min_words"], params["max_words"],
                       params["max_chars"], cdf=cdf)
    families = params["fonts"][stage]
    family = families[int(rng.integers(len(families)))]
    files = font_files(family)
    font_file = files[int(rng.integers(len(files)))]
    rendered = render_line(text, font_file, rng, tuple(params["x_height"]))
    return text, family, rendered


def _run_job(job: _Job) -> dict:
    text, family, rendered = make_line(job.params, job.stage, job.index)
    sid = _sample_id(job.stage, job.index)
    rel = f"{LINES_DIR}/{sid}.png"
    ok, buf = cv2.imencode(".png", rendered.image, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:  # pragma: no cover
        raise SyntheticDataError(f"cannot encode {rel}")
    Path(job.out_dir, rel).write_bytes(buf.tobytes())
    return {"sample_id": sid, "path": rel, "stage": job.stage, "text": text, "font": family,
            "extents": rendered.extents}


def _jobs(out_dir: Path, params: dict) -> list[_Job]:
    return [_Job(str(out_dir), st, i, params) for st in STAGES for i in range(params[f"n_{st}"])]


def _init_worker() -> None:
    """One OpenCV thread per worker process: the processes already share out the cores."""
    cv2.setNumThreads(1)


def _results(jobs: list[_Job], workers: int) -> Iterator[dict]:
    if workers <= 1 or len(jobs) < 4 * workers:
        yield from map(_run_job, jobs)
        return
    ctx = mp.get_context("spawn")  # safe whatever the parent holds (threads, CUDA)
    with ctx.Pool(workers, initializer=_init_worker) as pool:
        yield from pool.imap(_run_job, jobs, chunksize=16)


def generate_synthetic(out_dir: str | Path, *, workers: int = 2, progress: bool = True,
                       **params) -> Path:
    """Generate the dataset into ``out_dir`` (created; must not hold files) and return it.

    Writes ``lines/*.png``, ``marking.csv``, ``char_extents.json`` and, last,
    ``synthetic.json`` (format version + parameters). ``workers`` processes render lines (the
    output is the same for any number); ``progress`` shows a tqdm bar. Logs a one-line summary.
    """
    out_dir = Path(out_dir)
    summary = _generate(out_dir, synthetic_params(**params), workers, progress)
    log.info("%s -> %s", summary, out_dir)
    return out_dir


def _generate(out_dir: Path, params: dict, workers: int, progress: bool) -> str:
    """Write the dataset for complete ``params`` into ``out_dir``; return a summary line."""
    from tqdm.auto import tqdm

    for stage in STAGES:  # fail early, in this process, on a missing font package
        for family in params["fonts"][stage]:
            for f in font_files(family):
                font_metrics(str(f))
    if out_dir.exists() and any(out_dir.iterdir()):
        raise SyntheticDataError(f"{out_dir} is not empty; generate into a new folder")
    (out_dir / LINES_DIR).mkdir(parents=True, exist_ok=True)
    jobs = _jobs(out_dir, params)
    start = time.perf_counter()
    rows: list[dict] = []
    bar = tqdm(total=len(jobs), desc="synthetic dataset", unit="line", disable=not progress)
    with bar:
        for row in _results(jobs, workers):
            rows.append(row)
            bar.update(1)
    extents = {r["sample_id"]: r.pop("extents") for r in rows}
    write_marking(out_dir, rows, extra_columns=("font",))
    atomic_write_text(out_dir / EXTENTS_FILE,
                      json.dumps(extents, separators=(",", ":")) + "\n")
    atomic_write_json(out_dir / PARAMS_FILE, stamp(params))
    counts = ", ".join(f"{st} {params[f'n_{st}']}" for st in STAGES)
    fonts = "; ".join(f"{st}: {', '.join(params['fonts'][st])}" for st in STAGES)
    return (f"synthetic dataset generated: {len(rows)} lines ({counts}; fonts {fonts}) "
            f"in {time.perf_counter() - start:.1f} s with {max(1, workers)} worker(s)")


def is_complete(root: str | Path, params: dict) -> bool:
    """True when ``root`` holds a finished dataset generated with exactly ``params``."""
    root = Path(root)
    try:
        found = json.loads((root / PARAMS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (found == stamp(params) and (root / "marking.csv").is_file()
            and (root / EXTENTS_FILE).is_file())


def ensure_synthetic(root: str | Path, **params) -> Path:
    """Return ``root`` holding the synthetic dataset for ``params``, generating it if needed.

    Reuses ``root`` when its ``synthetic.json`` matches the format version and parameters.
    Otherwise generates into a hidden sibling folder and renames it to ``root`` (an older or
    incomplete ``root`` is removed), so an interrupted run never leaves a folder that is trusted
    later. Concurrent callers are serialized by a lock file next to ``root``.
    """
    root = Path(root).expanduser().absolute()
    run = {k: params.pop(k) for k in RUN_KEYS if k in params}
    full = synthetic_params(**params)
    if is_complete(root, full):
        log.debug("synthetic dataset up to date in %s", root)
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(root.parent / f".{root.name}.lock"):
        if is_complete(root, full):
            return root
        for stale in root.parent.glob(f".{root.name}.tmp-*"):
            shutil.rmtree(stale, ignore_errors=True)
        tmp = root.parent / f".{root.name}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        try:
            summary = _generate(tmp, full, int(run.get("workers", 2)),
                                bool(run.get("progress", True)))
            if root.exists():
                old = root.parent / f".{root.name}.tmp-old-{uuid.uuid4().hex[:8]}"
                log.info("replacing %s (different parameters or incomplete)", root)
                os.replace(root, old)
                shutil.rmtree(old, ignore_errors=True)
            os.replace(tmp, root)
            log.info("%s -> %s", summary, root)
        finally:
            if tmp.exists():
                shutil.rmtree(tmp, ignore_errors=True)
    return root
