"""Generation parameters of the synthetic dataset: defaults, validation, the folder key."""
from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from stackmix.data.marking import STAGES

FORMAT_VERSION = 1
PARAMS_FILE = "synthetic.json"
EXTENTS_FILE = "char_extents.json"
LINES_DIR = "lines"

#: font family name -> PyPI package (import name) that ships its TTF files under ``ROOT/files``.
FONT_PACKAGES: dict[str, str] = {
    "caveat": "fontpkg_caveat",
    "kalam": "fontpkg_kalam",
    "indie_flower": "fontpkg_indie_flower",
    "shadows_into_light": "fontpkg_shadows_into_light",
    "zeyada": "fontpkg_zeyada",
    "dancing_script": "fontpkg_dancing_script",
    "satisfy": "fontpkg_satisfy",
    "delius": "fontpkg_delius",
}

#: Kalam (three weights, upright print handwriting) is the most legible unseen style for test;
#: Indie Flower (another print hand) is held out for valid; train sees the other six fonts.
DEFAULT_FONTS: dict[str, tuple[str, ...]] = {
    "train": ("caveat", "shadows_into_light", "delius", "dancing_script", "satisfy", "zeyada"),
    "valid": ("indie_flower",),
    "test": ("kalam",),
}

DEFAULTS: dict[str, object] = {
    "seed": 0,
    "n_train": 4000,
    "n_valid": 400,
    "n_test": 400,
    "fonts": {k: list(v) for k, v in DEFAULT_FONTS.items()},
    "min_words": 2,
    "max_words": 5,
    "max_chars": 32,
    "vocab_size": 5000,
    "x_height": [15, 22],
}

#: keys accepted by ``ensure_synthetic``/``generate_synthetic`` that do not change the output.
RUN_KEYS = ("workers", "progress")


class SyntheticDataError(RuntimeError):
    """The synthetic dataset cannot be generated (missing font package, bad parameters)."""


def _plain(value):
    """``value`` with mappings turned into dicts and non-string sequences into lists (recursively).

    Accepts OmegaConf containers without importing OmegaConf.
    """
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, Sequence) and not isinstance(value, (str, bytes)):
        return [_plain(v) for v in value]
    return value


def stamp(params: dict) -> dict:
    """The content of ``synthetic.json``: format version + complete parameters."""
    return {"format_version": FORMAT_VERSION, "params": params}


def params_key(params) -> str:
    """Short hash of the complete generation parameters (``RUN_KEYS`` left out): the synthetic
    dataset's folder name ends with it, so datasets generated with other parameters (another
    seed, more lines) live side by side instead of replacing each other."""
    import hashlib

    full = synthetic_params(**_plain(params))
    blob = json.dumps(stamp(full), sort_keys=True, ensure_ascii=False).encode()
    return hashlib.sha256(blob).hexdigest()[:10]


def synthetic_params(**params) -> dict:
    """Complete, validated generation parameters: ``DEFAULTS`` updated with ``params``.

    Keys in ``RUN_KEYS`` are dropped (they do not change the output). Raises
    ``SyntheticDataError`` for unknown keys, bad counts, unknown fonts or fonts shared by splits.
    """
    params = {k: _plain(v) for k, v in params.items() if k not in RUN_KEYS}
    unknown = sorted(set(params) - set(DEFAULTS))
    if unknown:
        raise SyntheticDataError(
            f"unknown synthetic dataset parameter(s) {unknown}; known: {sorted(DEFAULTS)}"
        )
    out = _plain(DEFAULTS) | params
    for key in ("seed", "n_train", "n_valid", "n_test", "min_words", "max_words", "max_chars",
                "vocab_size"):
        out[key] = int(out[key])
        if out[key] < 0:
            raise SyntheticDataError(f"synthetic.{key} must be >= 0, got {out[key]}")
    if not 1 <= out["min_words"] <= out["max_words"]:
        raise SyntheticDataError(
            f"need 1 <= min_words <= max_words, got {out['min_words']}, {out['max_words']}"
        )
    if out["max_chars"] < 8 or out["vocab_size"] < 50:
        raise SyntheticDataError("max_chars must be >= 8 and vocab_size >= 50")
    lo, hi = (float(v) for v in out["x_height"])
    if not 6 <= lo <= hi <= 60:
        raise SyntheticDataError(f"x_height must be [lo, hi] px with 6 <= lo <= hi <= 60, got {out['x_height']}")
    out["x_height"] = [lo, hi]
    out["fonts"] = _check_fonts(out["fonts"], out)
    return out


def _check_fonts(fonts, out: dict) -> dict[str, list[str]]:
    if not isinstance(fonts, dict) or set(fonts) != set(STAGES):
        raise SyntheticDataError(f"synthetic.fonts must map each of {STAGES} to a list of fonts")
    fonts = {st: [str(f) for f in fonts[st]] for st in STAGES}
    for st, names in fonts.items():
        if not names and out[f"n_{st}"] > 0:
            raise SyntheticDataError(f"synthetic.fonts.{st} is empty but n_{st} > 0")
        bad = [f for f in names if f not in FONT_PACKAGES]
        if bad:
            raise SyntheticDataError(
                f"unknown font(s) {bad} in synthetic.fonts.{st}; known: {sorted(FONT_PACKAGES)}"
            )
    for a, b in (("train", "valid"), ("train", "test"), ("valid", "test")):
        shared = sorted(set(fonts[a]) & set(fonts[b]))
        if shared:
            raise SyntheticDataError(
                f"font(s) {shared} are in both synthetic.fonts.{a} and .{b}; splits are by font"
            )
    return fonts
