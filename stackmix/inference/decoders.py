"""CTC decoders: plain callables from log-probabilities (B, T, C) to texts with confidences.

Every decoder returns one :class:`Hypothesis` per line: the text, one confidence per character
(the highest posterior of that character over the frames aligned to it, in [0, 1]) and their
mean (0 for an empty text). Best path and alignment come from :mod:`stackmix.ctc`. Decoders:

- :class:`GreedyDecoder`: best path (argmax per frame, merge repeats, drop blanks). The default.
- :class:`BeamSearchDecoder`: CTC prefix beam search, optionally guided by a character n-gram LM
  (:class:`~stackmix.inference.lm.CharNgramLM`) and/or a word lexicon. Dependency-free.
- :class:`~stackmix.inference.pyctc.PyCTCDecoder`: pyctcdecode's beam search with a KenLM word
  n-gram model (optional packages ``pyctcdecode`` and ``kenlm``).

:func:`stackmix.inference.decoder_factory.build_decoder` makes one from a config
(``conf/decoder/*.yaml``, which hold every decoder setting).
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import Any, Protocol, Sequence

import numpy as np

from stackmix.ctc import (BLANK, aligned_confidences, as_log_probs, best_paths,
                          mean_confidence)
from stackmix.inference.lm import EOS, CharNgramLM, Lexicon, is_word_char

log = logging.getLogger(__name__)

NEG_INF = float("-inf")


@dataclass
class Hypothesis:
    text: str
    char_probs: list[float] = field(default_factory=list)
    confidence: float = 0.0  # mean of char_probs; 0 for an empty text (nothing was recognized)
    score: float | None = None  # decoder's own score (log domain), when it has one


class Decoder(Protocol):
    name: str

    def __call__(self, log_probs: Any) -> list[Hypothesis]: ...


def hypothesis(text: str, probs: Sequence[float], score: float | None = None) -> Hypothesis:
    """A hypothesis with its per-character confidences clipped to [0, 1] and their mean.

    An empty text gets confidence 0 (:func:`stackmix.ctc.mean_confidence`).
    """
    probs = [float(min(1.0, max(0.0, p))) for p in probs]
    return Hypothesis(text, probs, mean_confidence(probs), score)


class GreedyDecoder:
    """Best-path decoding: argmax per frame, repeats merged, blanks dropped."""

    name = "greedy"

    def __init__(self, alphabet: str):
        self.alphabet = alphabet

    def __call__(self, log_probs: Any) -> list[Hypothesis]:
        return [hypothesis("".join(self.alphabet[i - 1] for i in labels), probs)
                for labels, probs in best_paths(log_probs)]


def _logaddexp(a: float, b: float) -> float:
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


class BeamSearchDecoder:
    """CTC prefix beam search with an optional character n-gram LM and word lexicon.

    A hypothesis is ranked by ``log P_ctc(prefix) + alpha · log P_lm(prefix) + beta · len(prefix)
    + oov_penalty · (words outside the lexicon)``. ``merge="sum"`` (default) adds up the
    probabilities of all paths that collapse to the same prefix (the usual prefix search);
    ``merge="max"`` keeps the best path only (Viterbi), for which ``beam_width=1`` without LM is
    exactly greedy decoding. At each frame only classes with posterior ≥ ``prune`` (plus the
    frame's argmax) are tried as extensions.
    """

    name = "beam"

    def __init__(
        self,
        alphabet: str,
        *,
        beam_width: int,
        alpha: float,
        beta: float,
        oov_penalty: float,
        prune: float,
        merge: str,
        lm: CharNgramLM | None = None,
        lexicon: Lexicon | None = None,
    ):
        if beam_width < 1:
            raise ValueError(f"beam_width must be >= 1, got {beam_width}")
        if merge not in ("sum", "max"):
            raise ValueError(f"merge must be 'sum' or 'max', got {merge!r}")
        self.alphabet = alphabet
        self.beam_width = int(beam_width)
        self.lm = lm
        self.alpha = float(alpha)
        self.beta = float(beta)
        self.lexicon = lexicon
        self.oov_penalty = float(oov_penalty)
        self.log_prune = math.log(prune) if prune and prune > 0 else NEG_INF
        self.merge = merge
        self._combine = _logaddexp if merge == "sum" else max
        self._index = {c: i + 1 for i, c in enumerate(alphabet)}

    # ------------------------------------------------------------------ language terms
    def _trailing_word(self, text: str) -> str:
        i = len(text)
        while i > 0 and is_word_char(text[i - 1]):
            i -= 1
        return text[i:]

    def _lexicon_term(self, prefix: str, c: str) -> float:
        """Penalty for appending ``c`` to ``prefix`` (``c`` may be EOS)."""
        lex = self.lexicon
        word = self._trailing_word(prefix)
        if c != EOS and is_word_char(c):
            # penalize once: when the word stops being a prefix of a lexicon word
            if (not word or lex.has_prefix(word)) and not lex.has_prefix(word + c):
                return self.oov_penalty
            return 0.0
        if word and lex.has_prefix(word) and not lex.has_word(word):
            return self.oov_penalty
        return 0.0

    def _ext_score(self, prefix: str, c: str) -> float:
        s = self.beta if c != EOS else 0.0
        if self.lm is not None:
            s += self.alpha * self.lm.score(prefix, c)
        if self.lexicon is not None:
            s += self._lexicon_term(prefix, c)
        return s

    # ------------------------------------------------------------------ search
    def decode_line(self, lp: np.ndarray) -> Hypothesis:
        alphabet = self.alphabet
        combine = self._combine
        index = self._index
        use_lang = self.lm is not None or self.lexicon is not None or self.beta != 0.0
        # beams: prefix -> [p_blank, p_nonblank]; lang: prefix -> language score
        beams: dict[str, list[float]] = {"": [0.0, NEG_INF]}
        lang: dict[str, float] = {"": 0.0}
        W = self.beam_width
        for t in range(lp.shape[0]):
            row = lp[t]
            cand = np.flatnonzero(row >= self.log_prune)
            top = int(row.argmax())
            cand_list = [int(c) for c in cand if c != BLANK]
            if top != BLANK and top not in cand_list:
                cand_list.append(top)
            row_l = row.tolist()
            p_blank = row_l[BLANK]
            nxt: dict[str, list[float]] = {}
            for prefix, (pb, pnb) in beams.items():
                total = combine(pb, pnb)
                st = nxt.get(prefix)
                if st is None:
                    st = nxt[prefix] = [NEG_INF, NEG_INF]
                st[0] = combine(st[0], total + p_blank)
                last = index[prefix[-1]] if prefix else BLANK
                if last != BLANK:
                    st[1] = combine(st[1], pnb + row_l[last])
                for c in cand_list:
                    p = row_l[c]
                    new = prefix + alphabet[c - 1]
                    base = pb if c == last else total
                    if base == NEG_INF:
                        continue
                    s2 = nxt.get(new)
                    if s2 is None:
                        s2 = nxt[new] = [NEG_INF, NEG_INF]
                        if use_lang and new not in lang:
                            lang[new] = lang[prefix] + self._ext_score(prefix, alphabet[c - 1])
                    s2[1] = combine(s2[1], base + p)
            if use_lang:
                ranked = sorted(nxt.items(), key=lambda kv: combine(*kv[1]) + lang[kv[0]],
                                reverse=True)
            else:
                ranked = sorted(nxt.items(), key=lambda kv: combine(*kv[1]), reverse=True)
            beams = dict(ranked[:W])
        best_text, best_score = "", NEG_INF
        for prefix, (pb, pnb) in beams.items():
            s = combine(pb, pnb)
            if use_lang:
                s += lang[prefix] + self._ext_score(prefix, EOS)
            if s > best_score:
                best_text, best_score = prefix, s
        labels = [index[ch] for ch in best_text]
        return hypothesis(best_text, aligned_confidences(lp, labels), best_score)

    def __call__(self, log_probs: Any) -> list[Hypothesis]:
        return [self.decode_line(lp) for lp in as_log_probs(log_probs)]
