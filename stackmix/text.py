"""Alphabet, text normalization and the CTC codec (text ↔ class indices).

Index 0 of every codec is the CTC blank; character ``i`` of the alphabet is class ``i + 1``.
Decoding CTC outputs is :mod:`stackmix.ctc`'s job; the codec only maps its labels to text.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from stackmix.ctc import BLANK, best_paths, collapse
from stackmix.ctc import min_frames as ctc_min_frames  # noqa: F401  (re-exported)

_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class Normalizer:
    """Per-dataset text normalization applied to every transcription before use.

    In this order: ``unicode_form`` (NFC/NFKC/... or ``None``); ``replace``: literal
    substitutions applied in order (e.g. ``{"’": "'"}``; an empty replacement deletes);
    ``regex``: regular-expression substitutions ``pattern → replacement`` applied in order
    (Python ``re`` syntax, ``\\1`` back-references; e.g. Peter's ``{'\\b[pр]s\\b': 'р s'}``);
    ``lowercase``: fold case; ``collapse_whitespace``: runs of whitespace become one space and the
    line is stripped.
    """

    unicode_form: str | None = "NFC"
    collapse_whitespace: bool = True
    replace: tuple[tuple[str, str], ...] = ()
    lowercase: bool = False
    regex: tuple[tuple[str, str], ...] = ()
    _compiled: tuple = field(default=(), init=False, repr=False, compare=False)

    def __post_init__(self):
        compiled = []
        for pattern, repl in self.regex:
            try:
                compiled.append((re.compile(pattern), repl))
            except re.error as e:
                raise ValueError(f"dataset.normalize.regex: invalid pattern {pattern!r}: {e}") from None
        object.__setattr__(self, "_compiled", tuple(compiled))

    @staticmethod
    def _pairs(node, key: str) -> tuple[tuple[str, str], ...]:
        if not node:
            return ()
        if hasattr(node, "items"):
            return tuple((str(k), "" if v is None else str(v)) for k, v in node.items())
        pairs = []
        for item in node:  # a list of [pattern, replacement] pairs (keeps duplicates and order)
            if len(item) != 2:
                raise ValueError(f"dataset.normalize.{key}: expected [old, new] pairs, got {item!r}")
            pairs.append((str(item[0]), "" if item[1] is None else str(item[1])))
        return tuple(pairs)

    @classmethod
    def from_config(cls, cfg) -> "Normalizer":
        if cfg is None:
            return cls()
        return cls(
            unicode_form=cfg.get("unicode_form", "NFC"),
            collapse_whitespace=bool(cfg.get("collapse_whitespace", True)),
            replace=cls._pairs(cfg.get("replace"), "replace"),
            lowercase=bool(cfg.get("lowercase", False)),
            regex=cls._pairs(cfg.get("regex"), "regex"),
        )

    def __call__(self, text: str) -> str:
        if self.unicode_form:
            text = unicodedata.normalize(self.unicode_form, text)
        for old, new in self.replace:
            text = text.replace(old, new)
        for pattern, new in self._compiled:
            text = pattern.sub(new, text)
        if self.lowercase:
            text = text.lower()
        if self.collapse_whitespace:
            text = _WS.sub(" ", text).strip()
        return text

    def to_dict(self) -> dict:
        return {
            "unicode_form": self.unicode_form,
            "collapse_whitespace": self.collapse_whitespace,
            "replace": dict(self.replace),
            "regex": dict(self.regex),
            "lowercase": self.lowercase,
        }


class UnknownCharactersError(ValueError):
    """Raised when training text holds characters the alphabet lacks."""


def derive_alphabet(texts: Iterable[str]) -> str:
    """Sorted set of the characters occurring in ``texts`` (the train split)."""
    chars: set[str] = set()
    for t in texts:
        chars.update(t)
    return "".join(sorted(chars))


@dataclass
class CTCCodec:
    """Maps text to class indices (blank = 0) and CTC outputs back to text."""

    alphabet: str
    _index: dict[str, int] = field(init=False, repr=False)

    def __post_init__(self):
        if len(set(self.alphabet)) != len(self.alphabet):
            dup = [c for c, n in Counter(self.alphabet).items() if n > 1]
            raise ValueError(f"alphabet has duplicate characters: {dup!r}")
        if not self.alphabet:
            raise ValueError("alphabet is empty")
        self._index = {c: i + 1 for i, c in enumerate(self.alphabet)}

    @property
    def num_classes(self) -> int:
        return len(self.alphabet) + 1

    def unknown(self, text: str) -> set[str]:
        return {c for c in text if c not in self._index}

    def encode(self, text: str) -> list[int]:
        """Class indices of ``text``; raises ``UnknownCharactersError`` for characters outside."""
        try:
            return [self._index[c] for c in text]
        except KeyError:
            missing = "".join(sorted(self.unknown(text)))
            raise UnknownCharactersError(
                f"characters {missing!r} of {text!r} are not in the alphabet"
            ) from None

    def encode_known(self, text: str) -> list[int]:
        """Class indices, silently leaving out characters outside the alphabet."""
        return [self._index[c] for c in text if c in self._index]

    def decode(self, indices: Sequence[int]) -> str:
        """Plain decoding of label indices (no CTC collapsing); blanks are dropped."""
        return "".join(self.alphabet[i - 1] for i in indices if i != BLANK)

    def ctc_collapse(self, path: Sequence[int]) -> list[int]:
        """Best-path collapse (:func:`stackmix.ctc.collapse`): merge repeats, drop blanks."""
        return collapse(path)

    def decode_path(self, path: Sequence[int]) -> str:
        return self.decode(collapse(path))

    def decode_greedy(self, log_probs) -> list[str]:
        """Greedy decoding of a batch of outputs shaped (batch, time, classes)."""
        return [self.decode(labels) for labels, _ in best_paths(log_probs)]
