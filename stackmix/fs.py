"""Files and folders written so that a kill, a crash or a full disk never leaves a half-written
artefact under its final name; text files read the same way everywhere.

* ``atomic_path`` / ``atomic_write_*``: write to a hidden temporary file next to the target,
  fsync, rename it into place.
* ``building_dir``: build a folder in a hidden temporary sibling, then swap it in.
* ``reserve``: claim disk space before a large write, so a full disk is an ``OSError`` naming the
  folder and the bytes needed (not a SIGBUS from a sparse memory map).
* ``remove_stale_temporaries``: temporary files/folders of this project that a killed process
  left behind (their owner process no longer runs).
* ``read_text``: UTF-8 with or without a BOM; a UTF-16/32 BOM or invalid bytes give a message
  naming the file, the line and what to do.
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import io
import json
import logging
import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Iterator

log = logging.getLogger(__name__)

#: every temporary name this project creates contains this marker, then the creator's host (a
#: short hash) and pid: ``.<name>.smtmp-<host>-<pid>-<random><suffix>``
TMP_MARK = ".smtmp-"
HOST_TAG = hashlib.sha1(socket.gethostname().encode()).hexdigest()[:8]


def _default_file_mode() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


_FILE_MODE = _default_file_mode()


class DiskFullError(OSError):
    """Not enough free space for an artefact; the message names the folder and the bytes."""


def _tmp_prefix(path: Path) -> str:
    return f".{path.name}{TMP_MARK}{HOST_TAG}-{os.getpid()}-"


def _disk_error(e: OSError, path: Path, nbytes: int | None = None) -> OSError:
    """``e`` re-raised with the folder, the bytes needed and the free space when the disk is full."""
    if isinstance(e, DiskFullError) or e.errno not in (errno.ENOSPC, errno.EDQUOT):
        return e
    folder = path.parent
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        free = None
    need = f"{nbytes / 1e6:.1f} MB needed" if nbytes is not None else "more space needed"
    have = f", {free / 1e6:.1f} MB free" if free is not None else ""
    err = DiskFullError(f"no space left in {folder} to write {path.name} ({need}{have}); "
                        "free some space or point the folder elsewhere")
    err.errno = e.errno
    return err


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path`` atomically.

    If the body raises, the temporary file is removed and ``path`` keeps its old content (or stays
    absent), so a killed or failed job never leaves a half-written artefact under the final name.
    A full disk raises ``DiskFullError`` naming the folder.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path),
                               suffix=suffix if suffix is not None else (path.suffix + ".tmp"),
                               dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        try:
            yield tmp_path
            with open(tmp_path, "rb+") as fh:
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as e:
            raise _disk_error(e, path) from None
        except RuntimeError as e:  # torch.save reports ENOSPC as a bare iostream error
            if _disk_full(path.parent):
                raise _disk_error(OSError(errno.ENOSPC, str(e)), path) from e
            raise
        os.chmod(tmp_path, _FILE_MODE)  # mkstemp makes 0600 files; artefacts get normal modes
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def _disk_full(folder: Path, margin: int = 1 << 20) -> bool:
    try:
        return shutil.disk_usage(folder).free < margin
    except OSError:
        return False


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


def atomic_write_text(path: str | os.PathLike, text: str, encoding: str = "utf-8") -> None:
    atomic_write_bytes(path, text.encode(encoding))


def atomic_write_json(path: str | os.PathLike, obj) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, ensure_ascii=False) + "\n")


def atomic_save_figure(fig, path: str | os.PathLike, **kwargs) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format=Path(path).suffix.lstrip(".") or "png", **kwargs)
    atomic_write_bytes(path, buf.getvalue())


def reserve(fh, nbytes: int, path: Path) -> None:
    """Allocate ``nbytes`` for the open file ``fh`` (at ``path``) now: a full disk fails here,
    with a message, instead of later inside a memory map (SIGBUS)."""
    try:
        if hasattr(os, "posix_fallocate"):
            os.posix_fallocate(fh.fileno(), 0, max(1, int(nbytes)))
        else:  # pragma: no cover - macOS/Windows: write the zeros (no sparse file)
            fh.truncate(0)
            chunk = b"\0" * (1 << 20)
            left = int(nbytes)
            while left > 0:
                left -= fh.write(chunk[: min(left, len(chunk))])
            fh.flush()
    except OSError as e:
        raise _disk_error(e, path, nbytes) from None


@contextlib.contextmanager
def building_dir(final: str | os.PathLike) -> Iterator[Path]:
    """Yield an empty hidden sibling folder of ``final``; when the body succeeds it replaces
    ``final`` (a reader sees the old or the new folder, never a mix). On failure it is removed."""
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=_tmp_prefix(final), dir=final.parent))
    try:
        yield tmp
        swap_dir(tmp, final)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def swap_dir(tmp: Path, final: Path) -> None:
    """Replace the folder ``final`` by ``tmp`` (both in the same parent)."""
    old = None
    if final.exists():
        old = final.parent / f"{_tmp_prefix(final)}old-{time.time_ns()}"
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def remove_stale_temporaries(folder: str | os.PathLike, glob: str = "*") -> list[Path]:
    """Remove this project's temporary files/folders in ``folder`` (matching ``glob``) whose
    creating process is gone (killed mid-write); returns what was removed. Only those made on
    this host are judged (a folder may be shared with other machines)."""
    folder = Path(folder)
    removed: list[Path] = []
    if not folder.is_dir():
        return removed
    for p in folder.glob(glob):
        name = p.name
        if TMP_MARK not in name:
            continue
        host, _, rest = name.split(TMP_MARK, 1)[1].partition("-")
        try:
            pid = int(rest.split("-", 1)[0])
        except ValueError:
            continue
        if host != HOST_TAG or _pid_alive(pid):
            continue
        try:
            if p.is_dir() and not p.is_symlink():
                shutil.rmtree(p)
            else:
                p.unlink()
        except OSError as e:  # pragma: no cover - permissions
            log.warning("could not remove the stale temporary %s: %s", p, e)
            continue
        removed.append(p)
    if removed:
        log.info("removed %d temporary file(s) left by a killed process in %s", len(removed), folder)
    return removed


class TextDecodeError(ValueError):
    """A text file is not UTF-8 (the message names the file, the line and the fix)."""


_BOMS = {
    b"\xff\xfe\x00\x00": "UTF-32 LE", b"\x00\x00\xfe\xff": "UTF-32 BE",
    b"\xff\xfe": "UTF-16 LE", b"\xfe\xff": "UTF-16 BE",
}


def decode_text(raw: bytes, path: str | os.PathLike) -> str:
    """``raw`` as UTF-8 (a UTF-8 BOM is dropped). A UTF-16/32 file (by its BOM) or invalid UTF-8
    raises ``TextDecodeError`` naming the file, the encoding or line, and how to convert."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    for bom, enc in _BOMS.items():
        if raw.startswith(bom):
            code = enc.replace(" ", "").lower().replace("utf", "utf-")  # utf-16le
            code = code.replace("--", "-")
            raise TextDecodeError(
                f"{path} is {enc} encoded (it starts with a {enc} byte-order mark); save it as "
                f"UTF-8 (e.g. `iconv -f {code} -t utf-8`).")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise TextDecodeError(
            f"{path}: line {line} is not valid UTF-8 (byte {raw[e.start]:#04x} at offset "
            f"{e.start}). Save the file as UTF-8 (e.g. `iconv -f latin1 -t utf-8` if it is "
            "Latin-1/Windows-1252).") from None


def read_text(path: str | os.PathLike) -> str:
    """The text of a UTF-8 file (BOM or not); ``TextDecodeError`` otherwise (see ``decode_text``)."""
    return decode_text(Path(path).read_bytes(), path)


# ------------------------------------------------------------------ files in use by readers
# POSIX advisory locks (``flock``): a reader holds a shared lock on a file it uses for as long as
# it runs; a writer that wants to delete an old version deletes it only if nobody holds one.
# (``filelock`` offers exclusive locks only; where ``fcntl`` is missing, nothing is held and old
# versions are kept.)
def hold_shared(path: str | os.PathLike):
    """Open ``path`` and hold a shared lock on it (until the returned file is closed or the process
    ends); None if it does not exist."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        return None
    try:
        import fcntl

        fcntl.flock(fh.fileno(), fcntl.LOCK_SH)
    except ImportError:  # pragma: no cover - Windows
        pass
    return fh


def unused(path: str | os.PathLike) -> bool:
    """True when no process holds a lock on ``path`` (``hold_shared``)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: cannot tell, keep the file
        return False
    try:
        with open(path, "rb") as fh:
            try:
                fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                return False
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)
            return True
    except FileNotFoundError:
        return False


def check_writable(path: str | os.PathLike) -> Path:
    """Fail now, naming ``path``, if a file cannot be written there later (missing permission,
    read-only file system, a file where a folder should be): check before long work."""
    path = Path(path)
    if path.is_dir():
        raise OSError(errno.EISDIR, f"cannot write {path}: it is a folder; give a file name")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=_tmp_prefix(path), suffix=".check", dir=path.parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise OSError(e.errno, f"cannot write {path}: {e.strerror or e}") from None
    return path
