"""Typed schemas of the config groups (Hydra structured configs, registered in Hydra's ConfigStore).

Each group's YAML files start from their schema (``defaults: [/schema_<group>@_here_, _self_]``),
so Hydra checks every value when it composes the config: a key that does not exist
(``aug.blots.colour=1``) or a value of the wrong type (``trainer.max_epochs=abc``,
``dataset.image_h=big``) stops the command with a message naming the key, before any data is
read. Rules a type cannot express (``data.batch_size >= 1``, a ``dataset.root`` that is set)
are checked by :mod:`stackmix.conf.checks`.

The schemas hold types; the YAML files hold the values. The one exception is
:class:`DatasetConf`, which is also the base of every dataset config: its defaults (image size,
normalization, bad-row policy) are written here once instead of in 16 files.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING

__all__ = ["register"]


# --------------------------------------------------------------------------- dataset
@dataclass
class NormalizeConf:
    """Text normalization applied to every transcription before anything else."""
    unicode_form: Optional[str] = "NFC"      # NFC | NFD | NFKC | NFKD | null
    collapse_whitespace: bool = True
    replace: Dict[str, str] = field(default_factory=dict)
    regex: Dict[str, str] = field(default_factory=dict)  # pattern -> replacement, after replace
    lowercase: bool = False


@dataclass
class DatasetConf:
    """A prepared dataset (``marking.csv`` + images) and how to read it."""
    name: str = MISSING
    root: str = MISSING
    image_h: int = 128                       # model input size (lines are resized and padded)
    image_w: int = 2048
    # how a line is fitted to that input: height (scaled up or down to the input height, top-left)
    # | paper (scaled down only, centred vertically, left-aligned: the original; experiment=paper)
    fit: str = "height"
    alphabet: Optional[str] = None           # null: derived from the train split
    corpus: Optional[str] = None             # StackMix text corpus of this dataset (task=corpus)
    paper_epochs: Optional[Dict[str, int]] = None  # experiment=paper budget per aug name
    normalize: NormalizeConf = field(default_factory=NormalizeConf)
    on_bad_row: str = "raise"                # raise | skip (bad rows counted and listed at start)
    unknown_train_chars: str = "error"       # error | drop (train lines with them are skipped)
    train_limit: Optional[int] = None        # N: train on a seeded random N of the train lines
    train_limit_seed: Optional[int] = None   # the subset's seed (null: the run's seed)
    epochs: Optional[int] = None             # trainer.max_epochs default for this dataset
    batch_size: Optional[int] = None         # data.batch_size default for this dataset
    source: Optional[Dict[str, Any]] = None  # public datasets: publisher, files, converter options
    synthetic: Optional[Dict[str, Any]] = None  # dataset=synthetic: generation parameters


# --------------------------------------------------------------------------- aug
@dataclass
class ClaheConf:
    _target_: str = MISSING
    p: float = MISSING
    clip_limit: float = MISSING
    tile_grid_size: List[int] = MISSING


@dataclass
class RotateConf:
    _target_: str = MISSING
    p: float = MISSING
    rotate: List[float] = MISSING
    fit_output: bool = MISSING
    border_mode: int = MISSING
    fill: float = MISSING


@dataclass
class JpegConf:
    _target_: str = MISSING
    p: float = MISSING
    compression_type: str = MISSING
    quality_range: List[int] = MISSING


@dataclass
class BaseAugConf:
    """The paper's three transforms (typed), then ``extra``: any transforms, each a
    ``{_target_: <class>, ...}`` node, so a new one needs no Python change."""
    clahe: Optional[ClaheConf] = None
    rotate: Optional[RotateConf] = None
    jpeg: Optional[JpegConf] = None
    extra: List[Any] = MISSING


@dataclass
class BlotsConf:
    _target_: str = MISSING
    p: float = MISSING
    count_range: List[int] = MISSING
    count_width: Optional[int] = None        # count_range per this many px of line width (null: per image)
    height_range: List[int] = MISSING
    width_range: List[int] = MISSING
    incline_range: List[int] = MISSING
    intensity_range: List[float] = MISSING
    transparency_range: List[float] = MISSING
    thickness_range: List[int] = MISSING
    ink_range: List[int] = MISSING
    style: str = MISSING                     # scribble | paper (the original's Bézier hatch)
    curves_range: List[int] = MISSING


@dataclass
class StackMixConf:
    p: float = MISSING
    bank: str = MISSING
    corpus: Any = MISSING                    # null: the dataset's corpus / train lines; a file...
    max_len: Optional[int] = MISSING
    min_len: int = MISSING
    smooth_background_p: float = MISSING
    caps: List[int] = MISSING
    cap_weights: List[float] = MISSING
    seed: int = MISSING
    cache_dir: Optional[str] = MISSING       # file corpora stored once here, memory-mapped
    wordfreq_lines: int = MISSING
    wordfreq_words: int = MISSING


@dataclass
class AugConf:
    """``aug=<name>``: a null block is switched off."""
    name: str = MISSING
    base: Optional[BaseAugConf] = None
    blots: Optional[BlotsConf] = None
    stackmix: Optional[StackMixConf] = None
    # ramp the augmentation in over the first N training batches: a sample is augmented (and
    # replaced by a StackMix line) with step/N of its probabilities, the full ones from batch N on;
    # 0: full from the start (the paper)
    warmup_steps: int = 0


# --------------------------------------------------------------------------- data
@dataclass
class DataConf:
    """The ``data:`` block of train.yaml (arguments of HTRDataModule)."""
    _target_: str = "stackmix.data.datamodule.HTRDataModule"
    batch_size: int = MISSING
    eval_batch_size: Optional[int] = None
    num_workers: int = MISSING
    pin_memory: bool = MISSING
    persistent_workers: bool = MISSING
    prefetch_factor: Optional[int] = None
    seed: int = MISSING
    time_steps: Optional[int] = None
    verify_images: bool = MISSING
    cache_images: bool = MISSING
    cache_dir: Optional[str] = None
    bucket_batches: int = 0


# --------------------------------------------------------------------------- trainer
@dataclass
class TrainerConf:
    """Arguments of ``lightning.pytorch.Trainer`` (2.6) with Lightning's own defaults.

    Every argument is listed, so ``trainer.accumulate_grad_batches=4`` works without ``+``;
    ``tests/test_config.py`` checks the list and the defaults against the installed Lightning.
    ``logger``, ``callbacks`` and ``plugins`` are built by train.py from their own groups.
    Arguments that take several types (``devices: 2`` or ``"auto"``) are typed ``Any``.
    """
    _target_: str = "lightning.pytorch.Trainer"
    accelerator: Any = "auto"
    strategy: Any = "auto"
    devices: Any = "auto"
    num_nodes: int = 1
    precision: Any = None
    fast_dev_run: Any = False
    max_epochs: Optional[int] = None
    min_epochs: Optional[int] = None
    max_steps: int = -1
    min_steps: Optional[int] = None
    max_time: Any = None
    limit_train_batches: Any = None    # int: batches, float: fraction
    limit_val_batches: Any = None    # int: batches, float: fraction
    limit_test_batches: Any = None    # int: batches, float: fraction
    limit_predict_batches: Any = None    # int: batches, float: fraction
    overfit_batches: Any = 0.0
    val_check_interval: Any = None
    check_val_every_n_epoch: Optional[int] = 1
    num_sanity_val_steps: Optional[int] = None
    log_every_n_steps: Optional[int] = None
    enable_checkpointing: Optional[bool] = None
    enable_progress_bar: Optional[bool] = None
    enable_model_summary: Optional[bool] = None
    accumulate_grad_batches: int = 1
    gradient_clip_val: Optional[float] = None
    gradient_clip_algorithm: Optional[str] = None
    deterministic: Any = None
    benchmark: Optional[bool] = None
    inference_mode: bool = True
    use_distributed_sampler: bool = True
    profiler: Optional[str] = None
    detect_anomaly: bool = False
    barebones: bool = False
    sync_batchnorm: bool = False
    reload_dataloaders_every_n_epochs: int = 0
    default_root_dir: Optional[str] = None
    enable_autolog_hparams: bool = True
    model_registry: Optional[str] = None


# --------------------------------------------------------------------------- prepare.py task=dataset
@dataclass
class ConverterOptions:
    """``task.options.<key>=...`` of ``task=dataset``: overrides one option of the dataset's
    converter (``dataset.source.options``). Every option of
    every converter is listed, so each can be set as written (``task.options.strict=false``,
    ``task.options.unlisted=skip``, ``task.options.xml_digest=null``) and a misspelt one is
    refused. ``???`` (not given) keeps the dataset's own value."""
    collection: Any = MISSING
    cv: Any = MISSING
    document: Any = MISSING
    exclude_pages: Any = MISSING
    join_punctuation: Optional[bool] = MISSING
    max_height: Optional[int] = MISSING
    outside_polygon: Optional[str] = MISSING
    padding: Optional[int] = MISSING
    skip_err: Optional[bool] = MISSING
    special_codes: Optional[Dict[str, str]] = MISSING
    special_letters: Optional[Dict[str, str]] = MISSING
    split: Optional[str] = MISSING
    split_file: Optional[str] = MISSING
    split_files: Optional[Dict[str, str]] = MISSING
    strict: Optional[bool] = MISSING
    test_writers: Any = MISSING
    train_replace: Optional[Dict[str, str]] = MISSING
    unassigned: Optional[str] = MISSING
    unescape_entities: Optional[bool] = MISSING
    unlisted: Optional[str] = MISSING
    valid_writers: Any = MISSING
    xml_digest: Optional[str] = MISSING


def register() -> None:
    """Store the schemas as ``schema_<group>`` (top-level names, so that ``--help`` does not list
    them as a config group; idempotent)."""
    cs = ConfigStore.instance()
    for name, node in (("dataset", DatasetConf), ("aug", AugConf), ("data", DataConf),
                       ("trainer", TrainerConf), ("converter_options", ConverterOptions)):
        cs.store(name=f"schema_{name}", node=node)
