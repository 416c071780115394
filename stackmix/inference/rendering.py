"""The evaluation report as Markdown and HTML, from jinja2 templates (``templates/``).

:func:`render_report` takes what :mod:`stackmix.inference.evaluation` computed (metrics per
decoder, confusions, the worst lines with their alignment and thumbnails) and returns
``(markdown, html)``. Settings shown at the top (e.g. the decoders' options) are written as
``key: value`` lists, never as raw Python dicts; each worst line's reference and prediction are
shown aligned character by character (a ``·`` where one side has no character).
"""
from __future__ import annotations

import base64
import html
from collections import Counter
from typing import Any, Mapping, Sequence

import jinja2

GAP = "·"
SHOW = {" ": "␣", "\t": "⇥"}
METRIC_HEAD = ["decoder", "CER", "WER", "string accuracy", "lines", "chars", "words",
               "mean confidence"]
TOP = 20

_ENV = jinja2.Environment(loader=jinja2.PackageLoader("stackmix.inference", "templates"),
                          autoescape=jinja2.select_autoescape(["html", "html.j2"]), trim_blocks=True,
                          lstrip_blocks=True, keep_trailing_newline=True,
                          undefined=jinja2.StrictUndefined)


def readable(value: Any) -> str:
    """A setting as a person reads it: a mapping of settings as ``name: key=value, ...`` per
    entry (deeper levels in parentheses), lists comma-separated, ``None`` as ``-``.

    ``{"beam": {"type": "beam", "lm": {"order": 5}}}`` → ``beam: type=beam, lm=(order=5)``.
    """
    if isinstance(value, Mapping):
        return "; ".join(f"{k}: {_inline(v)}" for k, v in value.items()) or "-"
    return _inline(value)


def _inline(value: Any) -> str:
    if isinstance(value, Mapping):
        return ", ".join(f"{k}=({_inline(v)})" if isinstance(v, Mapping) else f"{k}={_inline(v)}"
                         for k, v in value.items()) or "-"
    if isinstance(value, (list, tuple)):
        return ", ".join(_inline(v) for v in value) or "-"
    return "-" if value is None else str(value)


def aligned_lines(steps: Sequence[tuple[str, str, str]]) -> tuple[str, str]:
    """Reference and prediction padded to the same columns: one column per alignment step,
    ``·`` where a character was inserted (reference side) or deleted (prediction side)."""
    ref = "".join(r if op != "i" else GAP for op, r, _ in steps)
    hyp = "".join(h if op != "d" else GAP for op, _, h in steps)
    return ref, hyp


def _show(c: str) -> str:
    return SHOW.get(c, c)


def _pct(v) -> str:
    return "-" if v is None else f"{100 * float(v):.2f} %"


def _md_cell(text: str) -> str:
    t = html.escape(text, quote=False).replace("|", "\\|").replace("\n", " ")
    return f"`{t}`" if t and "`" not in t else (t or "∅")


def _html_diff(steps) -> tuple[str, str]:
    """HTML of the aligned reference and prediction with errors marked."""
    e = html.escape
    ref, hyp = [], []
    for op, r, h in steps:
        r_ = e(_show(r) if r == " " and op != "=" else r)
        h_ = e(_show(h) if h == " " and op != "=" else h)
        if op == "=":
            ref.append(r_)
            hyp.append(h_)
        elif op == "s":
            ref.append(f'<span class="s">{r_}</span>')
            hyp.append(f'<span class="s">{h_}</span>')
        elif op == "d":
            ref.append(f'<span class="d">{r_}</span>')
            hyp.append(f'<span class="gap">{GAP}</span>')
        else:
            ref.append(f'<span class="gap">{GAP}</span>')
            hyp.append(f'<span class="i">{h_}</span>')
    return "".join(ref), "".join(hyp)


def _metric_rows(metrics: Mapping[str, dict]) -> list[list[str]]:
    return [[name, _pct(m.get("cer")), _pct(m.get("wer")), _pct(m.get("acc")),
             str(m.get("lines", 0)), str(m.get("chars", 0)), str(m.get("words", 0)),
             "-" if m.get("mean_confidence") is None else f"{m['mean_confidence']:.3f}"]
            for name, m in metrics.items()]


def _pairs(deletions: Counter, insertions: Counter) -> list[tuple]:
    dels, ins = deletions.most_common(TOP), insertions.most_common(TOP)
    return [(dels[k] if k < len(dels) else None, ins[k] if k < len(ins) else None)
            for k in range(max(len(dels), len(ins)))]


def render_report(title: str, info: Mapping[str, Any], metrics: Mapping[str, dict],
                  primary: str, confusions, worst: Sequence[dict],
                  thumbs: Sequence[tuple[str | None, bytes | None]],
                  thumb_h: int) -> tuple[str, str]:
    """``(report.md, report.html)``. ``worst``: rows with ``sample_id``, ``text``,
    ``prediction``, ``cer``, ``steps``, ``confidence``; ``thumbs``: per row (path relative to
    the report, PNG bytes) or Nones."""
    rows = []
    for r, (rel, data) in zip(worst, thumbs):
        ref, hyp = aligned_lines(r["steps"])
        ref_h, hyp_h = _html_diff(r["steps"])
        rows.append({
            "sample": str(r.get("sample_id", "")), "cer": f"{100 * r['cer']:.1f} %",
            "conf": "-" if r.get("confidence") is None else f"{float(r['confidence']):.3f}",
            "ref_md": _md_cell(ref), "hyp_md": _md_cell(hyp), "ref_html": ref_h,
            "hyp_html": hyp_h, "thumb": rel,
            "data_uri": ("data:image/png;base64," + base64.b64encode(data).decode())
            if data else None,
        })
    context = {
        "title": title, "info": [(str(k), readable(v)) for k, v in info.items()],
        "head": METRIC_HEAD, "metric_rows": _metric_rows(metrics), "primary": primary,
        "totals": confusions.totals(), "thumb_h": thumb_h, "rows": rows, "gap": GAP,
        "substitutions": [(_show(r), _show(h), n)
                          for (r, h), n in confusions.substitutions.most_common(TOP)],
        "pairs": [(None if d is None else (_show(d[0]), d[1]),
                   None if i is None else (_show(i[0]), i[1]))
                  for d, i in _pairs(confusions.deletions, confusions.insertions)],
    }
    md = _ENV.get_template("report.md.j2").render(md_cell=_md_cell, **context)
    page = _ENV.get_template("report.html.j2").render(**context)
    return md, page
