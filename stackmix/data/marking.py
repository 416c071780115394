"""Read and validate a prepared dataset: ``<root>/marking.csv`` + images.

Format (the original StackMix-OCR one): ``sample_id,path,stage,text`` plus optional extra columns
(``writer``, ...); ``path`` is relative to the dataset folder; ``stage`` is train/valid/test.
"""
from __future__ import annotations

import csv
import io
import logging
import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from stackmix.fs import TextDecodeError, decode_text

log = logging.getLogger(__name__)

REQUIRED_COLUMNS = ("sample_id", "path", "stage", "text")
STAGES = ("train", "valid", "test")
MARKING = "marking.csv"


class MarkingError(ValueError):
    """The dataset's marking.csv (or one of its rows) is invalid; the message says where and why."""


@dataclass
class Sample:
    sample_id: str
    path: Path  # absolute
    stage: str
    text: str
    extra: dict = field(default_factory=dict)
    line: int = 0  # line number in marking.csv (header = 1), for error messages


@dataclass
class Skip:
    line: int  # 1-based line number in marking.csv (header = line 1)
    sample_id: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"marking.csv line {self.line} (sample {self.sample_id!r}, {self.path!r}): {self.reason}"


@dataclass
class Marking:
    root: Path
    samples: list[Sample]
    skipped: list[Skip] = field(default_factory=list)
    columns: tuple[str, ...] = REQUIRED_COLUMNS

    def stage(self, name: str) -> list[Sample]:
        return [s for s in self.samples if s.stage == name]

    def counts(self) -> dict[str, int]:
        c = Counter(s.stage for s in self.samples)
        return {st: c.get(st, 0) for st in STAGES}

    def summary(self) -> str:
        counts = self.counts()
        head = f"dataset {self.root}: " + ", ".join(f"{k} {v}" for k, v in counts.items())
        if not self.skipped:
            return head + " (nothing skipped)"
        reasons = Counter(s.reason.split(":")[0] for s in self.skipped)
        lines = [head + f"; skipped {len(self.skipped)} rows: " +
                 ", ".join(f"{r} ×{n}" for r, n in reasons.most_common())]
        lines += [f"  - {s}" for s in self.skipped[:20]]
        if len(self.skipped) > 20:
            lines.append(f"  ... and {len(self.skipped) - 20} more")
        return "\n".join(lines)


def _decode_csv(raw: bytes, path: Path) -> str:
    try:
        return decode_text(raw, path)
    except TextDecodeError as e:
        raise MarkingError(str(e)) from None


# what str.splitlines() breaks at: a transcription holding one would not survive a text file of lines
LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def read_marking(
    root: str | Path,
    *,
    on_error: str = "raise",
    check_images: bool = True,
    stages: tuple[str, ...] | None = None,
    normalize: Callable[[str], str] | None = None,
    image_check: Callable[[Path], None] | None = None,
) -> Marking:
    """Parse and validate ``<root>/marking.csv``.

    ``on_error="raise"`` stops at the first bad row with a message naming the line, sample and
    file; ``"skip"`` drops bad rows and records each in ``Marking.skipped`` (errors that concern
    the whole file, such as missing columns, always raise). ``check_images`` verifies each image
    exists (and, with ``image_check``, e.g. decodes). ``normalize`` is applied to each text.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    root = Path(root).expanduser().resolve()
    csv_path = root / MARKING
    if not csv_path.is_file():
        raise MarkingError(
            f"no {MARKING} in {root}. A prepared dataset is a folder with marking.csv "
            "(sample_id,path,stage,text) and its images; see README 'Dataset format'."
        )
    text = _decode_csv(csv_path.read_bytes(), csv_path)
    reader = csv.DictReader(io.StringIO(text, newline=""))
    columns = tuple(c.strip() for c in (reader.fieldnames or ()))
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        raise MarkingError(
            f"{csv_path}: missing column(s) {', '.join(missing)}; the header is {list(columns)} "
            f"but must contain {', '.join(REQUIRED_COLUMNS)}."
        )
    reader.fieldnames = list(columns)

    samples: list[Sample] = []
    skipped: list[Skip] = []
    seen: dict[str, int] = {}

    def bad(line: int, sid: str, p: str, reason: str) -> None:
        skip = Skip(line, sid, p, reason)
        if on_error == "raise":
            raise MarkingError(f"{csv_path}: {skip}")
        skipped.append(skip)

    for i, row in enumerate(reader):
        line = reader.line_num if reader.line_num else i + 2
        if None in row:
            bad(line, str(row.get("sample_id")), str(row.get("path")),
                "too many fields: the row has more values than the header has columns "
                "(quote text containing commas)")
            continue
        sid = (row.get("sample_id") or "").strip()
        rel = (row.get("path") or "").strip()
        stage = (row.get("stage") or "").strip()
        raw_text = row.get("text")
        if not sid:
            bad(line, sid, rel, "empty sample_id")
            continue
        if sid in seen:
            bad(line, sid, rel, f"duplicate sample_id: already used on line {seen[sid]}")
            continue
        seen[sid] = line
        if stage not in STAGES:
            bad(line, sid, rel, f"unknown stage {stage!r}: must be one of {', '.join(STAGES)}")
            continue
        if stages is not None and stage not in stages:
            continue
        txt = raw_text if raw_text is not None else ""
        if normalize is not None:
            txt = normalize(txt)
        if not txt.strip():
            bad(line, sid, rel, "empty text: every line needs a transcription")
            continue
        if not any(c.isprintable() and not c.isspace() for c in txt):
            codes = " ".join(sorted({f"U+{ord(c):04X}" for c in txt}))
            bad(line, sid, rel, f"empty text: only invisible characters ({codes}); every line "
                "needs a transcription")
            continue
        breaks = sorted({f"U+{ord(c):04X}" for c in txt if c in LINE_BREAKS})
        if breaks:
            bad(line, sid, rel, f"the text holds a line break ({' '.join(breaks)}): a sample is "
                "one line of writing with a one-line transcription; remove it (or keep "
                "dataset.normalize.collapse_whitespace=true, which makes it a space)")
            continue
        if not rel:
            bad(line, sid, rel, "empty path")
            continue
        # inside the folder by name (a symlinked lines/ folder is fine; '..' and absolute are not)
        img = Path(os.path.normpath(root / rel))
        if not img.is_relative_to(root):
            bad(line, sid, rel, f"path points outside the dataset folder {root}")
            continue
        if check_images:
            if img.is_dir():
                bad(line, sid, rel, f"path is a folder, not an image file: {img}")
                continue
            if not img.is_file():
                bad(line, sid, rel, f"missing image: {img} does not exist")
                continue
            if image_check is not None:
                try:
                    image_check(img)
                except ValueError as e:
                    bad(line, sid, rel, f"unreadable image: {e}")
                    continue
        extra = {k: v for k, v in row.items() if k not in REQUIRED_COLUMNS}
        samples.append(Sample(sid, img, stage, txt, extra, line))

    marking = Marking(root, samples, skipped, columns)
    if skipped:
        log.warning(marking.summary())
    return marking


def group_by_stage(samples: list[Sample]) -> dict[str, list[Sample]]:
    out: dict[str, list[Sample]] = defaultdict(list)
    for s in samples:
        out[s.stage].append(s)
    return out


def write_marking(root: str | Path, rows: list[dict], extra_columns: tuple[str, ...] = ()) -> Path:
    """Write ``rows`` (dicts with at least the required columns) atomically to root/marking.csv."""
    from stackmix.fs import atomic_write_text

    cols = list(REQUIRED_COLUMNS) + [c for c in extra_columns if c not in REQUIRED_COLUMNS]
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    out = Path(root) / MARKING
    atomic_write_text(out, buf.getvalue())
    return out
