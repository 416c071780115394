"""Evaluation report: alignment, confusion counts, corpus metrics, the report folder."""
import csv
import json

import cv2
import numpy as np
import pytest

from stackmix.inference.evaluation import (
    Confusions,
    align,
    corpus_metrics,
    write_evaluation_report,
)
from stackmix.inference import evaluation
from stackmix.metrics import line_cer


def test_align_counts_minimal_edits():
    steps = align("kitten", "sitting")
    assert [op for op, _, _ in steps] == ["s", "=", "=", "=", "s", "=", "i"]
    assert line_cer("kitten", "sitting") == pytest.approx(3 / 6)
    assert [op for op, _, _ in align("abc", "")] == ["d", "d", "d"]
    assert [op for op, _, _ in align("", "ab")] == ["i", "i"]
    assert line_cer("", "") == 0.0 and line_cer("", "x") == 1.0


def test_confusions_and_corpus_metrics():
    pairs = [("the cat", "the cot"), ("a cat", "a ct"), ("cats", "cats!"), ("dog", "dog")]
    c = Confusions.count(pairs)
    assert c.substitutions == {("a", "o"): 1}
    assert c.deletions == {"a": 1}
    assert c.insertions == {"!": 1}
    assert c.totals() == {"substitutions": 1, "insertions": 1, "deletions": 1}
    m = corpus_metrics([r for r, _ in pairs], [h for _, h in pairs])
    assert m["cer"] == pytest.approx(3 / 19)  # total edits / total reference characters
    assert m["acc"] == pytest.approx(1 / 4)
    assert m["wer"] == pytest.approx(3 / 6)
    assert (m["lines"], m["chars"], m["words"]) == (4, 19, 6)


def _rows(n, tmp_path):
    rows, images = [], {}
    for i in range(n):
        ref = f"line {i}"
        pred = ref if i % 3 == 0 else ref[:-1] + "x" * (i % 4)
        img = np.full((30, 120 + i), 255, np.uint8)
        cv2.putText(img, ref, (3, 22), cv2.FONT_HERSHEY_SIMPLEX, 0.6, 0, 1)
        p = tmp_path / f"{i}.png"
        cv2.imwrite(str(p), img)
        images[f"s{i}"] = p
        rows.append({"sample_id": f"s{i}", "text": ref, "prediction": pred,
                     "confidence": 0.5, "char_probs": [0.5] * len(pred)})
    return rows, images


def test_report_lists_the_20_worst_lines_with_thumbnails(tmp_path):
    rows, images = _rows(40, tmp_path)
    other = [{**r, "prediction": r["text"]} for r in rows]
    out = tmp_path / "report"
    metrics = write_evaluation_report(out, {"greedy": rows, "beam": other}, images=images,
                                      info={"checkpoint": "x.ckpt"})
    assert set(metrics) == {"greedy", "beam"}
    assert metrics["beam"]["cer"] == 0.0 and metrics["greedy"]["cer"] > 0
    md = (out / "report.md").read_text(encoding="utf-8")
    assert "| greedy |" in md and "| beam |" in md and "x.ckpt" in md
    assert "The 20 worst lines (greedy)" in md
    thumbs = sorted((out / "thumbs").glob("*.png"))
    assert len(thumbs) == 20
    assert all(f"thumbs/{t.name}" in md for t in thumbs)
    assert cv2.imread(str(thumbs[0]), cv2.IMREAD_GRAYSCALE).shape[0] == evaluation.THUMB_H == 72
    html = (out / "report.html").read_text(encoding="utf-8")
    assert html.count("data:image/png;base64,") == 20
    saved = json.loads((out / "metrics.json").read_text())
    assert saved["metrics"]["greedy"]["cer"] == pytest.approx(metrics["greedy"]["cer"])
    conf = list(csv.DictReader((out / "confusions.csv").open(encoding="utf-8")))
    assert {r["type"] for r in conf} <= {"substitution", "insertion", "deletion"}
    assert sum(int(r["count"]) for r in conf) == sum(
        sum(op != "=" for op, _, _ in align(r["text"], r["prediction"])) for r in rows)
    preds = list(csv.DictReader((out / "predictions_greedy.csv").open(encoding="utf-8")))
    assert len(preds) == 40 and preds[0]["confidence"] == "0.5000"
    # worst first: CER never increases down the table
    cers = [float(line.split("|")[3].strip(" %")) for line in md.splitlines()
            if line.startswith("| ") and " % |" in line and "thumbs/" in line]
    assert cers == sorted(cers, reverse=True) and len(cers) == 20


def test_report_replaces_the_folder_atomically_and_can_be_lenient(tmp_path):
    rows, images = _rows(3, tmp_path)
    out = tmp_path / "report"
    write_evaluation_report(out, rows, images=images)
    (out / "stale.txt").write_text("old")
    write_evaluation_report(out, rows, images=images)
    assert not (out / "stale.txt").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report")]
    with pytest.raises(ValueError):
        write_evaluation_report(out, {}, images=images)
    assert (out / "report.md").is_file()  # a failed write leaves the previous report
    assert write_evaluation_report(out, {}, strict=False) is None


def test_align_tie_break_is_the_documented_one():
    # among minimal alignments, a stretch of errors shows its substitutions first, then the
    # surplus deletions or insertions
    assert [op for op, _, _ in align("abc", "x")] == ["s", "d", "d"]
    assert [op for op, _, _ in align("a", "xyz")] == ["s", "i", "i"]
    assert align("aXYb", "aZb") == [("=", "a", "a"), ("s", "X", "Z"), ("d", "Y", ""),
                                    ("=", "b", "b")]
    assert align("aZb", "aXYb") == [("=", "a", "a"), ("s", "Z", "X"), ("i", "", "Y"),
                                    ("=", "b", "b")]
    # every alignment is minimal: its edits are the Levenshtein distance
    rng = np.random.default_rng(0)
    for _ in range(300):
        ref = "".join(rng.choice(list("ab c"), size=rng.integers(0, 9)))
        hyp = "".join(rng.choice(list("ab c"), size=rng.integers(0, 9)))
        steps = align(ref, hyp)
        assert "".join(r for _, r, _ in steps) == ref and "".join(h for _, _, h in steps) == hyp
        assert sum(op != "=" for op, _, _ in steps) == line_cer(ref, hyp) * len(ref) or not ref


def test_report_writes_extra_files_with_the_folder(tmp_path):
    """``files`` (e.g. the evaluated decoders' configs) go into the folder with the report, in
    sub-folders as named; a path leaving the folder is refused and the old report stays."""
    rows, images = _rows(3, tmp_path)
    out = tmp_path / "report"
    write_evaluation_report(out, rows, images=images,
                            files={"decoder/eval_x.yaml": "alpha: 0.5\n", "words.txt": "a\nb\n"})
    assert (out / "decoder" / "eval_x.yaml").read_text() == "alpha: 0.5\n"
    assert (out / "words.txt").read_text() == "a\nb\n" and (out / "report.md").is_file()
    with pytest.raises(ValueError, match="outside the report folder"):
        write_evaluation_report(out, rows, images=images, files={"../escaped.txt": "x"})
    assert not (tmp_path / "escaped.txt").exists() and (out / "decoder" / "eval_x.yaml").is_file()
