"""``python prepare.py task=corpus name=corpora``: fetch and unpack StackMix corpora.

Downloads the named archive (``task.sources.<name>``: a Google Drive id or a URL) with the
project's resumable download (SHA-256 recorded on first download and checked afterwards), unpacks
it with the safe extractor (nothing outside the target folder, a failure leaves nothing behind)
and moves the text files into ``task.out`` (``${paths.data_dir}/corpora``), where the paper
datasets' ``corpus:`` entries point. With ``task.report=true`` it also builds the corpus of
``dataset=<name>`` against the dataset's alphabet and logs how many lines are usable.
"""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from stackmix.data.download import ChecksumBook, download, extracted, gdrive_url
from stackmix.fs import swap_dir

log = logging.getLogger("stackmix.prepare.corpus")


def fetch(source: dict, out: Path, download_dir: Path, *, overwrite: bool = False) -> Path:
    """Download the archive described by ``source`` and unpack it so its files sit in ``out``."""
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        log.info("%s already exists; pass task.overwrite=true to unpack it again", out)
        return out
    url = source.get("url") or (gdrive_url(str(source["gdrive_id"])) if source.get("gdrive_id")
                                else None)
    if not url:
        raise SystemExit(f"the corpus source {source} has neither url nor gdrive_id")
    archive = download_dir / str(source.get("file") or Path(url).name or "corpus.tar.gz")
    log.info("downloading %s → %s", url, archive)
    download(url, archive, source.get("sha256"),
             checksum_book=ChecksumBook(download_dir / "sha256_recorded.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    with extracted(archive, parent=out.parent) as root:
        entries = [p for p in root.iterdir() if not p.name.startswith((".", "__MACOSX"))]
        if len(entries) == 1 and entries[0].is_dir():
            root = entries[0]  # the archive holds one folder (corpora/...): its content goes to out
        swap_dir(root, out)
    return out


def run(cfg: DictConfig) -> dict:
    t = cfg.task
    name = str(t.corpus)
    sources = OmegaConf.to_container(t.sources, resolve=True) or {}
    if name not in sources:
        raise SystemExit(f"unknown corpus {name!r}; known: {', '.join(sorted(sources))} "
                         "(task.sources in conf/task/corpus.yaml)")
    out = Path(str(t.out)).expanduser()
    fetch(sources[name], out, Path(str(t.download_dir)).expanduser(),
          overwrite=bool(t.get("overwrite", False)))
    files = sorted(p for p in out.rglob("*") if p.is_file())
    for p in files:
        log.info("  %s  %.1f MB", p.relative_to(out), p.stat().st_size / 1e6)
    result = {"corpus": name, "out": str(out),
              "files": {str(p.relative_to(out)): p.stat().st_size for p in files}}
    if t.get("report"):
        result["report"] = report(cfg)
    return result


def report(cfg: DictConfig) -> dict:
    """Build ``dataset.corpus`` for the dataset (train lengths, alphabet as the bank) and log it."""
    from stackmix.data.marking import read_marking
    from stackmix.mix.corpus import build_corpus
    from stackmix.text import Normalizer

    ds = cfg.dataset
    spec = OmegaConf.select(cfg, "dataset.corpus")
    if not spec:
        raise SystemExit(f"dataset {ds.name!r} names no corpus (dataset.corpus)")
    normalize = Normalizer.from_config(OmegaConf.select(cfg, "dataset.normalize"))
    train = []
    root = Path(str(ds.root)).expanduser()
    if (root / "marking.csv").is_file():
        marking = read_marking(root, check_images=False)
        train = [normalize(s.text) for s in marking.stage("train")]
    else:
        log.warning("%s is not prepared: line lengths default to 40 characters", root)
    alphabet = OmegaConf.select(cfg, "dataset.alphabet") or "".join(sorted(set("".join(train))))
    corpus = build_corpus(str(spec), train_texts=train, renderable=set(str(alphabet)),
                          normalize=normalize,
                          cache_dir=Path(str(cfg.paths.cache_dir)) / "corpus")
    log.info("%s", corpus.report())
    return corpus.stats.to_dict()
