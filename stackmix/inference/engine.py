"""A trained recognizer ready for use: checkpoint (or ONNX export) + the preprocessing of training.

:class:`Recognizer` loads a Lightning checkpoint (``.ckpt``) or an ONNX file exported by
``prepare.py task=export_onnx`` (``.onnx``). Both carry the alphabet, the text normalization and
the input size, so images are prepared exactly as in training: any image → 8-bit gray
(:func:`stackmix.data.image.read_gray`) → fit into ``image_h × image_w`` keeping the aspect ratio, padded
with white (:func:`stackmix.data.image.resize_pad`).

:func:`recognize` runs a recognizer + decoder over many image paths in batches (images decoded
in background workers, a tqdm progress bar, unreadable files raised or skipped and counted).
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import numpy as np
import torch

from stackmix.data.image import resize_pad
from stackmix.data.image import ImageReadError, read_gray
from stackmix.text import Normalizer

log = logging.getLogger(__name__)

ONNX_META_KEY = "stackmix"


def pick_device(device: str | None = "auto") -> torch.device:
    if device in (None, "", "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def resolve_model_path(path: str | Path) -> Path:
    """A model file, or a training run folder → its ``checkpoints/best-*.ckpt`` (newest), else
    ``last.ckpt``."""
    p = Path(str(path)).expanduser()
    if p.is_file():
        return p
    if p.is_dir():
        ck = p / "checkpoints" if (p / "checkpoints").is_dir() else p
        best = sorted(ck.glob("best-*.ckpt"), key=lambda f: f.stat().st_mtime)
        if best:
            return best[-1]
        if (ck / "last.ckpt").is_file():
            return ck / "last.ckpt"
        raise FileNotFoundError(f"no best-*.ckpt or last.ckpt in {ck}")
    raise FileNotFoundError(f"model file not found: {p}")


class Recognizer:
    """Line images (uint8, white paper) → per-frame CTC log-probabilities.

    Attributes: ``alphabet`` (class ``i+1`` is ``alphabet[i]``, 0 is the blank), ``image_h``,
    ``image_w``, ``normalize`` (dict, for references), ``dataset_name``, ``backend``
    (``"torch"``/``"onnx"``), ``device``.
    """

    def __init__(self, alphabet: str, image_h: int, image_w: int, normalize: dict | None = None,
                 dataset_name: str | None = None):
        self.alphabet = alphabet
        self.image_h = int(image_h)
        self.image_w = int(image_w)
        self.normalize = dict(normalize or {})
        self.dataset_name = dataset_name
        self.backend = "none"
        self.device = torch.device("cpu")

    # ------------------------------------------------------------------ loading
    @staticmethod
    def load(path: str | Path, device: str | None = "auto") -> "Recognizer":
        """A ``.ckpt``, an ``.onnx`` export, or a training run folder (its best checkpoint)."""
        path = resolve_model_path(path)
        if path.suffix.lower() == ".onnx":
            return OnnxRecognizer(path, device)
        return TorchRecognizer.from_checkpoint(path, device)

    @property
    def normalizer(self) -> Normalizer:
        return Normalizer.from_config(self.normalize)

    @property
    def num_classes(self) -> int:
        return len(self.alphabet) + 1

    def info(self) -> dict:
        return {"backend": self.backend, "device": str(self.device), "alphabet": self.alphabet,
                "image_h": self.image_h, "image_w": self.image_w,
                "dataset_name": self.dataset_name}

    # ------------------------------------------------------------------ preprocessing
    def prepare(self, image: np.ndarray) -> np.ndarray:
        """Gray uint8 (H, W) line → the model's (image_h, image_w) input, as in training."""
        return resize_pad(image, self.image_h, self.image_w)

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
    def __init__(self, module, device: str | None = "auto"):
        hp = module.hparams
        super().__init__(hp["alphabet"], hp["image_h"], hp["image_w"], hp.get("normalize"),
                         hp.get("dataset_name"))
        module._forward_net = module.net  # inference: no torch.compile warm-up
        self.module = module.eval()
        self.device = pick_device(device)
        self.module.to(self.device)
        self.backend = "torch"

    @classmethod
    def from_checkpoint(cls, path: str | Path, device: str | None = "auto") -> "TorchRecognizer":
        from stackmix.model.module import HTRModule

        try:
            module = HTRModule.load_from_checkpoint(str(path), map_location="cpu",
                                                    weights_only=True)
        except Exception as e:
            raise ValueError(f"cannot load checkpoint {path}: {type(e).__name__}: {e}") from e
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
                         m.get("dataset_name"))
        self.backend = "onnx"
        self.device = torch.device("cuda" if providers[0].startswith("CUDA") else "cpu")
        self.input_name = self.session.get_inputs()[0].name

    def logits(self, images) -> np.ndarray:
        return self.session.run(None, {self.input_name: _batch_u8(images)})[0].astype(np.float32)

    def log_probs(self, images) -> np.ndarray:
        x = self.logits(images)
        x = x - x.max(-1, keepdims=True)
        return x - np.log(np.exp(x).sum(-1, keepdims=True))


# ---------------------------------------------------------------------- batch recognition
@dataclass
class LineResult:
    path: str
    text: str
    confidence: float
    char_probs: list[float]
    extra: dict = field(default_factory=dict)


@dataclass
class RecognitionRun:
    results: list[LineResult]
    skipped: list[tuple[str, str]]  # (path, reason)
    log_probs: list[np.ndarray] | None = None


class _ImageFiles(torch.utils.data.Dataset):
    def __init__(self, paths: Sequence[str | Path], image_h: int, image_w: int):
        self.paths = [str(p) for p in paths]
        self.image_h, self.image_w = image_h, image_w

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, i: int):
        try:
            img = resize_pad(read_gray(self.paths[i]), self.image_h, self.image_w)
            return i, img, None
        except ImageReadError as e:
            return i, None, str(e)


def _collate(items):
    return items


def iter_batches(recognizer: Recognizer, paths: Sequence[str | Path], batch_size: int = 16,
                 num_workers: int = 0) -> Iterator[tuple[list[int], np.ndarray | None, list]]:
    """Yield (indices, uint8 batch (B, H, W) or None, [(index, error)]) in input order."""
    ds = _ImageFiles(paths, recognizer.image_h, recognizer.image_w)
    if len(paths) <= batch_size:
        num_workers = 0  # one batch: starting workers would cost more than it saves
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=False,
                                         num_workers=num_workers, collate_fn=_collate)
    for items in loader:
        ok = [(i, img) for i, img, err in items if err is None]
        bad = [(i, err) for i, _, err in items if err is not None]
        idx = [i for i, _ in ok]
        batch = np.stack([img for _, img in ok]) if ok else None
        yield idx, batch, bad


def recognize(
    recognizer: Recognizer,
    paths: Sequence[str | Path],
    decoders: dict[str, Any] | Any,
    batch_size: int = 16,
    num_workers: int = 0,
    on_error: str = "raise",
    progress: bool = True,
    keep_log_probs: bool = False,
) -> dict[str, RecognitionRun] | RecognitionRun:
    """Recognize every image of ``paths`` (kept in order) with one decoder or a dict of them.

    ``on_error``: ``"raise"`` stops at the first unreadable image (the error names the file);
    ``"skip"`` leaves it out and records it in ``RecognitionRun.skipped``.
    """
    if on_error not in ("raise", "skip"):
        raise ValueError(f"on_error must be 'raise' or 'skip', got {on_error!r}")
    single = not isinstance(decoders, dict)
    decs = {"default": decoders} if single else dict(decoders)
    runs = {k: RecognitionRun([], [], [] if keep_log_probs else None) for k in decs}
    skipped: list[tuple[str, str]] = []
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(paths), desc="recognize", unit="line", dynamic_ncols=True,
                   disable=None)
    try:
        for idx, batch, bad in iter_batches(recognizer, paths, batch_size, num_workers):
            for i, err in bad:
                if on_error == "raise":
                    raise ImageReadError(err)
                log.warning("skipping unreadable image: %s", err)
                skipped.append((str(paths[i]), err))
            if batch is not None:
                lp = recognizer.log_probs(batch)
                for name, dec in decs.items():
                    hyps = dec(lp)
                    run = runs[name]
                    for i, h, line_lp in zip(idx, hyps, lp):
                        run.results.append(LineResult(str(paths[i]), h.text, h.confidence,
                                                      h.char_probs))
                        if keep_log_probs:
                            run.log_probs.append(line_lp)
            if bar is not None:
                bar.update(len(idx) + len(bad))
    finally:
        if bar is not None:
            bar.close()
    for run in runs.values():
        run.skipped = list(skipped)
    return runs["default"] if single else runs


def expand_inputs(inputs: str | Iterable[str], recursive: bool = True,
                  extensions: Iterable[str] = (".png", ".jpg", ".jpeg", ".tif", ".tiff", ".bmp",
                                               ".webp", ".gif", ".pgm", ".ppm")) -> list[Path]:
    """Image files from files, folders (their images, sorted) and glob patterns, in given order.

    A path that does not exist and matches nothing raises ``FileNotFoundError`` naming it.
    Duplicates are kept once.
    """
    import glob

    if isinstance(inputs, (str, Path)):
        inputs = [inputs]
    exts = {e.lower() for e in extensions}
    out: list[Path] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        key = p.resolve()
        if key not in seen:
            seen.add(key)
            out.append(p)

    for item in inputs:
        item = str(item)
        p = Path(item).expanduser()
        if p.is_file():
            add(p)
        elif p.is_dir():
            it = p.rglob("*") if recursive else p.iterdir()
            files = sorted(f for f in it if f.is_file() and f.suffix.lower() in exts)
            if not files:
                log.warning("no images (%s) in folder %s", ", ".join(sorted(exts)), p)
            for f in files:
                add(f)
        elif any(ch in item for ch in "*?["):
            matches = sorted(glob.glob(str(p), recursive=True))
            files = [Path(m) for m in matches if Path(m).is_file()]
            if not files:
                raise FileNotFoundError(f"no file matches the pattern {item!r}")
            for f in files:
                add(f)
        else:
            raise FileNotFoundError(f"input not found: {item}")
    return out
