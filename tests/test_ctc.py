"""stackmix.ctc: the one CTC best-path decoding and forced alignment (used by validation, test,
the inference decoders and the char masks)."""
import numpy as np
import pytest

from stackmix.ctc import (aligned_confidences, best_path, best_paths, collapse, emission_runs,
                          forced_align, mean_confidence, min_frames)
from stackmix.text import CTCCodec


def _probs(rows, num_classes):
    """Log-probabilities from per-frame {class: probability} (the rest shared equally)."""
    out = []
    for row in rows:
        p = np.full(num_classes, (1.0 - sum(row.values())) / (num_classes - len(row)))
        for c, q in row.items():
            p[c] = q
        out.append(p)
    return np.log(np.stack(out))


def test_runs_agree_with_codec_collapse_on_random_paths():
    codec = CTCCodec("abcd")
    rng = np.random.default_rng(0)
    for _ in range(200):
        path = rng.integers(0, 5, size=rng.integers(1, 30))
        runs = emission_runs(path)
        assert runs.labels.tolist() == codec.ctc_collapse(path)
        assert (runs.starts < runs.ends).all()
        assert (runs.ends[:-1] <= runs.starts[1:]).all()


def _log_probs_for(path, num_classes, sharp=8.0):
    lp = np.full((len(path), num_classes), -sharp)
    lp[np.arange(len(path)), path] = 0.0
    return lp - np.log(np.exp(lp).sum(1, keepdims=True))


def test_forced_alignment_recovers_the_path_of_the_reference():
    path = [0, 1, 1, 0, 2, 0, 2, 2, 0, 3, 0]
    lp = _log_probs_for(path, 4)
    runs = forced_align(lp, [1, 2, 2, 3])
    greedy = emission_runs(path)
    assert runs.starts.tolist() == greedy.starts.tolist()
    assert runs.ends.tolist() == greedy.ends.tolist()


def test_forced_alignment_of_a_misread_line_and_infeasible_one():
    # the model reads "ac" but the reference is "ab": the b is placed where the c was emitted
    path = [0, 1, 1, 0, 0, 3, 3, 0]
    lp = _log_probs_for(path, 4, sharp=3.0)
    runs = forced_align(lp, [1, 2])
    assert runs.labels.tolist() == [1, 2]
    assert runs.starts[0] == 1 and runs.starts[1] >= 3
    # "aa" needs 3 frames (a, blank, a): impossible in 2
    assert forced_align(_log_probs_for([1, 1], 3), [1, 1]) is None


def test_aligned_confidences_follow_the_alignment():
    # (moved from tests/inference/test_decoders.py) frames: a _ a _ b(0.66) _
    lp = _probs([{2: 0.98}, {0: 0.98}, {2: 0.98}, {0: 0.98}, {3: 0.66, 5: 0.3}, {0: 0.98}], 12)
    probs = aligned_confidences(lp, [2, 2, 3])
    assert probs[0] == pytest.approx(0.98) and probs[1] == pytest.approx(0.98)
    assert probs[2] == pytest.approx(0.66, abs=1e-6)
    # more labels than frames allow: falls back to each label's best frame
    assert len(aligned_confidences(lp[:2], [2, 2, 3])) == 3


def test_greedy_confidence_is_the_highest_posterior_over_the_characters_frames():
    # "a" on three frames (0.6, 0.9, 0.7), then a blank, then "b" on one frame (0.8)
    lp = _probs([{1: 0.6}, {1: 0.9}, {1: 0.7}, {0: 0.9}, {2: 0.8}], 4)
    labels, probs = best_path(lp)
    assert labels == [1, 2]
    assert probs == pytest.approx([0.9, 0.8])
    assert mean_confidence(probs) == pytest.approx(0.85)
    # a batch (tensor or array) gives the same
    assert best_paths(lp[None])[0][1] == pytest.approx([0.9, 0.8])


def test_an_empty_line_has_confidence_zero():
    lp = _probs([{0: 0.7}] * 4, 3)  # the blank wins every frame with 0.7
    labels, probs = best_path(lp)
    assert labels == [] and probs == []
    assert mean_confidence(probs) == 0.0


def test_collapse_and_min_frames():
    assert collapse([1, 1, 0, 1, 2, 2, 0, 0, 2]) == [1, 1, 2, 2]
    assert collapse([]) == []
    assert min_frames([1, 2, 3]) == 3 and min_frames([1, 1, 2, 2, 2]) == 8


def test_forced_alignment_never_skips_the_blank_between_repeated_labels():
    # the model emits "a" on two adjacent frames with no blank between: a path "a a _ _" would
    # collapse to a single "a", so the alignment of "aa" must put a blank between the two a's
    lp = _probs([{1: 0.9}, {1: 0.9}, {0: 0.9}, {0: 0.9}], 3)
    runs = forced_align(lp, [1, 1])
    assert runs is not None
    assert runs.ends[0] < runs.starts[1]  # at least one blank frame in between
    path = np.zeros(4, dtype=int)
    for c, s, e in zip(runs.labels, runs.starts, runs.ends):
        path[s:e] = c
    assert collapse(path) == [1, 1]


def test_forced_alignment_tie_breaks_are_the_documented_ones():
    # all frames equally likely: every path collapsing to "a" scores the same. Ties stay in the
    # same state first, so "a" starts on frame 0; they end in the trailing blank, so "a" is one
    # frame long and the two later frames are blanks
    lp = np.log(np.full((3, 3), 1 / 3))
    runs = forced_align(lp, [1])
    assert runs.starts.tolist() == [0] and runs.ends.tolist() == [1]
    runs = forced_align(np.log(np.full((5, 3), 1 / 3)), [1, 2])
    assert runs.starts.tolist() == [0, 1] and runs.ends.tolist() == [1, 2]
