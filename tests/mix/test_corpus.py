import pickle

import numpy as np
import pytest

from stackmix.mix.corpus import (
    PAPER_MAX_LEN, CorpusError, CorpusLines, CorpusNotFoundError, build_corpus, cut_line,
)
from stackmix.text import Normalizer

TRAIN = ["le chat", "un chien noir", "la maison"]
CHARS = set("".join(TRAIN))


def test_default_corpus_is_the_train_transcriptions_filtered():
    c = build_corpus(None, train_texts=TRAIN + ["zèbre"], renderable=CHARS - {"z"}, max_len=None)
    assert list(c.lines) == TRAIN
    assert c.stats.read == 4 and c.stats.dropped_chars == 1 and c.stats.missing["z"] == 1
    assert "3 of 4 lines usable" in c.report() and "'z'" in c.report()
    assert build_corpus("train", train_texts=TRAIN, renderable=CHARS).source == "train transcriptions"


def test_text_file_is_normalized_cut_and_filtered(tmp_path):
    f = tmp_path / "corpus.txt"
    long = " ".join(["le chat noir"] * 30)  # 389 characters
    f.write_text("\ufeffun   chien\n\n" + long + "\nmaison⚡\nnoir\n", encoding="utf-8")
    c = build_corpus(f, train_texts=TRAIN, renderable=CHARS, normalize=Normalizer(),
                     max_len=13, min_len=2, seed=0)
    lines = list(c.lines)
    assert len(lines) > 20 and all(len(t) <= 13 for t in lines)
    # whitespace collapsed, BOM dropped, cut only at spaces (nothing lost), the ⚡ line dropped
    assert " ".join(lines) == "un chien " + long + " noir"
    assert c.stats.dropped_chars == 1 and c.stats.missing["⚡"] == 1
    assert c.stats.read == 4 and c.stats.usable == len(lines)
    assert f"{len(lines)} of {c.stats.pieces} lines usable (cut from 4 source lines)" in c.report()


def test_external_corpus_follows_the_train_lengths_up_to_110(tmp_path):
    """A paragraph corpus becomes lines of the train lines' lengths; 110 caps them by default."""
    rng = np.random.default_rng(1)
    words = ["ab", "abc", "abcd", "a", "bcd"]
    text = "\n".join(" ".join(rng.choice(words, 400)) for _ in range(5))
    (tmp_path / "c.txt").write_text(text + "\n" + "x" * 120 + "\n", encoding="utf-8")
    train = ["ab " * 5, "abc " * 10, "a" * 150]  # lengths 14, 39, 150 (above the cap)
    train = [t.strip() for t in train]
    c = build_corpus(tmp_path / "c.txt", train_texts=train, renderable=set("abcdx "), seed=3)
    lens = np.array([len(t) for t in c.lines])
    assert lens.max() <= 39 and set(np.unique(lens)) > {14, 39} - {0}
    assert (lens <= 14).mean() > 0.3 and (lens > 14).mean() > 0.3  # two targets, both used
    assert c.stats.dropped_long == 1  # the 120-character token cannot be cut at a space
    assert PAPER_MAX_LEN == 110
    with_long_train = build_corpus(tmp_path / "c.txt", train_texts=["a " * 80], renderable=set("abcdx "))
    assert max(len(t) for t in with_long_train.lines) <= 110


def test_folder_and_several_files_and_non_utf8(tmp_path):
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.txt").write_text("le chat\n", encoding="utf-8")
    (tmp_path / "d" / "b.txt").write_text("la maison\n", encoding="utf-8")
    (tmp_path / "d" / "skip.csv").write_text("un chien\n", encoding="utf-8")
    c = build_corpus(tmp_path / "d", train_texts=TRAIN, renderable=CHARS)
    assert list(c.lines) == ["le chat", "la maison"]
    c = build_corpus([tmp_path / "d" / "b.txt", tmp_path / "d" / "a.txt"], train_texts=TRAIN,
                     renderable=CHARS)
    assert list(c.lines) == ["la maison", "le chat"]
    bad = tmp_path / "latin1.txt"
    bad.write_bytes("le chat\nla maison\nnoël\n".encode("latin-1"))
    with pytest.raises(CorpusError, match=r"latin1.txt is not UTF-8 at line 3"):
        build_corpus(bad, train_texts=TRAIN, renderable=CHARS)
    with pytest.raises(CorpusNotFoundError, match="not found"):
        build_corpus(tmp_path / "nope.txt", train_texts=TRAIN, renderable=CHARS)


def test_max_len_and_min_len():
    c = build_corpus(None, train_texts=["ab", "abcdef", "a"], renderable=set("abcdef"),
                     max_len=4, min_len=2)
    assert list(c.lines) == ["ab"] and c.stats.dropped_long == 1 and c.stats.dropped_short == 1
    with pytest.raises(CorpusError, match="no usable corpus lines"):
        build_corpus(None, train_texts=["xyz"], renderable=set("ab"))


def test_cut_line_follows_the_length_distribution():
    rng = np.random.default_rng(0)
    text = " ".join(f"{i:03d}" for i in range(300))  # words of 3 characters
    pieces = cut_line(text, [11, 11, 23], rng)
    lens = np.array([len(p) for p in pieces])
    assert set(lens.tolist()) <= {11, 23} and (lens == 11).mean() > 0.5
    assert " ".join(pieces) == text


def test_cached_corpus_is_memory_mapped_and_pickles_as_a_path(tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("\n".join(["le chat", "la maison", "un chien noir"] * 2000), encoding="utf-8")
    cache = tmp_path / "cache"
    c = build_corpus(f, train_texts=["un chien noir"], renderable=CHARS, cache_dir=cache)
    assert len(c) == 6000 and c.lines.prefix is not None
    assert isinstance(c.lines._data, np.memmap)  # not a list of str
    blob = pickle.dumps(c.lines)
    assert len(blob) < 500  # the worker gets the path, not the text
    back = pickle.loads(blob)
    assert back[5999] == "un chien noir" and back.sample(np.random.default_rng(0)) in TRAIN
    files = sorted(p.name.split(".", 1)[1] for p in cache.iterdir())
    assert files == ["bytes", "json", "offsets.npy"]
    # a changed source makes a new cache entry
    f.write_text("le chat", encoding="utf-8")
    c2 = build_corpus(f, train_texts=["un chien noir"], renderable=CHARS, cache_dir=cache)
    assert list(c2.lines) == ["le chat"] and len(list(cache.glob("*.json"))) == 2


def test_cache_is_reused_when_nothing_changed(tmp_path, monkeypatch):
    f = tmp_path / "c.txt"
    f.write_text("le chat\nla maison\n", encoding="utf-8")
    cache = tmp_path / "cache"
    build_corpus(f, train_texts=TRAIN, renderable=CHARS, cache_dir=cache)
    import stackmix.mix.corpus as corpus_mod

    monkeypatch.setattr(corpus_mod, "iter_file_lines", lambda *a: pytest.fail("source re-read"))
    c = build_corpus(f, train_texts=TRAIN, renderable=CHARS, cache_dir=cache)
    assert list(c.lines) == ["le chat", "la maison"] and c.stats.usable == 2


def test_corpus_lines_from_texts_roundtrip():
    texts = ["", "é à", "ѣ⊕", "plain"]
    c = CorpusLines.from_texts(texts)
    assert list(c) == texts and c[-1] == "plain" and len(c) == 4
    with pytest.raises(IndexError):
        c[4]


def test_wordfreq_lines_use_only_bank_characters():
    bank = set("abcdeilmnorstuéè ") | {"L"}
    c = build_corpus("wordfreq:fr", train_texts=["le chat noir est là", "une maison"],
                     renderable=bank, wordfreq_lines_count=300, seed=1)
    lines = list(c.lines)
    assert len(lines) == 300 and c.stats.dropped_chars == 0
    assert set("".join(lines)) <= bank
    assert all(len(t) <= 19 for t in lines)  # the longest train line
    words = {w.lower() for t in lines for w in t.split()}
    assert {"le", "de", "est"} & words  # frequent French words
    assert any(t.startswith("L") for t in lines)  # the capital the bank has is used
    with pytest.raises(CorpusError, match="no word list for language 'xx'.*available: .*fr"):
        build_corpus("wordfreq:xx", train_texts=["a"], renderable=bank)
