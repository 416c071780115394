"""LightningDataModule: reads and validates a prepared dataset, fixes the alphabet, builds loaders.

The pieces live next door: row checks in ``marking``, the alphabet policy and train checks in
``splits``, the image cache in ``cache``, worker start-up/shutdown and the mid-epoch resume state
in ``loaders``.
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path
from typing import Any, Callable

import lightning as L
import numpy as np
import torch
from omegaconf import DictConfig, OmegaConf
from torch.utils.data import DataLoader

from stackmix.data.cache import CachedImages, ImageCache, header_info, open_or_build
from stackmix.data.dataset import LineDataset, collate_lines
from stackmix.data.image import DEFAULT_FIT, check_fit, fitted_size, image_remarks, read_gray
from stackmix.data.loaders import (ResumableLoader, WorkerLoader, kill_workers_at_exit,
                                   resume_sampler, train_progress, worker_init)
from stackmix.data.marking import Marking, MarkingError, Sample, Skip, read_marking
from stackmix.data.sampler import EpochSampler
from stackmix.data.splits import DatasetError, build_splits, no_train_rows
from stackmix.text import CTCCodec, Normalizer

log = logging.getLogger(__name__)

__all__ = ["DatasetError", "HTRDataModule"]

_REMARKS = {"blank": "are blank (one value everywhere)",
            "degenerate aspect ratio": "have a degenerate aspect ratio",
            "multi-frame": "have several frames (the first is used)"}


def _cfg(obj: Any) -> dict:
    if obj is None:
        return {}
    if isinstance(obj, DictConfig):
        return OmegaConf.to_container(obj, resolve=True)
    return dict(obj)


class HTRDataModule(L.LightningDataModule):
    def __init__(
        self,
        dataset: Any,
        aug: Any = None,
        batch_size: int = 32,
        eval_batch_size: int | None = None,
        num_workers: int = 0,
        pin_memory: bool = False,
        persistent_workers: bool = True,
        prefetch_factor: int | None = 2,
        seed: int = 42,
        time_steps: int | None = None,
        verify_images: bool = True,
        cache_images: bool = False,
        cache_dir: str | None = None,
        stackmix_factory: Callable[..., Any] | None = None,
        bucket_batches: int = 0,
    ):
        super().__init__()
        self.dataset_cfg = _cfg(dataset)
        self.aug_cfg = _cfg(aug)
        self.warmup_steps = int(self.aug_cfg.get("warmup_steps") or 0)
        self.batch_size = batch_size
        self.eval_batch_size = eval_batch_size or batch_size
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers and num_workers > 0
        self.prefetch_factor = prefetch_factor if num_workers > 0 else None
        self.seed = seed
        self.time_steps = time_steps
        self.verify_images = verify_images
        self.cache_images = cache_images
        self.cache_dir = cache_dir
        # builds the StackMix generator of aug.stackmix (stackmix.mix.build_generator): handed in
        # by the caller, so the data layer does not import the method built on top of it
        self.stackmix_factory = stackmix_factory
        self.bucket_batches = int(bucket_batches)
        self._cache: ImageCache | None = None
        self._cache_pos: dict[str, int] = {}
        self.normalizer = Normalizer.from_config(self.dataset_cfg.get("normalize"))
        self.image_h = int(self.dataset_cfg["image_h"])
        self.image_w = int(self.dataset_cfg["image_w"])
        self.fit = check_fit(str(self.dataset_cfg.get("fit") or DEFAULT_FIT))  # saved in the model
        self._marking: Marking | None = None
        self._codec: CTCCodec | None = None
        self._splits: dict[str, list[Sample]] = {}
        self._dropped: dict[str, list[str]] = {}
        self._remarks: Counter = Counter()  # what is odd about the images, e.g. 'blank'
        self._remark_examples: dict[str, str] = {}
        self._datasets: dict[str, LineDataset] = {}
        self._widths: dict[str, np.ndarray] = {}  # fitted_widths per split, read once
        self._resume: dict | None = None  # train progress of the checkpoint being resumed

    # ------------------------------------------------------------------ loading and validation
    @property
    def root(self) -> Path:
        return Path(self.dataset_cfg["root"]).expanduser()

    @property
    def name(self) -> str:
        return str(self.dataset_cfg.get("name", self.root.name))

    def prepare_data(self) -> None:
        synthetic = self.dataset_cfg.get("synthetic")
        if synthetic:
            from stackmix.data.synthetic import ensure_synthetic

            ensure_synthetic(self.root, **synthetic)

    @property
    def marking(self) -> Marking:
        if self._marking is None:
            self.prepare_data()
            on_error = self.dataset_cfg.get("on_bad_row", "raise")
            check = self._decode_check if self.verify_images and not self.cache_images else None
            marking = read_marking(
                self.root, on_error=on_error, normalize=self.normalizer, image_check=check
            )
            if not marking.stage("train"):  # before decoding anything
                log.info(marking.summary())
                raise no_train_rows(self.name, self.root)
            if self.cache_images:
                self._open_cache(marking, on_error)
            self._marking = marking
            log.info(marking.summary())
            self._warn_remarks()
        return self._marking

    def _decode_check(self, path: Path) -> None:
        img = read_gray(path)
        for note in image_remarks(*img.shape, self.image_h, self.image_w, img):
            self._remark(note, path)

    def _remark(self, note: str, path: Path) -> None:
        kind = note.split(" (")[0]
        self._remarks[kind] += 1
        self._remark_examples.setdefault(kind, f"{path}: {note}")

    def _warn_remarks(self) -> None:
        for kind, n in sorted(self._remarks.items()):
            what = _REMARKS.get(kind, kind)
            log.warning("%d image(s) of %r %s, e.g. %s; check them (they are used as they are)",
                        n, self.name, what, self._remark_examples[kind])

    def _open_cache(self, marking: Marking, on_error: str) -> None:
        """Decode every image once into the memory-mapped cache; undecodable files are errors
        (or counted skips with ``dataset.on_bad_row=skip``)."""
        cache_dir = self.cache_dir or (self.root / ".cache")
        cache = open_or_build([s.path for s in marking.samples], self.image_h, self.image_w,
                              cache_dir, self.name, fit=self.fit)
        if cache.failed:
            bad = [(marking.samples[i], reason) for i, reason in sorted(cache.failed.items())]
            if on_error == "raise":
                s, reason = bad[0]
                raise MarkingError(
                    f"{self.root / 'marking.csv'}: line {s.line} (sample {s.sample_id!r}): "
                    f"unreadable image: {reason}. Replace the file, remove the row, or set "
                    f"dataset.on_bad_row=skip ({len(bad)} unreadable image(s) in all)")
            for s, reason in bad:
                marking.skipped.append(Skip(s.line, s.sample_id, str(s.path),
                                            f"unreadable image: {reason}"))
        for i, notes in sorted(cache.remarks.items()):
            for note in notes:
                self._remark(note, marking.samples[i].path)
        self._cache = cache
        self._cache_pos = {s.sample_id: i for i, s in enumerate(marking.samples)}
        failed_ids = {marking.samples[i].sample_id for i in cache.failed}
        marking.samples = [s for s in marking.samples if s.sample_id not in failed_ids]

    @property
    def splits(self) -> dict[str, list[Sample]]:
        """Samples per stage after validation (train: only lines usable for training)."""
        self.codec
        return self._splits

    @property
    def dropped(self) -> dict[str, list[str]]:
        """Train sample ids left out, by reason (``unknown_chars``, ``too_long_for_ctc``)."""
        self.codec
        return self._dropped

    @property
    def codec(self) -> CTCCodec:
        if self._codec is None:
            self._build_splits()
        assert self._codec is not None
        return self._codec

    def _build_splits(self) -> None:
        result = build_splits(self.marking, self.dataset_cfg, self.name, self.root, self.time_steps,
                              seed=self.seed)
        self._splits, self._dropped = result.samples, result.dropped
        self._codec = result.codec

    # ------------------------------------------------------------------ datasets and loaders
    def setup(self, stage: str | None = None) -> None:
        codec = self.codec
        if "train" not in self._datasets:
            from stackmix.augment import build_train_transform

            transform = build_train_transform(self.aug_cfg, seed=self.seed, image_h=self.image_h)
            generator = self._build_generator(codec)
            if self.warmup_steps and (transform is not None or generator is not None):
                log.info("augmentation ramps in over the first %d training batches "
                         "(aug.warmup_steps)", self.warmup_steps)
            self._datasets["train"] = LineDataset(
                self.splits["train"], codec, self.image_h, self.image_w, transform=transform,
                generator=generator, seed=self.seed, image_source=self._source("train"),
                fit=self.fit, warmup_steps=self.warmup_steps)
        for split in ("valid", "test"):
            if split not in self._datasets:
                self._datasets[split] = LineDataset(
                    self.splits[split], codec, self.image_h, self.image_w, seed=self.seed,
                    image_source=self._source(split), fit=self.fit)

    def _source(self, split: str) -> "CachedImages | None":
        if self._cache is None:
            return None
        return CachedImages(self._cache, [self._cache_pos[s.sample_id] for s in self.splits[split]])

    def _build_generator(self, codec: CTCCodec):
        cfg = self.aug_cfg.get("stackmix")
        if not cfg:
            return None
        if self.stackmix_factory is None:
            raise DatasetError(
                f"aug={self.aug_cfg.get('name')} uses StackMix: give the data module "
                "stackmix_factory=stackmix.mix.build_generator (train.py and the prepare.py tasks "
                "do), and build a token bank first: python prepare.py task=char_masks ... then "
                "python prepare.py task=stackmix (see README, 'StackMix').")
        return self.stackmix_factory(cfg, dataset_cfg=self.dataset_cfg, codec=codec,
                                     train_samples=self.splits["train"],
                                     normalizer=self.normalizer)

    def dataset(self, split: str) -> LineDataset:
        self.setup()
        return self._datasets[split]

    def _rank_world(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is None:
            return 0, 1
        return int(trainer.global_rank), int(trainer.world_size)

    def sampler(self, split: str) -> EpochSampler:
        rank, world = self._rank_world()
        train = split == "train"
        bucket = self.bucket_batches if train else 0
        return EpochSampler(len(self.dataset(split)), self.seed, shuffle=train, rank=rank,
                            world_size=world, pad=train, batch_size=self.batch_size,
                            bucket_batches=bucket, widths=self.fitted_widths(split) if bucket else None,
                            steps=train and self.warmup_steps > 0)

    def fitted_widths(self, split: str) -> np.ndarray:
        """Each line's width at the model's input size (before padding): from the image cache's
        index, else from the files' headers (once per split: every train sampler asks)."""
        if split in self._widths:
            return self._widths[split]
        out = []
        for s in self.splits[split]:
            if self._cache is not None:
                _, h, w = self._cache.index[self._cache_pos[s.sample_id]]
            else:
                h, w, _ = header_info(s.path)
            out.append(fitted_size(int(h), int(w), self.image_h, self.image_w, fit=self.fit)[1])
        self._widths[split] = np.asarray(out)
        return self._widths[split]

    def _loader(self, split: str, batch_size: int) -> DataLoader:
        ds = self.dataset(split)
        if len(ds) == 0:
            raise DatasetError(
                f"the {split!r} split of {self.name!r} is empty: {self.root}/marking.csv needs rows "
                f"with stage={split}")
        sampler = self.sampler(split)
        trainer = getattr(self, "trainer", None)
        if trainer is not None:  # before Lightning's set_epoch: workers prefetch at iter()
            sampler.set_epoch(int(trainer.current_epoch))
        cls = ResumableLoader if split == "train" else WorkerLoader
        if self.num_workers > 0:
            kill_workers_at_exit()
        loader = cls(
            ds,
            batch_size=batch_size,
            sampler=sampler,
            # own generator: creating an iterator must not draw from the global torch RNG, so a
            # resumed run's dropout draws match an uninterrupted run's
            generator=torch.Generator().manual_seed(self.seed),
            num_workers=self.num_workers,
            collate_fn=collate_lines,
            pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers,
            prefetch_factor=self.prefetch_factor,
            worker_init_fn=worker_init,
            drop_last=False,
        )
        if split == "train" and self._resume is not None:
            resume_sampler(sampler, self._resume, batch_size)
            self._resume = None
        return loader

    # ------------------------------------------------------------------ resume mid-epoch
    def state_dict(self) -> dict:
        """Saved in every checkpoint: how far the current training epoch got, and what the data
        were, so a resumed run continues the epoch with the same sample order."""
        trainer = getattr(self, "trainer", None)
        if trainer is None or "train" not in self._datasets:
            return {}
        return {"train_progress": train_progress(trainer, self.batch_size,
                                                 len(self._datasets["train"]), self.seed)}

    def load_state_dict(self, state_dict: dict) -> None:
        self._resume = dict(state_dict.get("train_progress") or {}) or None

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", self.batch_size)

    def val_dataloader(self) -> DataLoader:
        return self._loader("valid", self.eval_batch_size)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", self.eval_batch_size)

    def info(self) -> dict:
        return {
            "name": self.name,
            "root": str(self.root),
            "counts": {k: len(v) for k, v in self.splits.items()},
            "skipped_rows": len(self.marking.skipped),
            "dropped_train": {k: len(v) for k, v in self.dropped.items()},
            "alphabet": self.codec.alphabet,
        }

