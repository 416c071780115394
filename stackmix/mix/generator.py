"""Online StackMix: write a text by stitching random bank crops of its spans (step 4)."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from stackmix.mix.bank import TokenBank
from stackmix.mix.corpus_store import CorpusLines
from stackmix.mix.tokenize import PAPER_CAP_WEIGHTS, PAPER_CAPS, SpanTokenizer


@dataclass
class GeneratedLine:
    image: np.ndarray  # (height, width) uint8
    text: str
    spans: list[str]  # the pieces, concatenated == text
    char_extents: np.ndarray  # (len(text), 2) int: [x0, x1) per character in ``image``


class StackMixGenerator:
    """Makes StackMix lines from a token bank and a corpus.

    ``__call__(rng) -> (image, text)`` draws a corpus line and renders it (the interface of
    ``stackmix.data.dataset.LineDataset``'s generator, which uses it with probability ``p``).
    ``render(text, rng)`` writes any text the bank can render.

    ``smooth_background_p``: probability of evening out the paper of the stitched crops (each
    crop's paper level is moved to their mean, ink darkness scaled alike) so the seams between
    crops from different pages disappear.

    Cheap to pickle (the bank's index, the corpus's path or arrays, settings): each DataLoader
    worker memory-maps the bank's pixels and a cached corpus on first use, sharing the page
    cache. Workers use the bank this generator was built with, even if it is rebuilt while the
    training runs.
    """

    def __init__(
        self,
        bank: TokenBank | str | Path,
        corpus: CorpusLines | Sequence[str] = (),
        p: float = 0.8,
        smooth_background_p: float = 0.1,
        caps: Sequence[int] = PAPER_CAPS,
        cap_weights: Sequence[float] | None = PAPER_CAP_WEIGHTS,
    ):
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must be in [0, 1], got {p}")
        if not 0.0 <= smooth_background_p <= 1.0:
            raise ValueError(f"smooth_background_p must be in [0, 1], got {smooth_background_p}")
        self.bank_path = str(bank.prefix if isinstance(bank, TokenBank) else bank)
        self._bank = bank if isinstance(bank, TokenBank) else None
        # one byte array + offsets (memory-mapped for file corpora), never a list of strings
        self.corpus = corpus if isinstance(corpus, CorpusLines) else CorpusLines.from_texts(corpus)
        self.p = float(p)
        self.smooth_background_p = float(smooth_background_p)
        self.caps = [int(c) for c in caps]
        self.cap_weights = None if cap_weights is None else [float(w) for w in cap_weights]
        self._tok: SpanTokenizer | None = None

    # ----------------------------------------------------------------- lazy, per process
    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_tok"] = None  # the bank pickles its index, without the memory map
        return state

    @property
    def bank(self) -> TokenBank:
        if self._bank is None:
            self._bank = TokenBank(self.bank_path)
        return self._bank

    @property
    def tokenizer(self) -> SpanTokenizer:
        if self._tok is None:
            self._tok = SpanTokenizer(self.bank.span_ids, self.caps, self.cap_weights)
        return self._tok

    @property
    def height(self) -> int:
        return self.bank.height

    # ----------------------------------------------------------------- generation
    def __call__(self, rng: np.random.Generator) -> tuple[np.ndarray, str]:
        if not len(self.corpus):
            raise ValueError("StackMixGenerator has an empty corpus")
        text = self.corpus.sample(rng)
        return self.draw(text, rng), text

    def draw(self, text: str, rng: np.random.Generator, smooth: bool | None = None) -> np.ndarray:
        """Image (height, width) uint8 of ``text`` (raises ``UnrenderableTextError``)."""
        img, _, _ = self._stitch(text, rng, smooth)
        return img

    def render(self, text: str, rng: np.random.Generator, smooth: bool | None = None) -> GeneratedLine:
        """Like ``draw`` and also returns the spans used and each character's x-extent."""
        img, ids, picks = self._stitch(text, rng, smooth)
        bank = self.bank
        lens = bank.span_len[ids]
        g = bank.crop_g[picks].astype(np.int64)
        ext = []
        pos = 0
        for gi, length in zip(g.tolist(), lens.tolist()):
            b = bank.bounds[gi:gi + length + 1].astype(np.int64)
            rel = b - b[0] + pos
            ext.append(np.stack([rel[:-1], rel[1:]], axis=1))
            pos = int(rel[-1])
        spans = [str(bank.spans[i]) for i in ids.tolist()]
        return GeneratedLine(img, text, spans, np.concatenate(ext).astype(np.int64))

    def _stitch(self, text: str, rng: np.random.Generator, smooth: bool | None):
        bank = self.bank
        ids = np.asarray(self.tokenizer.split(text, rng), dtype=np.int64)
        start = bank.span_start[ids]
        count = bank.span_start[ids + 1] - start
        picks = start + (rng.random(len(ids)) * count).astype(np.int64)
        g = bank.crop_g[picks].astype(np.int64)
        x0 = bank.bounds[g]
        x1 = bank.bounds[g + bank.span_len[ids]]
        pix = bank.pixels
        pieces = [pix[a:b] for a, b in zip(x0.tolist(), x1.tolist())]
        if smooth is None:
            smooth = self.smooth_background_p > 0 and rng.random() < self.smooth_background_p
        if smooth:
            paper = bank.crop_paper[picks].astype(np.float32)
            target = float(paper.mean())
            levels = np.arange(256, dtype=np.float32)
            out = []
            for piece, pl in zip(pieces, paper.tolist()):
                pl = max(pl, 1.0)
                lut = target - np.maximum(pl - levels, 0.0) * (target / pl)
                lut = np.where(levels > pl, np.minimum(levels - pl + target, 255), lut)
                out.append(np.clip(lut + 0.5, 0, 255).astype(np.uint8)[piece])
            pieces = out
        cols = np.concatenate(pieces, axis=0)
        return np.ascontiguousarray(cols.T), ids, picks
