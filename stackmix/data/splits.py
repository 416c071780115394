"""From a read marking to the samples each stage uses: the alphabet policy and the train checks.

* The alphabet is ``dataset.alphabet`` or, when null, derived from the train texts.
* Train lines with characters outside it: an error naming them, or dropped and counted
  (``dataset.unknown_train_chars=drop``); in valid/test they stay and count as errors.
* Train lines whose label needs more CTC frames than the model emits are dropped and counted.
"""
from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from stackmix.data.marking import Marking, Sample
from stackmix.text import CTCCodec, UnknownCharactersError, ctc_min_frames, derive_alphabet

log = logging.getLogger(__name__)


class DatasetError(ValueError):
    """The dataset cannot be used as configured (empty split, unknown characters, ...)."""


@dataclass
class Splits:
    codec: CTCCodec
    samples: dict[str, list[Sample]]
    dropped: dict[str, list[str]] = field(default_factory=dict)


def no_train_rows(name: str, root: Path) -> DatasetError:
    return DatasetError(f"dataset {name!r} ({root}/marking.csv) has no 'train' rows (after the "
                        "row checks above): add rows with stage=train")


def build_splits(marking: Marking, dataset_cfg: dict, name: str, root: Path,
                 time_steps: int | None, seed: int = 0) -> Splits:
    by_stage = {st: marking.stage(st) for st in ("train", "valid", "test")}
    if not by_stage["train"]:
        raise no_train_rows(name, root)
    by_stage["train"] = limit_train(by_stage["train"], dataset_cfg, seed)
    alphabet = dataset_cfg.get("alphabet")
    if alphabet:
        alphabet = str(alphabet)
    else:
        alphabet = derive_alphabet(s.text for s in by_stage["train"])
        log.info("alphabet derived from %d train lines: %d characters", len(by_stage["train"]),
                 len(alphabet))
    codec = CTCCodec(alphabet)
    dropped: dict[str, list[str]] = {}
    train = _check_train(by_stage["train"], codec, dataset_cfg, name, time_steps, dropped)
    train_images = {s.path for s in by_stage["train"]}
    for stage in ("valid", "test"):
        shared = [s for s in by_stage[stage] if s.path in train_images]
        if shared:
            log.warning(
                "%d %s line(s) use the same image file as a train line (e.g. %s, %s): their "
                "scores measure memory, not recognition of unseen lines; give each image one stage",
                len(shared), stage, shared[0].sample_id, shared[0].path)
        unknown: dict[str, int] = defaultdict(int)
        for s in by_stage[stage]:
            for c in codec.unknown(s.text):
                unknown[c] += 1
        if unknown:
            log.warning(
                "%s split: characters outside the alphabet %s stay in the reference text and "
                "count as errors", stage, dict(unknown))
    return Splits(codec, {"train": train, "valid": by_stage["valid"], "test": by_stage["test"]},
                  dropped)


def limit_train(samples: list[Sample], dataset_cfg, run_seed: int) -> list[Sample]:
    """``dataset.train_limit=N``: a seeded random N of the train lines (valid/test stay whole),
    e.g. to see how a recipe does with as little data as a small collection has. The alphabet
    is then derived from these N lines only, as it would be for such a collection. The draw is
    seeded by ``dataset.train_limit_seed``, or by the run's ``seed`` when that is null; fix it
    to compare training seeds on one subset (the char masks and token bank made for it stay
    valid)."""
    limit = dataset_cfg.get("train_limit")
    if limit is None:
        return samples
    limit = int(limit)
    if limit <= 0:
        raise DatasetError(f"dataset.train_limit must be a positive number of lines, got {limit}")
    if limit >= len(samples):
        return samples
    import random

    seed = dataset_cfg.get("train_limit_seed")
    seed = int(run_seed if seed is None else seed)
    keep = set(random.Random(seed).sample(range(len(samples)), limit))
    log.info("dataset.train_limit=%d: training on %d of %d train lines (subset seed %d)",
             limit, limit, len(samples), seed)
    return [s for i, s in enumerate(samples) if i in keep]


def _check_train(samples: list[Sample], codec: CTCCodec, dataset_cfg: dict, name: str,
                 time_steps: int | None, dropped: dict[str, list[str]]) -> list[Sample]:
    policy = dataset_cfg.get("unknown_train_chars", "error")
    bad: dict[str, list[str]] = defaultdict(list)
    kept: list[Sample] = []
    too_long: list[str] = []
    for s in samples:
        unk = codec.unknown(s.text)
        if unk:
            for c in unk:
                bad[c].append(s.sample_id)
            continue
        if time_steps and ctc_min_frames(codec.encode(s.text)) > time_steps:
            too_long.append(s.sample_id)
            continue
        kept.append(s)
    if bad:
        listing = "; ".join(
            f"{c!r} (U+{ord(c):04X}) in {len(ids)} lines, e.g. {', '.join(ids[:3])}"
            for c, ids in sorted(bad.items())
        )
        if policy == "error":
            raise UnknownCharactersError(
                f"train split of {name!r} has characters outside the configured alphabet: "
                f"{listing}. Add them to dataset.alphabet, set dataset.alphabet=null to derive "
                "it from the train split, or set dataset.unknown_train_chars=drop to skip these "
                "lines."
            )
        n = len({i for ids in bad.values() for i in ids})
        dropped["unknown_chars"] = sorted({i for ids in bad.values() for i in ids})
        log.warning("dropped %d train lines with characters outside the alphabet: %s", n, listing)
    if too_long:
        dropped["too_long_for_ctc"] = too_long
        log.warning(
            "skipped %d train lines whose label needs more than the model's %d time steps "
            "under CTC (e.g. %s); they stay in valid/test and are scored there",
            len(too_long), time_steps, ", ".join(too_long[:3]))
    if not kept:
        raise DatasetError(f"no usable train lines left in {name!r} after the checks above")
    return kept
