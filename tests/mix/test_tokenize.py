from collections import Counter

import numpy as np
import pytest

from stackmix.mix.tokenize import PAPER_CAP_WEIGHTS, SpanTokenizer, UnrenderableTextError


def _spans(texts, max_span=8):
    keys = sorted({t[i:i + n] for t in texts for n in range(1, max_span + 1)
                   for i in range(len(t) - n + 1)})
    return {k: i for i, k in enumerate(keys)}


def test_spans_cover_the_text_exactly():
    spans = _spans(["le testament de", "mon cher ami", "je soussigné"])
    tok = SpanTokenizer(spans)
    rng = np.random.default_rng(0)
    for text in ["le testament", "ami cher", "je de mon", "sous les amis", "é", "mmmm"]:
        for _ in range(50):
            pieces = tok.split_text(text, rng)
            assert "".join(pieces) == text
            assert all(p in spans and 1 <= len(p) <= 8 for p in pieces)


def test_greedy_takes_the_longest_known_span_under_the_cap():
    spans = _spans(["abcdefgh"])
    tok = SpanTokenizer(spans, caps=[8], weights=[1])
    assert tok.split_text("abcdefgh", np.random.default_rng(0)) == ["abcdefgh"]
    tok3 = SpanTokenizer(spans, caps=[3], weights=[1])
    assert tok3.split_text("abcdefgh", np.random.default_rng(0)) == ["abc", "def", "gh"]
    # neither "hg" nor "gab" is a known span: shorter ones are taken
    assert tok.split_text("hgab", np.random.default_rng(0)) == ["h", "g", "ab"]


def test_caps_follow_the_paper_weights():
    tok = SpanTokenizer({"a": 0})
    caps = tok.draw_caps(200_000, np.random.default_rng(1))
    freq = Counter(caps.tolist())
    for cap, w in zip(range(3, 9), PAPER_CAP_WEIGHTS):
        assert abs(freq[cap] / len(caps) - w) < 0.01


def test_unknown_characters_are_listed():
    tok = SpanTokenizer(_spans(["abc"]))
    with pytest.raises(UnrenderableTextError) as e:
        tok.split("abxcy", np.random.default_rng(0))
    assert e.value.missing == ["x", "y"]
    assert "U+0078" in str(e.value)


def test_bad_settings():
    with pytest.raises(ValueError):
        SpanTokenizer({}, caps=[3, 4], weights=[1])
    with pytest.raises(ValueError):
        SpanTokenizer({}, caps=[0])
