"""Page XML (ALTO, PAGE) and page images: XML parsing helpers, finding a page's image, checking
that the geometry fits the image, cropping line regions (shared by the importers and by
predict.py for page input)."""
from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np

from stackmix.data.sources.common import ConversionError

__all__ = ["PageCache", "PageDoesNotFit", "SIBLING_IMAGE_FOLDERS", "TOLERANCE", "bbox", "children",
           "crop_region", "document_key", "extents_of", "find_page_image", "first_child",
           "fit_page", "image_size", "local", "missing_image_reason", "namespace", "parse_points", "parse_xml",
           "xml_files"]

log = logging.getLogger(__name__)


def local(tag: str) -> str:
    """Tag name without its namespace (``{ns}TextLine`` → ``TextLine``)."""
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def namespace(tag: str) -> str:
    """A tag's namespace part, braces included (``{ns}TextLine`` → ``{ns}``; none → ``""``)."""
    return tag[: tag.index("}") + 1] if tag.startswith("{") else ""


def children(el, name: str):
    return [c for c in el if local(c.tag) == name]


def first_child(el, name: str):
    for c in el:
        if local(c.tag) == name:
            return c
    return None


def parse_points(value: str | None) -> np.ndarray | None:
    """``"x1 y1 x2 y2"`` / ``"x1,y1 x2,y2"`` → (N, 2) float array, ``None`` if fewer than 2 points."""
    if not value:
        return None
    nums = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", value)]
    if len(nums) < 4 or len(nums) % 2:
        return None
    return np.asarray(nums, dtype=np.float64).reshape(-1, 2)


def parse_xml(path: Path):
    import xml.etree.ElementTree as ET

    try:
        return ET.parse(path).getroot()
    except ET.ParseError as e:
        raise ConversionError(f"{path}: not well-formed XML ({e})") from None


SIBLING_IMAGE_FOLDERS = ("images", "image", "img", "imgs", "jpg", "jpeg", "png", "tif", "tiff",
                         "pages", "scans")


def find_page_image(xml_path: Path, name: str | None,
                    images: Path | None = None) -> tuple[Path | None, list[Path]]:
    """The page image an XML names, and the folders searched (for the error message).

    ``name`` (the XML's ``fileName`` / ``imageFilename``; else the XML's stem with an image
    extension) is looked for: as given (absolute, or relative to the XML's folder), by its base name
    beside the XML, in ``images`` (and anywhere below it), then in the common sibling folders of
    collections that ship ``alto/`` or ``page/`` next to ``jpg/`` or ``images/``
    (:data:`SIBLING_IMAGE_FOLDERS`, beside the XML's folder and beside its parent).
    """
    from stackmix.data.sources.common import IMAGE_EXTS

    names: list[str] = []
    rel: Path | None = None
    if name:
        name = name.strip().replace("\\", "/")
        if name.startswith("file://"):
            name = name[7:]
        rel = Path(name)
        names.append(rel.name)
    names += [xml_path.stem + e for e in IMAGE_EXTS + tuple(e.upper() for e in IMAGE_EXTS)]
    folders: list[Path] = []
    cands: list[Path] = []
    if rel is not None:
        cands.append(rel if rel.is_absolute() else xml_path.parent / rel)
    folders.append(xml_path.parent)
    if images is not None:
        folders.append(Path(images))
    for base in (xml_path.parent.parent, xml_path.parent.parent.parent):
        folders += [base / d for d in SIBLING_IMAGE_FOLDERS if (base / d).is_dir()]
    for folder in folders:
        cands += [folder / n for n in names]
    for c in cands:
        if c.is_file():
            return c, folders
    if images is not None and Path(images).is_dir():  # nested below images=
        wanted = set(names)
        for c in sorted(Path(images).rglob("*")):
            if c.name in wanted and c.is_file():
                return c, folders
    return None, folders


def missing_image_reason(xml_path: Path, name: str | None, folders: list[Path]) -> str:
    looked = ", ".join(dict.fromkeys(str(f) for f in folders))
    return (f"page image {name or xml_path.stem + '.*'} not found; looked in {looked} "
            "(pass images=<folder holding the page images>)")


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file from its header (no decoding)."""
    from PIL import Image

    with Image.open(path) as im:
        return im.size


TOLERANCE = 0.02  # geometry may overhang the image by this share of its size


class PageDoesNotFit(ValueError):
    """A page's line geometry does not fit its image: cropping it would give wrong lines."""


def fit_page(xml_path: Path, img_path: Path, declared: tuple[float | None, float | None],
             extents: tuple[float, float, float, float] | None, *,
             always_scale: bool = False) -> tuple[float, float]:
    """Scale factors from the XML's coordinates to the image's pixels, or :class:`PageDoesNotFit`.

    ``declared``: the page size the XML states (ALTO ``Page/@WIDTH/@HEIGHT``, PAGE
    ``Page/@imageWidth/@imageHeight``). When it differs from the image by more than a pixel (or
    ``always_scale``, for non-pixel units), coordinates are scaled by image ÷ declared (logged).
    Then every line (``extents``: min x, min y, max x, max y over the page's lines, in XML units)
    must lie within the image up to :data:`TOLERANCE`; otherwise the whole page is refused.
    """
    w, h = image_size(img_path)
    pw, ph = declared
    sx = sy = 1.0
    if pw and ph and (always_scale or abs(pw - w) > 1 or abs(ph - h) > 1):
        sx, sy = w / pw, h / ph
        if not always_scale:
            log.warning("%s: the XML declares a %g×%g page but %s is %d×%d: coordinates scaled "
                        "by %.3f×%.3f", xml_path.name, pw, ph, img_path.name, w, h, sx, sy)
    if extents is not None:
        x0, y0, x1, y1 = extents[0] * sx, extents[1] * sy, extents[2] * sx, extents[3] * sy
        tx, ty = TOLERANCE * w, TOLERANCE * h
        if x0 < -tx or y0 < -ty or x1 > w + tx or y1 > h + ty:
            stated = f"declares {pw:g}×{ph:g}" if pw and ph else "declares no page size"
            raise PageDoesNotFit(
                f"its lines reach x {x0:.0f}..{x1:.0f}, y {y0:.0f}..{y1:.0f} but the image "
                f"{img_path.name} is {w}×{h} (the XML {stated}): the coordinates do not belong "
                "to this image, so none of the page's lines were imported (fix the XML's "
                "coordinates or page size, or use the image they were made on)"
            )
    return sx, sy


def extents_of(shapes) -> tuple[float, float, float, float] | None:
    """(min x, min y, max x, max y) of boxes ``(x0, y0, x1, y1)``."""
    shapes = [b for b in shapes if b is not None]
    if not shapes:
        return None
    return (min(b[0] for b in shapes), min(b[1] for b in shapes),
            max(b[2] for b in shapes), max(b[3] for b in shapes))


class PageCache:
    """Keeps the last decoded page image (lines come page by page)."""

    def __init__(self):
        self.path: Path | None = None
        self.image: np.ndarray | None = None

    def get(self, path: Path) -> np.ndarray:
        if self.path != path:
            from stackmix.data.image import read_gray

            self.image = read_gray(path)
            self.path = path
        return self.image


def crop_region(page: np.ndarray, box: tuple[float, float, float, float],
                polygon: np.ndarray | None, padding: int) -> np.ndarray:
    """Crop ``box`` (x0, y0, x1, y1 in page pixels) plus ``padding``; with ``polygon``, pixels
    outside it become white. Raises ``ValueError`` for an empty region."""
    import cv2

    h, w = page.shape[:2]
    x0 = max(0, int(np.floor(box[0])) - padding)
    y0 = max(0, int(np.floor(box[1])) - padding)
    x1 = min(w, int(np.ceil(box[2])) + padding)
    y1 = min(h, int(np.ceil(box[3])) + padding)
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"the region {tuple(round(v) for v in box)} lies outside the "
                         f"{w}×{h} page image or is empty")
    crop = page[y0:y1, x0:x1].copy()
    if polygon is not None:
        mask = np.zeros(crop.shape[:2], dtype=np.uint8)
        pts = np.round(polygon - [x0, y0]).astype(np.int32).reshape(-1, 1, 2)
        cv2.fillPoly(mask, [pts], 255)
        if padding:
            k = 2 * padding + 1
            mask = cv2.dilate(mask, np.ones((k, k), np.uint8))
        crop[mask == 0] = 255
    return crop


def bbox(points: np.ndarray) -> tuple[float, float, float, float]:
    return (float(points[:, 0].min()), float(points[:, 1].min()),
            float(points[:, 0].max()), float(points[:, 1].max()))


def xml_files(input: Path) -> list[Path]:
    if input.is_file():
        return [input]
    if not input.is_dir():
        raise ConversionError(f"input {input} does not exist")
    files = sorted(p for p in input.rglob("*.xml") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise ConversionError(f"no .xml file under {input}")
    return files


def document_key(path: Path, input: Path) -> str:
    base = input if input.is_dir() else input.parent
    rel = path.parent.relative_to(base).as_posix() if path.parent != base else ""
    return rel or base.name
