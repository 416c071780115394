"""The conversion report's skip summary: grouped by reason, a few examples each."""
from __future__ import annotations

from stackmix.data.sources.common import Report, Skipped, skip_kind


def test_skip_summary_groups_by_reason_with_examples():
    skipped = [Skipped(f"p{k}_00{k % 3}", f"empty transcription (TextLine 'l{k}' in p{k}.xml)")
               for k in range(40)]
    skipped += [Skipped(f"page{k}.xml", f"page image page{k}.jpg not found; looked in /a/b{k}, "
                                         "/c (pass images=<folder holding the page images>)")
                for k in range(2)]
    skipped.append(Skipped("x_001", "not in any split list"))
    report = Report("d", "/out", {"train": 1, "valid": 0, "test": 0}, "ab", {}, {}, "", skipped)
    text = report.summary()
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("skipped"))
    assert lines[start] == ("skipped 43 item(s) for 3 reason(s) (all listed in "
                            "prepare_report.json):")
    assert lines[start + 1] == "  ×40 empty transcription (TextLine … in …)"
    assert lines[start + 2:start + 5] == [f"      {s}" for s in skipped[:3]]
    assert lines[start + 5] == "      … (+37 more)"
    assert lines[start + 6].startswith("  ×2 page image … not found; looked in …")
    assert lines[-2:] == ["  ×1 not in any split list", "      x_001: not in any split list"]
    assert len(lines) - start == 11  # not one line per skipped item


def test_skip_kind_keeps_the_words_and_drops_names_and_numbers():
    assert skip_kind("missing image: /data/a01-000u-00.png does not exist") == \
        "missing image: … does not exist"
    assert skip_kind("cannot crop the line: the region (1, 2, 3, 4) lies outside the 200×120 "
                     "page image or is empty") == \
        "cannot crop the line: the region (…) lies outside the … page image or is empty"
