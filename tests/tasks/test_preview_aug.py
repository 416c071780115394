import cv2
from hydra import compose, initialize_config_module

from stackmix.tasks import preview_aug


def test_preview_writes_grid_of_augmented_samples(tiny_dataset, tmp_path):
    out = tmp_path / "p.png"
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("prepare", overrides=[
            "task=preview_aug", "dataset=custom", f"dataset.root={tiny_dataset}",
            "dataset.image_h=32", "dataset.image_w=128", "aug=blots", "task.n=5",
            f"task.out={out}", f"paths.output_dir={tmp_path}"])
    assert preview_aug.run(cfg) == out
    img = cv2.imread(str(out), cv2.IMREAD_GRAYSCALE)
    # five 32-px lines, each with a 22-px caption strip, separated by 6-px gaps
    assert img.shape == (5 * (32 + 22) + 4 * 6, 128)
