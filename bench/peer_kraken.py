#!/usr/bin/env python
"""kraken beside this project, on the same lines, the same split and the same wall-clock budget.

    python bench/peer_kraken.py --dataset poilus --minutes 60 --ours-experiment poilus_cpu
    python bench/peer_kraken.py --root /path/to/prepared --minutes 60 --ours-run outputs/train/<run>
    python bench/peer_kraken.py --install-only            # just create the kraken venv

What it does, one step after the other (so the two trainings never share the CPU):

1. **Install**: a venv of its own under ``--cache`` (default ``.cache/peer_kraken``) with
   ``pip install kraken`` (7.x), done once and timed; the time is printed and kept in
   ``install.json``. ``--torch`` installs a given torch/torchvision first (see below).
2. **Convert** the prepared dataset (``marking.csv``, README "Dataset format") to kraken's line
   format: every line image next to a ``<name>.gt.txt`` holding its transcription (normalized
   exactly as this project's training normalizes it), one folder per split, and one manifest
   (``train.txt``, ``valid.txt``, ``test.txt``: image paths, one a line) per split.
3. **kraken**: ``ketos train`` on the train manifest with the valid manifest as its evaluation set
   (kraken's defaults otherwise), stopped after ``--minutes`` of wall time (SIGTERM, which kraken
   answers by saving ``checkpoint_abort.ckpt``); then ``ketos test`` on the test manifest with the
   best validated checkpoint (the abort checkpoint when no validation ran within the budget).
   kraken's test CER is 1 − its character accuracy (errors ÷ characters).
4. **This project**: ``train.py experiment=<--ours-experiment>`` with Lightning's
   ``trainer.max_time`` = the same minutes (``--ours-overrides`` are appended), or the
   ``metrics.json`` of an existing run (``--ours-run``); its test CER is read from that file.

It prints one line per system and writes ``summary.json`` into the run folder
(``<cache>/runs/<time>``). It is a benchmark, not a test: the numbers depend on the machine.

**torch.** kraken 7.1 declares ``torch>=2.9,<=2.14``. A plain ``pip install kraken`` therefore
picks the newest torch in that range from the registry (a CUDA build of several GB on x86_64).
``--torch 2.14.1 --torchvision 0.29.1`` installs those releases first and then kraken's other
requirements, with kraken itself installed ``--no-deps`` (its torch pin is the only one relaxed);
use it where pip may only take an already downloaded torch.
"""
from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SPLITS = ("train", "valid", "test")
KRAKEN_SPEC = "kraken>=7,<8"


# ---------------------------------------------------------------------------------------- install
def _run(cmd: list[str], log: Path | None = None, env: dict | None = None) -> None:
    print("$ " + " ".join(map(str, cmd)), flush=True)
    if log is None:
        subprocess.run(cmd, check=True, env=env)
        return
    with open(log, "a", encoding="utf-8") as fh:
        proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, env=env)
    if proc.returncode != 0:
        tail = log.read_text(encoding="utf-8", errors="replace")[-3000:]
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(map(str, cmd))}\n"
                         f"last lines of {log}:\n{tail}")


def kraken_requirements(python: Path, skip: tuple[str, ...] = ("torch", "torchvision")) -> list[str]:
    """kraken's declared requirements (no extras) minus ``skip``, read from its installed metadata."""
    code = ("import importlib.metadata as m, json; "
            "print(json.dumps(m.requires('kraken') or []))")
    reqs = json.loads(subprocess.run([str(python), "-c", code], check=True, capture_output=True,
                                     text=True).stdout)
    out = []
    for r in reqs:
        if "extra ==" in r.replace('"', "").replace("'", ""):
            continue
        name = re.split(r"[\s<>=!~;\[(]", r.strip(), maxsplit=1)[0].lower().replace("_", "-")
        if name not in skip:
            out.append(r)
    return out


def satisfies(made: dict, want: dict) -> bool:
    """Whether a venv made for ``made`` serves ``want``: the same kraken requirement, and the
    torch/torchvision releases asked for (none asked: whichever the venv has)."""
    return made.get("spec") == want["spec"] and all(
        want[k] is None or made.get(k) == want[k] for k in ("torch", "torchvision"))


def install(cache: Path, spec: str, torch: str | None, torchvision: str | None) -> dict:
    """A venv with kraken under ``cache/venv``; returns what was installed and how long it took."""
    venv = cache / "venv"
    stamp = venv / "kraken-install.json"
    want = {"spec": spec, "torch": torch, "torchvision": torchvision}
    if stamp.is_file():
        info = json.loads(stamp.read_text())
        if satisfies(info.get("want") or {}, want):
            print(f"kraken     venv {venv} ready (kraken {info['kraken']}, torch {info['torch_installed']},"
                  f" installed in {info['seconds']:.0f} s)")
            return info
        print(f"kraken     venv {venv} was made for {info.get('want')}; rebuilding it for {want}")
    if venv.exists():
        shutil.rmtree(venv)
    cache.mkdir(parents=True, exist_ok=True)
    log = cache / "install.log"
    log.write_text("")
    t0 = time.perf_counter()
    _run([sys.executable, "-m", "venv", str(venv)], log)
    py = venv / "bin" / "python"
    pip = [str(py), "-m", "pip", "install", "--progress-bar", "off"]
    if torch:
        _run(pip + [f"torch=={torch}"] + ([f"torchvision=={torchvision}"] if torchvision else []), log)
        _run(pip + ["--no-deps", spec], log)
        _run(pip + kraken_requirements(py), log)
    else:
        _run(pip + [spec], log)
    seconds = time.perf_counter() - t0
    versions = json.loads(subprocess.run(
        [str(py), "-c", "import importlib.metadata as m, json; print(json.dumps("
         "[m.version('kraken'), m.version('torch')]))"], check=True, capture_output=True,
        text=True).stdout)
    size = sum(f.stat().st_size for f in venv.rglob("*") if f.is_file() and not f.is_symlink())
    info = {"want": want, "kraken": versions[0], "torch_installed": versions[1],
            "seconds": round(seconds, 1), "venv_bytes": size}
    tmp = stamp.with_suffix(".tmp")
    tmp.write_text(json.dumps(info, indent=1))
    os.replace(tmp, stamp)
    print(f"kraken     installed kraken {versions[0]} with torch {versions[1]} into {venv} in "
          f"{seconds:.0f} s ({size / 2**30:.1f} GiB)", flush=True)
    return info


# ------------------------------------------------------------------------------------- convert
def _safe_name(sample_id: str) -> str:
    """A file stem kraken reads back: it strips every suffix (``a.b.png`` -> ``a``), so no dots."""
    return re.sub(r"[^A-Za-z0-9_-]", "_", sample_id) or "line"


def convert(root: str | Path, out: str | Path, normalize=None) -> dict[str, list[Path]]:
    """Write a prepared dataset (``marking.csv``) in kraken's line format into ``out``.

    Every line image is hard-linked (copied across file systems) to ``out/<split>/<name><ext>``
    with its transcription in ``out/<split>/<name>.gt.txt`` (UTF-8, ``normalize`` applied first);
    ``out/<split>.txt`` lists the split's image paths, one a line. Lines whose text is empty after
    normalization are left out (kraken refuses them). The folder is built beside ``out`` and
    swapped in whole, so an interrupted conversion leaves no half-written copy. Returns the image
    paths per split.
    """
    from stackmix.data.marking import read_marking
    from stackmix.fs import building_dir

    out = Path(out)
    marking = read_marking(root, normalize=normalize)
    used: set[str] = set()
    paths: dict[str, list[Path]] = {s: [] for s in SPLITS}
    with building_dir(out) as tmp:
        for s in marking.samples:
            if s.stage not in paths or not s.text.strip():
                continue
            stem = base = _safe_name(s.sample_id)
            k = 1
            while stem.lower() in used:  # ids that differ only in replaced characters or case
                k += 1
                stem = f"{base}_{k}"
            used.add(stem.lower())
            folder = tmp / s.stage
            folder.mkdir(exist_ok=True)
            image = folder / (stem + s.path.suffix.lower())
            try:
                os.link(s.path, image)
            except OSError:
                shutil.copyfile(s.path, image)
            (folder / f"{stem}.gt.txt").write_text(s.text + "\n", encoding="utf-8")
            paths[s.stage].append(out / s.stage / image.name)
        for split, items in paths.items():
            (tmp / f"{split}.txt").write_text("".join(f"{p}\n" for p in items), encoding="utf-8")
    return paths


def dataset_source(args) -> tuple[Path, object, str]:
    """(root, normalizer, name) from ``--root`` or the project's dataset config ``--dataset``."""
    from hydra import compose, initialize_config_module

    from stackmix import resolvers  # noqa: F401
    from stackmix.text import Normalizer

    overrides = [f"dataset={args.dataset}", "paths.output_dir=/tmp"]
    if args.root is not None:
        overrides.append(f"dataset.root={Path(args.root).resolve()}")
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("train", overrides=overrides)
    return Path(cfg.dataset.root), Normalizer.from_config(cfg.dataset.get("normalize")), str(cfg.dataset.name)


# -------------------------------------------------------------------------------------- kraken
def _stop(proc: subprocess.Popen, grace: float = 180.0) -> None:
    """SIGTERM to ketos itself: Lightning stops at the next batch and kraken saves
    ``checkpoint_abort.ckpt`` (SIGINT to the group was seen to hang in DataLoader teardown);
    then SIGKILL to the whole group if anything lingers."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def best_checkpoint(folder: Path) -> tuple[Path | None, str]:
    """The validated checkpoint with the highest accuracy, else the abort checkpoint."""
    scored = []
    for p in folder.glob("checkpoint_*-*.ckpt"):
        m = re.search(r"-(\d+(?:\.\d+)?)\.ckpt$", p.name)
        if m:
            scored.append((float(m.group(1)), p))
    if scored:
        acc, p = max(scored)
        return p, f"best validated checkpoint (valid accuracy {acc:.4f})"
    abort = folder / "checkpoint_abort.ckpt"
    if abort.is_file():
        return abort, "no validation within the budget: the state at the end of it"
    return None, "no checkpoint written within the budget"


def parse_report(text: str) -> tuple[int, int]:
    """(characters, errors) from ``ketos test``'s report."""
    chars = re.search(r"^\s*(\d+)\s+Characters\s*$", text, re.M)
    errors = re.search(r"^\s*(\d+)\s+Errors\s*$", text, re.M)
    if not (chars and errors):
        raise ValueError("no 'Characters' / 'Errors' lines in ketos test's output")
    return int(chars.group(1)), int(errors.group(1))


def run_kraken(venv: Path, data: Path, run: Path, minutes: float, args) -> dict:
    ketos = str(venv / "bin" / "ketos")
    common = [ketos, "--device", "cpu", "--workers", str(args.kraken_workers)]
    if args.threads:
        common += ["--threads", str(args.threads)]
    model_dir = run / "kraken_model"
    model_dir.mkdir(parents=True, exist_ok=True)
    train_cmd = common + ["train", "-f", "path", "-o", str(model_dir),
                          "-t", str(data / "train.txt"), "-e", str(data / "valid.txt"),
                          *args.kraken_args]
    print("kraken     $ " + " ".join(train_cmd), flush=True)
    log = run / "kraken_train.log"
    env = dict(os.environ, PYTHONUNBUFFERED="1")  # the log keeps everything up to the stop
    t0 = time.perf_counter()
    with open(log, "w", encoding="utf-8") as fh:
        proc = subprocess.Popen(train_cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=run,
                                env=env, start_new_session=True)
        try:
            proc.wait(timeout=minutes * 60)
            stopped = "finished by itself"
        except subprocess.TimeoutExpired:
            stopped = f"stopped at the {minutes:g}-minute budget"
            _stop(proc)
    train_s = time.perf_counter() - t0
    ckpt, how = best_checkpoint(model_dir)
    out = {"train_wall_s": round(train_s, 1), "stopped": stopped, "train_log": str(log),
           "checkpoint": str(ckpt) if ckpt else None, "checkpoint_choice": how}
    print(f"kraken     training {stopped} after {train_s / 60:.1f} min; {how}", flush=True)
    if ckpt is None:
        out["test_cer"] = None
        return out
    test_cmd = common + ["test", "-f", "path", "-m", str(ckpt), "-e", str(data / "test.txt")]
    print("kraken     $ " + " ".join(test_cmd), flush=True)
    t0 = time.perf_counter()
    proc = subprocess.run(test_cmd, capture_output=True, text=True, cwd=run)
    (run / "kraken_test.log").write_text(proc.stdout + proc.stderr, encoding="utf-8")
    if proc.returncode != 0:
        raise SystemExit(f"ketos test failed ({proc.returncode}); see {run / 'kraken_test.log'}:\n"
                         + (proc.stdout + proc.stderr)[-2000:])
    chars, errors = parse_report(proc.stdout + proc.stderr)
    out.update(test_wall_s=round(time.perf_counter() - t0, 1), test_chars=chars,
               test_errors=errors, test_cer=errors / chars if chars else None)
    return out


# ------------------------------------------------------------------------------- this project
def max_time(minutes: float) -> str:
    """Lightning's ``max_time`` string (DD:HH:MM:SS) for a budget in minutes."""
    total = round(minutes * 60)
    return f"{total // 86400:02d}:{total // 3600 % 24:02d}:{total // 60 % 60:02d}:{total % 60:02d}"


def run_ours(run: Path, minutes: float, dataset: str, root: Path, args) -> dict:
    if args.ours_run is not None:
        metrics_path = Path(args.ours_run) / "metrics.json"
        source = f"existing run {args.ours_run}"
    else:
        out_dir = run / "ours"
        cmd = [sys.executable, str(REPO / "train.py"), f"experiment={args.ours_experiment}",
               f"dataset={dataset}", f"dataset.root={root}",
               f"++trainer.max_time={max_time(minutes)}", f"hydra.run.dir={out_dir}",
               *args.ours_overrides]
        print("ours       $ " + " ".join(cmd), flush=True)
        env = dict(os.environ)
        if args.threads:
            env["OMP_NUM_THREADS"] = str(args.threads)
        t0 = time.perf_counter()
        with open(run / "ours_train.log", "w", encoding="utf-8") as fh:
            proc = subprocess.run(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO, env=env)
        if proc.returncode != 0:
            tail = (run / "ours_train.log").read_text(encoding="utf-8", errors="replace")[-2000:]
            raise SystemExit(f"train.py failed ({proc.returncode}); see {run / 'ours_train.log'}:\n{tail}")
        metrics_path = out_dir / "metrics.json"
        source = f"train.py experiment={args.ours_experiment}, {(time.perf_counter() - t0) / 60:.1f} min in all"
    if not metrics_path.is_file():
        raise SystemExit(f"no metrics.json at {metrics_path}: give --ours-run a finished training run folder")
    m = json.loads(metrics_path.read_text(encoding="utf-8"))
    cer = m.get("test/cer")
    if cer is None:
        raise SystemExit(f"{metrics_path} has no test/cer (was the run tested? test_after_fit=true)")
    return {"source": source, "metrics": str(metrics_path), "test_cer": float(cer),
            "wall_time_s": m.get("wall_time_s"), "epochs": m.get("epochs")}


def _pct(x) -> str:
    return "no model" if x is None else f"{100 * x:.2f} %"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dataset", default="poilus", help="a dataset config of this project (poilus)")
    p.add_argument("--root", default=None, help="prepared dataset folder (default: the config's)")
    p.add_argument("--minutes", type=float, default=60.0, help="wall-clock training budget of each")
    p.add_argument("--cache", type=Path, default=REPO / ".cache" / "peer_kraken",
                   help="venv, converted data and runs")
    p.add_argument("--kraken", default=KRAKEN_SPEC, help=f"pip requirement for kraken ({KRAKEN_SPEC})")
    p.add_argument("--torch", default=None, help="install this torch release first (e.g. 2.14.1)")
    p.add_argument("--torchvision", default=None, help="with --torch: this torchvision (e.g. 0.29.1)")
    p.add_argument("--install-only", action="store_true")
    p.add_argument("--threads", type=int, default=None,
                   help="CPU threads for both (ketos --threads, OMP_NUM_THREADS for train.py)")
    p.add_argument("--kraken-workers", type=int, default=1, help="ketos --workers (data loading)")
    p.add_argument("--kraken-args", nargs=argparse.REMAINDER, default=[],
                   help="extra arguments for ketos train (last on the command line)")
    who = p.add_mutually_exclusive_group()
    who.add_argument("--ours-experiment", default="poilus_cpu",
                     help="train.py experiment=... run with the same budget (default poilus_cpu)")
    who.add_argument("--ours-run", default=None, help="read this training run's metrics.json instead")
    p.add_argument("--ours-overrides", nargs="*", default=[], help="extra train.py overrides")
    p.add_argument("--skip-ours", action="store_true", help="kraken only")
    args = p.parse_args()
    if args.minutes <= 0:
        p.error("--minutes must be > 0")

    info = install(args.cache, args.kraken, args.torch, args.torchvision)
    if args.install_only:
        return
    root, normalize, name = dataset_source(args)
    run = args.cache / "runs" / dt.datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    run.mkdir(parents=True)
    t0 = time.perf_counter()
    paths = convert(root, run / "data", normalize)
    print(f"data       {root} -> {run / 'data'} (kraken line format): "
          + ", ".join(f"{k} {len(v)}" for k, v in paths.items())
          + f" lines in {time.perf_counter() - t0:.1f} s", flush=True)
    summary = {"dataset": name, "root": str(root), "minutes": args.minutes, "kraken_install": info,
               "lines": {k: len(v) for k, v in paths.items()}}
    summary["kraken"] = run_kraken(args.cache / "venv", run / "data", run, args.minutes, args)
    if not args.skip_ours:
        summary["ours"] = run_ours(run, args.minutes, args.dataset, root, args)
    tmp = run / "summary.json.tmp"
    tmp.write_text(json.dumps(summary, indent=1), encoding="utf-8")
    os.replace(tmp, run / "summary.json")
    k = summary["kraken"]
    print(f"result     {name}, {args.minutes:g} min wall-clock training each, test split "
          f"({len(paths['test'])} lines):")
    print(f"result     kraken {info['kraken']} (ketos train defaults): test CER {_pct(k['test_cer'])}"
          + (f" ({k['test_errors']} errors / {k['test_chars']} characters)" if k.get("test_chars") else "")
          + f"; {k['checkpoint_choice']}")
    if "ours" in summary:
        o = summary["ours"]
        print(f"result     this project ({o['source']}): test CER {_pct(o['test_cer'])}")
    print(f"result     details: {run / 'summary.json'}")


if __name__ == "__main__":
    main()
