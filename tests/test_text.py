import numpy as np
import pytest
import torch

from stackmix.text import BLANK, CTCCodec, Normalizer, UnknownCharactersError, ctc_min_frames, derive_alphabet


def test_encode_decode_round_trip():
    codec = CTCCodec("abc ")
    text = "cab a"
    ids = codec.encode(text)
    assert ids == [3, 1, 2, 4, 1]
    assert BLANK not in ids
    assert codec.decode(ids) == text
    assert codec.num_classes == 5


def test_ctc_path_collapses_repeats_and_drops_blanks():
    codec = CTCCodec("ab")
    # a a _ a b b _ _ b  ->  "aabb": repeats merge, a blank separates real doubles
    path = [1, 1, 0, 1, 2, 2, 0, 0, 2]
    assert codec.decode_path(path) == "aabb"
    assert codec.decode_path([0, 0, 0]) == ""
    assert codec.decode_path([2, 2, 2]) == "b"


def test_greedy_decoding_of_batch():
    codec = CTCCodec("ab")
    lp = torch.full((2, 4, 3), -10.0)
    for b, path in enumerate([[1, 0, 2, 2], [0, 0, 0, 0]]):
        for t, c in enumerate(path):
            lp[b, t, c] = 0.0
    assert codec.decode_greedy(lp) == ["ab", ""]
    assert codec.decode_greedy(lp.numpy()) == ["ab", ""]


def test_unknown_characters_are_named():
    codec = CTCCodec("ab")
    with pytest.raises(UnknownCharactersError, match="'xz'"):
        codec.encode("axbz")
    assert codec.encode_known("axbz") == [1, 2]


def test_duplicate_alphabet_rejected():
    with pytest.raises(ValueError, match="duplicate"):
        CTCCodec("abca")


def test_ctc_min_frames_counts_repeats():
    assert ctc_min_frames([1, 2, 3]) == 3
    assert ctc_min_frames([1, 1, 2, 2, 2]) == 8


def test_normalizer_collapses_whitespace_and_replaces():
    norm = Normalizer(replace=(("’", "'"),))
    assert norm("  l’homme \t  est\n là ") == "l'homme est là"
    # NFC composes e + combining acute
    assert norm("e\u0301") == "é"


def test_normalizer_lowercase_folds_case_only_when_asked():
    assert Normalizer(lowercase=True)("Le Chêne  À") == "le chêne à"
    assert Normalizer()("Le Chêne") == "Le Chêne"
    assert Normalizer.from_config({"lowercase": True})("ABC") == "abc"


def test_derive_alphabet_sorted_unique():
    assert derive_alphabet(["ba", "ca b"]) == " abc"
