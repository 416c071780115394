"""Decoders: greedy, built-in beam search (+ character LM / lexicon), pyctcdecode (optional)."""
import math

import numpy as np
import pytest

from stackmix.inference.decoder_factory import build_decoder, decoder_config
from stackmix.inference.decoders import BeamSearchDecoder, GreedyDecoder
from stackmix.inference.evaluation import corpus_metrics
from stackmix.inference.lm import EOS, CharNgramLM, Lexicon
from stackmix.text import CTCCodec

ALPHABET = " abcdehorst"


def beam_cfg(**changes) -> dict:
    """conf/decoder/beam.yaml (the one place of the beam settings), some changed."""
    return {**decoder_config("beam"), **changes}


def paper_beam(**changes) -> BeamSearchDecoder:
    """A BeamSearchDecoder with the settings of conf/decoder/beam.yaml, some changed."""
    cfg = beam_cfg()
    for key in ("_target_", "_partial_", "lm", "lexicon", "lexicon_lowercase"):
        cfg.pop(key)
    return BeamSearchDecoder(ALPHABET, **{**cfg, **changes})


class YamlOnlyDecoder(GreedyDecoder):
    def __init__(self, alphabet, train_texts, tag):
        super().__init__(alphabet)
        self.train_texts, self.tag = train_texts, tag


def random_log_probs(rng, b=16, t=40, c=len(ALPHABET) + 1, scale=2.0):
    x = rng.normal(size=(b, t, c)) * scale
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def frames(text: str, confusions: dict[int, tuple[str, float]] | None = None,
           alphabet: str = ALPHABET) -> np.ndarray:
    """CTC outputs for ``text``: a sure frame per character then a blank frame. ``confusions``
    maps a character position to (other character, its probability): that frame hesitates."""
    confusions = confusions or {}
    c = len(alphabet) + 1
    rows = []
    for i, ch in enumerate(text):
        p = np.full(c, 0.02 / (c - 1))
        k = alphabet.index(ch) + 1
        if i in confusions:
            other, q = confusions[i]
            p[:] = 0.04 / (c - 2)
            p[alphabet.index(other) + 1] = q
            p[k] = 0.96 - q
        else:
            p[k] = 0.98
        rows.append(p / p.sum())
        blank = np.full(c, 0.02 / (c - 1))
        blank[0] = 0.98
        rows.append(blank)
    return np.log(np.stack(rows))


def test_greedy_matches_the_codec_and_confidences_are_probabilities():
    rng = np.random.default_rng(0)
    lp = random_log_probs(rng)
    hyps = GreedyDecoder(ALPHABET)(lp)
    assert [h.text for h in hyps] == CTCCodec(ALPHABET).decode_greedy(lp)
    for h in hyps:
        assert len(h.char_probs) == len(h.text)
        assert all(0.0 <= p <= 1.0 for p in h.char_probs)
        assert 0.0 <= h.confidence <= 1.0


def test_beam_width_one_equals_greedy():
    rng = np.random.default_rng(1)
    greedy = GreedyDecoder(ALPHABET)
    for scale in (0.5, 2.0, 8.0):  # flat to peaked outputs
        lp = random_log_probs(rng, scale=scale)
        ref = [h.text for h in greedy(lp)]
        # Viterbi merging: beam 1 follows the argmax path exactly, whatever the outputs
        viterbi = paper_beam(beam_width=1, merge="max", prune=0)(lp)
        assert [h.text for h in viterbi] == ref
    # the default (summing) prefix search agrees on the peaked outputs a CTC model produces
    lp = np.stack([frames(t) for t in ("the cat", "a rat", "dots")[:1]] * 3)
    assert [h.text for h in paper_beam(beam_width=1)(lp)] == \
        [h.text for h in greedy(lp)] == ["the cat"] * 3


def test_beam_search_sums_paths_and_finds_the_most_probable_text():
    # two frames: p(a)=0.4 each, p(blank)=0.6 each. Best path: blank blank -> "" (0.36);
    # but P("a") = 0.4*0.6 + 0.6*0.4 + 0.4*0.4 = 0.64 > P("") = 0.36
    c = len(ALPHABET) + 1
    p = np.full((2, c), 1e-9)
    p[:, 0] = 0.6
    p[:, ALPHABET.index("a") + 1] = 0.4
    lp = np.log(p / p.sum(-1, keepdims=True))
    assert GreedyDecoder(ALPHABET)(lp)[0].text == ""
    h = paper_beam(beam_width=4)(lp)[0]
    assert h.text == "a"
    assert math.isclose(math.exp(h.score), 0.64, rel_tol=1e-6)


CORPUS = ["the cat sat", "a cat", "the cat", "her cat ate", "cats sat", "the rat sat"] * 5


def test_beam_with_char_lm_fixes_a_confusion_greedy_gets_wrong():
    # the model hesitates between "cat" and "cot" (o slightly ahead): the LM knows only "cat"
    refs = ["the cat", "a cat sat", "her cat"]
    lines = [frames(r, {r.index("cat") + 1: ("o", 0.55)}) for r in refs]
    greedy = [GreedyDecoder(ALPHABET)(lp)[0].text for lp in lines]
    assert greedy == ["the cot", "a cot sat", "her cot"]
    lm = CharNgramLM.from_texts(CORPUS, order=4, vocab=ALPHABET)
    beam_lm = paper_beam(beam_width=8, lm=lm, alpha=0.8)
    beam = paper_beam(beam_width=8)
    got = [beam_lm(lp)[0].text for lp in lines]
    assert got == refs
    assert [beam(lp)[0].text for lp in lines] == greedy  # the search alone does not help
    cer_greedy = corpus_metrics(refs, greedy)["cer"]
    cer_lm = corpus_metrics(refs, got)["cer"]
    assert cer_lm < cer_greedy and cer_lm == 0.0
    # confidences still come from the model: the fixed character is the hesitant one
    h = beam_lm(lines[0])[0]
    assert h.char_probs[h.text.index("cat") + 1] == pytest.approx(0.41, abs=0.02)


def test_beam_with_lexicon_prefers_known_words():
    refs = ["the cat", "her rat"]
    lines = [frames("the cat", {5: ("o", 0.55)}), frames("her rat", {1: ("a", 0.6)})]
    lex = Lexicon(["the", "cat", "her", "rat"])
    dec = paper_beam(beam_width=8, lexicon=lex, oov_penalty=-3.0)
    assert [dec(lp)[0].text for lp in lines] == refs
    assert [GreedyDecoder(ALPHABET)(lp)[0].text for lp in lines] == ["the cot", "har rat"]


def test_char_lm_is_a_distribution():
    lm = CharNgramLM.from_texts(CORPUS, order=3, vocab=ALPHABET)
    for ctx in ("", "th", "the c", "zzz"):
        total = sum(math.exp(lm.score(ctx, c)) for c in list(ALPHABET) + [EOS])
        assert total == pytest.approx(1.0, abs=1e-9)
    assert lm.perplexity(["the cat sat"]) < lm.perplexity(["tsa thc eat"])


def test_decoders_of_one_lm_share_it(tmp_path):
    """A tuning grid varies alpha/beta over one LM: it is fitted once per (corpus, order) and its
    decoders share it (and its score cache); another order, other texts or an edited file give
    another LM."""
    lm = lambda corpus, order: {"corpus": corpus, "order": order}  # noqa: E731
    a = build_decoder(beam_cfg(alpha=0.3, lm=lm("@train", 5)), ALPHABET, train_texts=CORPUS)
    b = build_decoder(beam_cfg(alpha=0.9, beta=1.0, lm=lm("@train", 5)), ALPHABET,
                      train_texts=list(CORPUS))
    assert (a.alpha, b.alpha) == (0.3, 0.9) and a.lm is b.lm
    assert build_decoder(beam_cfg(lm=lm("@train", 3)), ALPHABET, train_texts=CORPUS).lm is not a.lm
    other = build_decoder(beam_cfg(lm=lm("@train", 5)), ALPHABET, train_texts=CORPUS[:2]).lm
    assert other is not a.lm and other.counts[0][""] != a.lm.counts[0][""]
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat\n", encoding="utf-8")
    first = build_decoder(beam_cfg(lm=lm(str(corpus), 3)), ALPHABET).lm
    assert build_decoder(beam_cfg(lm=lm(str(corpus), 3)), ALPHABET).lm is first
    corpus.write_text("the rat sat\n", encoding="utf-8")
    edited = build_decoder(beam_cfg(lm=lm(str(corpus), 3)), ALPHABET).lm
    assert edited is not first and edited.counts[0][""].get("r") == 1


def test_build_decoder_from_config(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(CORPUS), encoding="utf-8")
    words = tmp_path / "words.txt"
    words.write_text("the cat her rat", encoding="utf-8")
    assert isinstance(build_decoder(None, ALPHABET), GreedyDecoder)
    assert isinstance(build_decoder("greedy", ALPHABET), GreedyDecoder)
    d = build_decoder(beam_cfg(beam_width=3, lm={"corpus": str(corpus), "order": 3},
                               lexicon=str(words)), ALPHABET)
    assert d.beam_width == 3 and d.lm.order == 3 and len(d.lexicon) == 4
    d = build_decoder(beam_cfg(lm={"corpus": "@train", "order": 5}), ALPHABET, train_texts=CORPUS)
    assert d.lm is not None
    with pytest.raises(ValueError, match="train split"):
        build_decoder(beam_cfg(lm={"corpus": "@train", "order": 5}), ALPHABET)
    with pytest.raises(FileNotFoundError, match="nope.txt"):
        build_decoder(beam_cfg(lm={"corpus": str(tmp_path / "nope.txt"), "order": 5}), ALPHABET)
    with pytest.raises(ValueError, match="unknown decoder 'magic'; choose one of beam, greedy"):
        build_decoder("magic", ALPHABET)
    # the settings live in conf/decoder/*.yaml only; a misspelt one is refused by the factory
    d = build_decoder("beam", ALPHABET)
    assert (d.beam_width, d.alpha, d.beta, d.oov_penalty, d.merge) == (10, 0.5, 0.0, -5.0, "sum")
    with pytest.raises(ValueError, match="beam_decoder.*beam_widht"):
        build_decoder(beam_cfg(beam_widht=3), ALPHABET)
    with pytest.raises(ValueError, match="has no _target_"):
        build_decoder({"type": "beam"}, ALPHABET)


def test_a_decoder_given_only_in_yaml_is_built(tmp_path):
    """decoder._target_ takes any factory (alphabet, train_texts, **settings): no Python change."""
    d = build_decoder({"_target_": "test_decoders.YamlOnlyDecoder", "_partial_": True,
                       "tag": "x"}, ALPHABET, train_texts=CORPUS)
    assert d.tag == "x" and d.train_texts == CORPUS and d.alphabet == ALPHABET


def test_pyctcdecode_decoder_when_installed():
    pytest.importorskip("pyctcdecode", reason="optional package pyctcdecode is not installed")
    lp = np.stack([frames("the cat"), frames("a rat  ")])
    dec = build_decoder({**decoder_config("pyctcdecode"), "beam_width": 8}, ALPHABET)
    hyps = dec(lp)
    assert hyps[0].text == "the cat"
    assert all(0.0 <= p <= 1.0 for h in hyps for p in h.char_probs)


def test_pyctcdecode_with_a_kenlm_model_fixes_the_confusion(tmp_path):
    pytest.importorskip("pyctcdecode", reason="optional package pyctcdecode is not installed")
    pytest.importorskip("kenlm", reason="optional package kenlm is not installed")
    # a hand-written word bigram ARPA model that knows "cat" but not "cot"
    words = {"the": 0.25, "cat": 0.25, "a": 0.1, "sat": 0.1, "her": 0.1, "rat": 0.1}
    bigrams = [("<s>", "the"), ("the", "cat"), ("a", "cat"), ("cat", "sat")]
    arpa = ["\\data\\", f"ngram 1={len(words) + 3}", f"ngram 2={len(bigrams)}", "",
            "\\1-grams:", "-99\t<s>\t0", "-1.0\t</s>\t0", "-5.0\t<unk>\t0"]
    arpa += [f"{math.log10(p):.4f}\t{w}\t0" for w, p in words.items()]
    arpa += ["", "\\2-grams:"] + [f"-0.3\t{a} {b}" for a, b in bigrams] + ["", "\\end\\", ""]
    model = tmp_path / "words.arpa"
    model.write_text("\n".join(arpa), encoding="utf-8")
    refs = ["the cat", "a cat sat", "her cat"]
    lines = [frames(r, {r.index("cat") + 1: ("o", 0.55)}) for r in refs]
    dec = build_decoder({**decoder_config("pyctcdecode"), "beam_width": 8,
                         "kenlm_model": str(model), "alpha": 0.5, "beta": 1.0}, ALPHABET)
    assert [dec(lp)[0].text for lp in lines] == refs
