import pytest
import torch

from stackmix.data.datamodule import DatasetError, HTRDataModule
from stackmix.text import UnknownCharactersError

from conftest import make_dataset


def dm_for(root, **dataset):
    cfg = {"name": "tiny", "root": str(root), "image_h": 32, "image_w": 128, "alphabet": None,
           "normalize": {"collapse_whitespace": True}, "on_bad_row": "raise",
           "unknown_train_chars": "error", **dataset}
    return HTRDataModule(cfg, aug=None, batch_size=4, num_workers=0, time_steps=32)


def test_alphabet_derived_from_train_and_batches(tiny_dataset):
    dm = dm_for(tiny_dataset)
    train_chars = set("".join(s.text for s in dm.marking.stage("train")))
    assert set(dm.codec.alphabet) == train_chars
    batch = next(iter(dm.train_dataloader()))
    assert batch["images"].shape == (4, 1, 32, 128) and batch["images"].dtype == torch.uint8
    assert batch["target_lengths"].sum() == len(batch["targets"])
    assert dm.codec.decode(batch["targets"][: batch["target_lengths"][0]].tolist()) == batch["texts"][0]


def test_unknown_train_characters_error_lists_them(tiny_dataset):
    with pytest.raises(UnknownCharactersError, match=r"'f' \(U\+0066\) in \d+ lines"):
        dm_for(tiny_dataset, alphabet="abcde ").codec


def test_unknown_train_characters_dropped_with_count(tiny_dataset):
    dm = dm_for(tiny_dataset, alphabet="abcde ", unknown_train_chars="drop")
    dropped = dm.dropped["unknown_chars"]
    assert dropped and len(dm.splits["train"]) == 24 - len(dropped)
    assert all("f" not in s.text for s in dm.splits["train"])


def test_test_only_characters_stay_in_reference(tmp_path):
    texts = ["ab"] * 4 + ["ab"] + ["abz"]
    root = make_dataset(tmp_path / "d", counts=(4, 1, 1), texts=texts)
    dm = dm_for(root)
    assert "z" not in dm.codec.alphabet
    item = dm.dataset("test")[0]
    assert item["text"] == "abz"  # kept for scoring
    assert dm.codec.decode(item["target"].tolist()) == "ab"  # but not in the CTC target


def test_train_lines_too_long_for_ctc_are_skipped_and_counted(tmp_path):
    texts = ["ab", "aabb" * 5, "ab", "ab", "ab", "ab"]
    root = make_dataset(tmp_path / "d", counts=(4, 1, 1), texts=texts)
    dm = HTRDataModule({"name": "d", "root": str(root), "image_h": 32, "image_w": 128},
                       num_workers=0, time_steps=16)
    assert dm.dropped["too_long_for_ctc"] == ["s0001"]
    assert len(dm.splits["train"]) == 3


def test_empty_split_is_a_clear_error(tmp_path):
    root = make_dataset(tmp_path / "d", counts=(4, 0, 1))
    dm = dm_for(root)
    with pytest.raises(DatasetError, match="'valid' split of 'tiny' is empty"):
        dm.val_dataloader()


def test_train_limit_keeps_a_seeded_subset_and_whole_eval_splits(tiny_dataset):
    full = dm_for(tiny_dataset)
    a, b = dm_for(tiny_dataset, train_limit=5), dm_for(tiny_dataset, train_limit=5)
    ids = [s.sample_id for s in a.splits["train"]]
    assert len(ids) == 5 and ids == [s.sample_id for s in b.splits["train"]]  # same seed, same lines
    assert set(ids) < {s.sample_id for s in full.splits["train"]}
    assert ids != [s.sample_id for s in full.splits["train"]][:5]  # a random draw, not the head
    assert len(a.splits["valid"]) == len(full.splits["valid"])
    assert len(a.splits["test"]) == len(full.splits["test"])
    # the alphabet is that of the lines actually trained on
    assert set(a.codec.alphabet) == set("".join(s.text for s in a.splits["train"]))
    assert len(dm_for(tiny_dataset, train_limit=1000).splits["train"]) == len(full.splits["train"])
    with pytest.raises(DatasetError, match="train_limit"):
        dm_for(tiny_dataset, train_limit=0).codec


def test_train_limit_seed_fixes_the_subset_across_run_seeds(tiny_dataset):
    """dataset.train_limit_seed: the subset no longer follows the run's seed (two training seeds
    on one subset share its char masks and bank); null keeps the run's seed."""
    def ids(seed, **dataset):
        cfg = {"name": "tiny", "root": str(tiny_dataset), "image_h": 32, "image_w": 128,
               "normalize": {"collapse_whitespace": True}, "train_limit": 5, **dataset}
        dm = HTRDataModule(cfg, aug=None, batch_size=4, num_workers=0, time_steps=32, seed=seed)
        return [s.sample_id for s in dm.splits["train"]]

    by_run = {seed: ids(seed) for seed in range(6)}
    assert len({tuple(v) for v in by_run.values()}) > 1  # null: the subset follows the run's seed
    assert {tuple(ids(seed, train_limit_seed=7)) for seed in range(6)} == {tuple(ids(7))}


def test_bucket_batches_groups_train_lines_by_their_fitted_width(tiny_dataset):
    from stackmix.data.image import PAD_VALUE
    dm = HTRDataModule(dm_for(tiny_dataset).dataset_cfg, aug=None, batch_size=4, num_workers=0,
                       time_steps=32, bucket_batches=4)
    widths = dm.fitted_widths("train")
    ds = dm.dataset("train")
    for i in range(len(ds)):  # the width each line has in its padded input
        assert widths[i] == ds.load(i).shape[1]  # the fitted line before padding
        inked = torch.nonzero((ds[i]["image"][0] < PAD_VALUE).any(0))
        assert int(inked[-1]) < widths[i] <= 128
    assert len(set(widths.tolist())) > 1
    sampler = dm.sampler("train")
    assert sampler.bucket_batches == 4 and sampler.widths is not None
    assert dm.sampler("valid").bucket_batches == 0


def test_fitted_widths_read_the_headers_once(tiny_dataset, monkeypatch):
    """Without the image cache the widths come from the files' headers: read once per split,
    not again for every train loader (each epoch's sampler)."""
    import stackmix.data.datamodule as dm_mod
    dm = HTRDataModule(dm_for(tiny_dataset).dataset_cfg, aug=None, batch_size=4, num_workers=0,
                       time_steps=32, bucket_batches=4, cache_images=False)
    reads = []
    real = dm_mod.header_info
    monkeypatch.setattr(dm_mod, "header_info", lambda p: reads.append(p) or real(p))
    first = dm.fitted_widths("train")
    dm.sampler("train"), dm.sampler("train")
    assert len(reads) == len(dm.splits["train"]) and (dm.fitted_widths("train") == first).all()


def test_aug_warmup_gives_the_train_keys_their_batch_number(tiny_dataset):
    cfg = dm_for(tiny_dataset).dataset_cfg
    dm = HTRDataModule(cfg, aug={"name": "none", "warmup_steps": 50}, batch_size=4,
                       num_workers=0, time_steps=32)
    assert dm.dataset("train").warmup_steps == 50
    assert [k[2] for k in dm.sampler("train")][:5] == [0, 0, 0, 0, 1]
    assert all(len(k) == 2 for k in dm.sampler("valid"))
    assert all(len(k) == 2 for k in dm_for(tiny_dataset).sampler("train"))
    assert next(iter(dm.train_dataloader()))["images"].shape == (4, 1, 32, 128)
