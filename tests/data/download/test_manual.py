"""The message for sources behind a login: where to register, what to put where."""
from __future__ import annotations

from stackmix.data.download import manual_download_message

def test_manual_message_says_where_to_register_and_put_files(tmp_path):
    msg = manual_download_message("iam", {
        "access": "registration required",
        "register": "https://fki.example/register",
        "homepage": "https://fki.example/iam",
        "files": [{"name": "lines.tgz", "note": "line images"}],
        "layout": "lines/a01/...",
    }, tmp_path / "raw")
    assert "https://fki.example/register" in msg and "lines.tgz" in msg
    assert str(tmp_path / "raw") in msg and "lines/a01/..." in msg
    assert "python prepare.py task=dataset dataset=iam" in msg
