"""StackMix (the paper's steps 2-4): char masks, the token bank, online generation, the corpus.

* ``boundaries``: CTC path → per-character pixel boundaries
* ``masks``: the char masks file (and its error against true character extents)
* ``bank``: the token bank's files and :class:`TokenBank`, which reads them (memory-mapped)
* ``bank_build``: building the bank from char masks
* ``tokenize``: greedy split of a text into bank spans with the paper's random length cap
* ``corpus``: the texts StackMix writes
* ``generator``: stitches crops into lines; ``build_generator`` wires it into training
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Sequence

from stackmix.mix.bank import BankError, BankNotFoundError, TokenBank, index_path
from stackmix.mix.generator import GeneratedLine, StackMixGenerator
from stackmix.mix.tokenize import UnrenderableTextError

log = logging.getLogger(__name__)

__all__ = [
    "BankError", "BankNotFoundError", "GeneratedLine", "StackMixGenerator", "TokenBank",
    "UnrenderableTextError", "build_generator", "missing_bank_message", "missing_corpus_message",
    "resolve_corpus",
]


def missing_bank_message(bank: str | Path, dataset: str) -> str:
    """The error text for a missing bank: the exact commands that build it."""
    prefix = Path(bank)
    masks = prefix.parent / "char_masks.json"
    return (
        f"StackMix token bank not found: {index_path(prefix)} does not exist.\n"
        "Build it from a trained base model (StackMix steps 2 and 3):\n"
        f"  python prepare.py task=char_masks dataset={dataset} task.ckpt=<base model checkpoint or "
        f"its run folder> task.out={masks}\n"
        f"  python prepare.py task=stackmix dataset={dataset} task.masks={masks} task.out={prefix}\n"
        "(use the same dataset overrides as for training), or point aug.stackmix.bank at an "
        "existing bank."
    )


_warned: set[str] = set()


def missing_corpus_message(path: str | Path, dataset: str) -> str:
    """The warning for a dataset corpus that is not on disk: what is missing, how to get it."""
    return (
        f"StackMix corpus for {dataset!r} not found: {path} does not exist. Falling back to the "
        "train transcriptions (no new words, no new line lengths; the paper used the external "
        "corpus). Fetch the original project's corpora (one archive, ~GB) with:\n"
        "  python prepare.py task=corpus name=corpora      (or: make prepare-corpora)\n"
        "or choose another corpus: aug.stackmix.corpus=<file, folder or wordfreq:<lang>>; "
        "aug.stackmix.corpus=train selects the train transcriptions without this warning."
    )


def resolve_corpus(spec: Any, dataset_cfg: dict) -> Any:
    """The corpus StackMix should use: ``spec`` itself, or for ``null``/``"dataset"`` the
    dataset's own corpus file (``dataset.corpus``) when it exists, else ``"train"`` (warned once
    when the dataset names a corpus that is missing)."""
    if spec is not None and not (isinstance(spec, str) and spec.strip() in ("", "dataset")):
        return list(spec) if isinstance(spec, (list, tuple)) else spec
    named = dataset_cfg.get("corpus")
    if not named:
        return "train"
    if Path(str(named)).expanduser().exists():
        return str(named)
    name = str(dataset_cfg.get("name", "custom"))
    if str(named) not in _warned:
        _warned.add(str(named))
        log.warning("%s", missing_corpus_message(named, name))
    return "train"


def build_generator(cfg: Any, *, dataset_cfg: dict, codec, train_samples: Sequence,
                    normalizer) -> StackMixGenerator:
    """The train-time StackMix generator described by the ``aug.stackmix`` config block.

    The keys, their meaning and the paper's values are in ``conf/aug/stackmix.yaml`` (the one
    place of the values; ``stackmix.conf.schema.StackMixConf`` types them and refuses unknown
    keys when the config is composed). ``corpus``: ``null`` for the dataset's corpus file
    (``dataset.corpus``) when present, else the train transcriptions; ``train``; a UTF-8 file, a
    folder or a list of them; ``wordfreq:<lang>``.
    """
    from stackmix.mix.corpus import build_corpus

    cfg = dict(cfg)
    name = str(dataset_cfg.get("name", "custom"))
    bank_path = cfg.get("bank")
    if not bank_path:
        raise ValueError("aug.stackmix.bank is not set: the path (prefix) of the token bank")
    try:
        bank = TokenBank(bank_path)
    except BankNotFoundError:
        raise BankNotFoundError(missing_bank_message(bank_path, name)) from None
    image_h = dataset_cfg.get("image_h")
    if image_h and int(image_h) < bank.height:
        log.warning("StackMix bank height %d is above dataset.image_h %s: generated lines are "
                    "downscaled (a bank built with task.height=%s is smaller and as good)",
                    bank.height, image_h, image_h)
    alphabet = set(codec.alphabet)
    bank_chars = bank.chars
    renderable = bank_chars & alphabet
    corpus = build_corpus(
        resolve_corpus(cfg["corpus"], dataset_cfg),
        train_texts=[s.text for s in train_samples],
        renderable=renderable,
        normalize=normalizer,
        max_len=cfg["max_len"],
        min_len=int(cfg["min_len"]),
        seed=int(cfg["seed"]),
        cache_dir=cfg["cache_dir"],
        wordfreq_lines_count=int(cfg["wordfreq_lines"]),
        wordfreq_words=int(cfg["wordfreq_words"]),
    )
    gen = StackMixGenerator(
        bank,
        corpus.lines,
        p=float(cfg["p"]),
        smooth_background_p=float(cfg["smooth_background_p"]),
        caps=cfg["caps"],
        cap_weights=cfg["cap_weights"],
    )
    missing = sorted(alphabet - bank_chars)
    log.info("StackMix: bank %s; %s; p=%.2f%s", bank.describe(), corpus.report(), gen.p,
             f"; alphabet characters without crops: {''.join(missing)!r}" if missing else "")
    return gen
