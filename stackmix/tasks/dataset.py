"""``python prepare.py task=dataset dataset=<name> [raw=<folder>] [out=<folder>]``: prepare a public dataset.

Turns what the user downloaded from the dataset's publisher (``task.source=official``, the
default) — or the original StackMix-OCR authors' prepared archive
(``task.source=original_archive``) — into the prepared format (``marking.csv`` + images) under
``out`` (default: the dataset config's ``root``), then logs and returns the validation report
(counts per stage, alphabet, length statistics, every skipped item with its reason; also saved as
``<out>/prepare_report.json``).

* ``raw``: the folder with the download (archives may stay packed; they are extracted next to
  themselves once), or one archive. Default: ``${paths.data_dir}/raw/<name>``.
* ``task.download=true``: fetch what has a public URL (split lists, Google Drive archives) into
  ``raw`` / ``task.download_dir``; a source behind a login prints where to register and where to
  put the files (:class:`~stackmix.data.download.ManualDownloadRequired`).
* An existing prepared ``out`` is kept (the run just reports it) unless ``task.overwrite=true``.
* ``task.options.<key>=...`` overrides a converter option of ``dataset.source.options``.

Every failure leaves ``out`` untouched: the dataset is built in a temporary sibling folder and
renamed into place only when complete and valid.
"""
from __future__ import annotations

import logging
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from stackmix.data.download import (
    ChecksumBook, ManualDownloadRequired, download, gdrive_url, manual_download_message,
)
from stackmix.data.marking import MARKING, read_marking
from stackmix.data.sources import convert
from stackmix.data.sources.common import ConversionError, MissingLineFiles

log = logging.getLogger("stackmix.prepare.dataset")


def _plain(node) -> dict:
    if node is None:
        return {}
    if isinstance(node, DictConfig):
        return OmegaConf.to_container(node, resolve=True) or {}
    return dict(node)


def _get(cfg, key: str, default=None):
    return OmegaConf.select(cfg, key, default=default) if isinstance(cfg, DictConfig) else default


def run(cfg: DictConfig) -> dict:
    ds = cfg.dataset
    name = str(ds.name)
    source = _plain(_get(cfg, "dataset.source"))
    task = cfg.task
    if not source.get("converter"):
        raise SystemExit(
            f"dataset {name!r} has no source: block, so there is nothing to convert. "
            "For your own data use: python prepare.py task=import format=alto|pagexml|gt_txt "
            "input=... out=..."
        )
    mode = str(_get(cfg, "task.source", "official"))
    if mode not in ("official", "original_archive"):
        raise SystemExit(f"task.source must be official or original_archive, got {mode!r}")
    data_dir = Path(str(cfg.paths.data_dir))
    out = Path(str(_get(cfg, "task.out") or ds.root)).expanduser()
    raw_value = _get(cfg, "task.raw")
    raw = Path(str(raw_value)).expanduser() if raw_value else data_dir / "raw" / name
    download_dir = Path(str(_get(cfg, "task.download_dir") or data_dir / "downloads")).expanduser()
    overwrite = bool(_get(cfg, "task.overwrite", False))
    want_download = bool(_get(cfg, "task.download", False))

    if (out / MARKING).is_file() and not overwrite:
        marking = read_marking(out, check_images=False)
        log.info("%s is already prepared at %s (%s); pass task.overwrite=true to rebuild it",
                 name, out, ", ".join(f"{k} {v}" for k, v in marking.counts().items()))
        return {"dataset": name, "out": str(out), "counts": marking.counts(), "rebuilt": False}

    given = _get(cfg, "task.options")  # only the options given on the command line (others: ???)
    overrides = {} if given is None else {
        k: OmegaConf.to_container(given[k], resolve=True) if OmegaConf.is_config(given[k])
        else given[k] for k in given if not OmegaConf.is_missing(given, k)}
    options = {**(source.get("options") or {}), **overrides}
    alphabet = _get(cfg, "dataset.alphabet")
    common = dict(dataset=name, overwrite=overwrite,
                  check_images=bool(_get(cfg, "task.check_images", True)),
                  config_alphabet=str(alphabet) if alphabet else None)

    if mode == "original_archive":
        arch = source.get("original_archive") or {}
        if not arch:
            raise SystemExit(f"no original prepared archive is known for {name!r}; "
                             "use task.source=official")
        target = raw if raw_value else None
        if target is None:
            target = download_dir / str(arch.get("file") or f"{name}.tar.gz")
            if not target.is_file():
                if not want_download:
                    raise SystemExit(
                        f"{target} not found. Pass task.download=true to fetch the original "
                        f"authors' archive (Google Drive id {arch.get('gdrive_id')}), or "
                        "raw=<the downloaded .tar.gz or its extracted folder>."
                    )
                download(gdrive_url(str(arch["gdrive_id"])), target, arch.get("sha256"),
                         checksum_book=ChecksumBook(download_dir / "sha256_recorded.json"))
        report = convert("original_archive", target, out, options={"name": name}, **common)
    else:
        if want_download:
            fetch_public_files(source, raw, download_dir)
        if not raw.exists() or (raw.is_dir() and not any(raw.iterdir())):
            if any(e.get("url") or e.get("gdrive_id") for e in source.get("download") or []):
                raise ManualDownloadRequired(
                    f"{raw} holds no download of {name!r} yet. It is public: add "
                    f"task.download=true (python prepare.py task=dataset dataset={name} "
                    f"task.download=true, or make prepare-{name}), or pass raw=<a folder holding "
                    f"{', '.join(str(f.get('name', f)) for f in source.get('files') or [])}>."
                )
            raise ManualDownloadRequired(manual_download_message(name, source, raw))
        try:
            report = convert(str(source["converter"]), raw, out, options=options, **common)
        except MissingLineFiles:
            raise  # the download is there; its message names the missing files
        except ConversionError as e:
            raise ConversionError(
                f"{e}\n\nHow to get the raw data:\n{manual_download_message(name, source, raw)}"
            ) from None
    return report.to_dict()  # the summary was logged once by the conversion itself


def fetch_public_files(source: dict, raw: Path, download_dir: Path) -> list[Path]:
    """Download the source's files that have a public URL (``source.download``) into ``raw``."""
    got = []
    book = ChecksumBook(download_dir / "sha256_recorded.json")
    for entry in source.get("download") or []:
        url = entry.get("url") or (gdrive_url(entry["gdrive_id"]) if entry.get("gdrive_id") else None)
        if not url:
            continue
        dest = raw / str(entry["name"])
        log.info("downloading %s → %s", url, dest)
        got.append(download(url, dest, entry.get("sha256"), checksum_book=book))
    if not got and (source.get("register") or source.get("files")):
        log.info("this source has no public download URL; see the message below if raw is empty")
    return got
