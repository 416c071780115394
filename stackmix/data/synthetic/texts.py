"""Texts of the synthetic lines: 2-5 English words (wordfreq), numbers, light punctuation."""
from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from stackmix.data.synthetic.params import SyntheticDataError

_WORD_RE = re.compile(r"[a-z]+('[a-z]+)?")


@lru_cache(maxsize=8)
def load_words(vocab_size: int) -> tuple[tuple[str, ...], np.ndarray]:
    """The ``vocab_size`` most frequent plain English words and their sampling probabilities.

    Words are lowercase ASCII letters with at most one inner apostrophe (``don't``); the
    probability of the word of rank ``r`` (0-based) is proportional to ``1 / sqrt(r + 1)``, which
    keeps frequent short words common without letting them dominate.
    """
    import wordfreq

    words: list[str] = []
    for w in wordfreq.top_n_list("en", vocab_size * 2):
        if _WORD_RE.fullmatch(w) and (len(w) > 1 or w in ("a", "i")):
            words.append(w)
            if len(words) == vocab_size:
                break
    weights = 1.0 / np.sqrt(np.arange(len(words)) + 1.0)
    return tuple(words), weights / weights.sum()


def cdf_of(probs: np.ndarray) -> np.ndarray:
    """The cumulative table ``Generator.choice(n, p=probs)`` builds on every call, built once:
    ``cdf.searchsorted(rng.random(), side="right")`` then draws the same index from the same
    generator state (a tested identity), without re-summing 5,000 probabilities per word."""
    cdf = np.asarray(probs, dtype=np.float64).cumsum()
    cdf /= cdf[-1]
    return cdf


def _number(rng: np.random.Generator) -> str:
    digits = int(rng.choice([1, 2, 3, 4], p=[0.3, 0.35, 0.15, 0.2]))
    first = str(rng.integers(1, 10)) if digits > 1 else str(rng.integers(0, 10))
    return first + "".join(str(d) for d in rng.integers(0, 10, digits - 1))


def _token(rng: np.random.Generator, words: Sequence[str], cdf: np.ndarray) -> str:
    if rng.random() < 0.07:
        return _number(rng)
    word = words[int(cdf.searchsorted(rng.random(), side="right"))]
    if word == "i" or word.startswith("i'"):
        return "I" + word[1:]
    if rng.random() < 0.06:
        return word.capitalize()
    return word


def sample_text(
    rng: np.random.Generator,
    words: Sequence[str],
    probs: np.ndarray,
    min_words: int = 2,
    max_words: int = 5,
    max_chars: int = 32,
    cdf: np.ndarray | None = None,
) -> str:
    """One line of ``min_words..max_words`` tokens, at most ``max_chars`` characters.

    Tokens are words (7% numbers); the first word is capitalized with probability 0.4; commas,
    hyphens (joining or spaced), a final full stop or question mark are added sparingly.
    ``cdf``: ``cdf_of(probs)`` when the caller keeps it (the same draws, faster).
    """
    if cdf is None:
        cdf = cdf_of(probs)
    for _ in range(100):
        n = int(rng.integers(min_words, max_words + 1))
        tokens = [_token(rng, words, cdf) for _ in range(n)]
        if rng.random() < 0.4:
            tokens[0] = tokens[0][:1].upper() + tokens[0][1:]
        text = tokens[0]
        for tok in tokens[1:]:
            u = rng.random()
            if u < 0.08:
                text += ", " + tok
            elif u < 0.11:
                text += " - " + tok
            elif u < 0.14:
                text += "-" + tok
            else:
                text += " " + tok
        u = rng.random()
        if u < 0.15:
            text += "."
        elif u < 0.20:
            text += "?"
        if len(text) <= max_chars:
            return text
        # too long: keep the longest prefix of whole words that fits
        cut = text[: max_chars + 1].rsplit(" ", 1)[0].rstrip(" ,-")
        if len(cut.split()) >= min_words and len(cut) <= max_chars:
            return cut
    raise SyntheticDataError(f"cannot sample a line of {min_words}+ words in {max_chars} chars")
