"""The validation report of a prepared dataset (``prepare_report.json``): counts per stage,
alphabet, line length statistics and every skipped item with its reason, grouped by kind."""
from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from stackmix.data.marking import STAGES
from stackmix.text import derive_alphabet

__all__ = ["REPORT_NAME", "SKIP_EXAMPLES", "Report", "SkipFn", "Skipped", "build_report", "skip_groups",
           "skip_kind"]

REPORT_NAME = "prepare_report.json"


@dataclass
@dataclass
class Skipped:
    item: str
    reason: str

    def __str__(self) -> str:
        return f"{self.item}: {self.reason}"


SkipFn = Callable[[str, str], None]


@dataclass
class Report:
    """Validation report of one conversion (also written to ``<out>/prepare_report.json``)."""

    dataset: str
    out: str
    counts: dict
    alphabet: str
    length: dict
    unseen: dict  # stage -> characters that never occur in train
    outside_config_alphabet: str  # train characters the configured alphabet lacks
    skipped: list[Skipped]

    def to_dict(self) -> dict:
        return {
            "dataset": self.dataset,
            "out": self.out,
            "counts": self.counts,
            "alphabet": self.alphabet,
            "alphabet_size": len(self.alphabet),
            "length": self.length,
            "unseen_in_train": self.unseen,
            "outside_config_alphabet": self.outside_config_alphabet,
            "skipped": [{"item": s.item, "reason": s.reason} for s in self.skipped],
        }

    def summary(self) -> str:
        lines = [f"prepared {self.dataset!r} in {self.out}: "
                 + ", ".join(f"{k} {v}" for k, v in self.counts.items())
                 + f" (total {sum(self.counts.values())})"]
        if self.counts.get("train"):
            lines.append(f"alphabet ({len(self.alphabet)} chars, from train): {self.alphabet!r}")
        else:
            lines.append("no train line in this dataset: its characters are not compared with a "
                         "train alphabet (the model's alphabet decides at evaluation)")
        for st, stats in self.length.items():
            if stats:
                lines.append(f"  {st} text length: min {stats['min']}, mean {stats['mean']}, "
                             f"median {stats['median']}, max {stats['max']}")
        for st, chars in self.unseen.items():
            if chars:
                lines.append(f"  {st} has characters never seen in train: {chars!r}")
        if self.outside_config_alphabet:
            lines.append("  train characters missing from the configured alphabet: "
                         f"{self.outside_config_alphabet!r}")
        if not self.skipped:
            lines.append("nothing skipped")
        else:
            groups = skip_groups(self.skipped)
            lines.append(f"skipped {len(self.skipped)} item(s) for {len(groups)} reason(s) "
                         f"(all listed in {REPORT_NAME}):")
            for kind, items in groups:
                shown = items[:SKIP_EXAMPLES]
                more = f" (+{len(items) - len(shown)} more)" if len(items) > len(shown) else ""
                lines.append(f"  ×{len(items)} {kind}")
                lines += [f"      {s}" for s in shown]
                if more:
                    lines.append(f"      …{more}")
        return "\n".join(lines)


SKIP_EXAMPLES = 3
_VARYING = re.compile(r"'[^']*'|\"[^\"]*\"|\S*[/\\]\S*"  # quoted, paths
                      r"|\S+\.(?:xml|png|jpe?g|tiff?|txt)\b|\d+(?:[.,]\d+)?")  # files, numbers


def skip_kind(reason: str) -> str:
    """A skip reason with its varying parts (names, paths, numbers) replaced by ``…``, so that
    the skips of one cause group together."""
    return re.sub(r"(…[\s,×x.-]*)+…", "…", _VARYING.sub("…", reason))


def skip_groups(skipped: list[Skipped]) -> list[tuple[str, list[Skipped]]]:
    """Skips grouped by :func:`skip_kind`, biggest group first (ties: first seen first)."""
    groups: dict[str, list[Skipped]] = {}
    for s in skipped:
        groups.setdefault(skip_kind(s.reason), []).append(s)
    return sorted(groups.items(), key=lambda kv: -len(kv[1]))


def _length_stats(texts: list[str]) -> dict:
    if not texts:
        return {}
    n = [len(t) for t in texts]
    return {"min": min(n), "mean": round(sum(n) / len(n), 2), "median": statistics.median(n),
            "max": max(n)}


def build_report(dataset: str, out: Path, rows: list[dict], skipped: list[Skipped],
                 config_alphabet: str | None = None) -> Report:
    by_stage = {st: [r["text"] for r in rows if r["stage"] == st] for st in STAGES}
    alphabet = derive_alphabet(by_stage["train"])
    seen = set(alphabet)
    if by_stage["train"]:
        unseen = {st: "".join(sorted(set("".join(by_stage[st])) - seen))
                  for st in ("valid", "test")}
    else:  # e.g. a test-only import: there is no train alphabet to compare with
        unseen = {"valid": "", "test": ""}
    outside = ""
    if config_alphabet:
        outside = "".join(sorted(seen - set(config_alphabet)))
    return Report(
        dataset=dataset,
        out=str(out),
        counts={st: len(by_stage[st]) for st in STAGES},
        alphabet=alphabet,
        length={st: _length_stats(by_stage[st]) for st in STAGES},
        unseen=unseen,
        outside_config_alphabet=outside,
        skipped=list(skipped),
    )
