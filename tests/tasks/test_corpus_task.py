"""`prepare.py task=corpus name=corpora`: download (local HTTP server), safe unpacking, report."""
from __future__ import annotations

import functools
import http.server
import io
import json
import tarfile
import threading
from pathlib import Path

import pytest
from hydra import compose, initialize_config_module

from stackmix import resolvers  # noqa: F401
from stackmix.data.download import UnsafeArchiveError
from stackmix.tasks import corpus as corpus_task

LATIN = "in principio erat uerbum et uerbum erat apud deum\nAmen. Dico uobis & cetera\n"


def _tar(path: Path, members: dict[str, bytes]) -> None:
    with tarfile.open(path, "w:gz") as tf:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "www"
    root.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(root))
    handler.log_message = lambda *a: None
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield root, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()


def _cfg(tmp_path, url, *extra):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        return compose("prepare", overrides=[
            "task=corpus", "name=corpora", f"paths.data_dir={tmp_path}/data",
            f"paths.cache_dir={tmp_path}/cache", f"task.sources.corpora.url={url}", *extra])


def test_downloads_unpacks_and_reports(served, tmp_path):
    www, base = served
    _tar(www / "corpora.tar.gz", {"corpora/latin_corpus.txt": LATIN.encode(),
                                  "corpora/jigsaw_corpus.txt": b"hello world\n"})
    cfg = _cfg(tmp_path, f"{base}/corpora.tar.gz", "dataset=saintgall", "task.report=true")
    out = corpus_task.run(cfg)
    corpora = tmp_path / "data" / "corpora"
    assert out["out"] == str(corpora)
    # the archive's single top folder is flattened: the dataset configs' paths resolve
    assert (corpora / "latin_corpus.txt").read_text(encoding="utf-8") == LATIN
    assert Path(str(cfg.dataset.corpus)) == corpora / "latin_corpus.txt"
    assert set(out["files"]) == {"latin_corpus.txt", "jigsaw_corpus.txt"}
    book = json.loads((tmp_path / "data" / "downloads" / "sha256_recorded.json").read_text())
    assert list(book) == ["corpora.tar.gz"] and len(book["corpora.tar.gz"]) == 64
    rep = out["report"]
    assert rep["read"] == 2 and rep["usable"] >= 2 and rep["dropped_chars"] == 0
    # a second run keeps what is there, without network
    (www / "corpora.tar.gz").unlink()
    assert corpus_task.run(_cfg(tmp_path, f"{base}/corpora.tar.gz"))["files"] == out["files"]


def test_unsafe_archive_is_refused_and_leaves_nothing(served, tmp_path):
    www, base = served
    _tar(www / "evil.tar.gz", {"corpora/ok.txt": b"a\n", "../../evil.txt": b"x\n"})
    with pytest.raises(UnsafeArchiveError):
        corpus_task.run(_cfg(tmp_path, f"{base}/evil.tar.gz", "task.sources.corpora.file=evil.tar.gz"))
    assert not (tmp_path / "data" / "corpora").exists()
    assert not list((tmp_path / "data").glob(".corpora*"))
    assert not (tmp_path / "evil.txt").exists()


def test_unknown_corpus_name(tmp_path):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("prepare", overrides=["task=corpus", "name=nope",
                                            f"paths.data_dir={tmp_path}/data"])
    with pytest.raises(SystemExit, match="unknown corpus 'nope'; known: corpora"):
        corpus_task.run(cfg)


def test_default_source_is_the_original_drive_archive():
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("prepare", overrides=["task=corpus", "name=corpora"])
    assert cfg.task.sources.corpora.gdrive_id == "1C9hSJ2R72dgZIdrwIRW0GGjVxiAlWo3G"
    assert cfg.task.name == "corpus" and cfg.task.corpus == "corpora"


@pytest.mark.parametrize("name,file", [
    ("bentham", "jigsaw_corpus.txt"), ("iam", "jigsaw_corpus.txt"),
    ("iam_tbluche", "jigsaw_corpus.txt"), ("washington", "jigsaw_corpus.txt"),
    ("hkr", "wiki_russian.txt"), ("peter", "old_russian.txt"), ("saintgall", "latin_corpus.txt"),
    ("schwerin", "german_corpus.txt"), ("konzil", "german_corpus.txt"),
    ("patzig", "german_corpus.txt"), ("schiller", "german_corpus.txt"),
    ("ricordi", "italian_corpus.txt")])
def test_each_paper_dataset_names_its_corpus(name, file, tmp_path):
    with initialize_config_module("stackmix.conf", version_base="1.3"):
        cfg = compose("prepare", overrides=["task=corpus", f"dataset={name}",
                                            f"paths.data_dir={tmp_path}"])
    assert Path(str(cfg.dataset.corpus)) == Path(str(cfg.task.out)) / file
