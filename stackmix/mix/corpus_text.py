"""Where StackMix's corpus text comes from: text files, folders of ``*.txt``, ``wordfreq:<lang>``
word sequences; and :func:`cut_line`, which cuts a text at spaces to drawn line lengths."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

__all__ = ["CorpusError", "CorpusNotFoundError", "WORDFREQ_PREFIX", "corpus_files", "cut_line",
           "iter_file_lines", "wordfreq_lines"]

WORDFREQ_PREFIX = "wordfreq:"


class CorpusError(ValueError):
    """The corpus cannot be used (missing file, not UTF-8, nothing renderable left, ...)."""


class CorpusNotFoundError(CorpusError, FileNotFoundError):
    """A corpus file or folder named by the configuration does not exist."""


def cut_line(text: str, lengths: Sequence[int], rng: np.random.Generator) -> list[str]:
    """Cut ``text`` at spaces into pieces whose target lengths are drawn from ``lengths``.

    Each piece takes whole words while it stays within its target (always at least one word), so
    a text shorter than its target stays whole.
    """
    words = [w for w in text.split(" ") if w]
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
        out.append(piece)
    return out


def corpus_files(spec: str | os.PathLike | Sequence) -> list[Path]:
    """The text files of a corpus spec: a file, a folder (its ``*.txt``, recursively) or a list."""
    items = [spec] if isinstance(spec, (str, os.PathLike)) else list(spec)
    files: list[Path] = []
    for item in items:
        p = Path(str(item)).expanduser()
        if p.is_file():
            files.append(p)
        elif p.is_dir():
            found = sorted(q for q in p.rglob("*.txt") if q.is_file())
            if not found:
                raise CorpusError(f"corpus folder {p} holds no *.txt files")
            files.extend(found)
        else:
            raise CorpusNotFoundError(f"corpus file not found: {p}")
    if not files:
        raise CorpusError("no corpus file given")
    return files


def iter_file_lines(path: Path) -> Iterator[str]:
    """Lines of a UTF-8 file (BOM accepted), streamed; a decoding error names the line."""
    with open(path, "rb") as fh:
        for no, raw in enumerate(fh, 1):
            if no == 1 and raw.startswith(b"\xef\xbb\xbf"):
                raw = raw[3:]
            try:
                yield raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise CorpusError(f"corpus file {path} is not UTF-8 at line {no} ({e.reason} at "
                                  f"byte {e.start}); convert it, e.g. iconv -f <encoding> -t utf-8"
                                  ) from None


def wordfreq_lines(lang: str, *, n_lines: int, n_words: int, lengths: Sequence[int],
                   normalize: Callable[[str], str], renderable: Callable[[str], bool],
                   capitalize_p: float, rng: np.random.Generator) -> Iterator[str]:
    """``n_lines`` word sequences in ``lang`` from the ``wordfreq`` top-``n_words`` list.

    Only words whose characters the bank can render are used; words are drawn in proportion to
    their frequency and joined until the line reaches its target length (drawn from ``lengths``);
    the first letter is upper-cased with probability ``capitalize_p`` when the bank has it.
    """
    try:
        import wordfreq
    except ImportError as e:  # pragma: no cover - a declared dependency
        raise CorpusError(f"corpus=wordfreq:{lang} needs the wordfreq package ({e})") from None
    langs = sorted(wordfreq.available_languages())
    if lang not in langs:
        raise CorpusError(f"wordfreq has no word list for language {lang!r}; available: "
                          f"{', '.join(langs)}")
    words, freqs = [], []
    for w in wordfreq.top_n_list(lang, n_words):
        w = normalize(w)
        if w and " " not in w and all(renderable(c) for c in w):
            words.append(w)
            freqs.append(wordfreq.word_frequency(w, lang))
    if not words:
        raise CorpusError(f"none of the {n_words} most frequent {lang!r} words can be written "
                          "with the bank's characters (wrong language for this dataset?)")
    p = np.asarray(freqs, np.float64)
    p = p / p.sum() if p.sum() > 0 else None
    lengths = np.asarray(lengths)
    for _ in range(n_lines):
        target = int(lengths[rng.integers(len(lengths))])
        picks = rng.choice(len(words), size=max(1, target // 2), p=p)
        line = words[picks[0]]
        for k in picks[1:]:
            if len(line) + 1 + len(words[k]) > target:
                break
            line += " " + words[k]
        if rng.random() < capitalize_p:
            up = line[0].upper()
            if up != line[0] and len(up) == 1 and renderable(up):
                line = up + line[1:]
        yield line
