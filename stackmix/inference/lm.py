"""Language knowledge for CTC beam search: a character n-gram model and a word lexicon.

Both are small, dependency-free and fast enough for line-level HTR decoding. They work on the
model's own alphabet, so the beam search never has to map between vocabularies.

- :class:`CharNgramLM`: interpolated Witten-Bell character n-gram estimated from plain text lines
  (e.g. the train split's transcriptions, or any corpus). ``score(context, char)`` is a natural
  log-probability; ``"</s>"`` marks the end of the line.
- :class:`Lexicon`: a word list; the beam search penalizes hypotheses whose words (or word
  prefixes) are not in it.
"""
from __future__ import annotations

import math
from collections import defaultdict
from pathlib import Path
from typing import Iterable

EOS = "</s>"
BOS = "\x02"  # padding for the start of the line (never a real character)


class CharNgramLM:
    """Interpolated Witten-Bell character n-gram LM over ``vocab`` (+ end of line).

    P(c | h) = λ_h · ML(c | h) + (1 − λ_h) · P(c | h'), with h' the history shortened by one, and
    λ_h = N(h) / (N(h) + T(h)) (N: count of h, T: distinct characters seen after h). The recursion
    ends with an add-one unigram, so every character of the vocabulary keeps a non-zero
    probability.
    """

    def __init__(self, order: int = 5, vocab: Iterable[str] | None = None):
        if order < 1:
            raise ValueError(f"order must be >= 1, got {order}")
        self.order = order
        self.vocab: set[str] = set(vocab or ())
        # counts[k][history] = {char: count}, history a string of length k
        self.counts: list[dict[str, dict[str, int]]] = [defaultdict(dict) for _ in range(order)]
        self._cache: dict[tuple[str, str], float] = {}
        self._totals: list[dict[str, tuple[int, int]]] = []

    # ------------------------------------------------------------------ estimation
    @classmethod
    def from_texts(cls, texts: Iterable[str], order: int = 5,
                   vocab: Iterable[str] | None = None) -> "CharNgramLM":
        lm = cls(order, vocab)
        lm.fit(texts)
        return lm

    @classmethod
    def from_file(cls, path: str | Path, order: int = 5,
                  vocab: Iterable[str] | None = None) -> "CharNgramLM":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"LM corpus not found: {path}")
        lines = path.read_text(encoding="utf-8").splitlines()
        return cls.from_texts((ln.strip() for ln in lines if ln.strip()), order, vocab)

    def fit(self, texts: Iterable[str]) -> "CharNgramLM":
        restrict = bool(self.vocab)
        n = 0
        for text in texts:
            if restrict:
                text = "".join(c for c in text if c in self.vocab)
            else:
                self.vocab.update(text)
            seq = BOS * (self.order - 1) + text
            for i, c in enumerate(list(text) + [EOS]):
                pos = i + self.order - 1
                for k in range(self.order):
                    h = seq[pos - k:pos]
                    d = self.counts[k][h]
                    d[c] = d.get(c, 0) + 1
            n += 1
        if n == 0:
            raise ValueError("no text to estimate the character LM from")
        self._totals = [
            {h: (sum(d.values()), len(d)) for h, d in level.items()} for level in self.counts
        ]
        self._cache.clear()
        return self

    # ------------------------------------------------------------------ scoring
    def _prob(self, history: str, c: str) -> float:
        # add-one unigram over vocab + EOS
        uni = self.counts[0][""]
        total, _ = self._totals[0][""]
        v = len(self.vocab) + 1
        p = (uni.get(c, 0) + 1) / (total + v)
        for k in range(1, self.order):
            if len(history) < k:
                break
            h = history[-k:]
            t = self._totals[k].get(h)
            if t is None:
                break  # longer histories are unseen too
            n_h, types = t
            lam = n_h / (n_h + types)
            p = lam * self.counts[k][h].get(c, 0) / n_h + (1 - lam) * p
        return p

    def score(self, context: str, c: str) -> float:
        """Natural log P(c | context); ``c`` may be :data:`EOS`."""
        h = (BOS * (self.order - 1) + context)[-(self.order - 1):] if self.order > 1 else ""
        key = (h, c)
        v = self._cache.get(key)
        if v is None:
            v = math.log(self._prob(h, c))
            if len(self._cache) < 2_000_000:
                self._cache[key] = v
        return v

    def line_logprob(self, text: str) -> float:
        return sum(self.score(text[:i], c) for i, c in enumerate(text)) + self.score(text, EOS)

    def perplexity(self, texts: Iterable[str]) -> float:
        lp, n = 0.0, 0
        for t in texts:
            lp += self.line_logprob(t)
            n += len(t) + 1
        return math.exp(-lp / max(n, 1))


def is_word_char(c: str) -> bool:
    return c.isalnum() or c in "'’-"


class Lexicon:
    """A closed word list (case-sensitive unless ``lowercase``), with its set of prefixes.

    Words are the maximal runs of word characters (letters, digits, apostrophes, hyphens);
    punctuation and spaces separate them.
    """

    def __init__(self, words: Iterable[str], lowercase: bool = False):
        self.lowercase = lowercase
        self.words: set[str] = set()
        for w in words:
            for tok in split_words(w.lower() if lowercase else w):
                self.words.add(tok)
        if not self.words:
            raise ValueError("the lexicon is empty")
        self.prefixes: set[str] = {w[:i] for w in self.words for i in range(1, len(w) + 1)}

    @classmethod
    def from_file(cls, path: str | Path, lowercase: bool = False) -> "Lexicon":
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"lexicon file not found: {path}")
        return cls(path.read_text(encoding="utf-8").split(), lowercase)

    def _norm(self, w: str) -> str:
        return w.lower() if self.lowercase else w

    def has_word(self, w: str) -> bool:
        return self._norm(w) in self.words

    def has_prefix(self, w: str) -> bool:
        return self._norm(w) in self.prefixes

    def __len__(self) -> int:
        return len(self.words)


def split_words(text: str) -> list[str]:
    out, cur = [], []
    for c in text:
        if is_word_char(c):
            cur.append(c)
        elif cur:
            out.append("".join(cur))
            cur = []
    if cur:
        out.append("".join(cur))
    return out
