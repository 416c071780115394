import os
import pickle

import numpy as np
import pytest

from stackmix.data.cache import open_or_build
from stackmix.data.datamodule import HTRDataModule
from stackmix.data.image import fit_resize
from stackmix.data.marking import MarkingError, read_marking
from stackmix.data.image import read_gray


def paths_of(root):
    return [s.path for s in read_marking(root).samples]


def test_cache_matches_direct_decoding_and_is_reused(tiny_dataset, tmp_path):
    paths = paths_of(tiny_dataset)
    c1 = open_or_build(paths, 32, 128, tmp_path, "tiny")
    for i in (0, 5, len(paths) - 1):
        np.testing.assert_array_equal(c1[i], fit_resize(read_gray(paths[i]), 32, 128))
    mtime = c1.data_path.stat().st_mtime_ns
    c2 = open_or_build(paths, 32, 128, tmp_path, "tiny")
    assert c2.data_path == c1.data_path and c2.data_path.stat().st_mtime_ns == mtime
    # pickles without the mapping (for DataLoader workers) and reopens lazily
    c3 = pickle.loads(pickle.dumps(c1))
    assert c3._data is None and np.array_equal(c3[1], c1[1])


def test_cache_invalidated_by_size_or_source_change(tiny_dataset, tmp_path):
    paths = paths_of(tiny_dataset)
    a = open_or_build(paths, 32, 128, tmp_path, "tiny")
    b = open_or_build(paths, 16, 128, tmp_path, "tiny")
    assert a.data_path != b.data_path
    st = os.stat(paths[0])
    os.utime(paths[0], ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    c = open_or_build(paths, 32, 128, tmp_path, "tiny")
    assert c.data_path != a.data_path


def dm(root, tmp_path, **ds):
    cfg = {"name": "tiny", "root": str(root), "image_h": 32, "image_w": 128, **ds}
    return HTRDataModule(cfg, num_workers=0, cache_images=True, cache_dir=str(tmp_path / "c"))


def test_unreadable_image_named_or_skipped_with_cache(tiny_dataset, tmp_path):
    (tiny_dataset / "lines" / "0003.png").write_bytes(b"not an image")
    with pytest.raises(MarkingError, match=r"line 5 \(sample 's0003'\): unreadable image"):
        dm(tiny_dataset, tmp_path).marking
    m = dm(tiny_dataset, tmp_path, on_bad_row="skip")
    assert [s.sample_id for s in m.marking.skipped] == ["s0003"]
    assert len(m.splits["train"]) == 23
    item = m.dataset("train")[3]
    assert item["sample_id"] == "s0004" and item["image"].shape == (1, 32, 128)


def test_one_cache_serves_both_fit_modes_with_the_pixels_of_each(tiny_dataset, tmp_path):
    """What is stored does not depend on dataset.fit (larger lines are scaled down alike, smaller
    ones stored as they are), so switching the mode reuses the cache and fits at read time."""
    paths = paths_of(tiny_dataset)  # 32 px high lines, fitted to 48 px: upscaled only by `height`
    height = open_or_build(paths, 48, 512, tmp_path, "tiny", fit="height")
    mtime = height.data_path.stat().st_mtime_ns
    paper = open_or_build(paths, 48, 512, tmp_path, "tiny", fit="paper")
    assert paper.data_path == height.data_path and paper.data_path.stat().st_mtime_ns == mtime
    for i in (0, 7, len(paths) - 1):
        img = read_gray(paths[i])
        np.testing.assert_array_equal(height[i], fit_resize(img, 48, 512, fit="height"))
        np.testing.assert_array_equal(paper[i], fit_resize(img, 48, 512, fit="paper"))
        assert height[i].shape[0] == 48 and paper[i].shape == img.shape
    assert pickle.loads(pickle.dumps(paper)).fit == "paper"  # DataLoader workers keep the mode
    # a line larger than the input is stored downscaled; both modes read the same pixels back
    small = open_or_build(paths, 16, 512, tmp_path, "tiny", fit="paper")
    np.testing.assert_array_equal(small[3], fit_resize(read_gray(paths[3]), 16, 512, fit="height"))


@pytest.mark.parametrize("cache_images", [False, True])
def test_datamodule_items_are_fitted_in_the_dataset_fit_mode(tiny_dataset, tmp_path, cache_images):
    def item(fit):
        cfg = {"name": "tiny", "root": str(tiny_dataset), "image_h": 48, "image_w": 512,
               "fit": fit}
        m = HTRDataModule(cfg, num_workers=0, cache_images=cache_images,
                          cache_dir=str(tmp_path / "c"))
        return m, m.dataset("valid")[0]["image"][0].numpy()

    m, paper = item("paper")
    assert m.fit == "paper"
    src = read_gray(m.splits["valid"][0].path)  # 32 px high: kept, centred in 48 px
    top = (48 - src.shape[0]) // 2
    np.testing.assert_array_equal(paper[top:top + src.shape[0], :src.shape[1]], src)
    assert (paper[:top] == 255).all() and (paper[top + src.shape[0]:] == 255).all()
    _, height = item("height")
    ink_rows = np.flatnonzero((height < 128).any(1))
    assert ink_rows[-1] > 40  # scaled up to the full 48 px
    with pytest.raises(ValueError, match="unknown image fit mode 'stretch'"):
        item("stretch")
