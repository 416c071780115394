"""Safe archive extraction: traversal, links out, truncated archives; nothing left on failure."""
from __future__ import annotations

import io
import os
import tarfile
import zipfile
from pathlib import Path

import pytest

from stackmix.data.download import ArchiveError, UnsafeArchiveError, extract

def _tar(path: Path, members: dict[str, bytes], mode: str = "w:gz", symlink: tuple | None = None):
    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        if symlink:
            info = tarfile.TarInfo(symlink[0])
            info.type = tarfile.SYMTYPE
            info.linkname = symlink[1]
            tf.addfile(info)
    return path


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_extract_tar_and_zip(tmp_path):
    _tar(tmp_path / "a.tar.gz", {"top/x.txt": b"x", "top/sub/y.txt": b"y"})
    out = extract(tmp_path / "a.tar.gz", tmp_path / "a")
    assert (out / "top" / "sub" / "y.txt").read_bytes() == b"y"
    with zipfile.ZipFile(tmp_path / "b.zip", "w") as zf:
        zf.writestr("dir/z.txt", "z")
    out = extract(tmp_path / "b.zip", tmp_path / "b")
    assert (out / "dir" / "z.txt").read_text() == "z"


@pytest.mark.parametrize("name", ["../evil.txt", "top/../../evil.txt", "/abs/evil.txt"])
def test_tar_traversal_refused(tmp_path, name):
    _tar(tmp_path / "bad.tar", {"ok.txt": b"ok", name: b"evil"}, mode="w")
    with pytest.raises(UnsafeArchiveError):
        extract(tmp_path / "bad.tar", tmp_path / "out" / "x")
    assert not (tmp_path / "out" / "x").exists()
    assert not (tmp_path / "evil.txt").exists()
    assert _leftovers(tmp_path / "out") == []


def test_tar_symlink_out_refused(tmp_path):
    _tar(tmp_path / "bad.tgz", {"a.txt": b"a"}, symlink=("link", "/etc/passwd"))
    with pytest.raises(UnsafeArchiveError):
        extract(tmp_path / "bad.tgz", tmp_path / "out" / "x")
    assert _leftovers(tmp_path / "out") == []


@pytest.mark.parametrize("name", ["../evil.txt", "/abs.txt", "a/../../evil.txt"])
def test_zip_traversal_refused(tmp_path, name):
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        zf.writestr("ok.txt", "ok")
        zf.writestr(zipfile.ZipInfo(name), "evil")
    with pytest.raises(UnsafeArchiveError):
        extract(tmp_path / "bad.zip", tmp_path / "out" / "x")
    assert _leftovers(tmp_path / "out") == []
    assert not (tmp_path / "evil.txt").exists()


def test_truncated_archives(tmp_path):
    big = {f"d/f{i}.bin": os.urandom(50_000) for i in range(4)}
    data = _tar(tmp_path / "full.tar.gz", big).read_bytes()
    (tmp_path / "cut.tar.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(ArchiveError, match="truncated or corrupt"):
        extract(tmp_path / "cut.tar.gz", tmp_path / "out" / "x")
    assert _leftovers(tmp_path / "out") == []
    with zipfile.ZipFile(tmp_path / "full.zip", "w") as zf:
        for k, v in big.items():
            zf.writestr(k, v)
    z = (tmp_path / "full.zip").read_bytes()
    (tmp_path / "cut.zip").write_bytes(z[: len(z) // 2])
    with pytest.raises(ArchiveError):
        extract(tmp_path / "cut.zip", tmp_path / "out" / "y")
    assert _leftovers(tmp_path / "out") == []
