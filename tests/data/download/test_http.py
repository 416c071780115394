"""Downloads (resume, checksum, trust-on-first-use, Drive confirm page) against a local HTTP
server. No internet."""
from __future__ import annotations

import hashlib
import http.server
import threading

import pytest

from stackmix.data.download import ChecksumBook, ChecksumMismatch, DownloadError, download

PAYLOAD = bytes(range(256)) * 4000  # 1,024,000 bytes


class Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    log: list[dict] = []
    honour_range = True
    cut_after: int | None = None  # close the connection after this many body bytes

    def log_message(self, *a):  # quiet
        pass

    def do_GET(self):
        path = self.path.split("?")[0]
        Handler.log.append({"path": self.path, "range": self.headers.get("Range")})
        if path == "/drive":
            body = (b'<html><body><form id="download-form" action="/real" method="get">'
                    b'<input type="hidden" name="id" value="abc"><input type="hidden" '
                    b'name="confirm" value="t"></form></body></html>')
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        if path == "/real":
            path = "/file.bin"
        data = Handler.files.get(path)
        if data is None:
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng and Handler.honour_range:
            start = int(rng.split("=")[1].split("-")[0])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if Handler.cut_after is not None:
            self.wfile.write(body[: Handler.cut_after])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    Handler.files = {"/file.bin": PAYLOAD}
    Handler.log = []
    Handler.honour_range = True
    Handler.cut_after = None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    t = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


SHA = hashlib.sha256(PAYLOAD).hexdigest()


def test_download_verifies_sha256(server, tmp_path):
    dest = download(f"{server}/file.bin", tmp_path / "f.bin", SHA, progress=False)
    assert dest.read_bytes() == PAYLOAD
    assert not (tmp_path / "f.bin.part").exists()
    # present and valid: no new request
    n = len(Handler.log)
    download(f"{server}/file.bin", tmp_path / "f.bin", SHA, progress=False)
    assert len(Handler.log) == n


def test_wrong_checksum_is_refused_and_nothing_kept(server, tmp_path):
    with pytest.raises(ChecksumMismatch, match="SHA-256 mismatch"):
        download(f"{server}/file.bin", tmp_path / "f.bin", "0" * 64, progress=False)
    assert not (tmp_path / "f.bin").exists()
    assert not (tmp_path / "f.bin.part").exists()


def test_resume_with_range(server, tmp_path):
    (tmp_path / "f.bin.part").write_bytes(PAYLOAD[:300_000])
    download(f"{server}/file.bin", tmp_path / "f.bin", SHA, progress=False)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert Handler.log[-1]["range"] == "bytes=300000-"


def test_server_ignoring_range_restarts(server, tmp_path):
    Handler.honour_range = False
    (tmp_path / "f.bin.part").write_bytes(b"garbage" * 10)
    download(f"{server}/file.bin", tmp_path / "f.bin", SHA, progress=False)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD


def test_truncated_transfer_raises_then_resumes(server, tmp_path):
    Handler.cut_after = 100_000
    with pytest.raises(DownloadError, match="stopped at 100000 of 1024000 bytes"):
        download(f"{server}/file.bin", tmp_path / "f.bin", SHA, progress=False)
    assert not (tmp_path / "f.bin").exists()
    assert (tmp_path / "f.bin.part").stat().st_size == 100_000
    Handler.cut_after = None
    download(f"{server}/file.bin", tmp_path / "f.bin", SHA, progress=False)
    assert (tmp_path / "f.bin").read_bytes() == PAYLOAD
    assert Handler.log[-1]["range"] == "bytes=100000-"


def test_http_error_is_clear(server, tmp_path):
    with pytest.raises(DownloadError, match="HTTP 404"):
        download(f"{server}/missing.bin", tmp_path / "m.bin", progress=False)
    assert not (tmp_path / "m.bin").exists()


def test_drive_confirmation_page_is_followed(server, tmp_path):
    download(f"{server}/drive", tmp_path / "d.bin", SHA, progress=False)
    assert (tmp_path / "d.bin").read_bytes() == PAYLOAD
    assert Handler.log[-1]["path"].startswith("/real?") and "confirm=t" in Handler.log[-1]["path"]


def test_file_url_and_trust_on_first_use(tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(PAYLOAD)
    book = ChecksumBook(tmp_path / "dl" / "sha256_recorded.json")
    out = download(src.as_uri(), tmp_path / "dl" / "a.tar.gz", None, progress=False,
                   checksum_book=book)
    assert out.read_bytes() == PAYLOAD
    assert book.get("a.tar.gz") == SHA
    # the published file changes: the recorded digest refuses it
    out.unlink()
    src.write_bytes(PAYLOAD[::-1])
    with pytest.raises(ChecksumMismatch):
        download(src.as_uri(), tmp_path / "dl" / "a.tar.gz", None, progress=False,
                 checksum_book=book)
    assert not (tmp_path / "dl" / "a.tar.gz").exists()


def test_unsupported_scheme(tmp_path):
    with pytest.raises(DownloadError, match="unsupported URL scheme"):
        download("ftp://example.org/x", tmp_path / "x", progress=False)
