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




def test_paper_network_has_lstm_dropout_and_the_same_parameter_count():
    net, cfg = build_net("paper", 80)
    assert cfg.model.net.lstm_dropout == 0.1
    assert net.lstm.dropout == 0.1 and net.lstm.num_layers == 3
    n = sum(p.numel() for p in net.parameters())
    without = instantiate(cfg.model.net, num_classes=80, lstm_dropout=0.0)
    assert without.lstm.dropout == 0.0
    assert n == sum(p.numel() for p in without.parameters()) == 12_528_784
    # active in training, off in eval
    x = torch.randn(2, 16, 256)
    net.lstm.train()
    torch.manual_seed(0)
    a, _ = net.lstm(x)
    b, _ = net.lstm(x)
    assert not torch.allclose(a, b)
    net.lstm.eval()
    with torch.no_grad():
        assert torch.equal(net.lstm(x)[0], net.lstm(x)[0])


def test_pretrained_loads_timm_weights_into_the_backbone(monkeypatch):
    import timm

    real = timm.create_model
    calls = []

    def fake(name, pretrained=False, **kw):
        calls.append(pretrained)
        m = real(name, pretrained=False, **kw)
        if pretrained:  # stand-in for the downloaded ImageNet weights
            with torch.no_grad():
                for p in m.parameters():
                    p.fill_(0.25)
        return m

    monkeypatch.setattr(timm, "create_model", fake)
    cfg = compose_train(["model=paper", "model.net.pretrained=true"])
    net = instantiate(cfg.model.net, num_classes=10)
    assert calls == [True]
    layer1_conv = net.features.body[4][0].conv1.weight
    assert torch.all(layer1_conv == 0.25)
    stem = net.features.body[0].weight
    assert not torch.all(stem == 0.25)  # the new stride-1 stem starts from scratch


def test_pretrained_offline_names_the_option(monkeypatch):
    import timm

    from stackmix.model.crnn import PretrainedWeightsError

    real = timm.create_model

    def offline(name, pretrained=False, **kw):
        if pretrained:
            raise OSError("We couldn't connect to 'https://huggingface.co'")
        return real(name, pretrained=False, **kw)

    monkeypatch.setattr(timm, "create_model", offline)
    cfg = compose_train(["model=paper", "model.net.pretrained=true"])
    try:
        instantiate(cfg.model.net, num_classes=10)
    except Exception as e:  # hydra wraps instantiation errors
        msg = str(e)
    else:
        raise AssertionError("no error offline")
    assert "model.net.pretrained=true" in msg and "model.net.pretrained=false" in msg
    assert "resnet34" in msg and "couldn't connect" in msg
    with __import__("pytest").raises(PretrainedWeightsError):
        from stackmix.model.crnn import create_backbone
        create_backbone("resnet34", True)
