"""Samplers that give every sample of every epoch its own seed.

The sampler yields ``(index, seed)`` pairs; ``LineDataset`` seeds its augmentations and StackMix
from that seed. So the random choices made for a sample depend only on (run seed, epoch, index):
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


class EpochSampler(Sampler):
    """Shuffled (train) or ordered (eval) indices with per-sample seeds, sharded over ranks.

    ``pad=True`` (train) repeats a few samples so every rank gets the same number of batches (DDP
    needs that); ``pad=False`` (valid/test) gives each sample to exactly one rank.
    ``skip(n)`` drops the first ``n`` samples of the current epoch's shard once (used to resume
    mid-epoch with the same data order).
    """

    def __init__(self, n: int, seed: int, shuffle: bool, rank: int = 0, world_size: int = 1,
                 pad: bool = True):
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} outside world size {world_size}")
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
        return idx

    def __iter__(self) -> Iterator[tuple[int, int]]:
        idx = self.order()
        start, self._skip = self._skip, 0
        for i in idx[start:]:
            yield int(i), sample_seed(self.seed, self.epoch, int(i))

    def __len__(self) -> int:
        if self.world_size == 1:
            return self.n
        if self.pad:
            return math.ceil(self.n / self.world_size)
        return len(range(self.rank, self.n, self.world_size))
