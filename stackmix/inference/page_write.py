"""Writing recognized text back into ALTO / PAGE-XML trees, keeping everything else (other
elements, attributes, comments, the prolog) as it was; see :mod:`stackmix.inference.pages`."""
from __future__ import annotations

import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from stackmix.data.formats.page import local, namespace

__all__ = ["write_alto_line", "write_page_line", "write_tree"]


def _fmt_conf(p: float) -> str:
    return f"{max(0.0, min(1.0, float(p))):.4f}"


def _words(text: str, char_probs: list[float]) -> list[tuple[str, float]]:
    """Words of ``text`` with the mean probability of their characters."""
    out, start = [], None
    for i, ch in enumerate(text + " "):
        if ch != " " and start is None:
            start = i
        elif ch == " " and start is not None:
            probs = char_probs[start:i]
            out.append((text[start:i], float(np.mean(probs)) if probs else 0.0))
            start = None
    return out


def write_alto_line(tl, text: str, confidence: float, char_probs: list[float]) -> None:
    ns = namespace(tl.tag)
    content = [c for c in tl if local(c.tag) in ("String", "SP", "HYP")]
    strings = [c for c in content if local(c.tag) == "String"]
    words = _words(text, char_probs)
    if strings and len(strings) == len(words):
        for s, (w, p) in zip(strings, words):
            s.set("CONTENT", w)
            s.set("WC", _fmt_conf(p))
        return
    pos = list(tl).index(content[0]) if content else len(
        [c for c in tl if local(c.tag) == "Shape"])
    geo = {a: tl.get(a) for a in ("HPOS", "VPOS", "WIDTH", "HEIGHT") if tl.get(a) is not None}
    tail = content[-1].tail if content else None
    for c in content:
        tl.remove(c)
    s = ET.Element(ns + "String", {"CONTENT": text, **geo, "WC": _fmt_conf(confidence)})
    s.tail = tail
    tl.insert(pos, s)


_PAGE_BEFORE_TEXTEQUIV = ("AlternativeImage", "Coords", "Baseline", "Word")


def write_page_line(tl, text: str, confidence: float) -> None:
    ns = namespace(tl.tag)
    old = [c for c in tl if local(c.tag) == "TextEquiv"]
    pos = list(tl).index(old[0]) if old else 1 + max(
        (i for i, c in enumerate(tl) if local(c.tag) in _PAGE_BEFORE_TEXTEQUIV), default=-1)
    tail = old[0].tail if old else None
    for c in old:
        tl.remove(c)
    eq = ET.Element(ns + "TextEquiv", {"conf": _fmt_conf(confidence)})
    uni = ET.SubElement(eq, ns + "Unicode")
    uni.text = text
    eq.tail = tail if tail is not None else (tl.text or None)
    tl.insert(pos, eq)


_PROLOG_ITEM = re.compile(rb"\s*(<\?xml[^>]*\?>|<\?.*?\?>|<!--.*?-->|<!DOCTYPE[^>]*>)", re.S)


def _prolog(original: bytes) -> bytes:
    """Comments, processing instructions and DOCTYPE before the root element (ElementTree keeps
    only the root, so they are carried over from the original bytes); not the XML declaration."""
    out, pos = [], 0
    while True:
        m = _PROLOG_ITEM.match(original, pos)
        if m is None:
            break
        if not m.group(1).startswith(b"<?xml "):
            out.append(m.group(0).lstrip(b"\r\n") if not out else m.group(0))
        pos = m.end()
    return b"".join(out).strip(b"\r\n")


def write_tree(tree: ET.ElementTree, out: Path, original: Path | None = None) -> None:
    """Write ``tree`` as UTF-8 with an XML declaration and the original file's prolog."""
    from stackmix.fs import atomic_write_bytes

    buf = io.BytesIO()
    tree.write(buf, encoding="UTF-8", xml_declaration=False)
    prolog = _prolog(Path(original).read_bytes()) if original is not None else b""
    data = b'<?xml version="1.0" encoding="UTF-8"?>\n' + (prolog + b"\n" if prolog else b"")
    data += buf.getvalue().lstrip()
    if not data.endswith(b"\n"):
        data += b"\n"
    atomic_write_bytes(out, data)
