"""Tests for data.download against a local threaded HTTP server (never the internet)."""

from __future__ import annotations

import hashlib
import http.server
import logging
import os
import re
import socket
import threading
import time
from pathlib import Path

import pytest

from data.download import (
    ChecksumError,
    DownloadError,
    OfflineError,
    SizeMismatchError,
    default_cache_dir,
    fetch,
    sha256_of,
)
from tests.local_http import bypass_proxies, serving

PAYLOAD = bytes(range(256)) * 1200 + b"tail"  # 307 204 bytes, not a multiple of anything
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
FAST = {"retries": 0, "progress": False, "timeout": 5.0, "backoff": 0.01}


# --------------------------------------------------------------------------- test server


class _Server(http.server.ThreadingHTTPServer):
    """Serves ``files``; knobs (set by a test) change the behaviour of the next answers."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.files: dict[str, bytes] = {"/file.bin": PAYLOAD}
        self.requests: list[dict[str, str | None]] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()
        self.cut_after: int | None = None  # one shot: close the connection after K body bytes
        self.fail_500: int = 0  # answer 500 this many times
        self.ignore_range = False  # always answer 200 with the whole file
        self.stall_before_headers = 0.0  # seconds to wait before answering
        self.stall_after: tuple[int, float] | None = None  # (K, seconds): stall after K bytes
        self.delay_body = 0.0  # seconds to wait between headers and body

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def gets(self) -> list[dict[str, str | None]]:
        with self.lock:
            return list(self.requests)

    def handle_error(self, request, client_address) -> None:  # noqa: ANN001
        pass  # broken pipes after client timeouts are expected


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args) -> None:  # noqa: A002, ANN001
        pass

    def do_GET(self) -> None:  # noqa: N802
        srv = self.server
        with srv.lock:
            srv.requests.append(
                {"path": self.path, "range": self.headers.get("Range"), "if-range": self.headers.get("If-Range")}
            )
            fail = srv.fail_500 > 0
            if fail:
                srv.fail_500 -= 1
            cut, srv.cut_after = srv.cut_after, None
        if srv.stall_before_headers and srv.stop.wait(srv.stall_before_headers):
            return
        if fail:
            return self._send_status(500)
        body = srv.files.get(self.path.removesuffix("?chunked"))
        if body is None:
            return self._send_status(404)
        if self.path.endswith("?chunked"):  # no Content-Length, no resume support
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 70_000):
                piece = body[i : i + 70_000]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(piece), piece))
            self.wfile.write(b"0\r\n\r\n")
            return

        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match and not srv.ignore_range:
            start = int(match.group(1))
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.send_header("ETag", '"v1"')
        self.end_headers()
        if srv.delay_body and srv.stop.wait(srv.delay_body):
            return
        data = body[start:]
        if cut is not None:
            self.wfile.write(data[:cut])
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if srv.stall_after is not None:
            k, seconds = srv.stall_after
            self.wfile.write(data[:k])
            if srv.stop.wait(seconds):
                return
            data = data[k:]
        self.wfile.write(data)

    def _send_status(self, code: int) -> None:
        body = f"status {code}\n".encode()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    bypass_proxies(monkeypatch)


@pytest.fixture
def server():
    with serving(_Server()) as srv:
        yield srv


def _closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


# --------------------------------------------------------------------------- HTTP


def test_download_with_matching_sha256(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "sub" / "file.bin"
    result = fetch(f"{server.url}/file.bin", dest=dest, sha256=PAYLOAD_SHA.upper(), size=len(PAYLOAD), **FAST)
    assert result == dest
    assert dest.read_bytes() == PAYLOAD
    assert _leftovers(dest.parent) == ["file.bin"]
    assert [r["range"] for r in server.gets()] == [None]


def test_download_without_checks_and_with_progress_bar(
    server: _Server, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    dest = tmp_path / "file.bin"
    fetch(f"{server.url}/file.bin", dest=dest, retries=0, progress=True, chunk_size=4096)
    assert dest.read_bytes() == PAYLOAD
    assert "file.bin" in capsys.readouterr().err  # tqdm's bar names the file


def test_chunked_response_without_content_length(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "file.bin"
    fetch(f"{server.url}/file.bin?chunked", dest=dest, sha256=PAYLOAD_SHA, size=len(PAYLOAD), **FAST)
    assert dest.read_bytes() == PAYLOAD


def test_cache_hit_does_not_contact_the_server(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "file.bin"
    fetch(f"{server.url}/file.bin", dest=dest, sha256=PAYLOAD_SHA, **FAST)
    assert len(server.gets()) == 1
    mtime = dest.stat().st_mtime_ns
    for kwargs in ({"sha256": PAYLOAD_SHA}, {"size": len(PAYLOAD)}, {}):
        assert fetch(f"{server.url}/file.bin", dest=dest, **kwargs, **FAST) == dest
    assert len(server.gets()) == 1
    assert dest.stat().st_mtime_ns == mtime


def test_cached_file_that_does_not_match_is_fetched_again(
    server: _Server, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    dest = tmp_path / "file.bin"
    dest.write_bytes(b"stale")
    with caplog.at_level(logging.WARNING, logger="data.download"):
        fetch(f"{server.url}/file.bin", dest=dest, sha256=PAYLOAD_SHA, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert len(server.gets()) == 1
    assert "fetching it again" in caplog.text


def test_checksum_mismatch_keeps_no_file(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "file.bin"
    wrong = "0" * 64
    with pytest.raises(ChecksumError) as info:
        fetch(f"{server.url}/file.bin", dest=dest, sha256=wrong, **FAST)
    assert wrong in str(info.value) and PAYLOAD_SHA in str(info.value)
    assert (info.value.expected, info.value.actual) == (wrong, PAYLOAD_SHA)
    assert _leftovers(tmp_path) == []


def test_size_mismatch_announced_by_server(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "file.bin"
    with pytest.raises(SizeMismatchError) as info:
        fetch(f"{server.url}/file.bin", dest=dest, size=len(PAYLOAD) - 1, **FAST)
    assert (info.value.expected, info.value.actual) == (len(PAYLOAD) - 1, len(PAYLOAD))
    assert _leftovers(tmp_path) == []


def test_interrupted_download_keeps_part_and_resumes_with_range(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "file.bin"
    k = 100_000
    server.cut_after = k
    with pytest.raises(DownloadError) as info:
        fetch(f"{server.url}/file.bin", dest=dest, sha256=PAYLOAD_SHA, **FAST)
    assert ".part" in str(info.value)
    part = tmp_path / "file.bin.part"
    assert _leftovers(tmp_path) == ["file.bin.part"]
    assert part.read_bytes() == PAYLOAD[:k]

    fetch(f"{server.url}/file.bin", dest=dest, sha256=PAYLOAD_SHA, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert [r["range"] for r in server.gets()] == [None, f"bytes={k}-"]
    assert _leftovers(tmp_path) == ["file.bin"]


def test_resume_of_a_stale_part_with_wrong_bytes_restarts_once_from_zero(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "file.bin"
    (tmp_path / "file.bin.part").write_bytes(b"\xff" * 1000)  # not the start of PAYLOAD
    fetch(f"{server.url}/file.bin", dest=dest, sha256=PAYLOAD_SHA, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert [r["range"] for r in server.gets()] == ["bytes=1000-", None]
    assert _leftovers(tmp_path) == ["file.bin"]


def test_connection_cut_is_retried_within_one_call(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "file.bin"
    server.cut_after = 5_000
    fetch(f"{server.url}/file.bin", dest=dest, sha256=PAYLOAD_SHA, **{**FAST, "retries": 2})
    assert dest.read_bytes() == PAYLOAD
    assert [r["range"] for r in server.gets()] == [None, "bytes=5000-"]
    assert server.gets()[1]["if-range"] == '"v1"'  # guards against a file changed meanwhile


def test_resume_restarts_from_zero_when_server_ignores_range(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "file.bin"
    (tmp_path / "file.bin.part").write_bytes(b"garbage that must not survive")
    server.ignore_range = True
    fetch(f"{server.url}/file.bin", dest=dest, sha256=PAYLOAD_SHA, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert len(server.gets()) == 1
    assert _leftovers(tmp_path) == ["file.bin"]


def test_part_larger_than_expected_size_restarts_from_zero(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "file.bin"
    (tmp_path / "file.bin.part").write_bytes(b"x" * (len(PAYLOAD) + 10))
    fetch(f"{server.url}/file.bin", dest=dest, size=len(PAYLOAD), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert [r["range"] for r in server.gets()] == [None]


def test_complete_part_of_unknown_size_is_finished_after_416(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "file.bin"
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD)
    fetch(f"{server.url}/file.bin", dest=dest, sha256=PAYLOAD_SHA, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert [r["range"] for r in server.gets()] == [f"bytes={len(PAYLOAD)}-"]


def test_complete_part_of_known_size_needs_no_request(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "file.bin"
    (tmp_path / "file.bin.part").write_bytes(PAYLOAD)
    fetch(f"{server.url}/file.bin", dest=dest, sha256=PAYLOAD_SHA, size=len(PAYLOAD), **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert server.gets() == []


def test_server_error_then_success_is_retried(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "file.bin"
    server.fail_500 = 1
    fetch(f"{server.url}/file.bin", dest=dest, sha256=PAYLOAD_SHA, **{**FAST, "retries": 2})
    assert dest.read_bytes() == PAYLOAD
    assert len(server.gets()) == 2


def test_server_errors_exhaust_the_retries(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "file.bin"
    server.fail_500 = 10
    with pytest.raises(DownloadError) as info:
        fetch(f"{server.url}/file.bin", dest=dest, **{**FAST, "retries": 2})
    assert not isinstance(info.value, OfflineError)
    assert "500" in str(info.value) and info.value.status == 500
    assert len(server.gets()) == 3
    assert not dest.exists()


def test_404_is_not_retried(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "missing.bin"
    url = f"{server.url}/missing.bin"
    with pytest.raises(DownloadError) as info:
        fetch(url, dest=dest, **{**FAST, "retries": 3, "backoff": 5.0})
    message = str(info.value)
    assert "404" in message and url in message
    assert info.value.status == 404
    assert len(server.gets()) == 1
    assert _leftovers(tmp_path) == []


def test_connection_refused_is_offline_error_with_hint(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/file.bin"
    start = time.monotonic()
    with pytest.raises(OfflineError) as info:
        fetch(url, dest=tmp_path / "file.bin", manual_hint="--counts PATH", **{**FAST, "retries": 1})
    assert time.monotonic() - start < 5
    message = str(info.value)
    assert "could not reach 127.0.0.1" in message
    assert "offline" in message
    assert f"download {url} by hand and pass its path with --counts PATH" in message
    assert _leftovers(tmp_path) == []


def test_default_manual_instruction_names_dest_and_full_hint_is_verbatim(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/file.bin"
    with pytest.raises(OfflineError, match=re.escape(f"save it as {tmp_path / 'file.bin'}")):
        fetch(url, dest=tmp_path / "file.bin", **FAST)
    hint = f"fetch {url} yourself and use --counts"
    with pytest.raises(OfflineError) as info:
        fetch(url, dest=tmp_path / "file.bin", manual_hint=hint, **FAST)
    assert str(info.value).endswith(hint)


def test_read_timeout_before_headers_is_quick(server: _Server, tmp_path: Path) -> None:
    server.stall_before_headers = 10.0
    start = time.monotonic()
    with pytest.raises(OfflineError) as info:
        fetch(f"{server.url}/file.bin", dest=tmp_path / "file.bin", manual_hint="--x", **{**FAST, "timeout": 0.3})
    assert time.monotonic() - start < 3
    assert "--x" in str(info.value)
    assert _leftovers(tmp_path) == []


def test_read_timeout_mid_stream_keeps_part(server: _Server, tmp_path: Path) -> None:
    server.stall_after = (50_000, 10.0)
    start = time.monotonic()
    with pytest.raises(DownloadError):
        fetch(f"{server.url}/file.bin", dest=tmp_path / "file.bin", **{**FAST, "timeout": (1.0, 0.3)})
    assert time.monotonic() - start < 3
    assert _leftovers(tmp_path) == ["file.bin.part"]
    assert (tmp_path / "file.bin.part").read_bytes() == PAYLOAD[:50_000]


def test_concurrent_fetches_of_one_file_download_it_once(server: _Server, tmp_path: Path) -> None:
    dest = tmp_path / "file.bin"
    server.delay_body = 0.3
    errors: list[BaseException] = []

    def run() -> None:
        try:
            fetch(f"{server.url}/file.bin", dest=dest, sha256=PAYLOAD_SHA, **FAST)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert dest.read_bytes() == PAYLOAD
    assert len(server.gets()) == 1
    assert _leftovers(tmp_path) == ["file.bin"]


# --------------------------------------------------------------------------- local files


@pytest.mark.parametrize("as_uri", [True, False], ids=["file-url", "local-path"])
def test_local_copy(tmp_path: Path, as_uri: bool) -> None:
    source = tmp_path / "src dir" / "file.bin"
    source.parent.mkdir()
    source.write_bytes(PAYLOAD)
    url = source.as_uri() if as_uri else str(source)
    dest = tmp_path / "out" / "file.bin"
    assert fetch(url, dest=dest, sha256=PAYLOAD_SHA, size=len(PAYLOAD), progress=False) == dest
    assert dest.read_bytes() == PAYLOAD
    assert _leftovers(dest.parent) == ["file.bin"]


def test_local_copy_checks_and_errors(tmp_path: Path) -> None:
    source = tmp_path / "file.bin"
    source.write_bytes(PAYLOAD)
    out = tmp_path / "out"
    with pytest.raises(ChecksumError):
        fetch(source, dest=out / "a.bin", sha256="f" * 64, progress=False)
    with pytest.raises(SizeMismatchError):
        fetch(source, dest=out / "b.bin", size=1, progress=False)
    with pytest.raises(DownloadError, match="not an existing file"):
        fetch(tmp_path / "nope.bin", dest=out / "c.bin", progress=False)
    assert _leftovers(out) == []
    # a file checked against itself is never deleted, even when the check fails
    with pytest.raises(ChecksumError):
        fetch(source, dest=source, sha256="f" * 64, progress=False)
    assert source.read_bytes() == PAYLOAD


def test_invalid_arguments(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="64 hexadecimal"):
        fetch("http://127.0.0.1:1/x", dest=tmp_path / "x", sha256="abc")
    with pytest.raises(ValueError, match="scheme"):
        fetch("ftp://example.org/x", dest=tmp_path / "x")


# --------------------------------------------------------------------------- helpers


def test_sha256_of(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(PAYLOAD)
    assert sha256_of(path) == PAYLOAD_SHA
    assert sha256_of(str(path), block_size=1000) == PAYLOAD_SHA


def test_default_cache_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHEMMAP_CACHE_DIR", str(tmp_path / "explicit"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "explicit"
    monkeypatch.delenv("CHEMMAP_CACHE_DIR")
    assert default_cache_dir() == tmp_path / "xdg" / "chemmap"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "chemmap"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as the XDG spec says
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "chemmap"
    assert not (tmp_path / "home").exists()
    assert os.environ.get("CHEMMAP_CACHE_DIR") is None
