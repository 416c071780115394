import pytest

from stackmix.metrics import line_cer, text_metrics


def test_cer_is_corpus_level_not_line_average():
    m = text_metrics("x/")
    # line 1: 1 edit / 10 chars; line 2: 1 edit / 2 chars -> corpus 2/12, line average 0.3
    m.update(["abcdefghiX", "aX"], ["abcdefghij", "ab"])
    out = {k: float(v) for k, v in m.compute().items()}
    assert out["x/cer"] == pytest.approx(2 / 12)
    assert out["x/acc"] == 0.0


def test_wer_and_accuracy_hand_computed():
    m = text_metrics("")
    m.update(["the cat sat", "a dog"], ["the cat sat", "the dog ran"])
    m.update(["ok"], ["ok"])
    out = {k: float(v) for k, v in m.compute().items()}
    # words: 3 + 3 + 1 = 7 reference words; errors: 0 + (sub a->the, del ran) 2 + 0
    assert out["wer"] == pytest.approx(2 / 7)
    assert out["acc"] == pytest.approx(2 / 3)
    # chars: 11 + 11 + 2 = 24; "a dog" -> "the dog ran": a->t, +h, +e, +" ran" = 7 edits
    assert out["cer"] == pytest.approx(7 / 24)


def test_line_cer():
    # line_cer(reference, prediction)
    assert line_cer("abc", "abc") == 0.0
    assert line_cer("abcd", "") == 1.0
    assert line_cer("abc", "abd") == pytest.approx(1 / 3)
    assert line_cer("kitten", "sitting") == pytest.approx(3 / 6)
    assert line_cer("", "") == 0.0 and line_cer("", "x") == 1.0
    assert line_cer("ab", "abcdef") == pytest.approx(4 / 2)  # edits over the reference length
