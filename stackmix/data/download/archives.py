"""Safe extraction of tar (any compression) and zip archives into a fresh folder: members that would
land outside it (absolute paths, ``..``, links pointing out, devices) are refused; a truncated or
corrupt archive raises :class:`ArchiveError`; on failure the partial output is removed."""
from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
import tarfile
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from stackmix.data.download.errors import ArchiveError, UnsafeArchiveError
from stackmix.fs import building_dir

__all__ = ["archive_kind", "extract", "extracted"]


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
