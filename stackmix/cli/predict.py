"""`python predict.py ckpt=... input=...`: recognize line images with a trained model.

Writes CSV or JSONL (path, text, mean confidence, per-character confidences) or, for a single
image, just its text on stdout. ALTO / PAGE-XML files as input: every TextLine is recognized and a
filled-in copy of each XML is written (:mod:`stackmix.inference.pages`). See conf/predict.yaml.
"""
from __future__ import annotations

import csv
import io
import json
import logging
import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, ListConfig

from stackmix import conf, resolvers  # noqa: F401  (registers the schemas and ${sm.*} resolvers)
from stackmix.cli.errors import reporting_errors
from stackmix.cli.overrides import entry_point

log = logging.getLogger("stackmix.predict")

FIELDS = ["path", "text", "confidence", "char_confidences"]


class PredictError(Exception):
    """A user error (bad input, missing file, unreadable image): reported without a traceback."""


def _inputs(cfg: DictConfig) -> tuple[list[Path], list[Any] | None, list[str] | None]:
    """Image paths, the dataset samples (with references) when a split is asked, train texts."""
    from stackmix.inference.engine import expand_inputs

    if cfg.get("split"):
        if not cfg.get("dataset_root"):
            raise PredictError("split=... needs dataset_root=<prepared dataset folder>")
        from stackmix.data.marking import read_marking

        marking = read_marking(cfg.dataset_root, on_error="skip")
        samples = marking.stage(str(cfg.split))
        if not samples:
            raise PredictError(f"split {cfg.split!r} of {cfg.dataset_root} is empty")
        train = [s.text for s in marking.stage("train")]
        return [s.path for s in samples], samples, train
    if cfg.get("input") is None:
        raise PredictError("nothing to recognize: give input=<image|folder|glob|[list]> "
                           "or dataset_root=<folder> split=<name>")
    inp = cfg.input
    items = list(inp) if isinstance(inp, (ListConfig, list, tuple)) else [inp]
    try:
        paths = expand_inputs([str(i) for i in items], recursive=bool(cfg.get("recursive", True)))
    except FileNotFoundError as e:
        raise PredictError(str(e)) from None
    if not paths:
        raise PredictError(f"no images found in {', '.join(map(str, items))}")
    return paths, None, None


def _rows(results, samples, normalizer) -> list[dict]:
    from stackmix.metrics import line_cer

    by_path = {str(s.path): s for s in samples} if samples is not None else {}
    rows = []
    for r in results:
        row = {"path": r.path, "text": r.text, "confidence": round(float(r.confidence), 6),
               "char_confidences": [round(float(p), 6) for p in r.char_probs]}
        s = by_path.get(r.path)
        if s is not None:
            ref = normalizer(s.text)
            row.update(sample_id=s.sample_id, reference=ref,
                       cer=round(line_cer(ref, r.text), 6))
        rows.append(row)
    return rows


def format_rows(rows: list[dict], fmt: str) -> str:
    with_ref = bool(rows) and "reference" in rows[0]
    fields = (["sample_id"] if with_ref else []) + FIELDS + (["reference", "cer"] if with_ref else [])
    if fmt == "jsonl":
        return "".join(json.dumps({k: r[k] for k in fields if k in r}, ensure_ascii=False) + "\n"
                       for r in rows)
    if fmt == "csv":
        buf = io.StringIO(newline="")
        w = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n", extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({**r, "confidence": f"{r['confidence']:.4f}",
                        "char_confidences": " ".join(f"{p:.4f}" for p in r["char_confidences"])})
        return buf.getvalue()
    if fmt == "tsv":
        return "".join(f"{r['path']}\t{r['text']}\t{r['confidence']:.4f}\n" for r in rows)
    if fmt == "text":
        return "".join(r["text"] + "\n" for r in rows)
    raise PredictError(f"unknown format {fmt!r}: csv, jsonl, tsv or text")


def _page_files(cfg: DictConfig) -> list[Path] | None:
    from stackmix.inference.pages import PageError, page_inputs

    if cfg.get("split") or cfg.get("input") is None:
        return None
    inp = cfg.input
    items = list(inp) if isinstance(inp, (ListConfig, list, tuple)) else [inp]
    try:
        return page_inputs([str(i) for i in items])
    except PageError as e:
        raise PredictError(str(e)) from None


def _page_outputs(xmls: list[Path], out: str | None) -> list[Path]:
    """Where each filled-in XML goes: ``out`` (one page: a file or folder; several: a folder),
    default ``<stem>.pred.xml`` beside the input."""
    if not out:
        return [x.with_name(x.stem + ".pred.xml") for x in xmls]
    o = Path(out)
    if len(xmls) == 1 and o.suffix.lower() == ".xml":
        return [o]
    if o.suffix.lower() == ".xml":
        raise PredictError(f"out={out} is one file but {len(xmls)} pages were given: pass a folder")
    names = [x.name for x in xmls]
    if len(set(names)) != len(names):
        raise PredictError("several input pages share a file name; run them folder by folder")
    return [o / n for n in names]


def run_pages(cfg: DictConfig, xmls: list[Path]) -> list[dict]:
    """Recognize the lines of ALTO/PAGE files and write filled-in copies; returns one row per line."""
    from stackmix.data.formats.page import PageDoesNotFit
    from stackmix.inference.decoder_factory import build_decoder
    from stackmix.inference.recognizer import Recognizer
    from stackmix.inference.pages import PageError, recognize_page

    outs = _page_outputs(xmls, cfg.get("out"))
    try:
        recognizer = Recognizer.load(cfg.ckpt, device=cfg.get("device", "auto"))
        decoder = build_decoder(cfg.get("decoder"), recognizer.alphabet)
    except (FileNotFoundError, ImportError, ValueError) as e:
        raise PredictError(str(e)) from None
    rows = []
    for xml, out in zip(xmls, outs):
        try:
            res = recognize_page(recognizer, decoder, xml, out, images=cfg.get("images"),
                                 geometry=str(cfg.get("page_geometry", "polygon")),
                                 padding=int(cfg.get("page_padding", 0)),
                                 batch_size=int(cfg.batch_size))
        except (PageError, PageDoesNotFit) as e:
            raise PredictError(str(e)) from None
        for ln in res.lines:
            rows.append({"path": str(xml), **ln})
        log.info("%s (%s): %d lines recognized → %s%s", xml.name, res.format, len(res.lines),
                 out, f"; {len(res.skipped)} skipped: " + "; ".join(
                     f"{i}: {r}" for i, r in res.skipped[:5]) if res.skipped else "")
    return rows


def _warn_whole_pages(paths: list[Path]) -> None:
    from stackmix.data.formats.page import image_size
    from stackmix.inference.pages import looks_like_page

    pages = []
    for p in paths:
        try:
            w, h = image_size(p)
        except OSError:
            continue  # unreadable: reported by recognition itself
        if looks_like_page(h, w):
            pages.append(f"{p} ({w}×{h})")
    if pages:
        more = f" and {len(pages) - 5} more" if len(pages) > 5 else ""
        log.warning(
            "%d input image(s) look like whole pages, not text lines: %s%s. predict.py reads "
            "single lines; segment pages first (e.g. `kraken -a -i page.jpg page.xml segment "
            "-bl` or eScriptorium) and pass the ALTO/PAGE file as input=", len(pages),
            ", ".join(pages[:5]), more)


def run(cfg: DictConfig) -> list[dict]:
    """Recognize the configured images; returns the rows (also written/printed)."""
    from stackmix.inference.decoder_factory import build_decoder
    from stackmix.inference.engine import recognize
    from stackmix.inference.recognizer import Recognizer
    from stackmix.data.image import ImageReadError
    from stackmix.fs import atomic_write_text, check_writable

    xmls = _page_files(cfg)
    if xmls:
        return run_pages(cfg, xmls)
    if cfg.get("out"):  # before any image is recognized
        try:
            check_writable(cfg.out)
        except OSError as e:
            raise PredictError(f"out={cfg.out}: {e.strerror or e}") from None
    paths, samples, train_texts = _inputs(cfg)
    if samples is None:
        _warn_whole_pages(paths)
    try:
        recognizer = Recognizer.load(cfg.ckpt, device=cfg.get("device", "auto"))
    except (FileNotFoundError, ImportError, ValueError) as e:
        raise PredictError(str(e)) from None
    try:
        decoder = build_decoder(cfg.get("decoder"), recognizer.alphabet, train_texts=train_texts)
    except (FileNotFoundError, ImportError, ValueError) as e:
        raise PredictError(f"decoder: {e}") from None
    log.info("%s model (%s, %s fit=%s) on %s: %d images, decoder %s", recognizer.backend,
             recognizer.dataset_name, f"{recognizer.image_h}x{recognizer.image_w}", recognizer.fit,
             recognizer.device, len(paths), getattr(decoder, "name", type(decoder).__name__))
    try:
        result = recognize(recognizer, paths, decoder, batch_size=int(cfg.batch_size),
                           num_workers=int(cfg.num_workers), on_error=str(cfg.on_error),
                           progress=bool(cfg.progress) and len(paths) > 1)
    except ImageReadError as e:
        raise PredictError(f"{e} (set on_error=skip to skip unreadable images)") from None
    rows = _rows(result.results, samples, recognizer.normalizer)

    out = cfg.get("out")
    fmt = cfg.get("format")
    if out:
        fmt = fmt or {".jsonl": "jsonl", ".json": "jsonl", ".tsv": "tsv",
                      ".txt": "text"}.get(Path(out).suffix.lower(), "csv")
        atomic_write_text(out, format_rows(rows, fmt))
        log.info("wrote %d predictions to %s", len(rows), out)
    else:
        fmt = fmt or ("text" if len(paths) == 1 else "tsv")
        sys.stdout.write(format_rows(rows, fmt))
        sys.stdout.flush()
    if result.skipped:
        msg = "; ".join(f"{p}" for p, _ in result.skipped[:10])
        more = f" and {len(result.skipped) - 10} more" if len(result.skipped) > 10 else ""
        print(f"skipped {len(result.skipped)} unreadable image(s): {msg}{more}", file=sys.stderr)
    if samples is not None and rows:
        from stackmix.inference.evaluation import corpus_metrics

        m = corpus_metrics([r["reference"] for r in rows], [r["text"] for r in rows])
        print(f"{cfg.split}: {m['lines']} lines, CER {100 * m['cer']:.2f} %, "
              f"WER {100 * m['wer']:.2f} %, string accuracy {100 * m['acc']:.2f} %",
              file=sys.stderr)
    return rows


@hydra.main(version_base="1.3", config_path="../conf", config_name="predict")
def hydra_main(cfg: DictConfig) -> None:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(message)s")
    for noisy in ("lightning", "lightning.pytorch", "lightning.fabric"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    reporting_errors("predict.py", lambda: run(cfg))


# the scripts and console entry points: a null-block override is a message, then Hydra
main = entry_point("predict.py", "predict", hydra_main)

if __name__ == "__main__":
    main()
