import json

import numpy as np
import pytest

from stackmix.mix.masks import (CharMasks, CharMasksError, LineMask, boundary_errors,
                                true_char_masks, true_inner_boundaries)


def test_round_trip(tmp_path):
    lines = [LineMask("a", "lines/a.png", "ab c", 40, 20, [1, 10.5, 20, 22, 39.25], 0.0),
             LineMask("b", "lines/b.png", "é", 10, 20, [0, 9], 0.1)]
    m = CharMasks("ds", "/data/ds", lines, {"image_h": 32}, {"used": 2})
    p = m.save(tmp_path / "masks.json")
    back = CharMasks.load(p)
    assert back.dataset == "ds" and back.meta == {"image_h": 32} and back.summary == {"used": 2}
    assert [l.text for l in back.lines] == ["ab c", "é"]
    assert back.lines[0].bounds == [1, 10.5, 20, 22, 39.25]
    json.loads(p.read_text(encoding="utf-8"))  # plain JSON


def test_bad_files_are_reported(tmp_path):
    with pytest.raises(CharMasksError, match="not found"):
        CharMasks.load(tmp_path / "none.json")
    (tmp_path / "x.json").write_text('{"format": "stackmix-char-masks", "version": 99}')
    with pytest.raises(CharMasksError, match="version"):
        CharMasks.load(tmp_path / "x.json")
    with pytest.raises(CharMasksError, match="bounds"):
        LineMask("a", "p", "abc", 1, 1, [0, 1])


def test_boundary_error_in_character_widths():
    ext = {"a": [[0, 10], [10, 20], [22, 30], [30, 40]]}  # true inner: 10, 21, 30; char width 10
    exact = CharMasks("s", "/", [LineMask("a", "p", "abcd", 40, 10, [0, 10, 21, 30, 40])])
    assert boundary_errors(exact, ext)["median"] == 0
    off = CharMasks("s", "/", [LineMask("a", "p", "abcd", 40, 10, [0, 12, 21, 35, 40])])
    r = boundary_errors(off, ext)
    assert r["boundaries"] == 3 and r["lines"] == 1
    np.testing.assert_allclose(r["median"], 0.2)


def test_true_char_masks_of_the_synthetic_dataset(tmp_path):
    from PIL import Image

    from stackmix.data.synthetic import EXTENTS_FILE, ensure_synthetic

    root = ensure_synthetic(tmp_path / "syn", workers=0, progress=False, n_train=6, n_valid=2,
                            n_test=2, seed=1)
    extents = json.loads((root / EXTENTS_FILE).read_text())
    masks = true_char_masks(root)
    assert len(masks.lines) == 6 and masks.meta["source"].startswith("true extents")
    for m in masks.lines:
        ext = extents[m.sample_id]
        assert m.bounds[0] == ext[0][0] and m.bounds[-1] == ext[-1][1]
        np.testing.assert_allclose(m.bounds[1:-1], true_inner_boundaries(ext))
        assert (m.width, m.height) == Image.open(root / m.path).size
    assert boundary_errors(masks, extents)["median"] == 0.0

    extents[masks.lines[0].sample_id] = extents[masks.lines[0].sample_id][:-1]
    (root / EXTENTS_FILE).write_text(json.dumps(extents))
    with pytest.raises(CharMasksError, match=masks.lines[0].sample_id):
        true_char_masks(root)
    (root / EXTENTS_FILE).unlink()
    with pytest.raises(CharMasksError, match="char_extents.json"):
        true_char_masks(root)
