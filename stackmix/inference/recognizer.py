"""A trained recognizer ready for use: checkpoint (or ONNX export) + the preprocessing of training.

:class:`Recognizer` loads a Lightning checkpoint (``.ckpt``, :meth:`TorchRecognizer.from_checkpoint`)
or an ONNX file exported by ``prepare.py task=export_onnx`` (``.onnx``). Both carry the alphabet,
the text normalization, the input size and the fit mode the model was trained with
(``dataset.fit``; ``height`` for models made before it existed), so images are prepared exactly as
in training: any image → 8-bit gray (:func:`stackmix.data.image.read_gray`) → fit into
``image_h × image_w`` keeping the aspect ratio, in that mode, padded with white
(:func:`stackmix.data.image.resize_pad`). Every
command that uses a trained model (predict, evaluate, char masks, ONNX export) loads it through
:meth:`Recognizer.load`.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from stackmix import checkpoints
from stackmix.checkpoints import resolve_model_path
from stackmix.data.image import DEFAULT_FIT, check_fit, read_gray, resize_pad
from stackmix.text import Normalizer

ONNX_META_KEY = "stackmix"


def pick_device(device: str | None = "auto") -> torch.device:
    """``auto`` (or empty): the GPU when there is one, else the CPU; otherwise as named."""
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(str(device))


class Recognizer:
    """Line images (uint8, white paper) → per-frame CTC log-probabilities.

    Attributes: ``alphabet`` (class ``i+1`` is ``alphabet[i]``, 0 is the blank), ``image_h``,
    ``image_w``, ``fit`` (how lines are fitted to the input, as in training), ``normalize`` (dict,
    for references), ``dataset_name``, ``backend`` (``"torch"``/``"onnx"``), ``device``, ``path``
    (the model file).
    """

    def __init__(self, alphabet: str, image_h: int, image_w: int, normalize: dict | None = None,
                 dataset_name: str | None = None, fit: str | None = None):
        self.alphabet = alphabet
        self.image_h = int(image_h)
        self.image_w = int(image_w)
        self.fit = check_fit(str(fit or DEFAULT_FIT))
        self.normalize = dict(normalize or {})
        self.dataset_name = dataset_name
        self.backend = "none"
        self.device = torch.device("cpu")
        self.path: Path | None = None  # the model file, when loaded from one

    # ------------------------------------------------------------------ loading
    @staticmethod
    def load(path: str | Path, device: str | None = "auto") -> "Recognizer":
        """A ``.ckpt``, an ``.onnx`` export, or a training run folder (its best checkpoint, see
        :func:`stackmix.checkpoints.resolve_model_path`). Every task loads models through here."""
        path = resolve_model_path(path)
        if path.suffix.lower() == ".onnx":
            rec: Recognizer = OnnxRecognizer(path, device)
        else:
            rec = TorchRecognizer.from_checkpoint(path, device)
        rec.path = path
        return rec

    @property
    def normalizer(self) -> Normalizer:
        return Normalizer.from_config(self.normalize)

    @property
    def num_classes(self) -> int:
        return len(self.alphabet) + 1

    # ------------------------------------------------------------------ preprocessing
    def prepare(self, image: np.ndarray) -> np.ndarray:
        """Gray uint8 (H, W) line → the model's (image_h, image_w) input, as in training."""
        return resize_pad(image, self.image_h, self.image_w, fit=self.fit)

    def prepare_file(self, path: str | Path) -> np.ndarray:
        return self.prepare(read_gray(path))

    # ------------------------------------------------------------------ inference
    def log_probs(self, images: np.ndarray | torch.Tensor) -> np.ndarray:
        """uint8 images (B, H, W) or (B, 1, H, W) → float32 log-probabilities (B, T, C)."""
        raise NotImplementedError

    def logits(self, images: np.ndarray | torch.Tensor) -> np.ndarray:
        raise NotImplementedError


def _batch_u8(images) -> np.ndarray:
    arr = images.cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if arr.dtype != np.uint8:
        raise TypeError(f"images must be uint8 (white paper, black ink), got {arr.dtype}")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim == 3:
        arr = arr[:, None]
    if arr.ndim != 4 or arr.shape[1] != 1:
        raise ValueError(f"images must be (B, H, W) or (B, 1, H, W), got {arr.shape}")
    return np.ascontiguousarray(arr)


class TorchRecognizer(Recognizer):
    """A trained ``HTRModule`` in eval mode on ``device``."""

    def __init__(self, module, device: str | None = "auto"):
        hp = module.hparams
        super().__init__(hp["alphabet"], hp["image_h"], hp["image_w"], hp.get("normalize"),
                         hp.get("dataset_name"), hp.get("fit"))
        self.module = module.eval()
        self.device = pick_device(device)
        self.module.to(self.device)
        self.backend = "torch"

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | None = "auto") -> "TorchRecognizer":
        """The one way to load a ``.ckpt`` for inference: read safely (``weights_only=True``,
        :func:`stackmix.checkpoints.read_model`), build the network from the checkpoint's
        hyper-parameters without ``torch.compile``, load the weights."""
        from stackmix.model.module import HTRModule

        ckpt = checkpoints.read_model(path)
        hp = {**ckpt["hyper_parameters"], "compile": False}
        # the weights are the network's (``net.*``); a model trained with torch.compile also
        # saved them under its compiled alias, which an uncompiled module does not have
        alias = "_forward_net."
        state = {k: v for k, v in ckpt["state_dict"].items() if not k.startswith(alias)}
        try:
            module = HTRModule(**hp)
            missing, unexpected = module.load_state_dict(state, strict=False)
        except (TypeError, RuntimeError, ValueError) as e:
            raise _misfit(path, e) from None
        missing = [k for k in missing if not k.startswith(alias)]
        if missing or unexpected:
            raise _misfit(path, f"missing {missing[:3]}, unexpected {unexpected[:3]}")
        return cls(module, device)

    @torch.inference_mode()
    def logits(self, images) -> np.ndarray:
        x = torch.from_numpy(_batch_u8(images)).to(self.device, non_blocking=True)
        return self.module(x).float().cpu().numpy()

    @torch.inference_mode()
    def log_probs(self, images) -> np.ndarray:
        x = torch.from_numpy(_batch_u8(images)).to(self.device, non_blocking=True)
        return self.module.log_probs(x).float().cpu().numpy()


class OnnxRecognizer(Recognizer):
    """An ONNX export run with onnxruntime (CUDA provider when present and asked for)."""

    def __init__(self, path: str | Path, device: str | None = "auto"):
        try:
            import onnxruntime as ort
        except ImportError:
            raise ImportError(
                f"running {path} needs onnxruntime: pip install 'stackmix-htr[onnx]' "
                "(or pip install onnxruntime)") from None
        opts = ort.SessionOptions()
        opts.log_severity_level = 3
        providers = ["CPUExecutionProvider"]
        want_cuda = device in (None, "", "auto") or str(device).startswith("cuda")
        if want_cuda and "CUDAExecutionProvider" in ort.get_available_providers():
            providers.insert(0, "CUDAExecutionProvider")
        self.session = ort.InferenceSession(str(path), opts, providers=providers)
        meta = self.session.get_modelmeta().custom_metadata_map.get(ONNX_META_KEY)
        if not meta:
            raise ValueError(f"{path} has no '{ONNX_META_KEY}' metadata: export it with "
                             "`python prepare.py task=export_onnx task.ckpt=...`")
        m = json.loads(meta)
        super().__init__(m["alphabet"], m["image_h"], m["image_w"], m.get("normalize"),
                         m.get("dataset_name"), m.get("fit"))
        self.backend = "onnx"
        self.device = torch.device("cuda" if providers[0].startswith("CUDA") else "cpu")
        self.input_name = self.session.get_inputs()[0].name

    def logits(self, images) -> np.ndarray:
        return self.session.run(None, {self.input_name: _batch_u8(images)})[0].astype(np.float32)

    def log_probs(self, images) -> np.ndarray:
        x = self.logits(images)
        x = x - x.max(-1, keepdims=True)
        return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _misfit(path, why) -> checkpoints.CheckpointError:
    text = str(why).strip()
    first = text.splitlines()[0] if text else type(why).__name__
    return checkpoints.CheckpointError(
        f"{path}: its weights do not fit the network its hyper-parameters describe, so it is "
        f"damaged or not a checkpoint of this project ({first})")
