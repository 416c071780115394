import functools
import pickle

import numpy as np
import pytest

from omegaconf import OmegaConf

from conftest import compose_train, load_aug
from stackmix.data.marking import Sample
from stackmix.mix import BankNotFoundError, StackMixGenerator, build_generator
from stackmix.mix.bank import TokenBank
from stackmix.mix.tokenize import UnrenderableTextError
from stackmix.text import CTCCodec, Normalizer
from stackmix_fixtures import TEXTS, make_bank

CORPUS = ["bead face", "deaf cab", "a", "fade"]


@pytest.fixture
def bank(tmp_path):
    prefix, _ = make_bank(tmp_path, height=32)
    return TokenBank(prefix)


def test_generated_line_height_dtype_and_text(bank):
    gen = StackMixGenerator(bank, CORPUS, p=0.8, smooth_background_p=0.5)
    rng = np.random.default_rng(0)
    for _ in range(40):
        img, text = gen(rng)
        assert text in CORPUS
        assert img.dtype == np.uint8 and img.ndim == 2 and img.shape[0] == 32
        assert img.flags.c_contiguous and img.shape[1] >= len(text)
        assert img.min() < 128  # there is ink
    assert gen.p == 0.8


def test_render_returns_spans_and_character_extents(bank):
    gen = StackMixGenerator(bank)
    out = gen.render("cafe bad", np.random.default_rng(3))
    assert "".join(out.spans) == "cafe bad"
    ext = out.char_extents
    assert ext.shape == (8, 2)
    assert ext[0, 0] == 0 and ext[-1, 1] == out.image.shape[1]
    assert (ext[:, 1] > ext[:, 0]).all() and (ext[1:, 0] == ext[:-1, 1]).all()
    with pytest.raises(UnrenderableTextError):
        gen.render("xyz", np.random.default_rng(0))


def test_smoothing_evens_out_the_paper(bank):
    gen = StackMixGenerator(bank)
    img = gen.draw("bead", np.random.default_rng(0), smooth=True)
    assert abs(int(np.median(img)) - 235) <= 2  # fixture paper level


def test_pickles_small_and_reopens_lazily(bank):
    gen = StackMixGenerator(bank.prefix, CORPUS * 100)
    gen(np.random.default_rng(0))
    blob = pickle.dumps(gen)
    assert len(blob) < 20_000  # path + corpus + settings + the bank's index, no pixels
    back = pickle.loads(blob)
    # the bank travels as the index it opened (a rebuild meanwhile does not change what a running
    # training draws); its pixels are memory-mapped again in the receiving process, on first use
    assert back._bank is not None and back._bank._pixels is None
    a = gen.draw("deaf", np.random.default_rng(5))
    b = back.draw("deaf", np.random.default_rng(5))
    np.testing.assert_array_equal(a, b)


def _samples(texts):
    return [Sample(f"s{i}", None, "train", t) for i, t in enumerate(texts)]


def test_build_generator_filters_the_corpus(bank, tmp_path):
    codec = CTCCodec("".join(sorted(set("".join(TEXTS)) | {"z"})))
    gen = build_generator(_gen_cfg(bank, p=0.5, corpus=None, max_len=8),
                          dataset_cfg={"name": "tiny", "image_h": 32}, codec=codec,
                          train_samples=_samples(["abc de", "zed", "face deaf", "bad cab"]),
                          normalizer=Normalizer())
    assert gen.p == 0.5
    assert sorted(gen.corpus) == ["abc de", "bad cab"]  # 'z' has no crop; "face deaf" > 8 chars


def test_build_generator_names_the_commands_when_the_bank_is_missing(tmp_path):
    bank = tmp_path / "tokens" / "poilus" / "bank"
    with pytest.raises(BankNotFoundError) as e:
        build_generator(_gen_cfg(bank), dataset_cfg={"name": "poilus"},
                        codec=CTCCodec("ab"), train_samples=_samples(["ab"]),
                        normalizer=Normalizer())
    msg = str(e.value)
    assert f"python prepare.py task=char_masks dataset=poilus task.ckpt=" in msg
    assert f"task.out={bank.parent / 'char_masks.json'}" in msg
    assert f"python prepare.py task=stackmix dataset=poilus task.masks=" in msg
    assert f"task.out={bank}" in msg


def test_unknown_stackmix_keys_are_refused_by_the_schema(tmp_path):
    with pytest.raises(Exception, match="Could not override 'aug.stackmix.probability'"):
        compose_train(["aug=stackmix", "aug.stackmix.probability=1"], tmp_path)


@functools.lru_cache(maxsize=1)
def _paper_stackmix() -> str:
    return OmegaConf.to_yaml(load_aug("stackmix").stackmix)


def _gen_cfg(bank, **kw):
    """The aug.stackmix block of conf/aug/stackmix.yaml (the one place of its values), changed."""
    cfg = OmegaConf.to_container(OmegaConf.create(_paper_stackmix()))
    prefix = bank.prefix if isinstance(bank, TokenBank) else bank
    return {**cfg, "bank": str(prefix), "cache_dir": None, **kw}


def test_missing_dataset_corpus_warns_once_and_falls_back(bank, tmp_path, caplog):
    import stackmix.mix as mix

    mix._warned.clear()
    codec = CTCCodec("abcdef ")
    missing = tmp_path / "corpora" / "latin_corpus.txt"
    ds = {"name": "saintgall", "corpus": str(missing)}
    train = _samples(["abc de", "bad cab"])
    with caplog.at_level("WARNING", logger="stackmix.mix"):
        for _ in range(2):
            gen = build_generator(_gen_cfg(bank, corpus=None), dataset_cfg=ds, codec=codec,
                                  train_samples=train, normalizer=Normalizer())
    assert sorted(gen.corpus) == ["abc de", "bad cab"]  # the train transcriptions
    warnings = [r.getMessage() for r in caplog.records if "not found" in r.getMessage()]
    assert len(warnings) == 1  # once, however often the generator is built
    msg = warnings[0]
    assert str(missing) in msg and "python prepare.py task=corpus name=corpora" in msg
    assert "make prepare-corpora" in msg and "aug.stackmix.corpus=train" in msg
    # present: used
    missing.parent.mkdir(parents=True)
    missing.write_text("face bead\nfade\n", encoding="utf-8")
    gen = build_generator(_gen_cfg(bank, corpus=None, cache_dir=str(tmp_path / "cache")),
                          dataset_cfg=ds, codec=codec, train_samples=train,
                          normalizer=Normalizer())
    assert set(gen.corpus) <= {"face bead", "face", "bead", "fade"} and "fade" in set(gen.corpus)


def test_corpus_train_selects_the_fallback_without_warning(bank, tmp_path, caplog):
    import stackmix.mix as mix

    mix._warned.clear()
    ds = {"name": "saintgall", "corpus": str(tmp_path / "absent.txt")}
    with caplog.at_level("WARNING", logger="stackmix.mix"):
        gen = build_generator(_gen_cfg(bank, corpus="train"), dataset_cfg=ds,
                              codec=CTCCodec("abcdef "), train_samples=_samples(["abc de"]),
                              normalizer=Normalizer())
    assert list(gen.corpus) == ["abc de"]
    assert not [r for r in caplog.records if "not found" in r.getMessage()]


def test_explicit_missing_corpus_is_an_error(bank, tmp_path):
    from stackmix.mix.corpus import CorpusNotFoundError

    with pytest.raises(CorpusNotFoundError, match="absent.txt"):
        build_generator(_gen_cfg(bank, corpus=str(tmp_path / "absent.txt")),
                        dataset_cfg={"name": "x"}, codec=CTCCodec("abcdef "),
                        train_samples=_samples(["abc de"]), normalizer=Normalizer())


def test_generator_pickles_a_cached_corpus_by_path(bank, tmp_path):
    f = tmp_path / "c.txt"
    f.write_text("\n".join(["bead face", "deaf cab"] * 5000), encoding="utf-8")
    gen = build_generator(_gen_cfg(bank, corpus=str(f), cache_dir=str(tmp_path / "cache")),
                          dataset_cfg={"name": "x"}, codec=CTCCodec("abcdef "),
                          train_samples=_samples(["bead face"]), normalizer=Normalizer())
    assert len(gen.corpus) == 10000
    blob = pickle.dumps(gen)
    small = pickle.dumps(StackMixGenerator(gen.bank, ["bead face"]))
    assert len(blob) < len(small) + 500  # the 10,000 lines travel as a path, not as text
    img, text = pickle.loads(blob)(np.random.default_rng(0))
    assert text in ("bead face", "deaf cab") and img.shape[0] == 32
