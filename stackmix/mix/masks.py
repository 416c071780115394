"""The char masks file: per train line, where each character starts and ends (in pixels).

One UTF-8 JSON file (written atomically), readable by people and other tools::

    {"format": "stackmix-char-masks", "version": 1,
     "dataset": "poilus", "root": "/abs/path/of/dataset",
     "meta": {"checkpoint": ..., "image_h": 48, "image_w": 768, "time_steps": 96,
              "align": "greedy", "snap": 0.0, "normalize": {...}, ...},
     "summary": {"lines": 2508, "used": 812, "rejected": {"decoded text differs": 1690, ...}},
     "lines": [{"sample_id": "...", "path": "lines/x.jpg", "text": "Ceci est",
                "width": 573, "height": 64, "bounds": [3.0, 17.5, ...]}, ...]}

``bounds`` has ``len(text) + 1`` non-decreasing values: character ``k`` covers original-image
columns ``[bounds[k], bounds[k+1])``. ``path`` is relative to ``root`` (the dataset folder).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from stackmix.fs import atomic_write_text

FORMAT = "stackmix-char-masks"
VERSION = 1


class CharMasksError(ValueError):
    """The char masks file is missing, malformed or inconsistent."""


@dataclass
class LineMask:
    sample_id: str
    path: str
    text: str
    width: int
    height: int
    bounds: list[float]
    cer: float = 0.0  # model CER on this line (0 for the paper's exact-decoding rule)

    def __post_init__(self):
        if len(self.bounds) != len(self.text) + 1:
            raise CharMasksError(
                f"line {self.sample_id!r}: {len(self.bounds)} bounds for {len(self.text)} "
                "characters (need one more than characters)")

    def widths(self) -> np.ndarray:
        return np.diff(np.asarray(self.bounds, dtype=np.float64))


@dataclass
class CharMasks:
    dataset: str
    root: str
    lines: list[LineMask]
    meta: dict = field(default_factory=dict)
    summary: dict = field(default_factory=dict)

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        doc = {
            "format": FORMAT,
            "version": VERSION,
            "dataset": self.dataset,
            "root": self.root,
            "meta": self.meta,
            "summary": self.summary,
            "lines": [_line_dict(m) for m in self.lines],
        }
        # one line per sample keeps the file diff-able and compact
        head = json.dumps({k: v for k, v in doc.items() if k != "lines"}, ensure_ascii=False,
                          indent=1)
        body = ",\n".join(json.dumps(d, ensure_ascii=False, separators=(",", ":"))
                          for d in doc["lines"])
        text = head[:-2] + ',\n "lines": [\n' + body + "\n ]\n}\n"
        atomic_write_text(path, text)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "CharMasks":
        path = Path(path)
        if not path.is_file():
            raise CharMasksError(f"char masks file not found: {path}")
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, UnicodeDecodeError) as e:
            raise CharMasksError(f"{path} is not a valid char masks JSON file: {e}") from None
        if not isinstance(doc, dict) or doc.get("format") != FORMAT:
            raise CharMasksError(f"{path} is not a char masks file (format {FORMAT!r} expected)")
        if doc.get("version") != VERSION:
            raise CharMasksError(
                f"{path} has char masks format version {doc.get('version')}, this code reads "
                f"version {VERSION}: rebuild it with `python prepare.py task=char_masks ...`")
        try:
            lines = [LineMask(**d) for d in doc["lines"]]
        except (TypeError, KeyError) as e:
            raise CharMasksError(f"{path}: malformed line entry ({e})") from None
        return cls(doc["dataset"], doc["root"], lines, doc.get("meta", {}), doc.get("summary", {}))


def _line_dict(m: LineMask) -> dict:
    d = asdict(m)
    d["bounds"] = [round(float(x), 2) for x in m.bounds]
    d["cer"] = round(float(m.cer), 4)
    return d


# ---------------------------------------------------------------------- quality vs ground truth
def true_inner_boundaries(extents) -> np.ndarray:
    """Ground-truth boundary between consecutive characters from per-character ``[x0, x1)``
    extents: the midpoint between the end of one character and the start of the next."""
    e = np.asarray(extents, dtype=np.float64).reshape(-1, 2)
    return (e[:-1, 1] + e[1:, 0]) / 2


def true_char_masks(root: str | Path, stage: str = "train",
                    extents_file: str = "char_extents.json") -> CharMasks:
    """Char masks of a dataset whose renderer recorded each character's true ``[x0, x1)``
    columns (the synthetic dataset's ``char_extents.json``): no model needed.

    Bounds run from the first character's start to the last one's end, with inner boundaries
    midway between neighbours. ``meta["source"]`` says where they came from.
    """
    from PIL import Image

    from stackmix.data.marking import read_marking

    root = Path(root).expanduser().resolve()
    ext_path = root / extents_file
    if not ext_path.is_file():
        raise CharMasksError(f"no {extents_file} in {root}: true character extents exist only for "
                             "datasets that record them (the synthetic dataset does)")
    extents = json.loads(ext_path.read_text(encoding="utf-8"))
    lines = []
    for s in read_marking(root, check_images=False).stage(stage):
        ext = extents.get(s.sample_id)
        if ext is None or len(ext) != len(s.text):
            raise CharMasksError(f"{ext_path}: sample {s.sample_id!r} has "
                                 f"{'no' if ext is None else len(ext)} extents for its "
                                 f"{len(s.text)} characters")
        with Image.open(s.path) as im:
            w, h = im.size
        bounds = [float(ext[0][0]), *true_inner_boundaries(ext).tolist(), float(ext[-1][1])]
        lines.append(LineMask(s.sample_id, s.path.relative_to(root).as_posix(), s.text, w, h,
                              bounds))
    return CharMasks(root.name, str(root), lines, meta={"source": f"true extents ({extents_file})"})


def boundary_errors(masks: CharMasks, extents: dict[str, list]) -> dict:
    """Errors of the inner boundaries of ``masks`` against true per-character extents (e.g. the
    synthetic dataset's ``char_extents.json``), in units of each line's mean character width
    (text ink width / number of characters).

    Returns ``{"median", "mean", "p90", "boundaries", "lines"}``.
    """
    errs: list[np.ndarray] = []
    lines = 0
    for m in masks.lines:
        ext = extents.get(m.sample_id)
        if ext is None or len(ext) != len(m.text) or len(m.text) < 2:
            continue
        e = np.asarray(ext, dtype=np.float64)
        char_w = (e[-1, 1] - e[0, 0]) / len(m.text)
        if char_w <= 0:
            continue
        pred = np.asarray(m.bounds[1:-1], dtype=np.float64)
        errs.append(np.abs(pred - true_inner_boundaries(e)) / char_w)
        lines += 1
    if not errs:
        return {"median": float("nan"), "mean": float("nan"), "p90": float("nan"),
                "boundaries": 0, "lines": 0}
    a = np.concatenate(errs)
    return {"median": float(np.median(a)), "mean": float(a.mean()),
            "p90": float(np.percentile(a, 90)), "boundaries": int(a.size), "lines": lines}
