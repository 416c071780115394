"""aug=stackmix through the real config and data module: generated lines reach the batches."""
import numpy as np
from hydra.utils import instantiate

from conftest import compose_train
from stackmix.mix import build_generator
from stackmix_fixtures import TEXTS, make_bank


def test_train_dataset_mixes_in_generated_lines(tmp_path):
    prefix, masks = make_bank(tmp_path, height=32)
    cfg = compose_train(["dataset=custom", f"dataset.root={tmp_path}/data", "dataset.image_h=32",
                         "dataset.image_w=256", "model=small", "aug=blots_stackmix",
                         f"aug.stackmix.bank={prefix}", "aug.stackmix.p=1.0",
                         "data.num_workers=0"], tmp_path)
    dm = instantiate(cfg.data, dataset=cfg.dataset, aug=cfg.aug, _recursive_=False,
                     stackmix_factory=build_generator)
    ds = dm.dataset("train")
    assert ds.generator is not None and ds.generator.p == 1.0
    ds.reseed(0)
    items = [ds[i % len(ds)] for i in range(12)]
    for it in items:
        assert it["image"].shape == (1, 32, 256) and it["image"].dtype.__str__() == "torch.uint8"
        assert it["text"] in TEXTS  # corpus = train transcriptions
        assert it["target"].tolist() == dm.codec.encode(it["text"])
    # generated, not read: a line's pixels differ from its real image at least sometimes
    real = {s.text: ds.load(i) for i, s in enumerate(ds.samples)}
    assert any(not np.array_equal(it["image"][0].numpy(), real[it["text"]]) for it in items)
    assert dm.dataset("valid").generator is None
