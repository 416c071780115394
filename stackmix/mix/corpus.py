"""Texts that StackMix writes: the dataset's own train transcriptions (default) or a user's
text file, normalized with the dataset's rules and kept only where the bank can render them.

A text file may hold one line per training line or long paragraphs: any line longer than
``max_len`` is cut at spaces into lines whose lengths follow the train transcriptions' length
distribution (so the generated lines look like the dataset's).
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Sequence

import numpy as np

from stackmix.fs import TextDecodeError, read_text

log = logging.getLogger(__name__)


class CorpusError(ValueError):
    """The corpus cannot be used (missing file, nothing renderable left, ...)."""


@dataclass
class Corpus:
    lines: list[str]
    source: str
    read: int = 0  # lines after normalization and cutting, before filtering
    dropped_chars: int = 0
    dropped_long: int = 0
    dropped_short: int = 0
    missing: Counter = field(default_factory=Counter)  # unrenderable character -> lines

    def __len__(self) -> int:
        return len(self.lines)

    def report(self) -> str:
        parts = [f"corpus ({self.source}): {len(self.lines)} of {self.read} lines usable"]
        drops = []
        if self.dropped_chars:
            top = ", ".join(f"{c!r}×{n}" for c, n in self.missing.most_common(8))
            drops.append(f"{self.dropped_chars} with characters the bank cannot render ({top})")
        if self.dropped_long:
            drops.append(f"{self.dropped_long} longer than max_len")
        if self.dropped_short:
            drops.append(f"{self.dropped_short} shorter than min_len")
        if drops:
            parts.append("dropped " + "; ".join(drops))
        return ", ".join(parts)


def cut_line(text: str, lengths: Sequence[int], rng: np.random.Generator) -> list[str]:
    """Cut ``text`` at spaces into pieces whose target lengths are drawn from ``lengths``.

    Each piece takes whole words while it stays within its target (always at least one word).
    """
    words = text.split(" ")
    out: list[str] = []
    i = 0
    lengths = np.asarray(lengths)
    while i < len(words):
        target = int(lengths[rng.integers(len(lengths))])
        piece = words[i]
        i += 1
        while i < len(words) and len(piece) + 1 + len(words[i]) <= target:
            piece += " " + words[i]
            i += 1
        if piece.strip():
            out.append(piece.strip())
    return out


def read_text_lines(path: str | Path, normalize: Callable[[str], str]) -> list[str]:
    path = Path(path).expanduser()
    if not path.is_file():
        raise CorpusError(f"corpus file not found: {path}")
    try:
        raw = read_text(path)
    except TextDecodeError as e:
        raise CorpusError(f"corpus file {e}") from None
    lines = (normalize(t) for t in raw.splitlines())
    return [t for t in lines if t]


def build_corpus(
    spec: str | Path | None,
    *,
    train_texts: Sequence[str],
    renderable: set[str] | Callable[[str], bool],
    normalize: Callable[[str], str] = lambda s: s,
    max_len: int | None = None,
    min_len: int = 1,
    seed: int = 0,
) -> Corpus:
    """Corpus lines for StackMix.

    ``spec``: ``None`` for the train transcriptions, else a UTF-8 text file. ``renderable``: the
    characters the generator can draw (or a predicate on characters). ``max_len``: longest line in
    characters (``None``: the longest train transcription); longer file lines are cut.
    """
    train_texts = [t for t in train_texts if t]
    lengths = [len(t) for t in train_texts] or [40]
    if max_len is None:
        max_len = max(lengths)
    max_len = int(max_len)
    if max_len < 1:
        raise CorpusError(f"max_len must be >= 1, got {max_len}")
    rng = np.random.default_rng(seed)
    if spec is None or str(spec).strip() in ("", "train"):
        source = "train transcriptions"
        texts: Iterable[str] = train_texts
    else:
        source = str(spec)
        typical = [n for n in lengths if n <= max_len] or [max_len]
        texts = []
        for t in read_text_lines(spec, normalize):
            if len(t) > max_len:
                texts.extend(cut_line(t, typical, rng))
            else:
                texts.append(t)
    is_ok = renderable if callable(renderable) else renderable.__contains__
    corpus = Corpus([], source)
    ok_cache: dict[str, bool] = {}
    for t in texts:
        corpus.read += 1
        if len(t) > max_len:
            corpus.dropped_long += 1
            continue
        if len(t) < min_len:
            corpus.dropped_short += 1
            continue
        bad = [c for c in set(t) if not ok_cache.setdefault(c, bool(is_ok(c)))]
        if bad:
            corpus.dropped_chars += 1
            corpus.missing.update(bad)
            continue
        corpus.lines.append(t)
    if not corpus.lines:
        raise CorpusError(f"no usable corpus lines: {corpus.report()}")
    return corpus
