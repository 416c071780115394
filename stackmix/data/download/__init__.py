"""Downloads and archive extraction for dataset preparation.

Modules: ``http`` (downloads), ``checksums`` (SHA-256, :class:`ChecksumBook`), ``archives``
(safe extraction), ``errors``; this package re-exports them and writes the message for sources
behind a login (:func:`manual_download_message`).

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

import os

from stackmix.data.download.archives import archive_kind, extract, extracted
from stackmix.data.download.checksums import ChecksumBook, sha256_file
from stackmix.data.download.errors import (ArchiveError, ChecksumMismatch, DownloadError,
                                           ManualDownloadRequired, UnsafeArchiveError)
from stackmix.data.download.http import download, gdrive_url

__all__ = ["ArchiveError", "ChecksumBook", "ChecksumMismatch", "DownloadError",
           "ManualDownloadRequired", "UnsafeArchiveError", "archive_kind", "download", "extract",
           "extracted", "gdrive_url", "manual_download_message", "sha256_file"]


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
