"""Downloads and archive extraction for dataset preparation.

* :func:`download` fetches a URL (``http(s)://`` or ``file://``) into a file: it resumes an
  interrupted transfer with an HTTP ``Range`` request (the partial data lives in ``<dest>.part``),
  checks the size the server announced, verifies the SHA-256 when one is known and refuses a
  mismatch (the bad data is deleted, nothing appears under the final name), and shows a tqdm
  progress bar. Only the standard library (urllib) is used.
* Google Drive files (the original StackMix-OCR prepared archives) go through
  :func:`gdrive_url`; Drive answers large files with an HTML "can't scan for viruses" page whose
  form leads to the real file, which :func:`download` follows.
* Sources without a published checksum use :class:`ChecksumBook`: the SHA-256 seen on the first
  download is recorded (trust on first use) and every later download must match it.
* :func:`extract` unpacks tar (any compression) and zip archives into a fresh folder, refusing
  members that would land outside it (absolute paths, ``..``, links pointing out, devices): tar
  goes through ``filter='data'``, zip members are checked one by one. A truncated or corrupt
  archive raises :class:`ArchiveError`; in every failure the partial output is removed.
* :class:`ManualDownloadRequired` carries the message for sources behind a login.
"""
from __future__ import annotations

import contextlib
import hashlib
import html
import json
import logging
import os
import re
import shutil
import stat
import tarfile
import tempfile
import urllib.error
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path, PurePosixPath

from stackmix.fs import building_dir

log = logging.getLogger(__name__)

CHUNK = 1 << 20
USER_AGENT = "stackmix-htr-prepare/0.1 (+python urllib)"


class DownloadError(RuntimeError):
    """A download failed (network error, HTTP error, truncated transfer)."""


class ChecksumMismatch(DownloadError):
    """The downloaded bytes do not have the expected SHA-256."""


class ArchiveError(RuntimeError):
    """An archive is corrupt, truncated, of an unknown type or holds unsafe members."""


class UnsafeArchiveError(ArchiveError):
    """An archive member would be written outside the target folder (path traversal, links)."""


class ManualDownloadRequired(RuntimeError):
    """The source needs a login or a form: the message says where to register and what to put where."""


# ----------------------------------------------------------------------------------- hashing
def sha256_file(path: str | os.PathLike, chunk: int = CHUNK) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def _norm_sha(value: str | None) -> str | None:
    if value is None:
        return None
    value = str(value).strip().lower()
    if not value:
        return None
    if not re.fullmatch(r"[0-9a-f]{64}", value):
        raise ValueError(f"not a SHA-256 hex digest: {value!r}")
    return value


class ChecksumBook:
    """SHA-256 digests recorded on first download, kept as JSON (``{file name: digest}``).

    Used for sources that publish no checksum (e.g. the original authors' Google Drive
    archives): the first download is trusted and its digest written here; later downloads of the
    same name must match it, so a silently changed or corrupted file is refused.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def _load(self) -> dict:
        if not self.path.is_file():
            return {}
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise DownloadError(f"cannot read the checksum record {self.path}: {e}") from None
        return data if isinstance(data, dict) else {}

    def get(self, name: str) -> str | None:
        return _norm_sha(self._load().get(name))

    def record(self, name: str, digest: str) -> None:
        from stackmix.fs import atomic_write_json

        data = self._load()
        data[name] = digest
        atomic_write_json(self.path, dict(sorted(data.items())))


# ----------------------------------------------------------------------------------- HTTP
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
    expected = _norm_sha(sha256)
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


# ----------------------------------------------------------------------------------- extraction
def archive_kind(path: str | os.PathLike) -> str | None:
    """``"tar"``, ``"zip"`` or ``None`` (not an archive we can read), by content, not by name."""
    path = Path(path)
    if zipfile.is_zipfile(path):
        return "zip"
    try:
        if tarfile.is_tarfile(path):
            return "tar"
    except (OSError, EOFError, tarfile.TarError):
        pass
    name = path.name.lower()
    if name.endswith((".tar", ".tgz", ".tar.gz", ".tbz", ".tbz2", ".tar.bz2", ".txz", ".tar.xz")):
        return "tar"  # unreadable, but meant as one: extract() reports it as corrupt
    return None


def _safe_member_path(name: str, root: Path) -> Path:
    if "\x00" in name:
        raise UnsafeArchiveError(f"archive member {name!r} has a NUL byte in its name")
    pure = PurePosixPath(name.replace("\\", "/"))
    if pure.is_absolute() or re.match(r"^[A-Za-z]:", name) or name.startswith(("/", "\\")):
        raise UnsafeArchiveError(f"archive member {name!r} has an absolute path")
    if ".." in pure.parts:
        raise UnsafeArchiveError(f"archive member {name!r} points outside the target folder (..)")
    target = (root / Path(*pure.parts)).resolve() if pure.parts else root
    if not target.is_relative_to(root):
        raise UnsafeArchiveError(f"archive member {name!r} would be written outside {root}")
    return target


def _extract_zip(path: Path, into: Path) -> None:
    root = into.resolve()
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            for info in infos:
                _safe_member_path(info.filename, root)
                mode = (info.external_attr >> 16) & 0xFFFF
                if stat.S_ISLNK(mode):
                    raise UnsafeArchiveError(f"archive member {info.filename!r} is a symbolic link")
            bad = zf.testzip()
            if bad is not None:
                raise ArchiveError(f"{path.name}: member {bad!r} is corrupt (CRC mismatch)")
            for info in infos:
                zf.extract(info, root)
    except zipfile.BadZipFile as e:
        raise ArchiveError(f"{path.name} is not a valid zip archive (truncated?): {e}") from None
    except (EOFError, zipfile.LargeZipFile) as e:
        raise ArchiveError(f"{path.name} is truncated or unreadable: {e}") from None


def _extract_tar(path: Path, into: Path) -> None:
    root = into.resolve()
    try:
        with tarfile.open(path, "r:*") as tf:
            for member in tf:  # reading every header first finds truncation and bad names early
                _safe_member_path(member.name, root)
            tf.extractall(root, filter="data")
    except tarfile.FilterError as e:
        raise UnsafeArchiveError(f"{path.name}: unsafe member refused: {e}") from None
    except (EOFError, tarfile.ReadError, tarfile.CompressionError, OSError) as e:
        if isinstance(e, UnsafeArchiveError):
            raise
        raise ArchiveError(f"{path.name} is truncated or corrupt: {e}") from None


def extract(archive: str | os.PathLike, dest: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Unpack ``archive`` into the folder ``dest`` (created; must not exist unless ``overwrite``).

    The archive is unpacked into a temporary sibling folder and renamed to ``dest`` only when
    every member came out safely, so a failure leaves nothing behind.
    """
    archive = Path(archive)
    dest = Path(dest)
    if not archive.is_file():
        raise ArchiveError(f"archive not found: {archive}")
    kind = archive_kind(archive)
    if kind is None:
        raise ArchiveError(f"{archive} is neither a tar nor a zip archive")
    if dest.exists() and not overwrite:
        raise ArchiveError(f"{dest} already exists; remove it or extract elsewhere")
    with building_dir(dest) as tmp:  # swapped in only when every member came out safely
        (_extract_zip if kind == "zip" else _extract_tar)(archive, tmp)
    return dest


@contextlib.contextmanager
def extracted(archive: str | os.PathLike, parent: str | os.PathLike | None = None):
    """Extract ``archive`` into a temporary folder for the duration of the ``with`` block."""
    archive = Path(archive)
    base = Path(tempfile.mkdtemp(prefix=f".{archive.name}.", dir=parent or archive.parent))
    try:
        yield extract(archive, base / "x")
    finally:
        shutil.rmtree(base, ignore_errors=True)


def manual_download_message(name: str, source: dict, raw: str | os.PathLike) -> str:
    """What a user must do for a source behind a login/form: where to register, what to put where."""
    lines = [f"Dataset {name!r} cannot be downloaded automatically"
             + (f" ({source.get('access')})" if source.get("access") else "") + "."]
    if source.get("register"):
        lines.append(f"1. Register / request access: {source['register']}")
    if source.get("homepage"):
        lines.append(f"{'2' if source.get('register') else '1'}. Download from: {source['homepage']}")
    files = source.get("files") or []
    if files:
        lines.append("   the files:")
        for f in files:
            if isinstance(f, dict):
                note = f" ({f['note']})" if f.get("note") else ""
                lines.append(f"     - {f.get('name')}{note}")
            else:
                lines.append(f"     - {f}")
    lines.append(f"Put them (archives or their extracted content) in: {raw}")
    if source.get("layout"):
        lines.append("Expected layout there:")
        lines += ["    " + ln for ln in str(source["layout"]).rstrip().splitlines()]
    lines.append(f"then run: python prepare.py task=dataset dataset={name} raw={raw}")
    if source.get("original_archive"):
        lines.append(f"(or use the original authors' prepared archive: "
                     f"python prepare.py task=dataset dataset={name} task.source=original_archive "
                     "task.download=true)")
    return "\n".join(lines)
