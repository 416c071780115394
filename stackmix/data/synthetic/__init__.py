"""The embedded default dataset: synthetic handwriting-like text lines, generated on first use.

Lines of 2-5 English words (``wordfreq``, :mod:`.texts`) are rendered with handwriting fonts
shipped as PyPI packages (``fontpkg_*``, :mod:`.fonts`) glyph by glyph (:mod:`.rendering`), then
slanted, made to wobble, thickened or thinned, put on uneven paper with noise and blur, and
cropped to the ink (:mod:`.effects`). Everything is a function of the seed and the line's
(stage, index), so the result does not depend on the number of worker processes (:mod:`.job`).
The parameters and their validation are in :mod:`.params`.

The split is by font: valid and test each use fonts absent from train (see ``DEFAULT_FONTS``).

The output folder holds ``marking.csv`` (``sample_id,path,stage,text,font``), ``lines/*.png``
(8-bit grayscale), ``char_extents.json`` (per sample, one ``[x0, x1)`` pixel column range per
character of the text, spaces included) and ``synthetic.json`` (the parameters; written last).
"""
from stackmix.data.synthetic.fonts import FontMetrics, font_files, font_metrics
from stackmix.data.synthetic.job import ensure_synthetic, generate_synthetic, is_complete, make_line
from stackmix.data.synthetic.params import (DEFAULT_FONTS, DEFAULTS, EXTENTS_FILE, FONT_PACKAGES,
                                            FORMAT_VERSION, LINES_DIR, PARAMS_FILE, RUN_KEYS,
                                            SyntheticDataError, params_key, synthetic_params)
from stackmix.data.synthetic.rendering import Rendered, render_line
from stackmix.data.synthetic.texts import load_words, sample_text

__all__ = [
    "DEFAULTS", "DEFAULT_FONTS", "EXTENTS_FILE", "FONT_PACKAGES", "FORMAT_VERSION", "FontMetrics",
    "LINES_DIR", "PARAMS_FILE", "RUN_KEYS", "Rendered", "SyntheticDataError", "ensure_synthetic",
    "font_files", "font_metrics", "generate_synthetic", "is_complete", "load_words", "make_line",
    "params_key", "render_line", "sample_text", "synthetic_params",
]
