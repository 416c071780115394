"""marking.csv validation: every bad case names the line, the sample and the file."""
from pathlib import Path

import pytest

from stackmix.data.marking import MarkingError, read_marking
from stackmix.data.image import read_gray


def write_csv(root: Path, text: str | bytes) -> None:
    data = text.encode("utf-8") if isinstance(text, str) else text
    (root / "marking.csv").write_bytes(data)


def test_reads_valid_dataset(tiny_dataset):
    m = read_marking(tiny_dataset)
    assert m.counts() == {"train": 24, "valid": 8, "test": 8}
    s = m.samples[0]
    assert s.path.is_absolute() and s.path.is_file()
    assert s.extra == {"writer": "w0"}
    assert m.skipped == []


def test_missing_marking_file(tmp_path):
    with pytest.raises(MarkingError, match="no marking.csv"):
        read_marking(tmp_path)


def test_missing_column(tiny_dataset):
    write_csv(tiny_dataset, "sample_id,path,text\na,lines/0000.png,abc\n")
    with pytest.raises(MarkingError, match="missing column.*stage"):
        read_marking(tiny_dataset)


@pytest.mark.parametrize(
    "row, message",
    [
        ("s0000,lines/0000.png,train,abc\ns0000,lines/0001.png,train,abc", "line 3.*duplicate sample_id.*line 2"),
        ("s0000,lines/0000.png,training,abc", "line 2.*unknown stage 'training'"),
        ("s0000,lines/none.png,train,abc", "line 2.*'s0000'.*missing image"),
        ("s0000,lines/0000.png,train,   ", "line 2.*empty text"),
        ("s0000,../../etc/passwd,train,abc", "outside the dataset folder"),
        ("s0000,lines/0000.png,train,abc,extra", "too many fields"),
    ],
)
def test_bad_rows_raise_with_location(tiny_dataset, row, message):
    write_csv(tiny_dataset, "sample_id,path,stage,text\n" + row + "\n")
    with pytest.raises(MarkingError, match=message):
        read_marking(tiny_dataset)


def test_unreadable_image_is_reported(tiny_dataset):
    (tiny_dataset / "lines" / "0000.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    write_csv(tiny_dataset, "sample_id,path,stage,text\ns0000,lines/0000.png,train,abc\n")
    with pytest.raises(MarkingError, match="line 2.*unreadable image"):
        read_marking(tiny_dataset, image_check=read_gray)


def test_skip_mode_counts_and_lists(tiny_dataset):
    write_csv(
        tiny_dataset,
        "sample_id,path,stage,text\n"
        "a,lines/0000.png,train,abc\n"
        "b,lines/none.png,train,abc\n"
        "a,lines/0001.png,train,abc\n"
        "c,lines/0002.png,dev,abc\n"
        "d,lines/0003.png,valid,\n"
        "e,lines/0004.png,test,bad\n",
    )
    m = read_marking(tiny_dataset, on_error="skip")
    assert [s.sample_id for s in m.samples] == ["a", "e"]
    assert len(m.skipped) == 4
    assert [s.line for s in m.skipped] == [3, 4, 5, 6]
    summary = m.summary()
    assert "skipped 4 rows" in summary and "missing image" in summary


def test_bom_is_accepted_and_non_utf8_is_named(tiny_dataset):
    write_csv(tiny_dataset, b"\xef\xbb\xbfsample_id,path,stage,text\na,lines/0000.png,train,abc\n")
    assert read_marking(tiny_dataset).samples[0].sample_id == "a"
    write_csv(tiny_dataset, "sample_id,path,stage,text\na,lines/0000.png,train,caf\xe9\n".encode("latin-1"))
    with pytest.raises(MarkingError, match="line 2 is not valid UTF-8"):
        read_marking(tiny_dataset)


def test_normalization_applies_before_checks(tiny_dataset):
    write_csv(tiny_dataset, 'sample_id,path,stage,text\na,lines/0000.png,train,"  a \t b  "\n')
    m = read_marking(tiny_dataset, normalize=lambda t: " ".join(t.split()))
    assert m.samples[0].text == "a b"


@pytest.mark.parametrize("brk", ["\n", "\r\n", "\u2028"])
def test_a_line_break_in_a_text_is_refused_unless_collapsed(tiny_dataset, brk):
    """A transcription must be one line: the evaluation's train_texts.txt, the corpora and the LM
    read one text per line. The default normalization makes the break a space."""
    write_csv(tiny_dataset, f'sample_id,path,stage,text\na,lines/0000.png,train,"ab{brk}cd"\n')
    assert read_marking(tiny_dataset, normalize=lambda t: " ".join(t.split())).samples[0].text == "ab cd"
    with pytest.raises(MarkingError, match=r"line [23].*'a'.*line break \(U\+"):
        read_marking(tiny_dataset)
    m = read_marking(tiny_dataset, on_error="skip")
    assert m.samples == [] and "line break" in m.skipped[0].reason
