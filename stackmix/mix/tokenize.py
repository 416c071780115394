"""Split a text into spans the bank holds (StackMix step 4).

Greedy longest-known-span from left to right, with a random cap on the span length drawn for
every span (the paper: cap 3..8 with weights .05 .15 .20 .20 .20 .20), so the same text is cut
differently each time. Spans are looked up in a dict of the bank's spans (no trie needed: at most
``max cap`` hash look-ups per span).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

PAPER_CAPS = (3, 4, 5, 6, 7, 8)
PAPER_CAP_WEIGHTS = (0.05, 0.15, 0.20, 0.20, 0.20, 0.20)


class UnrenderableTextError(ValueError):
    """The text holds characters the bank has no crop of."""

    def __init__(self, text: str, missing: Sequence[str]):
        self.text = text
        self.missing = list(missing)
        listing = ", ".join(f"{c!r} (U+{ord(c):04X})" for c in self.missing)
        super().__init__(f"the token bank has no crops of {listing} (needed for {text!r})")


class SpanTokenizer:
    """``split(text, rng)`` → list of span ids (keys of ``spans``) whose strings concatenate to
    ``text``."""

    def __init__(self, spans: Mapping[str, int], caps: Sequence[int] = PAPER_CAPS,
                 weights: Sequence[float] | None = PAPER_CAP_WEIGHTS):
        if not caps:
            raise ValueError("caps must not be empty")
        caps = [int(c) for c in caps]
        if min(caps) < 1:
            raise ValueError(f"span length caps must be >= 1, got {caps}")
        if weights is None:
            weights = [1.0] * len(caps)
        if len(weights) != len(caps):
            raise ValueError(f"{len(caps)} caps but {len(weights)} weights")
        w = np.asarray(weights, dtype=np.float64)
        if (w < 0).any() or w.sum() <= 0:
            raise ValueError(f"cap weights must be >= 0 and not all 0, got {list(weights)}")
        self.spans = spans
        self.caps = np.asarray(caps, dtype=np.int64)
        self.cum = np.cumsum(w / w.sum())
        self.cum[-1] = 1.0
        self._names: dict[int, str] | None = None

    def draw_caps(self, n: int, rng: np.random.Generator) -> np.ndarray:
        return self.caps[np.searchsorted(self.cum, rng.random(n), side="right")]

    def split(self, text: str, rng: np.random.Generator) -> list[int]:
        spans = self.spans
        n = len(text)
        caps = self.draw_caps(n, rng).tolist()  # at most n spans
        out: list[int] = []
        i = 0
        k = 0
        while i < n:
            length = min(caps[k], n - i)
            k += 1
            while length > 0:
                sid = spans.get(text[i:i + length])
                if sid is not None:
                    break
                length -= 1
            else:
                missing = [c for c in dict.fromkeys(text) if c not in spans]
                raise UnrenderableTextError(text, missing or [text[i]])
            out.append(sid)
            i += length
        return out

    def split_text(self, text: str, rng: np.random.Generator) -> list[str]:
        """Like ``split`` but returns the span strings (for inspection and tests)."""
        if self._names is None:
            self._names = {v: k for k, v in self.spans.items()}
        return [self._names[s] for s in self.split(text, rng)]
