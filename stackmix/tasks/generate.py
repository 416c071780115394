"""`python prepare.py task=generate task.text="..."`: text to handwriting with a token bank.

Writes a PNG of the text (``task.count`` variants stacked, long text wrapped at ``task.wrap``
characters) and fails with the list of characters the bank cannot render.
"""
from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import numpy as np
from omegaconf import DictConfig

from stackmix.mix import StackMixGenerator, TokenBank, missing_bank_message
from stackmix.mix.bank import BankNotFoundError
from stackmix.mix.tokenize import UnrenderableTextError

log = logging.getLogger(__name__)


class UnknownTextError(UnrenderableTextError):
    pass


def check_renderable(bank: TokenBank, text: str) -> None:
    missing = bank.unknown(text)
    if missing:
        err = UnknownTextError(text, missing)
        have = "".join(sorted(bank.chars))
        err.args = (f"cannot write {text!r}: the token bank {bank.prefix} has no crops of "
                    + ", ".join(f"{c!r} (U+{ord(c):04X})" for c in missing)
                    + f". It can write these {len(have)} characters: {have!r}",)
        raise err


def render_text(bank: TokenBank, text: str, *, count: int = 1, wrap: int | None = None,
                seed: int = 0, smooth: bool = True, gap: int = 8) -> np.ndarray:
    """One grayscale image: ``count`` renderings of ``text`` (each wrapped into lines of at most
    ``wrap`` characters), stacked top to bottom on white."""
    check_renderable(bank, text)
    gen = StackMixGenerator(bank, smooth_background_p=0.0)
    rng = np.random.default_rng(seed)
    lines = textwrap.wrap(text, wrap, break_long_words=True) if wrap else [text]
    rows = []
    for _ in range(max(1, count)):
        for line in lines:
            rows.append(gen.draw(line, rng, smooth=smooth))
        rows.append(None)  # gap between variants
    rows = rows[:-1]
    width = max(r.shape[1] for r in rows if r is not None) + 2 * gap
    out = []
    for r in rows:
        if r is None:
            out.append(np.full((gap * 2, width), 255, np.uint8))
            continue
        pad = np.full((r.shape[0], width), 255, np.uint8)
        pad[:, gap:gap + r.shape[1]] = r
        out.append(pad)
    return np.concatenate([np.full((gap, width), 255, np.uint8), *out,
                           np.full((gap, width), 255, np.uint8)])


def run(cfg: DictConfig) -> dict:
    import cv2

    from stackmix.fs import atomic_write_bytes
    from stackmix.text import Normalizer

    t = cfg.task
    text = t.get("text")
    if text in (None, "", "???"):
        raise SystemExit('task.text is required, e.g. task.text="Ceci est mon testament"')
    if not str(text).strip():
        raise SystemExit(f"task.text={text!r} has nothing to write (only spaces); give a text "
                         'with at least one character, e.g. task.text="Ceci est mon testament"')
    try:
        bank = TokenBank(str(t.bank))
    except BankNotFoundError:
        raise SystemExit(missing_bank_message(str(t.bank), str(cfg.dataset.name))) from None
    norm = bank.meta.get("normalize")
    text = Normalizer.from_config(norm)(str(text)) if norm else str(text)
    img = render_text(bank, text, count=int(t.count), wrap=t.get("wrap"), seed=int(t.seed),
                      smooth=bool(t.smooth_background))
    out = Path(str(t.out)).expanduser()
    ok, buf = cv2.imencode(".png", img)
    if not ok:  # pragma: no cover
        raise RuntimeError("PNG encoding failed")
    atomic_write_bytes(out, buf.tobytes())
    log.info("wrote %s (%d×%d px): %r", out, img.shape[1], img.shape[0], text)
    return {"out": str(out), "text": text, "shape": list(img.shape)}
