import numpy as np

from stackmix.data.sampler import EpochSampler, sample_seed


def test_train_order_depends_on_seed_and_epoch_only():
    a, b = EpochSampler(50, 7, shuffle=True), EpochSampler(50, 7, shuffle=True)
    assert list(a) == list(b)
    first = [i for i, _ in a]
    a.set_epoch(1)
    assert [i for i, _ in a] != first and sorted(i for i, _ in a) == list(range(50))


def test_sample_seeds_are_independent_of_position():
    s = EpochSampler(20, 3, shuffle=True)
    seeds = dict(iter(s))
    assert all(seeds[i] == sample_seed(3, 0, i) for i in range(20))
    assert len(set(seeds.values())) == 20


def test_skip_resumes_the_same_order_once():
    s = EpochSampler(30, 1, shuffle=True)
    full = list(s)
    s.skip(12)
    assert list(s) == full[12:]
    assert list(s) == full  # the skip applies once


def test_ddp_shards_cover_eval_exactly_once_and_pad_train():
    n, world = 11, 3
    evals = [EpochSampler(n, 0, shuffle=False, rank=r, world_size=world, pad=False) for r in range(world)]
    got = sorted(i for s in evals for i, _ in s)
    assert got == list(range(n))
    assert [len(s) for s in evals] == [len(list(s)) for s in evals]
    trains = [EpochSampler(n, 0, shuffle=True, rank=r, world_size=world) for r in range(world)]
    lens = {len(list(s)) for s in trains}
    assert lens == {4}  # equal batches on every rank
    assert set(i for s in trains for i, _ in s) == set(range(n))


def test_bucketed_batches_hold_similar_widths_and_every_sample_once():
    rng = np.random.default_rng(0)
    widths = rng.integers(20, 512, size=203)
    s = EpochSampler(203, seed=1, shuffle=True, widths=widths, batch_size=8, bucket_batches=5)
    order = s.order()
    assert sorted(order.tolist()) == list(range(203))  # a permutation: nothing lost or repeated
    spread = [np.ptp(widths[order[i:i + 8]]) for i in range(0, 200, 8)]
    plain = EpochSampler(203, seed=1, shuffle=True).order()
    plain_spread = [np.ptp(widths[plain[i:i + 8]]) for i in range(0, 200, 8)]
    assert np.mean(spread) < 0.35 * np.mean(plain_spread)
    assert np.array_equal(order, s.order())  # the same epoch gives the same order (resume)
    s.set_epoch(1)
    assert not np.array_equal(order, s.order())
    # the batches are not in width order: short and long ones alternate through the epoch
    firsts = widths[order[0:200:8]]
    assert not (np.all(np.diff(firsts) >= 0) or np.all(np.diff(firsts) <= 0))


def test_bucketing_needs_the_widths_and_leaves_evaluation_order_alone():
    import pytest
    with pytest.raises(ValueError, match="needs the width of each of the 10 samples"):
        EpochSampler(10, seed=0, shuffle=True, batch_size=2, bucket_batches=3)
    ev = EpochSampler(10, seed=0, shuffle=False, widths=np.arange(10)[::-1], batch_size=2,
                      bucket_batches=3, pad=False)
    assert ev.order().tolist() == list(range(10))


def test_steps_number_the_training_batches_across_epochs_and_resumes():
    s = EpochSampler(10, 5, shuffle=True, batch_size=4, steps=True)
    keys = list(s)
    assert [k[2] for k in keys] == [0] * 4 + [1] * 4 + [2] * 2  # the last partial batch is kept
    assert [k[:2] for k in keys] == list(EpochSampler(10, 5, shuffle=True, batch_size=4))
    s.set_epoch(2)
    assert [k[2] for k in s] == [6] * 4 + [7] * 4 + [8] * 2  # 3 batches per epoch
    s.skip(4)  # a resumed epoch continues with the same batch numbers
    assert [k[2] for k in s] == [7] * 4 + [8] * 2
    ranks = [EpochSampler(10, 5, shuffle=True, batch_size=2, rank=r, world_size=2, steps=True)
             for r in range(2)]
    assert [k[2] for k in ranks[0]] == [k[2] for k in ranks[1]] == [0, 0, 1, 1, 2]
