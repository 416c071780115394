import torch
from hydra.utils import instantiate

from conftest import compose_train


def build_net(model: str, num_classes: int = 50):
    cfg = compose_train([f"model={model}"])
    return instantiate(cfg.model.net, num_classes=num_classes), cfg


@torch.no_grad()
def test_paper_model_shape_and_size():
    net, cfg = build_net("paper", 80)
    net.eval()
    out = net(torch.zeros(1, 3, 128, 2048))
    assert out.shape == (1, 256, 80)
    # ResNet34 stem..layer3 with a 7x7 stride-1 stem, 3-layer BiLSTM(256), MLP head
    n = sum(p.numel() for p in net.parameters())
    assert 12_000_000 < n < 13_000_000


@torch.no_grad()
def test_small_model_shape():
    net, cfg = build_net("small", 40)
    out = net(torch.zeros(2, 1, 64, 512))
    assert out.shape == (2, cfg.model.net.time_steps, 40)


@torch.no_grad()
def test_other_timm_backbone():
    from stackmix.model.crnn import CRNN

    net = CRNN(10, backbone="mobilenetv3_small_050", backbone_type="timm", backbone_layers=2,
               in_chans=1, time_feature_count=32, lstm_hidden=16, lstm_layers=1)
    assert net(torch.zeros(1, 1, 32, 256)).shape == (1, 32, 10)
