"""Torch dataset of line images and the batch collation."""
from __future__ import annotations

from typing import Callable, Protocol, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from stackmix.data.image import DEFAULT_FIT, check_fit, fit_resize, pad_to
from stackmix.data.marking import Sample
from stackmix.data.image import read_gray
from stackmix.text import CTCCodec


class LineGenerator(Protocol):
    """Something that makes a synthetic training line (e.g. StackMix): returns (gray image, text)."""

    p: float

    def __call__(self, rng: np.random.Generator) -> tuple[np.ndarray, str]: ...


class LineDataset(Dataset):
    """Line images resized+padded to ``image_h × image_w`` (uint8, white background) in the fit
    mode ``fit`` (``stackmix.data.image``: ``height`` or ``paper``).

    Each item: ``image`` uint8 tensor (1, H, W), ``target`` int64 class indices (characters
    outside the alphabet are left out of the target but kept in ``text``, so evaluation counts
    them as errors), ``text``, ``sample_id``, ``index``.

    ``transform`` is an albumentations-style callable (``transform(image=...)["image"]``) applied
    to the resized line before it is padded (so blots and rotation act on the writing, not on the
    white padding; a transform that changes the size, such as the rotation that keeps the whole
    line, is followed by fitting the line again); ``generator`` (train only) replaces a sample by
    a generated line with probability ``generator.p``.

    ``warmup_steps`` > 0 ramps both in (``aug.warmup_steps``): a sample for training batch ``step``
    (the third element of a key from ``EpochSampler(steps=True)``) is augmented with probability
    ``min(1, step / warmup_steps)`` and replaced by a generated line with probability ``generator.p``
    times that, so training starts on the plain lines and reaches the full augmentation at
    ``warmup_steps``. A key without a step gets the full augmentation.
    """

    def __init__(
        self,
        samples: Sequence[Sample],
        codec: CTCCodec,
        image_h: int,
        image_w: int,
        transform: Callable | None = None,
        generator: LineGenerator | None = None,
        seed: int = 0,
        image_source: Callable[[int], np.ndarray] | None = None,
        fit: str = DEFAULT_FIT,
        warmup_steps: int = 0,
    ):
        self.samples = list(samples)
        self.codec = codec
        self.image_h = image_h
        self.image_w = image_w
        self.transform = transform
        self.generator = generator
        self.image_source = image_source
        self.fit = check_fit(fit)
        if warmup_steps < 0:
            raise ValueError(f"warmup_steps must be >= 0, got {warmup_steps}")
        self.warmup_steps = int(warmup_steps)
        self.reseed(seed)

    def reseed(self, seed: int) -> None:
        """Seed this copy's random state (called once per DataLoader worker)."""
        self.rng = np.random.default_rng(seed)
        if self.transform is not None and hasattr(self.transform, "set_random_seed"):
            self.transform.set_random_seed(int(seed) % 2**32)

    def __len__(self) -> int:
        return len(self.samples)

    def load(self, index: int) -> np.ndarray:
        """The resized (fitted, not padded, not augmented) image of sample ``index``."""
        if self.image_source is not None:
            return np.array(self.image_source(index))  # a private copy of the cached pixels
        return fit_resize(read_gray(self.samples[index].path), self.image_h, self.image_w,
                          fit=self.fit)

    def strength(self, step: int | None) -> float:
        """The share of the augmentation given to a sample of training batch ``step``."""
        if step is None or self.warmup_steps <= 0:
            return 1.0
        return min(1.0, max(0, step) / self.warmup_steps)

    def __getitem__(self, key: int | tuple[int, ...]) -> dict:
        """``key`` is an index, or ``(index, seed[, step])`` from ``EpochSampler``: the seed then
        fixes every random choice made for this sample (augmentations, StackMix), the step its
        share of a ramping augmentation (``warmup_steps``)."""
        step = None
        if isinstance(key, tuple):
            index, seed = key[0], key[1]
            step = key[2] if len(key) > 2 else None
            self.reseed(seed)
        else:
            index = key
        s = self.samples[index]
        text = s.text
        strength = self.strength(step)
        # at full strength no extra random draw: the samples are those of a run without warm-up
        augment = strength >= 1.0 or self.rng.random() < strength
        if self.generator is not None and self.rng.random() < self.generator.p * strength:
            img, text = self.generator(self.rng)
            img = fit_resize(img, self.image_h, self.image_w, fit=self.fit)
        else:
            img = self.load(index)
        if self.transform is not None and augment:
            shape = img.shape[:2]
            img = self.transform(image=img)["image"]
            if img.ndim == 3:
                img = img[..., 0]
            if img.shape[:2] != shape:  # a transform that grew the canvas (rotation, fit_output)
                img = fit_resize(img, self.image_h, self.image_w, fit=self.fit)
        img = pad_to(img, self.image_h, self.image_w, fit=self.fit)
        return {
            "image": torch.from_numpy(np.ascontiguousarray(img))[None],
            "target": torch.tensor(self.codec.encode_known(text), dtype=torch.long),
            "text": text,
            "sample_id": s.sample_id,
            "index": index,
        }


def collate_lines(batch: list[dict]) -> dict:
    return {
        "images": torch.stack([b["image"] for b in batch]),
        "targets": torch.cat([b["target"] for b in batch]),
        "target_lengths": torch.tensor([len(b["target"]) for b in batch], dtype=torch.long),
        "texts": [b["text"] for b in batch],
        "sample_ids": [b["sample_id"] for b in batch],
        "indices": torch.tensor([b["index"] for b in batch], dtype=torch.long),
    }
