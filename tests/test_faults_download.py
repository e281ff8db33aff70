"""Faults injected into data.download.fetch (issue #8): a local HTTP server that misbehaves.

What tests/test_download.py already covers is not repeated here (one cut and resume, 500 then
success, 500 until the retries run out, connection refused, stalls with retries=0). Here: a
body shorter than its Content-Length, a connection dropped before any answer, a stall that
is retried and resumed, interruptions on every attempt until the retries run out and a later
call that finishes the file, an error answer in the middle of a resume, and a full disk.
In every case the target path never holds a partial file.
"""

from __future__ import annotations

import errno
import hashlib
import http.server
import io
import re
import socket
import threading
from pathlib import Path

import pytest

from data import download
from data.download import OfflineError, fetch
from fingerprints.io import DiskFullError
from tests.local_http import bypass_proxies, serving

PAYLOAD = bytes(range(251)) * 997  # 250,247 bytes
PAYLOAD_SHA = hashlib.sha256(PAYLOAD).hexdigest()
FAST = {"progress": False, "timeout": (2.0, 0.5), "backoff": 0.01}


class _Server(http.server.ThreadingHTTPServer):
    """Serves PAYLOAD at /file.bin; ``script`` says how to misbehave on the next requests.

    Actions, consumed one per request (then every request is answered normally):
    ``("short", k)`` announces the full Content-Length, sends k bytes and closes cleanly;
    ``("reset", k)`` sends k bytes and resets the connection; ``("drop",)`` closes before
    any answer; ``("stall", k, s)`` sends k bytes and waits s seconds; ``("status", code)``.
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script: list[tuple] = []
        self.ranges: list[str | None] = []
        self.lock = threading.Lock()
        self.stop = threading.Event()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/file.bin"

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
            srv.ranges.append(self.headers.get("Range"))
            action = srv.script.pop(0) if srv.script else ("ok",)
        if action[0] == "drop":
            self.close_connection = True
            self.connection.shutdown(socket.SHUT_RDWR)
            return
        if action[0] == "status":
            self.send_response(action[1])
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = 0
        match = re.fullmatch(r"bytes=(\d+)-", self.headers.get("Range") or "")
        if match:
            start = int(match.group(1))
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(PAYLOAD) - 1}/{len(PAYLOAD)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(PAYLOAD) - start))
        self.send_header("ETag", '"v1"')
        self.end_headers()
        data = PAYLOAD[start:]
        if action[0] in ("short", "reset"):
            self.wfile.write(data[: action[1]])
            self.wfile.flush()
            self.close_connection = True
            if action[0] == "reset":
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
            return
        if action[0] == "stall":
            self.wfile.write(data[: action[1]])
            self.wfile.flush()
            if srv.stop.wait(action[2]):
                return
            data = data[action[1] :]
        self.wfile.write(data)


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    bypass_proxies(monkeypatch)


@pytest.fixture
def server():
    with serving(_Server()) as srv:
        yield srv


def _files(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


@pytest.mark.parametrize("fault", ["short", "reset"])
def test_body_cut_short_is_resumed_within_one_call(server, tmp_path, fault):
    server.script = [(fault, 60_000)]
    dest = tmp_path / "file.bin"
    fetch(server.url, dest=dest, sha256=PAYLOAD_SHA, retries=2, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == [None, "bytes=60000-"]
    assert _files(tmp_path) == ["file.bin"]


def test_connection_dropped_before_the_answer_is_retried(server, tmp_path):
    server.script = [("drop",), ("drop",)]
    dest = tmp_path / "file.bin"
    fetch(server.url, dest=dest, sha256=PAYLOAD_SHA, retries=2, **FAST)
    assert dest.read_bytes() == PAYLOAD and server.ranges == [None, None, None]


def test_stall_past_the_read_timeout_is_retried_and_resumed(server, tmp_path):
    server.script = [("stall", 40_000, 10.0)]
    dest = tmp_path / "file.bin"
    fetch(server.url, dest=dest, sha256=PAYLOAD_SHA, retries=1, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == [None, "bytes=40000-"]


def test_error_answer_in_the_middle_of_a_resume(server, tmp_path):
    server.script = [("short", 30_000), ("status", 503), ("short", 50_000)]
    dest = tmp_path / "file.bin"
    fetch(server.url, dest=dest, sha256=PAYLOAD_SHA, retries=3, **FAST)
    assert dest.read_bytes() == PAYLOAD
    assert server.ranges == [None, "bytes=30000-", "bytes=30000-", "bytes=80000-"]


def test_interrupted_on_every_attempt_keeps_the_progress_and_a_later_call_finishes(server, tmp_path):
    server.script = [("short", 20_000)] * 3
    dest = tmp_path / "file.bin"
    part = tmp_path / "file.bin.part"
    with pytest.raises(OfflineError) as caught:
        fetch(server.url, dest=dest, sha256=PAYLOAD_SHA, retries=2, **FAST)
    message = str(caught.value)
    assert "lost the connection to 127.0.0.1" in message and "3 attempts" in message
    assert f"the 60000 bytes received so far are kept in {part}" in message
    assert f"save it as {dest}" in message  # how to get it by hand
    assert _files(tmp_path) == ["file.bin.part"]  # never a partial file at the target
    assert part.read_bytes() == PAYLOAD[:60_000]

    fetch(server.url, dest=dest, sha256=PAYLOAD_SHA, retries=0, **FAST)
    assert dest.read_bytes() == PAYLOAD and _files(tmp_path) == ["file.bin"]
    assert server.ranges[-1] == "bytes=60000-"


def test_unreachable_host_is_offline_error_naming_host_attempts_and_manual_step(tmp_path):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: connections are refused
    with pytest.raises(OfflineError) as caught:
        fetch(f"http://127.0.0.1:{port}/x.bin", dest=tmp_path / "x.bin", retries=2, manual_hint="--counts PATH", **FAST)
    message = str(caught.value)
    assert "could not reach 127.0.0.1" in message and "3 attempts" in message and "--counts PATH" in message
    assert _files(tmp_path) == []


class _FullDisk(io.FileIO):
    """A file that accepts ``room`` bytes in total, then fails like a full disk."""

    room = 0

    def write(self, data) -> int:
        if len(data) > _FullDisk.room:
            written = super().write(bytes(data[: _FullDisk.room]))
            _FullDisk.room = 0
            if written == len(data):  # pragma: no cover - never: data is longer than the room
                return written
            raise OSError(errno.ENOSPC, "No space left on device")
        _FullDisk.room -= len(data)
        return super().write(data)


def test_disk_full_while_downloading_keeps_the_part_and_resumes_once_there_is_room(server, tmp_path, monkeypatch):
    dest = tmp_path / "file.bin"
    part = tmp_path / "file.bin.part"
    _FullDisk.room = 100_000
    with monkeypatch.context() as patch:
        patch.setattr(download, "open", lambda path, mode="r", *a, **k: _FullDisk(path, mode.replace("b", "")), raising=False)
        with pytest.raises(DiskFullError) as caught:
            fetch(server.url, dest=dest, sha256=PAYLOAD_SHA, retries=3, chunk_size=16_384, **FAST)
    message = str(caught.value)
    assert f"no space left on device while downloading {server.url} to {part}" in message
    assert "the 100000 bytes written so far are kept there" in message and "free some disk space" in message
    assert caught.value.errno == errno.ENOSPC and caught.value.path == part
    assert len(server.ranges) == 1  # a full disk is not a network fault: not retried
    assert _files(tmp_path) == ["file.bin.part"] and part.read_bytes() == PAYLOAD[:100_000]

    fetch(server.url, dest=dest, sha256=PAYLOAD_SHA, retries=0, **FAST)
    assert dest.read_bytes() == PAYLOAD and _files(tmp_path) == ["file.bin"]
    assert server.ranges[-1] == "bytes=100000-"


def test_disk_full_while_copying_a_local_file_leaves_nothing(tmp_path, monkeypatch):
    source = tmp_path / "source.bin"
    source.write_bytes(PAYLOAD)
    out = tmp_path / "out"
    _FullDisk.room = 10_000
    real_open = open

    def full_for_writes(path, mode="r", *args, **kwargs):
        return _FullDisk(path, "w") if "w" in mode else real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(download, "open", full_for_writes, raising=False)
    with pytest.raises(DiskFullError, match=f"no space left on device while writing {re.escape(str(out / 'copy.bin'))}"):
        fetch(source, dest=out / "copy.bin", sha256=PAYLOAD_SHA, progress=False, chunk_size=4096)
    assert _files(out) == []
