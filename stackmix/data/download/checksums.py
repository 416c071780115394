"""SHA-256 of files, and :class:`ChecksumBook`: digests recorded on first download (trust on first
use) for sources that publish none."""
from __future__ import annotations

import hashlib
import json
import os
import re
from pathlib import Path

from stackmix.data.download.errors import DownloadError

__all__ = ["CHUNK", "ChecksumBook", "norm_sha", "sha256_file"]

CHUNK = 1 << 20


def sha256_file(path: str | os.PathLike, chunk: int = CHUNK) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def norm_sha(value: str | None) -> str | None:
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
        return norm_sha(self._load().get(name))

    def record(self, name: str, digest: str) -> None:
        from stackmix.fs import atomic_write_json

        data = self._load()
        data[name] = digest
        atomic_write_json(self.path, dict(sorted(data.items())))
