"""`python prepare.py task=demo_method dataset=synthetic` (`make demo-method`): the paper's four
steps end to end on one dataset, then a table of the two test CERs.

1. ``train.py aug=base`` — the base model (it is also the baseline row of the table);
2. ``prepare.py task=char_masks`` with that model;
3. ``prepare.py task=token_bank`` from the masks;
4. ``train.py aug=blots_stackmix`` (``task.compare``) with the same budget (``task.epochs``).

Each step is the ordinary command run as a subprocess (its output goes to the console), so the
demo shows exactly what a user types. Everything goes into ``task.out``: the two run folders,
``tokens/`` (masks + bank) and ``results.md`` / ``results.json``. Every ``dataset.*`` and
``paths.*`` override given to prepare.py (and ``seed``, ``threads``) is passed on to each step.
"""
from __future__ import annotations

import json
import logging
import subprocess
import sys
import time
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from stackmix.fs import atomic_write_json, atomic_write_text

log = logging.getLogger(__name__)

FORWARDED = ("dataset", "paths", "seed", "threads")   # override keys of prepare.py passed on to each step


class DemoStepError(RuntimeError):
    """A step of the demo failed: its name, command and where its log is."""


def forwarded_overrides(overrides: list[str], dataset: str) -> list[str]:
    """The ``dataset=<name>`` choice plus the given overrides whose key is one of
    :data:`FORWARDED` (or below it), in their order."""
    out = [f"dataset={dataset}"]
    for o in overrides:
        key = o.split("=", 1)[0].lstrip("+~")
        if key == "dataset":
            continue
        if key.split(".", 1)[0] in FORWARDED:
            out.append(o)
    return out


def steps(out: Path, fwd: list[str], t: DictConfig) -> list[tuple[str, list[str]]]:
    """(name, argv) of the four steps."""
    tokens = f"paths.tokens_dir={out / 'tokens'}"
    budget = [f"trainer.max_epochs={int(t.epochs)}", *[str(a) for a in t.get("train_args") or []]]
    py = sys.executable

    def train(aug: str) -> list[str]:
        return [py, "-m", "stackmix.cli.train", *fwd, f"aug={aug}", *budget, tokens,
                f"hydra.run.dir={out / aug}"]

    def prepare(task: str, *extra: str) -> list[str]:
        return [py, "-m", "stackmix.cli.prepare", f"task={task}", *fwd, *extra, tokens,
                f"hydra.run.dir={out / task}"]

    return [
        ("1. base model (aug=base)", train("base")),
        ("2. char masks", prepare("char_masks", f"task.ckpt={out / 'base'}",
                                  f"task.align={t.align}", f"task.max_cer={t.max_cer}")),
        ("3. token bank", prepare("token_bank")),
        (f"4. aug={t.compare}, same budget", train(str(t.compare))),
    ]


def too_few_masks(summary: dict, min_share: float, t: DictConfig) -> str | None:
    """Why a StackMix comparison would be meaningless with these masks (None when it is not):
    a base model that reads almost no train line gives a bank of a few lines, which can write
    almost none of the corpus."""
    used, lines = int(summary.get("used", 0)), max(1, int(summary.get("lines", 0)))
    if used >= min_share * lines:
        return None
    return (f"demo-method: the base model of step 1 reads too few train lines for a useful token "
            f"bank: {used} of {lines} within task.max_cer={t.max_cer} (its CER on the train lines: "
            f"{100 * float(summary.get('model_cer', 1.0)):.1f} %; task.min_masked={min_share:g} "
            f"asks for {min_share * lines:.0f}), so step 4 would compare against a bank that "
            f"cannot write the corpus. Give both trainings a larger budget (task.epochs, now "
            f"{t.epochs}) or, for a quick look only, a looser task.max_cer.")


def _run_step(name: str, argv: list[str], folder: Path) -> float:
    log.info("demo step %s: python %s", name, " ".join(argv[1:]))
    t0 = time.perf_counter()
    rc = subprocess.call(argv)
    if rc != 0:
        raise DemoStepError(
            f"demo-method: step {name!r} failed (exit status {rc}); its messages are above and "
            f"its log is in {folder}. The command was: python {' '.join(argv[1:])}")
    return time.perf_counter() - t0


def _metrics(run_dir: Path) -> dict:
    f = run_dir / "metrics.json"
    try:
        return json.loads(f.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise DemoStepError(f"demo-method: cannot read {f} ({e}); the training did not finish "
                            f"its test") from None


def _pct(x) -> str:
    return "–" if x is None else f"{100 * float(x):.2f} %"


def table(rows: list[dict], epochs: int) -> str:
    """The Markdown results table (one row per training)."""
    lines = [f"| run | aug | epochs | best valid CER | test CER | test WER | train+test time |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['run']} | `{r['aug']}` | {epochs} | {_pct(r['best_val_cer'])} | "
                     f"**{_pct(r['test_cer'])}** | {_pct(r['test_wer'])} | {r['wall_s'] / 60:.1f} min |")
    return "\n".join(lines)


def run(cfg: DictConfig) -> dict:
    from hydra.core.hydra_config import HydraConfig

    t = cfg.task
    hc = HydraConfig.get()
    out = Path(str(t.out)).expanduser().resolve()
    out.mkdir(parents=True, exist_ok=True)
    fwd = forwarded_overrides(list(hc.overrides.task), hc.runtime.choices.get("dataset", "synthetic"))
    t0 = time.perf_counter()
    walls = {}
    plan = steps(out, fwd, t)
    try:
        masks_file = out / "tokens" / str(cfg.dataset.name) / "char_masks.json"
        masks: dict = {}
        for (name, argv), folder in zip(plan, ("base", "char_masks", "token_bank", str(t.compare))):
            walls[folder] = _run_step(name, argv, out / folder)
            if folder == "char_masks":
                masks = json.loads(masks_file.read_text(encoding="utf-8")).get("summary", {})
                why = too_few_masks(masks, float(t.get("min_masked", 0.0)), t)
                if why:
                    raise DemoStepError(f"{why} Everything so far is in {out}.")
        rows = []
        for label, aug in (("base", "base"), ("StackMix", str(t.compare))):
            m = _metrics(out / aug)
            rows.append({"run": label, "aug": aug, "test_cer": m.get("test/cer"),
                         "test_wer": m.get("test/wer"), "best_val_cer": m.get("best_val_cer"),
                         "wall_s": walls[aug], "dir": str(out / aug)})
    except DemoStepError as e:
        raise SystemExit(str(e)) from None
    total = time.perf_counter() - t0
    md = table(rows, int(t.epochs))
    note = (f"dataset {cfg.dataset.name}, {int(t.epochs)} epochs each, char masks: "
            f"{masks.get('used', '?')} of {masks.get('lines', '?')} train lines "
            f"(align={t.align}, max_cer={t.max_cer}); all four steps {total / 60:.1f} min")
    result = {"dataset": str(cfg.dataset.name), "epochs": int(t.epochs), "rows": rows,
              "char_masks": masks, "steps_s": {k: round(v, 1) for k, v in walls.items()},
              "total_s": round(total, 1), "out": str(out),
              "overrides": fwd + [str(a) for a in t.get("train_args") or []]}
    atomic_write_json(out / "results.json", result)
    atomic_write_text(out / "results.md", f"{md}\n\n{note}\n")
    print(f"\nThe method on {cfg.dataset.name} (results in {out}):\n\n{md}\n\n{note}\n", flush=True)
    return OmegaConf.to_container(OmegaConf.create(result))
