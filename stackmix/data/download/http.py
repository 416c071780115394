"""HTTP(S) / ``file://`` downloads: resumed with ``Range`` requests, size and SHA-256 checked,
Google Drive's confirmation page followed, a tqdm progress bar (standard library urllib only)."""
from __future__ import annotations

import html
import logging
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

from stackmix.data.download.checksums import CHUNK, ChecksumBook, norm_sha, sha256_file
from stackmix.data.download.errors import ChecksumMismatch, DownloadError

__all__ = ["USER_AGENT", "download", "gdrive_url"]

log = logging.getLogger(__name__)

USER_AGENT = "stackmix-htr-prepare/0.1 (+python urllib)"


def gdrive_url(file_id: str) -> str:
    """Direct-download URL of a public Google Drive file."""
    return "https://drive.google.com/uc?export=download&id=" + urllib.parse.quote(file_id)


def _open(url: str, headers: dict | None, timeout: float):
    req = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, **(headers or {})})
    return urllib.request.urlopen(req, timeout=timeout)  # noqa: S310 (http/https/file only)


def _check_scheme(url: str) -> None:
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme not in ("http", "https", "file"):
        raise DownloadError(f"unsupported URL scheme {scheme!r} in {url!r} (http, https, file only)")


def _html_download_form(page: str, base_url: str) -> str | None:
    """The URL behind a Drive-style confirmation page (a form with hidden inputs), if any."""
    form = re.search(r"<form[^>]*\baction=\"([^\"]+)\"[^>]*>(.*?)</form>", page, re.S | re.I)
    if form:
        action = html.unescape(form.group(1))
        fields = dict(
            (html.unescape(n), html.unescape(v))
            for n, v in re.findall(
                r"<input[^>]*\bname=\"([^\"]+)\"[^>]*\bvalue=\"([^\"]*)\"", form.group(2), re.I
            )
        )
        url = urllib.parse.urljoin(base_url, action)
        if fields:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(fields)
        return url
    link = re.search(r"href=\"([^\"]*confirm=[^\"]+)\"", page, re.I)
    if link:
        return urllib.parse.urljoin(base_url, html.unescape(link.group(1)))
    return None


def download(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    *,
    resume: bool = True,
    progress: bool = True,
    timeout: float = 60.0,
    checksum_book: ChecksumBook | None = None,
    _max_html_hops: int = 2,
) -> Path:
    """Download ``url`` to ``dest`` and return ``dest``.

    * ``dest`` already present: verified (when a digest is known) and returned without network.
    * Interrupted earlier: ``<dest>.part`` is continued with ``Range: bytes=<size>-``; a server
      that ignores the range (HTTP 200) restarts it from zero.
    * Fewer bytes than the server announced: :class:`DownloadError` (run again to resume).
    * ``sha256`` given (or recorded in ``checksum_book``) and different: the data is deleted and
      :class:`ChecksumMismatch` raised. With neither, the digest is recorded in ``checksum_book``.
    """
    _check_scheme(url)
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    expected = norm_sha(sha256)
    recorded = checksum_book.get(dest.name) if checksum_book is not None else None
    if expected and recorded and expected != recorded:
        log.warning("%s: the configured SHA-256 differs from the recorded one; using the configured",
                    dest.name)
    want = expected or recorded

    if dest.is_file():
        _verify(dest, want, url, delete=False)
        _remember(dest, want, checksum_book)
        return dest

    part = dest.with_name(dest.name + ".part")
    hops = 0
    while True:
        done = part.stat().st_size if (resume and part.is_file()) else 0
        if not resume and part.exists():
            part.unlink()
        headers = {"Range": f"bytes={done}-"} if done else {}
        try:
            resp = _open(url, headers, timeout)
        except urllib.error.HTTPError as e:
            if e.code == 416 and done:
                # the range starts at or past the end: the part file is already complete
                break
            raise DownloadError(f"HTTP {e.code} {e.reason} while downloading {url}") from None
        except (urllib.error.URLError, OSError) as e:
            reason = getattr(e, "reason", e)
            raise DownloadError(f"cannot download {url}: {reason}") from None

        with resp:
            status = getattr(resp, "status", None) or resp.getcode() or 200
            ctype = (resp.headers.get("Content-Type") or "").lower()
            if ctype.startswith("text/html") and hops < _max_html_hops and not done:
                # Google Drive's virus-scan warning: follow the form to the actual file
                page = resp.read(2_000_000).decode("utf-8", "replace")
                nxt = _html_download_form(page, resp.geturl() if hasattr(resp, "geturl") else url)
                if nxt is None:
                    raise DownloadError(
                        f"{url} returned an HTML page instead of the file (quota exceeded, "
                        "private file or changed link?); download it by hand and pass its folder "
                        "with raw=..."
                    )
                url, hops = nxt, hops + 1
                _check_scheme(url)
                continue
            if status == 206 and done:
                total = _total_from_content_range(resp.headers.get("Content-Range"))
                mode = "ab"
            else:
                if done:
                    log.info("%s: the server ignored the resume request; starting over", dest.name)
                done = 0
                length = resp.headers.get("Content-Length")
                total = int(length) if length and length.isdigit() else None
                mode = "wb"
            _stream(resp, part, mode, done, total, dest.name, progress)
        size = part.stat().st_size
        if total is not None and size < total:
            raise DownloadError(
                f"download of {url} stopped at {size} of {total} bytes (connection dropped?); "
                f"run the same command again to resume from {part}"
            )
        if total is not None and size > total:
            part.unlink()
            raise DownloadError(f"download of {url} gave {size} bytes, more than the announced "
                                f"{total}; the partial file was removed, run again")
        break

    _verify(part, want, url, delete=True)
    os.replace(part, dest)
    _remember(dest, want, checksum_book)
    return dest


def _total_from_content_range(value: str | None) -> int | None:
    if not value:
        return None
    m = re.match(r"bytes\s+\d+-\d+/(\d+)", value.strip())
    return int(m.group(1)) if m else None


def _stream(resp, part: Path, mode: str, done: int, total: int | None, name: str, progress: bool):
    from tqdm import tqdm

    bar = tqdm(total=total, initial=done, unit="B", unit_scale=True, unit_divisor=1024,
               desc=name, disable=not progress, leave=False)
    try:
        with open(part, mode) as fh:
            while True:
                try:
                    block = resp.read(CHUNK)
                except (OSError, urllib.error.URLError) as e:
                    raise DownloadError(
                        f"connection lost while downloading {name}: {e}; run again to resume"
                    ) from None
                if not block:
                    break
                fh.write(block)
                bar.update(len(block))
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        bar.close()


def _verify(path: Path, want: str | None, url: str, *, delete: bool) -> None:
    if not want:
        return
    got = sha256_file(path)
    if got != want:
        if delete:
            path.unlink(missing_ok=True)
        raise ChecksumMismatch(
            f"SHA-256 mismatch for {path.name} from {url}: expected {want}, got {got}. "
            + ("The file was deleted; " if delete else f"Delete {path} and ")
            + "download again; if it keeps happening the published file changed."
        )


def _remember(path: Path, known: str | None, book: ChecksumBook | None) -> None:
    if book is None or known:
        return
    digest = sha256_file(path)
    book.record(path.name, digest)
    log.warning(
        "%s has no published checksum: recorded its SHA-256 %s in %s on this first download; "
        "later downloads must match it", path.name, digest, book.path,
    )
