"""Downloads against a file server on 127.0.0.1: resume, restart, checksum refusal, no network."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from gan_repro import download
from gan_repro.download import fetch
from gan_repro.errors import DatasetError
from tests.helpers import compose_config, idx_bytes, load_dataset

pytestmark = pytest.mark.unit


class FileServer(http.server.BaseHTTPRequestHandler):
    """Serves FILES by path; honours Range unless IGNORE_RANGE; records the Range headers it saw."""

    FILES: dict[str, bytes] = {}
    IGNORE_RANGE = False
    RANGES: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        body = self.FILES.get(self.path)
        if body is None:
            self.send_error(404)
            return
        requested = self.headers.get("Range")
        self.RANGES.append(requested)
        honoured = requested and not self.IGNORE_RANGE
        start = int(requested.removeprefix("bytes=").split("-")[0]) if honoured else 0
        self.send_response(206 if start else 200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        self.wfile.write(body[start:])

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server():
    """A threaded server on a free loopback port; yields its base URL."""
    FileServer.FILES, FileServer.IGNORE_RANGE, FileServer.RANGES = {}, False, []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FileServer)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def payload(size: int = 50_000) -> tuple[bytes, str]:
    data = np.random.default_rng(0).integers(0, 256, size, dtype=np.uint8).tobytes()
    return data, hashlib.md5(data).hexdigest()


def test_fetch_whole_file(server: str, tmp_path: Path) -> None:
    data, md5 = payload()
    FileServer.FILES["/f.bin"] = data
    assert fetch(f"{server}/f.bin", tmp_path / "f.bin", md5).read_bytes() == data
    assert not (tmp_path / "f.bin.part").exists()


def test_fetch_resumes_a_partial_file(server: str, tmp_path: Path) -> None:
    data, md5 = payload()
    FileServer.FILES["/f.bin"] = data
    (tmp_path / "f.bin.part").write_bytes(data[:20_000])  # an earlier download cut off here
    assert fetch(f"{server}/f.bin", tmp_path / "f.bin", md5).read_bytes() == data
    assert FileServer.RANGES == ["bytes=20000-"]


def test_fetch_restarts_when_the_server_ignores_ranges(server: str, tmp_path: Path) -> None:
    data, md5 = payload()
    FileServer.FILES["/f.bin"], FileServer.IGNORE_RANGE = data, True
    (tmp_path / "f.bin.part").write_bytes(b"stale bytes")
    assert fetch(f"{server}/f.bin", tmp_path / "f.bin", md5).read_bytes() == data


def test_checksum_mismatch_is_refused_and_cleaned(server: str, tmp_path: Path) -> None:
    data, md5 = payload()
    FileServer.FILES["/f.bin"] = data[:-1] + b"X"  # one byte off
    with pytest.raises(DatasetError, match="not the published") as error:
        fetch(f"{server}/f.bin", tmp_path / "f.bin", md5)
    assert error.value.setting == "dataset.download"
    assert not (tmp_path / "f.bin").exists() and not (tmp_path / "f.bin.part").exists()


def test_no_network_says_where_to_put_the_file(tmp_path: Path) -> None:
    with socket.socket() as probe:  # a loopback port with nothing listening
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(DatasetError, match="by hand") as error:
        fetch(
            f"http://127.0.0.1:{port}/train-images-idx3-ubyte.gz",
            tmp_path / "train-images-idx3-ubyte.gz",
            "0" * 32,
            timeout=5,
        )
    assert str(tmp_path) in error.value.message and "train-images-idx3-ubyte.gz" in error.value.message


def test_mnist_download_end_to_end(server: str, tmp_path: Path, monkeypatch) -> None:
    pixels = np.random.default_rng(1).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    archive = gzip.compress(idx_bytes(pixels))
    FileServer.FILES["/mirror/train-images-idx3-ubyte.gz"] = archive
    monkeypatch.setitem(
        download.SOURCES,
        "mnist",
        ("unused", {"train-images-idx3-ubyte.gz": hashlib.md5(archive).hexdigest()}),
    )
    cfg = compose_config(
        [
            "dataset=mnist",
            f"dataset.root={tmp_path / 'new'}",
            "dataset.download=true",
            f"dataset.download_url={server}/mirror/",
            "dataset.image_size=16",
        ]
    )
    download.download_dataset(cfg.dataset)
    assert len(load_dataset(cfg.dataset)) == 7
    download.download_dataset(cfg.dataset)  # already there and verified: nothing fetched again
    assert len(FileServer.RANGES) == 1
