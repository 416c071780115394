"""The texts StackMix writes (step 4): a corpus of lines the token bank can render.

Sources (``spec``; read by :mod:`stackmix.mix.corpus_text`):

* ``"train"`` / ``None``: the dataset's own train transcriptions, as they are;
* a UTF-8 text file, several files (a list) or a folder of ``*.txt`` files: an external corpus
  like the original project's ``jigsaw_corpus.txt`` / ``old_russian.txt`` / ``latin_corpus.txt``;
* ``"wordfreq:<lang>"``: word sequences drawn from the ``wordfreq`` package's frequency list of
  that language (no download needed), words drawn in proportion to their frequency.

Every external line is normalized with the dataset's normalizer and cut at spaces into pieces
whose target lengths are drawn from the train lines' length distribution (capped at ``max_len``,
110 characters as in the original project), so generated lines look like the dataset's; pieces
longer than ``max_len`` (a single huge token), shorter than ``min_len`` or holding a character the
bank cannot render are dropped and counted (:meth:`CorpusStats.report`).

Storage (:mod:`stackmix.mix.corpus_store`): the usable lines are kept as ONE UTF-8 byte array
plus an int64 offset array (:class:`CorpusLines`), never as a Python list of strings. With ``cache_dir`` the arrays are
written once (streaming through the source, atomically) to ``<cache_dir>/<key>.bytes`` /
``.offsets.npy`` / ``.json`` and memory-mapped by every DataLoader worker, so a corpus of
hundreds of MB costs its size once in the page cache, not once per worker. The key covers the
source files (path, size, mtime), the normalizer, the bank's characters, the length
distribution and the settings, so any change rebuilds.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

import numpy as np

from stackmix.mix.corpus_store import CorpusLines, LinesWriter
from stackmix.mix.corpus_text import (WORDFREQ_PREFIX, CorpusError, CorpusNotFoundError,
                                      corpus_files, cut_line, iter_file_lines, wordfreq_lines)

__all__ = ["FORMAT_VERSION", "PAPER_MAX_LEN", "Corpus", "CorpusError", "CorpusLines",
           "CorpusNotFoundError", "CorpusStats", "build_corpus", "cut_line", "describe_spec"]

log = logging.getLogger(__name__)

PAPER_MAX_LEN = 110  # the original project keeps corpus lines of at most 110 characters
FORMAT_VERSION = 1


# ----------------------------------------------------------------------------------- stats
@dataclass
class CorpusStats:
    source: str
    read: int = 0  # source lines (or generated word sequences) read
    pieces: int = 0  # lines after normalization and cutting, before filtering
    usable: int = 0
    dropped_chars: int = 0
    dropped_long: int = 0
    dropped_short: int = 0
    missing: Counter = field(default_factory=Counter)  # unrenderable character -> lines

    def report(self) -> str:
        what = (f"{self.usable} of {self.pieces} lines usable" if self.pieces == self.read else
                f"{self.usable} of {self.pieces} lines usable (cut from {self.read} source lines)")
        parts = [f"corpus ({self.source}): {what}"]
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

    def to_dict(self) -> dict:
        d = asdict(self)
        d["missing"] = dict(self.missing.most_common(50))
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "CorpusStats":
        d = dict(d)
        d["missing"] = Counter(d.get("missing") or {})
        return cls(**d)


@dataclass
class Corpus:
    """The usable lines (:class:`CorpusLines`) and how they were obtained."""

    lines: CorpusLines
    stats: CorpusStats

    def __len__(self) -> int:
        return len(self.lines)

    @property
    def source(self) -> str:
        return self.stats.source

    def report(self) -> str:
        return self.stats.report()


# ----------------------------------------------------------------------------------- building
def _is_train(spec) -> bool:
    return spec is None or (isinstance(spec, str) and spec.strip() in ("", "train"))


def describe_spec(spec) -> str:
    if _is_train(spec):
        return "train transcriptions"
    if isinstance(spec, (str, os.PathLike)):
        return str(spec)
    return ", ".join(str(s) for s in spec)


def _cache_key(spec, files: list[Path], settings: dict) -> str:
    src = ([str(spec)] if not files else
           [(str(f.resolve()), f.stat().st_size, f.stat().st_mtime_ns) for f in files])
    blob = json.dumps({"v": FORMAT_VERSION, "src": src, **settings}, sort_keys=True,
                      ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:20]


def build_corpus(
    spec,
    *,
    train_texts: Sequence[str],
    renderable: set[str] | Callable[[str], bool],
    normalize: Callable[[str], str] = lambda s: s,
    max_len: int | None = None,
    min_len: int = 1,
    seed: int = 0,
    cache_dir: str | os.PathLike | None = None,
    wordfreq_lines_count: int = 100_000,
    wordfreq_words: int = 30_000,
    capitalize_p: float = 0.3,
) -> Corpus:
    """Corpus lines for StackMix (see the module docstring).

    ``renderable``: the characters the generator can draw (or a predicate on characters).
    ``max_len``: longest line; ``None`` means the longest train line for the train
    transcriptions and :data:`PAPER_MAX_LEN` for external corpora. ``cache_dir``: where external
    corpora are stored once, memory-mapped (``None``: built in memory).
    """
    train_texts = [t for t in train_texts if t]
    lengths = [len(t) for t in train_texts] or [40]
    is_ok = renderable if callable(renderable) else renderable.__contains__
    if max_len is None:
        max_len = max(lengths) if _is_train(spec) else PAPER_MAX_LEN
    max_len = int(max_len)
    if max_len < 1:
        raise CorpusError(f"max_len must be >= 1, got {max_len}")
    typical = [n for n in lengths if n <= max_len] or [max_len]
    source = describe_spec(spec)

    files: list[Path] = []
    lang = None
    if isinstance(spec, str) and spec.strip().startswith(WORDFREQ_PREFIX):
        lang = spec.strip()[len(WORDFREQ_PREFIX):].strip()
    elif not _is_train(spec):
        files = corpus_files(spec)

    prefix: Path | None = None
    if cache_dir is not None and not _is_train(spec):
        charset = "".join(sorted(renderable)) if not callable(renderable) else None
        if charset is not None:  # a predicate cannot be hashed: build in memory
            settings = {
                "normalize": getattr(normalize, "to_dict", lambda: repr(normalize))(),
                "chars": charset, "lengths": np.bincount(typical).tolist(),
                "max_len": max_len, "min_len": min_len, "seed": seed,
                "wordfreq": [wordfreq_lines_count, wordfreq_words, capitalize_p] if lang else None,
            }
            prefix = Path(cache_dir).expanduser() / _cache_key(spec, files, settings)
            meta = Path(f"{prefix}.json")
            if meta.is_file():
                try:
                    stats = CorpusStats.from_dict(json.loads(meta.read_text(encoding="utf-8")))
                    lines = CorpusLines.open(prefix)
                    if len(lines) == stats.usable:
                        return _checked(Corpus(lines, stats))
                except (OSError, ValueError, TypeError, KeyError):
                    log.warning("corpus cache %s is unreadable; rebuilding it", meta)

    rng = np.random.default_rng(seed)
    stats = CorpusStats(source)
    if _is_train(spec):
        pieces: Iterable[str] = _count(train_texts, stats)
    elif lang is not None:
        pieces = _count(wordfreq_lines(lang, n_lines=int(wordfreq_lines_count),
                                       n_words=int(wordfreq_words), lengths=typical,
                                       normalize=normalize, renderable=is_ok,
                                       capitalize_p=float(capitalize_p), rng=rng), stats)
    else:
        pieces = _cut(files, normalize, typical, rng, stats)

    tmp = None
    if prefix is not None:
        from stackmix.fs import TMP_MARK, remove_stale_temporaries

        prefix.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(prefix.parent)  # left by a build that was killed
        tmp = prefix.with_name(f".{prefix.name}{TMP_MARK}{os.getpid()}-corpus")
    writer = LinesWriter(Path(f"{tmp}.bytes") if tmp is not None else None)
    ok_cache: dict[str, bool] = {}
    try:
        for t in pieces:
            stats.pieces += 1
            if len(t) > max_len:
                stats.dropped_long += 1
                continue
            if len(t) < min_len:
                stats.dropped_short += 1
                continue
            bad = [c for c in set(t) if not ok_cache.setdefault(c, bool(is_ok(c)))]
            if bad:
                stats.dropped_chars += 1
                stats.missing.update(bad)
                continue
            writer.add(t)
        writer.close()
        stats.usable = writer.n
        if tmp is None:
            return _checked(Corpus(writer.memory(), stats))
        from stackmix.fs import atomic_write_json

        np.save(f"{tmp}.offsets.npy", writer.offsets())
        os.replace(f"{tmp}.bytes", f"{prefix}.bytes")
        os.replace(f"{tmp}.offsets.npy", f"{prefix}.offsets.npy")
        atomic_write_json(f"{prefix}.json", stats.to_dict())  # written last: the completion mark
    finally:
        writer.close()
        if tmp is not None:
            for suffix in (".bytes", ".offsets.npy"):
                Path(f"{tmp}{suffix}").unlink(missing_ok=True)
    return _checked(Corpus(CorpusLines.open(prefix), stats))


def _checked(corpus: Corpus) -> Corpus:
    if len(corpus) == 0:
        raise CorpusError(f"no usable corpus lines: {corpus.report()}")
    return corpus


def _count(texts: Iterable[str], stats: CorpusStats) -> Iterator[str]:
    for t in texts:
        stats.read += 1
        yield t


def _cut(files: list[Path], normalize, lengths, rng, stats: CorpusStats) -> Iterator[str]:
    for f in files:
        for raw in iter_file_lines(f):
            t = normalize(raw)
            if not t:
                continue
            stats.read += 1
            yield from cut_line(t, lengths, rng)
