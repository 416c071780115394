"""Samplers that give every sample of every epoch its own seed.

The sampler yields ``(index, seed)`` pairs (``(index, seed, step)`` with ``steps=True``: the number
of the training batch the sample goes into, counted over all epochs, for augmentations that ramp
in, ``aug.warmup_steps``); ``LineDataset`` seeds its augmentations and StackMix from that seed. So the random choices made for a sample depend only on (run seed, epoch, index):
not on the number of DataLoader workers, not on the rank in DDP, not on whether the run was
interrupted and resumed. They also shard the data across DDP ranks themselves (the trainer's
automatic DistributedSampler is turned off), without padding the evaluation splits with repeated
samples, so corpus-level metrics summed over ranks are exactly those of a single process.
"""
from __future__ import annotations

import math
from typing import Iterator

import numpy as np
from torch.utils.data import Sampler



def sample_seed(seed: int, epoch: int, index: int) -> int:
    """A 63-bit seed for one sample of one epoch (fed to numpy's SeedSequence downstream)."""
    return int(np.random.SeedSequence([seed & 0xFFFFFFFF, epoch, index]).generate_state(2, np.uint32)
               .view(np.uint64)[0] & 0x7FFFFFFFFFFFFFFF)


def bucket_by_width(order: np.ndarray, widths: np.ndarray, batch_size: int, chunk_batches: int,
                    rng: np.random.Generator) -> np.ndarray:
    """Reorder a shuffled ``order`` so that each run of ``batch_size`` consecutive samples (one
    batch) holds lines of similar width: cut it into chunks of ``chunk_batches`` batches, sort each
    chunk by width, then shuffle the order of the full batches (a last partial batch stays last).
    Which samples share a chunk is still random, so batches differ from epoch to epoch."""
    size = batch_size * chunk_batches
    flat = np.concatenate([c[np.argsort(widths[c], kind="stable")]
                           for c in np.split(order, list(range(size, len(order), size)))])
    full = len(flat) // batch_size
    blocks = flat[: full * batch_size].reshape(full, batch_size)[rng.permutation(full)]
    return np.concatenate([blocks.reshape(-1), flat[full * batch_size:]])


class EpochSampler(Sampler):
    """Shuffled (train) or ordered (eval) indices with per-sample seeds, sharded over ranks.

    ``pad=True`` (train) repeats a few samples so every rank gets the same number of batches (DDP
    needs that); ``pad=False`` (valid/test) gives each sample to exactly one rank.
    ``skip(n)`` drops the first ``n`` samples of the current epoch's shard once (used to resume
    mid-epoch with the same data order). ``bucket_batches`` > 0 (train): batches of lines of
    similar ``widths`` (:func:`bucket_by_width`), so that a model that cuts each batch's white
    margin (``model.trim_padding``) computes less. ``steps=True``: each key also carries the
    sample's batch number since the start of training (``epoch × batches per epoch + position //
    batch_size``; the loader keeps the last partial batch), the same whatever the workers and
    after a resume.
    """

    def __init__(self, n: int, seed: int, shuffle: bool, rank: int = 0, world_size: int = 1,
                 pad: bool = True, widths: np.ndarray | None = None, batch_size: int = 1,
                 bucket_batches: int = 0, steps: bool = False):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
        if bucket_batches and (widths is None or len(widths) != n):
            raise ValueError(f"bucket_batches={bucket_batches} needs the width of each of the {n} "
                             "samples")
        self.widths = None if widths is None else np.asarray(widths)
        self.batch_size = int(batch_size)
        self.bucket_batches = int(bucket_batches)
        self.steps = bool(steps)
        self.n = n
        self.seed = int(seed)
        self.shuffle = shuffle
        self.rank = rank
        self.world_size = world_size
        self.pad = pad
        self.epoch = 0
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def skip(self, n: int) -> None:
        self._skip = int(n)

    def order(self) -> np.ndarray:
        """This rank's indices for the current epoch (before any skip)."""
        if self.shuffle:
            idx = np.random.default_rng([self.seed & 0xFFFFFFFF, self.epoch]).permutation(self.n)
        else:
            idx = np.arange(self.n)
        if self.world_size > 1:
            if self.pad and self.n % self.world_size:
                total = math.ceil(self.n / self.world_size) * self.world_size
                idx = np.concatenate([idx, idx[: total - self.n]])
            idx = idx[self.rank :: self.world_size]
        if self.shuffle and self.bucket_batches > 0 and self.batch_size > 1:
            rng = np.random.default_rng([self.seed & 0xFFFFFFFF, self.epoch, 1])
            idx = bucket_by_width(idx, self.widths, self.batch_size, self.bucket_batches, rng)
        return idx

    def __iter__(self) -> Iterator[tuple[int, ...]]:
        idx = self.order()
        start, self._skip = self._skip, 0
        first = self.epoch * math.ceil(len(self) / max(1, self.batch_size))
        for pos in range(start, len(idx)):
            i = int(idx[pos])
            if self.steps:
                yield i, sample_seed(self.seed, self.epoch, i), first + pos // max(1, self.batch_size)
            else:
                yield i, sample_seed(self.seed, self.epoch, i)

    def __len__(self) -> int:
        if self.world_size == 1:
            return self.n
        if self.pad:
            return math.ceil(self.n / self.world_size)
        return len(range(self.rank, self.n, self.world_size))
