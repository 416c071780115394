"""CTC outputs → labels: the one implementation of best-path decoding and forced alignment.

Everything that turns per-frame CTC log-probabilities (T, C) into characters goes through this
module: training validation and testing (:mod:`stackmix.model.module`), the text codec
(:mod:`stackmix.text`), the inference decoders (:mod:`stackmix.inference.decoders`) and the char
masks of StackMix (:mod:`stackmix.mix.boundaries`). Class 0 is the blank.

- :func:`collapse`: a frame path → labels (merge repeats, then drop blanks).
- :func:`emission_runs`: the same, keeping each label's frame range (its *run*);
  :func:`greedy_runs`: the runs of the argmax path of CTC outputs.
- :func:`best_path`: greedy decoding of one line: labels and, per label, its highest posterior
  over the frames of its run (the character's confidence).
- :func:`forced_align`: the most likely CTC path (Viterbi) that collapses to given labels.
- :func:`run_confidences`: per run, its label's highest posterior over the run's frames;
  :func:`mean_confidence`: a line's confidence.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

BLANK = 0


@dataclass(frozen=True)
class Runs:
    """Per emitted character: its class index and frame range ``[start, end)``."""

    labels: np.ndarray  # (n,) int
    starts: np.ndarray  # (n,) int
    ends: np.ndarray  # (n,) int, exclusive

    def __len__(self) -> int:
        return len(self.labels)


def emission_runs(path: Sequence[int]) -> Runs:
    """Runs of a frame path: maximal blocks of one repeated non-blank class.

    Repeats merge into one character; a blank between two equal classes separates two characters.
    """
    path = np.asarray(path, dtype=np.int64).reshape(-1)
    t = len(path)
    if t == 0:
        e = np.zeros(0, dtype=np.int64)
        return Runs(e, e, e)
    change = np.ones(t, dtype=bool)
    change[1:] = path[1:] != path[:-1]
    starts = np.flatnonzero(change)
    ends = np.append(starts[1:], t)
    labels = path[starts]
    keep = labels != BLANK
    return Runs(labels[keep], starts[keep], ends[keep])


def collapse(path: Sequence[int]) -> list[int]:
    """Best-path collapse: merge repeats, then drop blanks."""
    return emission_runs(path).labels.tolist()


def min_frames(labels: Sequence[int]) -> int:
    """Frames CTC needs to emit ``labels``: one per symbol plus one blank between repeats."""
    labels = list(labels)
    repeats = sum(1 for a, b in zip(labels, labels[1:]) if a == b)
    return len(labels) + repeats


def as_log_probs(log_probs) -> np.ndarray:
    """A tensor or array (B, T, C) or (T, C) → float32 numpy (B, T, C)."""
    if hasattr(log_probs, "detach"):
        log_probs = log_probs.detach().float().cpu().numpy()
    arr = np.asarray(log_probs, dtype=np.float32)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        raise ValueError(f"log-probabilities must be (B, T, C) or (T, C), got shape {arr.shape}")
    return arr


def run_confidences(log_probs: np.ndarray, runs: Runs) -> list[float]:
    """Per run: the highest posterior of its label over the run's frames (in [0, 1])."""
    lp = np.asarray(log_probs)
    return [float(np.exp(lp[s:e, c].max())) for c, s, e in
            zip(runs.labels.tolist(), runs.starts.tolist(), runs.ends.tolist())]


def mean_confidence(char_probs: Sequence[float]) -> float:
    """A line's confidence: the mean of its characters' confidences; 0 for an empty line (a line
    read as nothing must not pass a confidence filter on the strength of the blank's posterior)."""
    return float(np.mean(char_probs)) if len(char_probs) else 0.0


def greedy_runs(log_probs: np.ndarray) -> Runs:
    """The runs of the best (argmax) path of one line (T, C)."""
    return emission_runs(np.asarray(log_probs).argmax(-1))


def best_path(log_probs: np.ndarray) -> tuple[list[int], list[float]]:
    """Greedy decoding of one line (T, C): the labels of the argmax path and, per label, its
    highest posterior over the frames of its run."""
    lp = np.asarray(log_probs)
    runs = greedy_runs(lp)
    return runs.labels.tolist(), run_confidences(lp, runs)


def best_paths(log_probs) -> list[tuple[list[int], list[float]]]:
    """:func:`best_path` of every line of a batch (B, T, C) (tensor or array)."""
    return [best_path(lp) for lp in as_log_probs(log_probs)]


def forced_align(log_probs: np.ndarray, labels: Sequence[int]) -> Runs | None:
    """Viterbi alignment of ``labels`` (class indices, no blanks) to ``log_probs`` (T, C).

    Returns the runs of the most likely CTC path that collapses to ``labels``, or ``None`` when
    there is none (more frames needed than the line has, see :func:`min_frames`) or ``labels`` is
    empty. The CTC topology: blank and label states alternate (``_ l1 _ l2 ... _``); a state is
    entered from itself, from the previous state, or by skipping the blank between two labels
    that *differ* (a repeated label needs its blank). Ties go to staying in the same state, then
    to the previous state, then to the skip (so a character starts as early as the scores
    allow); the path ends in the trailing blank rather than on the last label when both score the
    same.
    """
    lp = np.asarray(log_probs, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.int64).reshape(-1)
    t_len, n = lp.shape[0], len(labels)
    if n == 0 or t_len == 0:
        return None
    s_len = 2 * n + 1
    ext = np.zeros(s_len, dtype=np.int64)
    ext[1::2] = labels
    emit = lp[:, ext]  # (T, S)
    can_skip = np.zeros(s_len, dtype=bool)  # s-2 -> s: a label state differing from the previous
    can_skip[3::2] = labels[1:] != labels[:-1]
    neg = -np.inf
    alpha = np.full(s_len, neg)
    alpha[0] = emit[0, 0]
    alpha[1] = emit[0, 1]
    back = np.zeros((t_len, s_len), dtype=np.int8)  # 0 stay, 1 from s-1, 2 from s-2
    cand = np.full((3, s_len), neg)
    cols = np.arange(s_len)
    for t in range(1, t_len):
        cand[0] = alpha
        cand[1, 1:] = alpha[:-1]
        cand[2, 2:] = np.where(can_skip[2:], alpha[:-2], neg)
        best = cand.argmax(0)  # the first of equal candidates: stay, then s-1, then s-2
        alpha = cand[best, cols] + emit[t]
        back[t] = best
    last = s_len - 1 if alpha[s_len - 1] >= alpha[s_len - 2] else s_len - 2
    if not np.isfinite(alpha[last]):
        return None
    states = np.empty(t_len, dtype=np.int64)
    s = last
    for t in range(t_len - 1, -1, -1):
        states[t] = s
        s -= int(back[t, s])
    frames = np.flatnonzero(states % 2 == 1)
    k = (states[frames] - 1) // 2
    starts = np.full(n, -1, dtype=np.int64)
    ends = np.zeros(n, dtype=np.int64)
    first = np.ones(len(frames), dtype=bool)  # the frames of label k are contiguous
    first[1:] = k[1:] != k[:-1]
    starts[k[first]] = frames[first]
    final = np.ones(len(frames), dtype=bool)
    final[:-1] = k[1:] != k[:-1]
    ends[k[final]] = frames[final] + 1
    if (starts < 0).any():  # pragma: no cover - a finite CTC path visits every label
        return None
    return Runs(labels.copy(), starts, ends)


def aligned_confidences(log_probs: np.ndarray, labels: Sequence[int]) -> list[float]:
    """Per label: its highest posterior over the frames :func:`forced_align` gives it; when the
    labels cannot be aligned, its highest posterior over the whole line."""
    labels = list(labels)
    if not labels:
        return []
    lp = np.asarray(log_probs)
    runs = forced_align(lp, labels)
    if runs is None:
        return [float(np.exp(lp[:, c].max())) for c in labels]
    return run_confidences(lp, runs)
