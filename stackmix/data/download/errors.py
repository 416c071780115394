"""The errors of downloading and unpacking (one module, so that every part can raise them)."""
from __future__ import annotations

__all__ = ["ArchiveError", "ChecksumMismatch", "DownloadError", "ManualDownloadRequired",
           "UnsafeArchiveError"]


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
