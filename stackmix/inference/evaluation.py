"""Evaluation report: metrics per decoder, the worst lines with thumbnails, character confusions.

:func:`write_evaluation_report` writes a folder (atomically: built next to its final place, then
swapped in) holding

- ``report.md`` (thumbnails in ``thumbs/``) and ``report.html`` (self-contained, errors
  highlighted), rendered by :mod:`stackmix.inference.rendering` from jinja2 templates;
- ``metrics.json``: CER / WER / string accuracy per decoder (corpus-level: total edits ÷ total
  reference characters or words, computed with the same torchmetrics objects as training);
- ``confusions.csv``: substitutions / insertions / deletions counted over the split
  (``type,reference,prediction,count``);
- ``predictions_<decoder>.csv``: one row per line with its CER and confidences.

This module computes (alignment, confusions, metrics, per-line rows); rendering is elsewhere.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import os
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from rapidfuzz.distance import Levenshtein

from stackmix.fs import building_dir
from stackmix.inference.rendering import render_report
from stackmix.metrics import line_cer

log = logging.getLogger(__name__)

N_WORST = 20
THUMB_H = 72             # px: a line read at a glance (most lines are 40-130 px high)
THUMB_MAX_W = 1600


# ---------------------------------------------------------------------- alignment
def align(ref: str, hyp: str) -> list[tuple[str, str, str]]:
    """Minimal edit alignment of ``hyp`` against ``ref`` (rapidfuzz ``Levenshtein.opcodes``).

    Returns ``(op, ref_char, hyp_char)`` steps with op ``"="`` (match), ``"s"`` (substitution),
    ``"d"`` (deletion: ref char missing, hyp_char ``""``), ``"i"`` (insertion: ref_char ``""``).
    Where several minimal alignments exist, the matched characters are rapidfuzz's choice, and
    within each stretch of errors between two matches the substitutions come first, then the
    surplus deletions (or insertions): ``("abc", "x")`` → ``s d d``, ``("a", "xyz")`` → ``s i i``.
    """
    steps: list[tuple[str, str, str]] = []
    gap = [0, 0, 0, 0]  # ref[gap[0]:gap[1]] against hyp[gap[2]:gap[3]], all errors

    def flush() -> None:
        i0, i1, j0, j1 = gap
        k = min(i1 - i0, j1 - j0)
        steps.extend(("s", ref[i0 + a], hyp[j0 + a]) for a in range(k))
        steps.extend(("d", ref[i], "") for i in range(i0 + k, i1))
        steps.extend(("i", "", hyp[j]) for j in range(j0 + k, j1))

    for op in Levenshtein.opcodes(ref, hyp):
        if op.tag == "equal":
            flush()
            steps.extend(("=", ref[i], hyp[j]) for i, j in
                         zip(range(op.src_start, op.src_end), range(op.dest_start, op.dest_end)))
            gap[:] = [op.src_end, op.src_end, op.dest_end, op.dest_end]
        else:
            gap[1], gap[3] = op.src_end, op.dest_end
    flush()
    return steps


def edit_count(steps: Sequence[tuple[str, str, str]]) -> int:
    return sum(1 for op, _, _ in steps if op != "=")


@dataclass
class Confusions:
    substitutions: Counter
    insertions: Counter
    deletions: Counter

    @classmethod
    def count(cls, pairs: Iterable[tuple[str, str]]) -> "Confusions":
        sub, ins, dele = Counter(), Counter(), Counter()
        for ref, hyp in pairs:
            for op, r, h in align(ref, hyp):
                if op == "s":
                    sub[(r, h)] += 1
                elif op == "i":
                    ins[h] += 1
                elif op == "d":
                    dele[r] += 1
        return cls(sub, ins, dele)

    def totals(self) -> dict:
        return {"substitutions": sum(self.substitutions.values()),
                "insertions": sum(self.insertions.values()),
                "deletions": sum(self.deletions.values())}

    def rows(self) -> list[dict]:
        out = [{"type": "substitution", "reference": r, "prediction": h, "count": n}
               for (r, h), n in self.substitutions.most_common()]
        out += [{"type": "insertion", "reference": "", "prediction": h, "count": n}
                for h, n in self.insertions.most_common()]
        out += [{"type": "deletion", "reference": r, "prediction": "", "count": n}
                for r, n in self.deletions.most_common()]
        return out


# ---------------------------------------------------------------------- metrics
def corpus_metrics(refs: Sequence[str], hyps: Sequence[str]) -> dict:
    """CER, WER, string accuracy over the whole split (the training metrics) + counts."""
    from stackmix.metrics import text_metrics

    if not refs:
        return {"cer": None, "wer": None, "acc": None, "lines": 0, "chars": 0, "words": 0}
    m = text_metrics("")
    m.update(list(hyps), list(refs))
    out = {k: float(v) for k, v in m.compute().items()}
    out.update(lines=len(refs), chars=sum(len(r) for r in refs),
               words=sum(len(r.split()) for r in refs))
    return out


def _sample_paths(images: Any) -> dict[str, str]:
    if images is None:
        return {}
    if isinstance(images, Mapping):
        return {str(k): str(v) for k, v in images.items()}
    return {str(s.sample_id): str(s.path) for s in images}


# ---------------------------------------------------------------------- writing
def _thumbnail(path: str | None) -> bytes | None:
    if not path:
        return None
    try:
        import cv2

        from stackmix.data.image import read_gray

        img = read_gray(path)
        h, w = img.shape
        s = THUMB_H / h
        nw = max(1, min(THUMB_MAX_W, int(round(w * s))))
        nh = max(1, int(round(h * min(s, nw / w))))
        small = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".png", small)
        return buf.tobytes() if ok else None
    except Exception as e:  # a missing thumbnail must not sink the report
        log.warning("no thumbnail for %s: %s", path, e)
        return None


def _csv_text(rows: list[dict], fields: list[str]) -> str:
    buf = io.StringIO(newline="")
    w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


def _safe_name(s: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in s)[:60]


def write_evaluation_report(
    out_dir: str | Path,
    results: Mapping[str, Sequence[dict]] | Sequence[dict],
    images: Any = None,
    primary: str | None = None,
    title: str = "Evaluation",
    info: Mapping[str, Any] | None = None,
    n_worst: int = N_WORST,
    strict: bool = True,
    files: Mapping[str, str] | None = None,
) -> dict | None:
    """Write the evaluation report folder ``out_dir`` and return the metrics per decoder.

    ``results``: rows (``sample_id``, ``text`` = reference, ``prediction``, optional
    ``confidence``, ``char_probs``, ``path``) for one decoder, or a mapping decoder name → rows.
    ``images``: mapping sample_id → image path, or samples with ``.sample_id`` / ``.path``
    (used for thumbnails when rows have no ``path``). ``primary``: the decoder whose worst lines
    and confusions are shown (default: the first). ``info``: extra key/values shown at the top
    (checkpoint, dataset, split, ...). ``files``: more text files of the folder, relative path →
    content, written with the rest (the folder appears complete or not at all). ``strict=False``
    logs a failure instead of raising (so a report problem never costs a finished training run its
    other outputs).
    """
    try:
        return _write_report(Path(out_dir), results, images, primary, title, dict(info or {}),
                             n_worst, dict(files or {}))
    except Exception:
        if strict:
            raise
        log.exception("could not write the evaluation report to %s", out_dir)
        return None


def _write_report(out_dir: Path, results, images, primary, title, info, n_worst,
                  files: dict[str, str]) -> dict:
    if not isinstance(results, Mapping):
        results = {"greedy": results}
    results = {k: list(v) for k, v in results.items()}
    if not results:
        raise ValueError("no decoder results to report")
    primary = primary or next(iter(results))
    paths = _sample_paths(images)
    metrics: dict[str, dict] = {}
    per_line: dict[str, list[dict]] = {}
    for name, rows in results.items():
        refs = [r["text"] for r in rows]
        hyps = [r["prediction"] for r in rows]
        m = corpus_metrics(refs, hyps)
        confs = [float(r["confidence"]) for r in rows if r.get("confidence") is not None]
        m["mean_confidence"] = sum(confs) / len(confs) if confs else None
        lines = []
        for r in rows:
            steps = align(r["text"], r["prediction"])
            lines.append({**r, "steps": steps, "edits": edit_count(steps),
                          "cer": line_cer(r["text"], r["prediction"]),
                          "path": r.get("path") or paths.get(str(r.get("sample_id")))})
        per_line[name] = lines
        metrics[name] = m

    lines = per_line[primary]
    conf = Confusions.count((r["text"], r["prediction"]) for r in lines)
    worst = sorted(lines, key=lambda r: (-r["cer"], -r["edits"], str(r.get("sample_id"))))
    worst = [r for r in worst if r["edits"] > 0][:n_worst]

    out_dir = out_dir.resolve()
    with building_dir(out_dir) as tmp:
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o777 & ~umask)  # mkdtemp makes it private; the report is for everyone
        thumbs_dir = tmp / "thumbs"
        thumbs_dir.mkdir()
        thumbs: list[tuple[str | None, bytes | None]] = []
        for k, r in enumerate(worst, 1):
            data = _thumbnail(r["path"])
            rel = None
            if data:
                rel = f"thumbs/{k:02d}_{_safe_name(str(r.get('sample_id', k)))}.png"
                (tmp / rel).write_bytes(data)
            thumbs.append((rel, data))
        report = {"title": title, "info": info, "primary": primary, "metrics": metrics,
                  "confusion_totals": conf.totals(),
                  "generated": time.strftime("%Y-%m-%d %H:%M:%S")}
        (tmp / "metrics.json").write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n",
                                          encoding="utf-8")
        (tmp / "confusions.csv").write_text(
            _csv_text(conf.rows(), ["type", "reference", "prediction", "count"]), encoding="utf-8")
        for name, rows in per_line.items():
            out_rows = [{
                "sample_id": r.get("sample_id", ""), "path": r.get("path") or "",
                "text": r["text"], "prediction": r["prediction"], "cer": f"{r['cer']:.4f}",
                "confidence": "" if r.get("confidence") is None else f"{float(r['confidence']):.4f}",
                "char_confidences": " ".join(f"{p:.4f}" for p in r.get("char_probs") or []),
            } for r in rows]
            (tmp / f"predictions_{_safe_name(name)}.csv").write_text(
                _csv_text(out_rows, ["sample_id", "path", "text", "prediction", "cer",
                                     "confidence", "char_confidences"]), encoding="utf-8")
        md, page = render_report(title, info, metrics, primary, conf, worst, thumbs, THUMB_H)
        (tmp / "report.md").write_text(md, encoding="utf-8")
        (tmp / "report.html").write_text(page, encoding="utf-8")
        for rel, text in files.items():
            path = tmp / rel
            if tmp.resolve() not in path.resolve().parents:
                raise ValueError(f"report file {rel!r} is outside the report folder")
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    log.info("evaluation report: %s", out_dir / "report.md")
    return metrics


# ---------------------------------------------------------------------- running a model
def evaluate_samples(recognizer, samples: Sequence[Any], decoders: Mapping[str, Any],
                     batch_size: int = 16, num_workers: int = 0,
                     progress: bool = True) -> dict[str, list[dict]]:
    """Run ``recognizer`` once over ``samples`` (objects with ``sample_id``, ``path``, ``text``)
    and decode with every decoder of ``decoders``; returns rows per decoder for the report."""
    from stackmix.inference.engine import recognize

    samples = list(samples)
    runs = recognize(recognizer, [s.path for s in samples], dict(decoders), batch_size=batch_size,
                     num_workers=num_workers, on_error="raise", progress=progress)
    out: dict[str, list[dict]] = {}
    for name, run in runs.items():
        out[name] = [{"sample_id": s.sample_id, "path": str(s.path), "text": s.text,
                      "prediction": r.text, "confidence": r.confidence, "char_probs": r.char_probs}
                     for s, r in zip(samples, run.results)]
    return out
