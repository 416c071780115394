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
