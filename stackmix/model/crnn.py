"""The paper's recognizer: CNN features → height folded into channels → pooled to a fixed number of
time steps → BiLSTM → MLP head producing per-frame class scores for CTC.
"""
from __future__ import annotations

import logging

import timm
import torch
import torch.nn.functional as F
from torch import nn

log = logging.getLogger(__name__)


class PretrainedWeightsError(RuntimeError):
    """``model.net.pretrained=true`` but the ImageNet weights cannot be had (offline, no weights)."""


def create_backbone(name: str, pretrained: bool, **kwargs) -> nn.Module:
    """``timm.create_model(name, pretrained=...)``; a failure to get the weights names the option."""
    if not pretrained:
        return timm.create_model(name, pretrained=False, **kwargs)
    try:
        return timm.create_model(name, pretrained=True, **kwargs)
    except Exception as e:  # network, missing weights, shape mismatch: all end the same way
        raise PretrainedWeightsError(
            f"model.net.pretrained=true: cannot load the ImageNet weights of timm model {name!r} "
            f"({type(e).__name__}: {e}). They are downloaded from the Hugging Face Hub on first "
            "use and cached (~/.cache/huggingface): run once with network access, or point "
            "HF_HOME at a copy of that cache; a backbone changed by model.net.timm_kwargs "
            "(channels, layers) has no pretrained weights. Or train from scratch with "
            "model.net.pretrained=false."
        ) from None


class ResNetFeatures(nn.Module):
    """The first ``num_layers`` stages of a timm ResNet, optionally with a stride-1 stem conv.

    The paper replaces ResNet34's 7×7 stride-2 stem by a 7×7 stride-1 conv (then bn/relu/maxpool)
    and keeps layer1..layer3, so a 128×2048 line becomes a 256×16×256 feature map. With
    ``pretrained`` the ImageNet weights are loaded; the new stem conv starts from random weights
    (as in the original project), everything after it is pretrained.
    """

    def __init__(self, name: str, in_chans: int, num_layers: int, stem_stride: int,
                 stem_kernel: int, pretrained: bool = False, **timm_kwargs):
        super().__init__()
        m = create_backbone(name, pretrained, in_chans=in_chans, num_classes=0, **timm_kwargs)
        if not all(hasattr(m, a) for a in ("conv1", "bn1", "maxpool", "layer1")):
            raise ValueError(f"{name!r} is not a ResNet-style timm model; use backbone_type=timm")
        stem_out = m.conv1.out_channels if isinstance(m.conv1, nn.Conv2d) else m.bn1.num_features
        conv1 = nn.Conv2d(in_chans, stem_out, kernel_size=stem_kernel, stride=stem_stride,
                          padding=stem_kernel // 2, bias=False)
        act = getattr(m, "act1", None) or nn.ReLU(inplace=True)
        stages = [getattr(m, f"layer{i}") for i in range(1, num_layers + 1)]
        self.body = nn.Sequential(conv1, m.bn1, act, m.maxpool, *stages)
        self.out_channels = _last_channels(stages[-1])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class TimmFeatures(nn.Module):
    """Any timm CNN as a feature extractor (``features_only``), taking stage ``out_index``."""

    def __init__(self, name: str, in_chans: int, out_index: int, pretrained: bool = False,
                 **timm_kwargs):
        super().__init__()
        self.body = create_backbone(name, pretrained, in_chans=in_chans, features_only=True,
                                    out_indices=(out_index,), **timm_kwargs)
        self.out_channels = self.body.feature_info.channels()[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)[-1]


def _last_channels(stage: nn.Module) -> int:
    convs = [m for m in stage.modules() if isinstance(m, nn.Conv2d)]
    bns = [m for m in stage.modules() if isinstance(m, nn.BatchNorm2d)]
    return bns[-1].num_features if bns else convs[-1].out_channels


class CRNN(nn.Module):
    """Line recognizer. Input (B, C, H, W) float; output (B, T, num_classes) raw scores (logits).

    ``time_feature_count`` sets both the number of time steps T and the feature size fed to the
    BiLSTM (the paper uses 256 for both, pooling the (C·H', W') map adaptively).
    ``lstm_dropout``: dropout between the stacked BiLSTM layers (0.1 in the paper's network; no
    parameters). ``pretrained``: start the backbone from timm's ImageNet weights.
    """

    def __init__(
        self,
        num_classes: int,
        backbone: str = "resnet34",
        backbone_type: str = "resnet",
        backbone_layers: int = 3,
        stem_stride: int = 1,
        stem_kernel: int = 7,
        in_chans: int = 3,
        time_feature_count: int = 256,
        time_steps: int | None = None,
        lstm_hidden: int = 256,
        lstm_layers: int = 3,
        dropout: float = 0.1,
        lstm_dropout: float = 0.0,
        pretrained: bool = False,
        timm_kwargs: dict | None = None,
    ):
        super().__init__()
        timm_kwargs = dict(timm_kwargs or {})
        if not 0.0 <= lstm_dropout < 1.0:
            raise ValueError(f"model.net.lstm_dropout must be in [0, 1), got {lstm_dropout}")
        if backbone_type == "resnet":
            self.features = ResNetFeatures(backbone, in_chans, backbone_layers, stem_stride,
                                           stem_kernel, pretrained=pretrained, **timm_kwargs)
        elif backbone_type == "timm":
            self.features = TimmFeatures(backbone, in_chans, backbone_layers, pretrained=pretrained,
                                         **timm_kwargs)
        else:
            raise ValueError(f"backbone_type must be 'resnet' or 'timm', got {backbone_type!r}")
        self.in_chans = in_chans
        self.feature_count = time_feature_count
        self.time_steps = time_steps or time_feature_count
        self.lstm = nn.LSTM(time_feature_count, lstm_hidden, num_layers=lstm_layers,
                            bidirectional=True, batch_first=True,
                            dropout=float(lstm_dropout) if lstm_layers > 1 else 0.0)
        self.head = nn.Sequential(
            nn.Linear(2 * lstm_hidden, time_feature_count),
            nn.GELU(),
            nn.Dropout(dropout),
            nn.Linear(time_feature_count, num_classes),
        )
        self.num_classes = num_classes

    def sequence_features(self, x: torch.Tensor, time_steps: int | None = None) -> torch.Tensor:
        """(B, T, F) features; ``time_steps`` overrides T (a batch cut to fewer columns than the
        full input width emits proportionally fewer frames, see ``HTRModule``)."""
        f = self.features(x)  # (B, C, H', W')
        b, c, h, w = f.shape
        f = f.reshape(b, 1, c * h, w)
        f = F.adaptive_avg_pool2d(f, (self.feature_count, time_steps or self.time_steps))
        return f.squeeze(1).transpose(1, 2)  # (B, T, F)

    def forward(self, x: torch.Tensor, time_steps: int | None = None) -> torch.Tensor:
        seq = self.sequence_features(x, time_steps)
        seq, _ = self.lstm(seq)
        return self.head(seq)
