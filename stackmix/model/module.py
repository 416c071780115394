"""LightningModule: CTC training, greedy decoding, corpus-level CER/WER/accuracy.

Validation and test decode with the same function (:meth:`HTRModule.decode`, i.e.
:func:`stackmix.ctc.best_paths`), the one the inference ``GreedyDecoder`` uses.
"""
from __future__ import annotations

import inspect
import math
from functools import partial
from typing import Any

import lightning as L
import torch
import torch.distributed as dist
import torch.nn.functional as F
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from stackmix.ctc import BLANK, best_paths, mean_confidence
from stackmix.data.image import PAD_VALUE, check_fit
from stackmix.metrics import text_metrics
from stackmix.model.schedule import hold_at_end, total_steps_for
from stackmix.text import CTCCodec


def trim_padding(images: torch.Tensor, time_steps: int, quantum: int = 8,
                 pad_value: int = PAD_VALUE) -> tuple[torch.Tensor, int]:
    """Cut a batch of left-aligned uint8 lines (B, C, H, W) after its last non-white column.

    Returns the cut batch and its frame count: the full ``time_steps`` scaled by the kept width,
    rounded up to a multiple of ``quantum`` frames (fewer distinct shapes, a little white margin
    kept); the width kept is that many frames' worth of pixels. A batch of short lines then costs
    the CNN and the BiLSTM what its lines need instead of the full input width.
    """
    w = images.shape[-1]
    inked = torch.nonzero(images.amin(dim=(0, 1, 2)) < pad_value)
    last = int(inked[-1]) + 1 if len(inked) else 1
    frames = min(time_steps, -(-math.ceil(time_steps * last / w) // quantum) * quantum)
    keep = min(w, int(round(frames * w / time_steps)))
    return images[..., :keep], frames


def _plain(obj: Any) -> Any:
    """Config objects → plain containers, so checkpoints load with ``weights_only=True``."""
    if isinstance(obj, DictConfig):
        return OmegaConf.to_container(obj, resolve=True)
    return obj


class HTRModule(L.LightningModule):
    """Line recognizer trained with CTC.

    The checkpoint carries everything needed to use the model: the network config, the alphabet,
    the text normalization, the input size and how lines are fitted to it (``self.hparams``;
    ``fit``: ``stackmix.data.image.FIT_MODES``, ``height`` for checkpoints made before it existed).
    """

    def __init__(
        self,
        net: dict,
        alphabet: str,
        image_h: int,
        image_w: int,
        optimizer: dict,
        scheduler: dict | None = None,
        normalize: dict | None = None,
        dataset_name: str | None = None,
        channels_last: bool | str = False,
        compile: bool = False,
        freeze_backbone: bool = False,
        freeze_epochs: int = 1,
        fit: str = "height",
        trim_padding: bool = False,
    ):
        super().__init__()
        if channels_last == "auto":  # the paper network: NHWC on a GPU only (slower on a CPU)
            channels_last = torch.cuda.is_available()
        elif not isinstance(channels_last, bool):
            raise ValueError(f"model.channels_last must be true, false or auto, got {channels_last!r}")
        self.save_hyperparameters({
            "net": _plain(net), "alphabet": alphabet, "image_h": int(image_h),
            "image_w": int(image_w), "optimizer": _plain(optimizer),
            "scheduler": _plain(scheduler), "normalize": _plain(normalize) or {},
            "dataset_name": dataset_name, "channels_last": bool(channels_last),
            "compile": bool(compile), "freeze_backbone": bool(freeze_backbone),
            "freeze_epochs": int(freeze_epochs), "fit": check_fit(str(fit)),
            "trim_padding": bool(trim_padding),
        })
        self.codec = CTCCodec(alphabet)
        self.net = instantiate(self.hparams.net, num_classes=self.codec.num_classes)
        self.in_chans = int(getattr(self.net, "in_chans", 1))
        if channels_last:
            self.net = self.net.to(memory_format=torch.channels_last)
        self._forward_net = torch.compile(self.net) if compile else self.net
        self.val_metrics = text_metrics("val/")
        self.test_metrics = text_metrics("test/")
        self.register_buffer("nonfinite_steps", torch.zeros((), dtype=torch.long), persistent=True)
        self._step_finite: torch.Tensor | None = None
        self.test_rows: list[dict] = []

    # ------------------------------------------------------------------ forward
    def preprocess(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (B, 1, H, W), white paper → float ink map in [0, 1] (paper 0, ink 1)."""
        x = 1.0 - images.float() / 255.0
        if self.in_chans != x.shape[1]:
            x = x.expand(-1, self.in_chans, -1, -1)
        if self.hparams.channels_last:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def forward(self, images: torch.Tensor, time_steps: int | None = None) -> torch.Tensor:
        """Raw class scores (B, T, num_classes) for uint8 line images (B, 1, H, W); ``time_steps``
        overrides T (a batch cut to its inked width, see ``train_log_probs``)."""
        return self._forward_net(self.preprocess(images), time_steps=time_steps)

    def log_probs(self, images: torch.Tensor, time_steps: int | None = None) -> torch.Tensor:
        return self(images, time_steps).float().log_softmax(-1)

    def train_log_probs(self, images: torch.Tensor) -> torch.Tensor:
        """``log_probs`` of a training batch; with ``trim_padding`` the batch's white right-hand
        margin is cut first (:func:`trim_padding`) and the network emits as many fewer frames.
        Validation, test and inference always see the full width."""
        if not self.hparams.get("trim_padding"):
            return self.log_probs(images)
        full = int(self.net.time_steps)
        images, frames = trim_padding(images, full)
        return self.log_probs(images, frames if frames < full else None)

    def ctc_loss(self, log_probs: torch.Tensor, batch: dict) -> torch.Tensor:
        b, t, _ = log_probs.shape
        input_lengths = torch.full((b,), t, dtype=torch.long, device=log_probs.device)
        return F.ctc_loss(
            log_probs.transpose(0, 1), batch["targets"], input_lengths, batch["target_lengths"],
            blank=BLANK, reduction="mean", zero_infinity=True,
        )

    def decode(self, log_probs: torch.Tensor) -> tuple[list[str], list[list[float]]]:
        """Greedy (best-path) decoding: the texts and, per line, one confidence per character."""
        decoded = best_paths(log_probs)
        return ([self.codec.decode(labels) for labels, _ in decoded],
                [probs for _, probs in decoded])

    # ------------------------------------------------------------------ training
    def on_fit_start(self) -> None:
        if self.device.type == "cuda":
            torch.set_float32_matmul_precision("high")  # TF32 for any fp32 matmul left

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss = self.ctc_loss(self.train_log_probs(batch["images"]), batch)
        finite = torch.isfinite(loss.detach())
        # AND over the micro-batches of one optimizer step (gradient accumulation)
        self._step_finite = finite if self._step_finite is None else self._step_finite & finite
        self.nonfinite_steps += (~finite).long()
        self.log("train/loss", torch.where(finite, loss.detach(), torch.zeros_like(loss)),
                 on_step=True, on_epoch=True, prog_bar=True, batch_size=len(batch["texts"]))
        return loss

    def optimizer_step(self, epoch, batch_idx, optimizer, optimizer_closure=None) -> None:
        """Skip the parameter update of a batch whose loss is NaN/inf.

        Zeroing the gradients would not protect the weights: AdamW would still move them by its
        momentum and its weight decay. So the wrapped optimizer runs the closure (forward,
        backward, clipping), then looks at the loss (one host sync per step, as AMP's GradScaler
        does; under DDP the verdict is shared so that all ranks skip together) and, when it was
        not finite, drops the gradients and leaves weights and optimizer state untouched. The
        learning-rate schedule still advances (it counts batches); ``nonfinite_steps`` counts
        the skipped batches.
        """
        inner = getattr(optimizer, "optimizer", optimizer)
        real_step = inner.step

        def guarded_step(closure=None, **kwargs):
            result = None
            if closure is not None:
                with torch.enable_grad():
                    result = closure()
            finite, self._step_finite = self._step_finite, None
            if finite is not None:
                if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
                    finite = finite.to(torch.int32)
                    dist.all_reduce(finite, op=dist.ReduceOp.MIN)
                if not bool(finite):
                    inner.zero_grad(set_to_none=True)
                    return result
            return real_step(**kwargs)

        inner.step = guarded_step
        try:
            optimizer.step(closure=optimizer_closure)
        finally:
            inner.step = real_step
            self._step_finite = None

    def on_train_epoch_start(self) -> None:
        if self.hparams.get("freeze_backbone"):  # fine-tuning: the CNN waits freeze_epochs epochs
            from stackmix.model.init_from import freeze_features

            freeze_features(self, self.current_epoch < int(self.hparams.get("freeze_epochs", 1)))

    def on_train_epoch_end(self) -> None:
        self.log("train/nonfinite_steps", self.nonfinite_steps.float(), sync_dist=False)

    # ------------------------------------------------------------------ evaluation
    def _eval_step(self, batch: dict, metrics) -> tuple[torch.Tensor, list[str], list[list[float]]]:
        """Loss, predicted texts and their character confidences; updates ``metrics``."""
        log_probs = self.log_probs(batch["images"])
        loss = self.ctc_loss(log_probs, batch)
        preds, char_probs = self.decode(log_probs)
        metrics.update(preds, batch["texts"])
        return loss, preds, char_probs

    def on_validation_epoch_start(self) -> None:
        self._val_empty = [0, 0]  # [empty predictions, lines]

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        loss, preds, _ = self._eval_step(batch, self.val_metrics)
        self.log("val/loss", loss, on_epoch=True, prog_bar=False, batch_size=len(batch["texts"]),
                 sync_dist=True)
        self._val_empty[0] += sum(1 for text in preds if not text)
        self._val_empty[1] += len(preds)

    def on_validation_epoch_end(self) -> None:
        self.log_dict(self.val_metrics.compute(), prog_bar=True)
        self.val_metrics.reset()
        empty, lines = self._val_empty
        if lines:
            # share of validation lines read as "" (all blanks): 1.0 early in training, and a
            # run that ends there has not learned to read yet (see all_blank_warning)
            self.log("val/empty", empty / lines, sync_dist=True)
            if not self.trainer.sanity_checking:
                self.last_val_empty = empty / lines

    def all_blank_warning(self) -> str | None:
        """A message when the last validation still read every line as empty, else None."""
        if getattr(self, "last_val_empty", 0.0) < 1.0:
            return None
        return (f"the model still reads every validation line as empty after {self.global_step} "
                "optimizer steps: it has not left CTC's all-blank phase. Train for longer "
                "(trainer.max_steps, trainer.max_time or trainer.max_epochs), or on a CPU use "
                "experiment=cpu, whose budget and schedule are sized for small data.")

    def on_test_epoch_start(self) -> None:
        self.test_rows = []

    def test_step(self, batch: dict, batch_idx: int) -> None:
        loss, preds, char_probs = self._eval_step(batch, self.test_metrics)
        self.log("test/loss", loss, on_epoch=True, batch_size=len(batch["texts"]), sync_dist=True)
        for sid, ref, text, probs in zip(batch["sample_ids"], batch["texts"], preds, char_probs):
            self.test_rows.append({"sample_id": sid, "text": ref, "prediction": text,
                                   "confidence": mean_confidence(probs), "char_probs": probs})

    def on_test_epoch_end(self) -> None:
        self.log_dict(self.test_metrics.compute())
        self.test_metrics.reset()
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            # the evaluation sampler gives every test line to exactly one rank
            gathered: list[list[dict]] = [[] for _ in range(dist.get_world_size())]
            dist.all_gather_object(gathered, self.test_rows)
            self.test_rows = [r for part in gathered for r in part]

    # ------------------------------------------------------------------ optimization
    def lr_scheduler_step(self, scheduler, metric) -> None:
        if hold_at_end(scheduler):  # never step past the end: the checkpoint stays resumable
            return
        super().lr_scheduler_step(scheduler, metric)

    def configure_optimizers(self):
        # model.optimizer / model.scheduler are `_partial_: true` configs: factories completed here
        optimizer = instantiate(dict(self.hparams.optimizer), _partial_=True)(self.parameters())
        sched_cfg = self.hparams.scheduler
        if not sched_cfg:
            return optimizer
        sched_cfg = dict(sched_cfg)
        interval = sched_cfg.pop("interval", "step")
        make_scheduler = instantiate(sched_cfg, _partial_=True)
        params = inspect.signature(make_scheduler.func).parameters
        if "time_fraction" in params:  # BudgetOneCycleLR: sized by steps and trainer.max_time
            total, fraction = total_steps_for(self.trainer)
            extra = {"time_fraction": fraction}
            if "total_steps" not in make_scheduler.keywords:
                extra["total_steps"] = total
            make_scheduler = partial(make_scheduler, **extra)
        elif "total_steps" in params and "total_steps" not in make_scheduler.keywords:  # OneCycleLR
            make_scheduler = partial(make_scheduler,
                                     total_steps=int(self.trainer.estimated_stepping_batches))
        scheduler = make_scheduler(optimizer)
        return {"optimizer": optimizer,
                "lr_scheduler": {"scheduler": scheduler, "interval": interval}}
