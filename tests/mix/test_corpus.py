import numpy as np
import pytest

from stackmix.mix.corpus import CorpusError, build_corpus, cut_line
from stackmix.text import Normalizer

TRAIN = ["le chat", "un chien noir", "la maison"]
CHARS = set("".join(TRAIN))


def test_default_corpus_is_the_train_transcriptions_filtered():
    c = build_corpus(None, train_texts=TRAIN + ["zèbre"], renderable=CHARS - {"z"}, max_len=None)
    assert c.lines == TRAIN
    assert c.read == 4 and c.dropped_chars == 1 and c.missing["z"] == 1
    assert "3 of 4 lines usable" in c.report() and "'z'" in c.report()


def test_text_file_is_normalized_cut_and_filtered(tmp_path):
    f = tmp_path / "corpus.txt"
    long = " ".join(["le chat noir"] * 30)  # 389 characters
    f.write_text("\ufeffun   chien\n\n" + long + "\nla maison ⚡\nnoir\n", encoding="utf-8")
    c = build_corpus(f, train_texts=TRAIN, renderable=CHARS, normalize=Normalizer(),
                     max_len=13, min_len=2, seed=0)
    assert c.lines[0] == "un chien"  # whitespace collapsed, BOM dropped
    cut = c.lines[1:-1]
    assert len(cut) > 20 and all(len(t) <= 13 for t in cut)
    assert " ".join(cut) == long  # cutting only happens at spaces, nothing lost
    assert c.lines[-1] == "noir"
    assert c.dropped_chars == 1 and c.missing["⚡"] == 1


def test_max_len_and_min_len():
    c = build_corpus(None, train_texts=["ab", "abcdef", "a"], renderable=set("abcdef"),
                     max_len=4, min_len=2)
    assert c.lines == ["ab"] and c.dropped_long == 1 and c.dropped_short == 1
    with pytest.raises(CorpusError, match="no usable corpus lines"):
        build_corpus(None, train_texts=["xyz"], renderable=set("ab"))
    with pytest.raises(CorpusError, match="not found"):
        build_corpus("/no/such/file.txt", train_texts=["ab"], renderable=set("ab"))


def test_cut_line_follows_the_length_distribution():
    rng = np.random.default_rng(0)
    text = " ".join(f"{i:03d}" for i in range(300))  # words of 3 characters
    pieces = cut_line(text, [11, 11, 23], rng)
    lens = np.array([len(p) for p in pieces])
    assert set(lens.tolist()) <= {11, 23} and (lens == 11).mean() > 0.5
    assert " ".join(pieces) == text
