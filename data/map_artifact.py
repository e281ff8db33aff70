"""Map artifacts: the directory ``build-map`` writes and the app loads.

A map directory holds

- ``points.parquet``: one row per compound: ``id, formula, x, y`` and every property column;
- ``elements.parquet``: the element map: ``symbol, x, y, has_data, grid_col, grid_row``;
- ``embedding.json``: the fitted ``PettiforEmbedding`` (element vectors and provenance), so
  fingerprints can be recomputed for neighbour search and out-of-sample placement;
- ``projector.pkl``: the fitted projection, for placing new formulas (loaded only when needed);
- ``metadata.json``: provenance, parameters, quality figures, and the sha256 and size of every
  other file. It is written last, and the whole directory is built under a temporary name and
  renamed into place, so a half-built map is never loaded.

Next to a map ``NAME`` a build keeps, for its duration only: ``.NAME.lock`` (an advisory lock
so two builds of one map never race), ``.NAME.building-*`` (the map being built) and, during
the final swap, ``.NAME.old-*`` (the map being replaced). A build killed outright (SIGKILL, a
power cut) leaves these behind; the next build of the same map removes them, and restores the
previous map first when the swap was cut between its two renames (so does :func:`load_map`).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from fingerprints.composition import nearest_compositions
from fingerprints.io import DiskFullError, disk_full_error, give_default_permissions, is_disk_full

from .download import sha256_of

FORMAT_NAME = "chemmap.map"
FORMAT_VERSION = 1
POINTS_FILE = "points.parquet"
ELEMENTS_FILE = "elements.parquet"
EMBEDDING_FILE = "embedding.json"
PROJECTOR_FILE = "projector.pkl"
METADATA_FILE = "metadata.json"
SKIPPED_FILE = "skipped.csv"
REQUIRED_POINT_COLUMNS = ("id", "formula", "x", "y")

log = logging.getLogger(__name__)


class MapArtifactError(ValueError):
    """A map directory is missing, incomplete or corrupted."""


@dataclass
class MapArtifact:
    """A loaded map: the tables in memory, the heavier pieces loaded on demand."""

    directory: Path
    points: pd.DataFrame
    elements: pd.DataFrame
    metadata: dict
    _embedding: object = field(default=None, repr=False)
    _projector: object = field(default=None, repr=False)
    _fingerprints: np.ndarray | None = field(default=None, repr=False)

    @property
    def embedding(self):
        """The fitted ``PettiforEmbedding`` used for this map."""
        if self._embedding is None:
            from fingerprints.estimator import PettiforEmbedding

            self._embedding = PettiforEmbedding.load(self.directory / EMBEDDING_FILE)
        return self._embedding

    @property
    def projector(self):
        """The fitted projection (unpickled on first use), or None when the map has none."""
        if self._projector is None:
            path = self.directory / PROJECTOR_FILE
            if not path.exists():
                return None
            import pickle

            _verify_file(self.directory, PROJECTOR_FILE, self.metadata)
            with path.open("rb") as handle:
                self._projector = pickle.load(handle)  # only files this project wrote and checksummed
        return self._projector

    @property
    def property_columns(self) -> list[str]:
        return [c for c in self.points.columns if c not in REQUIRED_POINT_COLUMNS]

    @property
    def fingerprints(self) -> np.ndarray:
        """Fingerprints of the map's compounds, shape (n_points, 98), recomputed once on demand."""
        if self._fingerprints is None:
            self._fingerprints = self.embedding.transform(self.points["formula"].to_numpy())
        return self._fingerprints

    def neighbours_of(self, rows: np.ndarray, *, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """The k nearest map compounds (fingerprint distance) of map rows, themselves excluded."""
        rows = np.atleast_1d(np.asarray(rows, dtype=np.int64))
        distances, indices = nearest_compositions(self.fingerprints[rows], self.fingerprints, k=k + 1)
        keep = indices != rows[:, None]
        return (
            np.array([d[m][:k] for d, m in zip(distances, keep)]),
            np.array([i[m][:k] for i, m in zip(indices, keep)]),
        )

    def place(self, formulas, *, k: int = 10) -> pd.DataFrame:
        """Place new formulas on the map and find their k nearest known compounds.

        Known compositions (fingerprint identical to a map point) take that point's position;
        others are placed with the map's projector (UMAP's ``transform``, PCA's projection,
        or the neighbour interpolation of t-SNE). Invalid formulas keep the parser's reason.

        Returns
        -------
        DataFrame with one row per input: ``formula, error, x, y, known_row`` (the map row of an
        identical composition, or -1) and ``neighbours``: a list of (row, distance) pairs.
        """
        fingerprints, batch = self.embedding.transform_formulas(formulas)
        errors = batch.errors.astype(object)
        usable = batch.ok & fingerprints.any(axis=1)
        errors[batch.ok & ~usable] = (
            "only elements without similarity data in this map: " + ", ".join(self.embedding.elements_without_data_)
        )
        result = pd.DataFrame({"formula": batch.formulas, "error": errors, "x": np.nan, "y": np.nan, "known_row": -1})
        result["neighbours"] = [[] for _ in range(len(result))]
        if not usable.any():
            return result
        distances, indices = nearest_compositions(fingerprints[usable], self.fingerprints, k=k)
        xy = np.empty((int(usable.sum()), 2))
        known = distances[:, 0] < 1e-12
        points_xy = self.points[["x", "y"]].to_numpy(dtype=np.float64)
        xy[known] = points_xy[indices[known, 0]]
        if (~known).any():
            if self.projector is None:
                raise MapArtifactError(f"map {self.directory} has no projector to place new formulas")
            xy[~known] = self.projector.transform(fingerprints[usable][~known])
        where = np.flatnonzero(usable)
        result.loc[where, "x"] = xy[:, 0]
        result.loc[where, "y"] = xy[:, 1]
        result.loc[where, "known_row"] = np.where(known, indices[:, 0], -1)
        result.loc[where, "neighbours"] = pd.Series(
            [list(zip(i.tolist(), d.tolist())) for i, d in zip(indices, distances)], index=where
        )
        return result


class MapOutputError(OSError):
    """A map cannot be written where it was asked for; the message names the folder."""


def check_output_folder(target: str | os.PathLike) -> Path:
    """Check, before any work, that a map can be written at ``target``.

    The folder that will hold ``target`` must exist and accept new entries, or be creatable
    (its nearest existing ancestor is a folder that accepts new entries). Checked by
    creating and removing an empty temporary folder there, since permission bits say little
    (root, read-only or virtual file systems such as ``/proc``); nothing is left behind.

    Returns
    -------
    Path
        ``target`` as a path (``~`` expanded).

    Raises
    ------
    MapOutputError
        One line naming the folder and the reason.
    """
    target = Path(target).expanduser()
    folder = target.absolute().parent
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise MapOutputError(f"cannot write the map {target}: {existing} is a file, not a folder")
    try:
        probe = tempfile.mkdtemp(prefix=f".{target.name}.probe-", dir=existing)
    except OSError as err:
        reason = (err.strerror or str(err)).lower()
        where = f"folder {folder}" if existing == folder else f"folder {folder} cannot be created: {existing}"
        raise MapOutputError(
            f"cannot write the map {target}: {where} does not accept new files or folders ({reason})"
        ) from None
    os.rmdir(probe)
    return target


class MapBuildBusyError(MapOutputError):
    """Another build of the same map is running (in this or another process)."""


_HELD_LOCKS = threading.local()  # per thread: {absolute target: lock file descriptor}


def _held_locks() -> dict[Path, int]:
    if not hasattr(_HELD_LOCKS, "by_target"):
        _HELD_LOCKS.by_target = {}
    return _HELD_LOCKS.by_target


def lock_path(target: str | os.PathLike) -> Path:
    """The advisory lock file of the map ``target``: ``.NAME.lock`` in the same folder."""
    target = Path(target)
    return target.parent / f".{target.name}.lock"


def _lock_owner(fd: int) -> str:
    try:
        return os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
    except OSError:
        return "unknown"


def _acquire_lock(target: Path) -> int:
    """Lock ``target``'s lock file without waiting; return its descriptor (pid written in it).

    The file is removed on release, so a lock won on a file that a previous holder removed
    meanwhile is worthless: the inode is compared with the path's and the lock retaken.
    """
    path = lock_path(target)
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            owner = _lock_owner(fd)
            os.close(fd)
            raise MapBuildBusyError(
                f"another build of the map {target} is running (pid {owner}): wait for it to finish, "
                f"or build to another folder",
            ) from None
        except BaseException:
            os.close(fd)
            raise
        try:
            opened, current = os.fstat(fd), os.stat(path)
            if (opened.st_dev, opened.st_ino) == (current.st_dev, current.st_ino):
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    except OSError:
        pass  # the pid is only for the message of a second build
    return fd


def _release_lock(target: Path, fd: int) -> None:
    try:
        os.unlink(lock_path(target))  # still locked: no other build can be between open and flock on it
    except OSError:
        pass
    finally:
        os.close(fd)  # releases the lock


@contextmanager
def build_lock(target: str | os.PathLike) -> Iterator[Path]:
    """Hold the exclusive build lock of the map ``target``; recover an interrupted build first.

    Re-entrant within one thread (``build_map`` holds it for the whole build, and
    :func:`building_directory` takes it again). Once the lock is won, the leftovers of
    builds of ``target`` that were killed are cleaned up (see :func:`recover_interrupted_build`).

    Raises
    ------
    MapBuildBusyError
        Another build of ``target`` holds the lock; raised at once, naming the map and the
        pid of that build.
    """
    target = Path(os.path.abspath(Path(target).expanduser()))
    held = _held_locks()
    if target in held:
        yield target
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    fd = _acquire_lock(target)
    held[target] = fd
    try:
        recover_interrupted_build(target)
        yield target
    finally:
        del held[target]
        _release_lock(target, fd)


def _siblings(target: Path, kind: str) -> list[Path]:
    """The ``.NAME.<kind>-XXXX`` folders next to ``target`` (``kind``: building, old or probe)."""
    pattern = re.compile(re.escape(f".{target.name}.{kind}-") + r"[A-Za-z0-9_]+")
    try:
        entries = list(target.parent.iterdir())
    except OSError:
        return []
    return sorted(p for p in entries if pattern.fullmatch(p.name) and p.is_dir() and not p.is_symlink())


def _is_complete_map(directory: Path) -> bool:
    """Whether ``directory`` has valid metadata and every listed file at its recorded size."""
    try:
        metadata = read_metadata(directory)
        for name in metadata.get("files", {}):
            _verify_file(directory, name, metadata, full_hash=False)
    except (MapArtifactError, OSError, KeyError, TypeError):
        return False
    return True


def _restore_previous_map(target: Path) -> Path | None:
    """Put back the newest complete ``.NAME.old-*`` when ``target`` is missing; caller holds the lock."""
    if os.path.lexists(target):
        return None
    complete = [p for p in _siblings(target, "old") if _is_complete_map(p)]
    if not complete:
        return None
    newest = max(complete, key=lambda p: (p / METADATA_FILE).stat().st_mtime)
    os.replace(newest, target)
    log.warning(
        "restored the map %s from %s, where a build interrupted while swapping in its new map had left it",
        target, newest.name,
    )  # fmt: skip
    return newest


def recover_interrupted_build(target: str | os.PathLike) -> None:
    """Clean up after builds of ``target`` that were killed; the caller holds its build lock.

    - ``.NAME.building-*`` (a build killed before its end) are removed;
    - when ``target`` is missing and a complete ``.NAME.old-*`` exists (a swap cut between
      its two renames), the newest is renamed back to ``target``;
    - the other ``.NAME.old-*`` (a swap killed while deleting the replaced map, or no
      longer needed) and empty ``.NAME.probe-*`` are removed.

    Everything recovered or removed is logged at WARNING.
    """
    target = Path(target)
    for leftover in _siblings(target, "building"):
        shutil.rmtree(leftover, ignore_errors=True)
        log.warning("removed %s, left next to the map %s by a build that was killed", leftover.name, target)
    _restore_previous_map(target)
    for leftover in _siblings(target, "old"):
        shutil.rmtree(leftover, ignore_errors=True)
        log.warning("removed %s, a replaced version of the map %s left by a build that was killed", leftover.name, target)
    for probe in _siblings(target, "probe"):
        try:
            probe.rmdir()
        except OSError:
            pass


def restore_interrupted_swap(target: str | os.PathLike) -> bool:
    """Put a map back at a missing ``target`` from a complete ``.NAME.old-*`` left by a killed build.

    Does nothing (returns False) when ``target`` exists, nothing complete is there to
    restore, a build of ``target`` is running (it is mid-swap and will put a map there), or the
    folder cannot be written (logged). Only the swap is repaired; other leftovers wait for the
    next build.
    """
    target = Path(os.path.abspath(Path(target).expanduser()))
    if os.path.lexists(target) or not _siblings(target, "old"):
        return False
    held = _held_locks()
    if target in held:
        return _restore_previous_map(target) is not None
    try:
        fd = _acquire_lock(target)
    except MapBuildBusyError:
        return False
    except OSError as err:
        log.warning("cannot restore the map %s from its interrupted swap: %s", target, err.strerror or err)
        return False
    try:
        return _restore_previous_map(target) is not None
    except OSError as err:
        log.warning("cannot restore the map %s from its interrupted swap: %s", target, err.strerror or err)
        return False
    finally:
        _release_lock(target, fd)


@contextmanager
def building_directory(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary directory next to ``target``; swap it into place on success.

    An existing map at ``target`` is replaced only after the new one is complete; on failure
    (an exception, KeyboardInterrupt, a full disk: raised as
    :class:`fingerprints.io.DiskFullError` naming the map) the temporary directory is
    removed and the old map stays untouched. The build lock of ``target`` is held throughout
    (:func:`build_lock`: a concurrent build raises :class:`MapBuildBusyError`, and the
    leftovers of killed builds are cleaned up first).
    """
    target = Path(target)
    temp = None
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with build_lock(target):
            try:
                temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
                give_default_permissions(temp)
                yield temp
                _swap_in(temp, target)
            finally:
                if temp is not None and temp.exists():
                    shutil.rmtree(temp, ignore_errors=True)
    except OSError as err:
        if is_disk_full(err) and not isinstance(err, DiskFullError):
            raise disk_full_error(target, err) from err
        raise


def _swap_in(built: Path, target: Path) -> None:
    """Rename ``built`` to ``target``, the previous ``target`` (if any) out of the way first."""
    if not target.exists():
        os.replace(built, target)
        return
    old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
    old.rmdir()
    os.replace(target, old)
    try:
        os.replace(built, target)
    except BaseException:
        os.replace(old, target)  # the previous map goes back where it was
        raise
    shutil.rmtree(old, ignore_errors=True)


def write_metadata(directory: Path, metadata: dict) -> Path:
    """Record the checksum of every file in ``directory`` and write ``metadata.json`` last."""
    files = {}
    for path in sorted(directory.iterdir()):
        if path.is_file() and path.name != METADATA_FILE:
            files[path.name] = {"sha256": sha256_of(path), "bytes": path.stat().st_size}
    document = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **metadata, "files": files}
    path = directory / METADATA_FILE
    temp = path.with_suffix(".json.tmp")
    temp.write_text(json.dumps(document, indent=1, default=str), encoding="utf-8")
    os.replace(temp, path)
    return path


def read_metadata(directory: str | os.PathLike) -> dict:
    directory = Path(directory)
    if not directory.is_dir():
        problem = "is not a directory" if directory.exists() else "does not exist"
        raise MapArtifactError(f"map directory {directory} {problem}")
    path = directory / METADATA_FILE
    if not path.is_file():
        raise MapArtifactError(f"map directory {directory} is incomplete: no {METADATA_FILE} (build it again with build-map)")
    try:
        metadata = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise MapArtifactError(f"map {directory}: {METADATA_FILE} is corrupted ({err})") from None
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT_NAME:
        raise MapArtifactError(f"map {directory}: {METADATA_FILE} was not written by build-map")
    if metadata.get("format_version") != FORMAT_VERSION:
        raise MapArtifactError(
            f"map {directory} has format version {metadata.get('format_version')}, this version reads "
            f"{FORMAT_VERSION}: build it again"
        )
    return metadata


def _verify_file(directory: Path, name: str, metadata: dict, *, full_hash: bool = True) -> Path:
    path = directory / name
    expected = metadata.get("files", {}).get(name)
    if expected is None:
        raise MapArtifactError(f"map {directory}: {name} is not listed in {METADATA_FILE}")
    if not path.is_file():
        raise MapArtifactError(f"map {directory}: {name} is missing")
    if path.stat().st_size != expected["bytes"]:
        raise MapArtifactError(f"map {directory}: {name} has {path.stat().st_size} bytes, expected {expected['bytes']} (corrupted or truncated)")
    if full_hash and sha256_of(path) != expected["sha256"]:
        raise MapArtifactError(f"map {directory}: {name} does not match its recorded sha256 (corrupted)")
    return path


def load_map(directory: str | os.PathLike) -> MapArtifact:
    """Load and verify a map directory (sizes and sha256 of the tables).

    Raises
    ------
    MapArtifactError
        When the directory is missing, half-built, corrupted or from another format version.
        A missing directory is first restored from a complete ``.NAME.old-*`` left by a build
        killed mid-swap (:func:`restore_interrupted_swap`, logged at WARNING).
    """
    directory = Path(directory)
    if not directory.exists():
        restore_interrupted_swap(directory)  # a build killed mid-swap left the map under .NAME.old-*
    metadata = read_metadata(directory)
    points_path = _verify_file(directory, POINTS_FILE, metadata)
    elements_path = _verify_file(directory, ELEMENTS_FILE, metadata)
    _verify_file(directory, EMBEDDING_FILE, metadata)  # small; a flipped byte would change the vectors
    if PROJECTOR_FILE in metadata.get("files", {}):
        # Possibly large: its size now, its sha256 when it is first used (MapArtifact.projector).
        _verify_file(directory, PROJECTOR_FILE, metadata, full_hash=False)
    try:
        points = pd.read_parquet(points_path)
        elements = pd.read_parquet(elements_path)
    except Exception as err:  # pyarrow raises several types for damaged files
        raise MapArtifactError(f"map {directory}: tables could not be read ({err})") from None
    missing = [c for c in REQUIRED_POINT_COLUMNS if c not in points.columns]
    if missing:
        raise MapArtifactError(f"map {directory}: {POINTS_FILE} lacks columns {missing}")
    if len(points) != metadata.get("rows"):
        raise MapArtifactError(f"map {directory}: {len(points)} rows, metadata says {metadata.get('rows')}")
    return MapArtifact(directory=directory, points=points, elements=elements, metadata=metadata)
