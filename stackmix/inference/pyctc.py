"""pyctcdecode's CTC beam search (optionally with a KenLM word n-gram model) as a decoder of this
project: same :class:`~stackmix.inference.decoders.Hypothesis` output, character confidences from
the CTC alignment of its text (:func:`stackmix.ctc.aligned_confidences`). Needs the optional
packages ``pyctcdecode`` (and ``kenlm`` for a language model).
"""
from __future__ import annotations

from typing import Any, Iterable

from stackmix.ctc import aligned_confidences, as_log_probs
from stackmix.inference.decoders import Hypothesis, hypothesis


class PyCTCDecoder:
    """pyctcdecode beam search, with a KenLM word model (ARPA or binary) when given."""

    name = "pyctcdecode"

    def __init__(self, alphabet: str, *, beam_width: int, alpha: float, beta: float,
                 kenlm_model: str | None = None, unigrams: Iterable[str] | None = None):
        try:
            from pyctcdecode import build_ctcdecoder
        except ImportError:
            raise ImportError(
                "decoder=pyctcdecode needs the optional package pyctcdecode (and kenlm for "
                "an n-gram model): pip install pyctcdecode kenlm; or use decoder=beam, the "
                "built-in beam search with a character LM / lexicon") from None
        if kenlm_model:
            try:
                import kenlm  # noqa: F401
            except ImportError:
                raise ImportError(
                    f"decoder.kenlm_model={kenlm_model} needs the kenlm package "
                    "(pip install kenlm; it compiles C++ code)") from None
        self.alphabet = alphabet
        self.beam_width = int(beam_width)
        labels = [""] + list(alphabet)
        self._decoder = build_ctcdecoder(
            labels, kenlm_model_path=kenlm_model, unigrams=list(unigrams) if unigrams else None,
            alpha=alpha, beta=beta)

    def __call__(self, log_probs: Any) -> list[Hypothesis]:
        out = []
        for lp in as_log_probs(log_probs):
            text = self._decoder.decode(lp, beam_width=self.beam_width)
            known = "".join(c for c in text if c in self.alphabet)
            labels = [self.alphabet.index(c) + 1 for c in known]
            out.append(hypothesis(known, aligned_confidences(lp, labels)))
        return out
