"""`python prepare.py task=evaluate dataset=<name> task.ckpt=<run or .ckpt/.onnx>`: metrics per
decoder on a split and the evaluation report (see stackmix.inference.evaluation)."""
from __future__ import annotations

import copy
import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

log = logging.getLogger(__name__)


def run(cfg: DictConfig) -> dict:
    from stackmix.data.datamodule import HTRDataModule
    from stackmix.data.splits import limit_train
    from stackmix.inference.decoder_factory import build_decoder
    from stackmix.checkpoints import CheckpointError
    from stackmix.inference.recognizer import Recognizer
    from stackmix.inference.evaluation import evaluate_samples, write_evaluation_report

    task = cfg.task
    try:
        recognizer = Recognizer.load(task.ckpt, device=task.get("device", "auto"))
    except (FileNotFoundError, CheckpointError) as e:
        raise SystemExit(f"evaluate: {e}") from None
    ckpt = recognizer.path
    dm = HTRDataModule(cfg.dataset, num_workers=0, verify_images=False)
    marking = dm.marking
    split = str(task.split)
    samples = marking.stage(split)
    if task.get("limit"):
        samples = samples[: int(task.limit)]
    if not samples:
        raise ValueError(f"split {split!r} of dataset {dm.name!r} ({dm.root}) is empty")
    if recognizer.dataset_name and recognizer.dataset_name != dm.name:
        log.warning("the model was trained on %r, evaluated here on %r", recognizer.dataset_name,
                    dm.name)
    if dm.normalizer.to_dict() != recognizer.normalizer.to_dict():
        log.warning("dataset normalization %s differs from the checkpoint's %s; references use "
                    "the dataset's", dm.normalizer.to_dict(), recognizer.normalizer.to_dict())
    dec_cfgs = OmegaConf.to_container(task.decoders, resolve=True) or {"greedy": "greedy"}
    # the "@train" LM corpora and lexicons: the train lines the model had (dataset.train_limit
    # picks the same seeded subset as training did)
    train_texts = [s.text for s in limit_train(marking.stage("train"), cfg.dataset, int(cfg.seed))]
    tuned = _tune(task, recognizer, marking, dec_cfgs, split, train_texts)
    decoders = {name: build_decoder(c, recognizer.alphabet, train_texts=train_texts)
                for name, c in dec_cfgs.items() if c}
    log.info("evaluating %s on %s/%s (%d lines) with decoders %s", ckpt, dm.name, split,
             len(samples), ", ".join(decoders))
    results = evaluate_samples(recognizer, samples, decoders, batch_size=int(task.batch_size),
                               num_workers=int(task.num_workers),
                               progress=bool(task.get("progress", True)))
    out = Path(task.out)
    metrics = write_evaluation_report(
        out, results, primary=task.get("primary"), title=f"{dm.name}: {split} split",
        info={"model": str(ckpt), "backend": recognizer.backend, "dataset": dm.name,
              "split": split, "lines": len(samples),
              "decoders": {n: _settings(c) for n, c in dec_cfgs.items() if c},
              **({"tuned": tuned} if tuned else {})},
        files=decoder_files(dec_cfgs, out, train_texts))
    print(metrics_table(metrics), flush=True)
    log.info("report: %s", out / "report.md")
    name = tuned["decoder"] if tuned else [n for n, c in dec_cfgs.items() if c][-1]
    log.info("to decode new lines as %s did: python predict.py --config-dir %s decoder=eval_%s "
             "ckpt=%s input=<images>", name, out.resolve(), name, ckpt)
    return metrics


TRAIN_TEXTS = "train_texts.txt"


def decoder_files(dec_cfgs: dict, out: Path, train_texts) -> dict[str, str]:
    """``decoder/eval_<name>.yaml`` for each evaluated decoder (tuned settings included), so
    ``python predict.py --config-dir <out> decoder=eval_<name>`` decodes new lines exactly as the
    evaluation did; a ``"@train"`` LM corpus or lexicon becomes ``train_texts.txt`` of the folder
    (the train lines the model had, one per line)."""
    from stackmix.inference.decoder_factory import decoder_config

    corpus = str(Path(out).resolve() / TRAIN_TEXTS)
    files: dict[str, str] = {}
    for name, c in dec_cfgs.items():
        if not c:
            continue
        c = decoder_config(c) if isinstance(c, str) else copy.deepcopy(c)
        if isinstance(c.get("lm"), dict) and c["lm"].get("corpus") == "@train":
            c["lm"]["corpus"] = corpus
            files[TRAIN_TEXTS] = ""
        if c.get("lexicon") == "@train":
            c["lexicon"] = corpus
            files[TRAIN_TEXTS] = ""
        files[f"decoder/eval_{name}.yaml"] = (
            f"# decoder {name!r} of this evaluation: python predict.py --config-dir "
            f"{Path(out).resolve()} decoder=eval_{name} ckpt=... input=...\n"
            + OmegaConf.to_yaml(c))
    if TRAIN_TEXTS in files:
        files[TRAIN_TEXTS] = "".join(t + "\n" for t in train_texts)
    return files


def _tune(task, recognizer, marking, dec_cfgs: dict, split: str, train_texts) -> dict | None:
    """``task.tune.split``: choose ``task.tune.decoder``'s settings by grid search on that split,
    in place in ``dec_cfgs``; what was tried and chosen, for the report (None when off)."""
    from stackmix.inference.tuning import flatten, tune_decoder

    tune = task.get("tune") or {}
    on = tune.get("split")
    if not on:
        return None
    name = str(tune.get("decoder"))
    if on == split:
        raise SystemExit(f"task.tune.split={on} is the split being evaluated: settings chosen on "
                         "the lines they are scored on flatter them; tune on another split "
                         "(task.tune.split=valid task.split=test)")
    if not dec_cfgs.get(name) or isinstance(dec_cfgs[name], str):
        raise SystemExit(f"task.tune.decoder={name} is not one of the configured decoders "
                         f"({', '.join(n for n, c in dec_cfgs.items() if c)})")
    samples = marking.stage(on)
    if not samples:
        raise SystemExit(f"task.tune.split={on}: the dataset has no {on} lines")
    grid = OmegaConf.to_container(tune.grid, resolve=True) if OmegaConf.is_config(tune.grid) \
        else dict(tune.grid)
    try:
        best, rows = tune_decoder(recognizer, samples, dec_cfgs[name], grid, train_texts=train_texts,
                                  batch_size=int(task.batch_size), num_workers=int(task.num_workers),
                                  progress=bool(task.get("progress", True)))
    except ValueError as e:
        raise SystemExit(str(e)) from None
    dec_cfgs[name] = best
    keys = list(flatten(grid))
    print(f"{name} settings tried on {on} ({len(samples)} lines), best first:", flush=True)
    for r in rows:
        print("  " + "  ".join(f"{k}={r[k]}" for k in keys) + f"  CER {100 * r['cer']:.2f}%",
              flush=True)
    chosen = {k: rows[0][k] for k in keys}
    log.info("%s: chosen on %s: %s", name, on, chosen)
    return {"decoder": name, "split": on, "chosen": chosen, "tried": rows}


def metrics_table(metrics: dict) -> str:
    head = f"{'decoder':<16} {'CER':>8} {'WER':>8} {'acc':>8}"
    lines = [head, "-" * len(head)]
    for name, m in metrics.items():
        lines.append(f"{name:<16} {100 * m['cer']:7.2f}% {100 * m['wer']:7.2f}% "
                     f"{100 * m['acc']:7.2f}%")
    return "\n".join(lines)


def _settings(cfg) -> dict:
    """A decoder config as the report shows it: the factory's name and its settings."""
    if isinstance(cfg, str):
        return {"decoder": cfg}
    rest = {k: v for k, v in cfg.items() if k not in ("_target_", "_partial_")}
    return {"decoder": str(cfg.get("_target_", "?")).rsplit(".", 1)[-1], **rest}
