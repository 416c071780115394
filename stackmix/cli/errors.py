"""Expected errors end a command with one paragraph, not a Python traceback.

A user error (missing data, a download that must be done by hand, a missing token bank, a bad
config value, an unreadable file) is reported as ``<prog>: error: <message>`` on stderr with exit
status 2. ``HYDRA_FULL_ERROR=1`` shows the full traceback instead (as Hydra does for its own
errors). Anything else is a bug and keeps its traceback.

The classes are named by their dotted path so that this module imports nothing heavy: a class
matches when it, or one of its bases, is in :data:`EXPECTED`.
"""
from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import TypeVar

__all__ = ["EXPECTED", "is_expected", "reporting_errors"]

EXPECTED = frozenset({
    "stackmix.conf.checks.ConfigError",
    "stackmix.cli.predict.PredictError",
    "stackmix.data.datamodule.DatasetError",
    "stackmix.data.download.errors.ArchiveError",
    "stackmix.data.download.errors.DownloadError",
    "stackmix.data.download.errors.ManualDownloadRequired",
    "stackmix.data.image.ImageReadError",
    "stackmix.data.marking.MarkingError",
    "stackmix.data.sources.raw.ConversionError",
    "stackmix.data.synthetic.params.SyntheticDataError",
    "stackmix.fs.DiskFullError",
    "stackmix.fs.TextDecodeError",
    "stackmix.mix.bank.BankError",
    "stackmix.mix.corpus_text.CorpusError",
    "stackmix.mix.masks.CharMasksError",
    "stackmix.mix.tokenize.UnrenderableTextError",
    "stackmix.text.UnknownCharactersError",
    "stackmix.training.checkpoint_io.ResumeError",
})

T = TypeVar("T")


def is_expected(exc: BaseException) -> bool:
    """A user error that a message explains (see :data:`EXPECTED`); also a refused write."""
    if isinstance(exc, PermissionError):
        return True
    return any(f"{c.__module__}.{c.__qualname__}" in EXPECTED for c in type(exc).__mro__)


def reporting_errors(prog: str, fn: Callable[[], T]) -> T:
    """Run ``fn()``; an expected error becomes ``<prog>: error: ...`` on stderr and exit status 2."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001  (sorted below: unexpected ones are re-raised)
        if not is_expected(e) or os.environ.get("HYDRA_FULL_ERROR") == "1":
            raise
        message = str(e).strip() or type(e).__name__
        print(f"{prog}: error: {message}\n(HYDRA_FULL_ERROR=1 shows where it happened)",
              file=sys.stderr, flush=True)
        raise SystemExit(2) from None
