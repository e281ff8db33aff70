"""data.wheels: one pinned wheel, cached, copied or fetched with pip (pip is always faked)."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest

from data import element_embeddings, wheels
from data.wheels import CHECKSUM, UNAVAILABLE, WheelError, ensure_wheel

REQUIREMENT = "toypkg==1.0"
NAME = "toypkg-1.0-py3-none-any.whl"
HINT = "Copy the wheel by hand and pass wheel=PATH."


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


WHEEL_BYTES = b"PK a toy wheel"
WHEEL_SHA = _sha(WHEEL_BYTES)


class FakePip:
    """Stands in for subprocess.run: records the command, writes ``produce`` (name -> bytes)."""

    def __init__(self, produce: dict[str, bytes] | None = None, *, returncode: int = 0, stderr: str = "", raises=None):
        self.produce = {NAME: WHEEL_BYTES} if produce is None else produce
        self.returncode = returncode
        self.stderr = stderr
        self.raises = raises
        self.calls: list[list[str]] = []

    def __call__(self, command, **kwargs):
        self.calls.append(command)
        if self.raises is not None:
            raise self.raises
        destination = Path(command[command.index("-d") + 1])
        for name, data in self.produce.items():
            (destination / name).write_bytes(data)
        return subprocess.CompletedProcess(command, self.returncode, "", self.stderr)


@pytest.fixture
def pip(monkeypatch):
    fake = FakePip()
    monkeypatch.setattr(wheels.subprocess, "run", fake)
    return fake


def _ensure(cache_dir: Path, **kwargs) -> Path:
    return ensure_wheel(REQUIREMENT, name=NAME, sha256=kwargs.pop("sha256", WHEEL_SHA), cache_dir=cache_dir, manual_hint=HINT, **kwargs)


def test_download_is_verified_and_cached_then_reused(tmp_path, pip):
    path = _ensure(tmp_path / "cache", pip_options=("--ignore-requires-python",))
    assert path == tmp_path / "cache" / NAME and path.read_bytes() == WHEEL_BYTES
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == [NAME]  # temporary folder gone
    command = pip.calls[0]
    assert command[:4] == [sys.executable, "-m", "pip", "download"]
    assert "--no-deps" in command and "--ignore-requires-python" in command and command[command.index("-d") - 1] == REQUIREMENT
    assert _ensure(tmp_path / "cache") == path and len(pip.calls) == 1  # cached: pip not run again


def test_sha256_is_compared_case_insensitively(tmp_path, pip):
    assert _ensure(tmp_path, sha256=WHEEL_SHA.upper()).read_bytes() == WHEEL_BYTES


def test_cached_wheel_with_another_sha256_is_replaced(tmp_path, pip):
    (tmp_path / NAME).write_bytes(b"half a wheel")
    assert _ensure(tmp_path).read_bytes() == WHEEL_BYTES
    assert len(pip.calls) == 1


def test_downloaded_wheel_with_another_sha256_is_deleted(tmp_path, pip):
    words = f"{NAME} downloaded from PyPI has sha256 {WHEEL_SHA}, expected {'0' * 64}; it was deleted"
    with pytest.raises(WheelError, match=words) as caught:
        _ensure(tmp_path, sha256="0" * 64)
    assert caught.value.kind == CHECKSUM
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("fake", "words"),
    [
        (
            FakePip(returncode=1, stderr="ERROR: No matching distribution found for toypkg==1.0"),
            r"pip exited with status 1 \(is PyPI reachable\?\)\.\npip said:\nERROR: No matching distribution",
        ),
        (FakePip(returncode=1, stderr="/usr/bin/python: No module named pip"), "pip is not installed for"),
        (FakePip(raises=subprocess.TimeoutExpired(["pip"], 7)), r"within 7 s \(is PyPI reachable\?\)"),
        (FakePip(raises=FileNotFoundError(2, "No such file or directory")), r"could not run pip .*No such file"),
        (FakePip({"toypkg-1.0.tar.gz": b"sdist"}), r"did not produce toypkg-1.0-py3-none-any.whl \(got \['toypkg-1.0.tar.gz'\]\)"),
    ],
    ids=["no-distribution", "no-pip", "timeout", "cannot-run", "wrong-file"],
)
def test_pip_failures_are_one_clear_error_with_the_hint(tmp_path, monkeypatch, fake, words):
    monkeypatch.setattr(wheels.subprocess, "run", fake)
    with pytest.raises(WheelError, match=words) as caught:
        _ensure(tmp_path / "cache", timeout=7)
    assert caught.value.kind == UNAVAILABLE
    assert str(caught.value).endswith(HINT)
    assert list((tmp_path / "cache").iterdir()) == []  # nothing half-fetched is kept


def test_local_wheel_is_checked_and_copied_never_moved(tmp_path, pip):
    given = tmp_path / "given.whl"
    given.write_bytes(WHEEL_BYTES)
    path = _ensure(tmp_path / "cache", wheel=given)
    assert path.read_bytes() == WHEEL_BYTES and given.read_bytes() == WHEEL_BYTES
    assert _ensure(tmp_path / "cache", wheel=path) == path  # the cached file itself
    assert pip.calls == []


def test_bad_local_wheels_are_refused_and_not_cached(tmp_path, pip):
    given = tmp_path / "given.whl"
    given.write_bytes(b"another wheel")
    words = rf"toypkg wheel {given} has sha256 {_sha(b'another wheel')}, expected {WHEEL_SHA} \(toypkg==1.0 from PyPI\)"
    with pytest.raises(WheelError, match=words + "; it was not used") as caught:
        _ensure(tmp_path / "cache", wheel=given)
    assert caught.value.kind == CHECKSUM and given.exists()
    with pytest.raises(WheelError, match="toypkg wheel .*nope.whl does not exist") as caught:
        _ensure(tmp_path / "cache", wheel=tmp_path / "nope.whl")
    assert caught.value.kind == UNAVAILABLE
    assert not (tmp_path / "cache" / NAME).exists() and pip.calls == []


def test_elementembeddings_maps_errors_to_its_own_types_and_hint(tmp_path, monkeypatch):
    monkeypatch.setattr(wheels.subprocess, "run", FakePip(returncode=1, stderr="ERROR: no network"))
    words = "(?s)elementembeddings==0.8.0 from PyPI.*--embeddings-wheel PATH"
    with pytest.raises(element_embeddings.EmbeddingWheelUnavailableError, match=words):
        element_embeddings.ensure_elementembeddings_wheel(cache_dir=tmp_path)
    monkeypatch.setattr(wheels.subprocess, "run", FakePip({element_embeddings.ELEMENTEMBEDDINGS_WHEEL_NAME: b"not it"}))
    with pytest.raises(element_embeddings.EmbeddingWheelChecksumError, match="it was deleted"):
        element_embeddings.ensure_elementembeddings_wheel(cache_dir=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_interrupted_pip_download_leaves_no_temporary_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(wheels.subprocess, "run", FakePip(raises=KeyboardInterrupt()))
    with pytest.raises(KeyboardInterrupt):
        _ensure(tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []
