"""A Parquet table cache whose every entry is verified by a manifest before it is served.

One cached table is two files in one directory:

* ``<name>.parquet``: the table, written atomically;
* ``<name>.manifest.json``: what the table is (free-form ``metadata`` from the builder) and
  how to recognise it: the Parquet file's size, sha256, row count and column names.

The manifest is written *after* the Parquet file, so a build that stops between the two
leaves a Parquet file that no manifest describes: it fails verification and is rebuilt,
never served. :func:`read_table` reads the file's bytes once, checks them against the
manifest and parses those same bytes, so a file swapped between the check and the read
cannot slip through either.

Builders of the same table in several processes are serialised by :func:`build_lock`.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow.parquet as pq

from fingerprints.io import atomic_path, atomic_write

try:  # POSIX only; elsewhere concurrent builds are not serialised (still atomic).
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "MANIFEST_FORMAT",
    "CacheError",
    "CacheStatus",
    "build_lock",
    "manifest_path",
    "parquet_path",
    "read_manifest",
    "read_table",
    "verify_table",
    "write_table",
]

#: Version of the manifest layout below; manifests of another version are "outdated".
MANIFEST_FORMAT = 1

OK, MISSING, CORRUPT, OUTDATED = "ok", "missing", "corrupt", "outdated"


class CacheError(RuntimeError):
    """A cached table is missing, corrupt or outdated and was not served.

    Attributes
    ----------
    status : CacheStatus
        The verification result, with the reason.
    """

    def __init__(self, message: str, *, status: CacheStatus) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class CacheStatus:
    """Result of verifying one cached table.

    Attributes
    ----------
    status : str
        ``"ok"``, ``"missing"`` (never built), ``"corrupt"`` (files damaged, partial or not
        matching each other) or ``"outdated"`` (intact, but built by another recipe or from
        another source than the caller expects).
    reason : str
        Why it is not ok (``""`` when ok).
    manifest : dict or None
        The manifest when it could be read.
    """

    status: str
    reason: str = ""
    manifest: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def ok(self) -> bool:
        return self.status == OK


def parquet_path(directory: str | os.PathLike, name: str) -> Path:
    """Path of the cached table ``name`` in ``directory``."""
    return Path(directory) / f"{name}.parquet"


def manifest_path(directory: str | os.PathLike, name: str) -> Path:
    """Path of the manifest of the cached table ``name`` in ``directory``."""
    return Path(directory) / f"{name}.manifest.json"


@contextlib.contextmanager
def build_lock(directory: str | os.PathLike, name: str) -> Iterator[None]:
    """Hold an exclusive lock for building ``name`` in ``directory`` (POSIX advisory lock).

    A second process that wants to build the same table waits here, then finds the table
    already built when it verifies it again inside the lock.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    if fcntl is None:  # pragma: no cover - Windows
        yield
        return
    lock_file = directory / f".{name}.lock"
    with open(lock_file, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def write_table(
    frame: pd.DataFrame,
    directory: str | os.PathLike,
    name: str,
    *,
    metadata: Mapping[str, Any],
) -> Path:
    """Write ``frame`` as ``<name>.parquet`` plus its manifest, both atomically.

    Parameters
    ----------
    frame : DataFrame of shape (n_rows, n_columns)
        Written without its index.
    directory : str or os.PathLike
        Cache directory (created if needed).
    name : str
        Table name, e.g. ``"mp"``.
    metadata : mapping
        JSON-serialisable description stored in the manifest under ``"metadata"`` (source,
        files read, counts ...). :func:`verify_table` can require some of its keys.

    Returns
    -------
    pathlib.Path
        The Parquet file.
    """
    directory = Path(directory)
    target = parquet_path(directory, name)
    manifest_file = manifest_path(directory, name)
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    data = buffer.getvalue()
    with atomic_path(target) as temp:
        with open(temp, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        # The new data are safely on disk (a full disk stopped us above, with the old table
        # and its manifest intact). The old manifest goes before the swap: from here on, a
        # crash leaves no manifest that could vouch for a Parquet file it does not describe.
        manifest_file.unlink(missing_ok=True)
    manifest = {
        "manifest_format": MANIFEST_FORMAT,
        "name": name,
        "built": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "parquet": {
            "file": target.name,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "rows": int(len(frame)),
            "columns": [str(column) for column in frame.columns],
        },
        "metadata": dict(metadata),
    }
    atomic_write(manifest_file, json.dumps(manifest, indent=2, sort_keys=False) + "\n")
    return target


def read_manifest(directory: str | os.PathLike, name: str) -> dict[str, Any] | None:
    """The manifest of ``name`` as a dict, or None when it is missing or unreadable."""
    try:
        manifest = json.loads(manifest_path(directory, name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) else None


def _check_manifest(
    directory: Path, name: str, expect: Mapping[str, Any]
) -> tuple[CacheStatus | None, dict[str, Any] | None]:
    """Manifest-level checks; returns (failure status or None, manifest)."""
    parquet_file = parquet_path(directory, name)
    manifest_file = manifest_path(directory, name)
    if not manifest_file.exists():
        if parquet_file.exists():
            return CacheStatus(CORRUPT, f"{parquet_file} has no manifest ({manifest_file.name} is missing)"), None
        return CacheStatus(MISSING, f"{name} is not built in {directory}"), None
    manifest = read_manifest(directory, name)
    parquet_info = manifest.get("parquet") if manifest else None
    if (
        manifest is None
        or not isinstance(parquet_info, dict)
        or not {"size", "sha256", "rows", "columns"} <= parquet_info.keys()
        or not isinstance(manifest.get("metadata"), dict)
    ):
        return CacheStatus(CORRUPT, f"manifest {manifest_file} is unreadable or incomplete"), None
    if manifest.get("manifest_format") != MANIFEST_FORMAT:
        return (
            CacheStatus(
                OUTDATED,
                f"manifest {manifest_file} has format {manifest.get('manifest_format')!r}, "
                f"this code writes format {MANIFEST_FORMAT}",
                manifest,
            ),
            manifest,
        )
    for key, wanted in expect.items():
        found = manifest["metadata"].get(key)
        if found != wanted:
            return (
                CacheStatus(OUTDATED, f"{name} was built with {key}={found!r}, expected {wanted!r}", manifest),
                manifest,
            )
    if not parquet_file.exists():
        return CacheStatus(CORRUPT, f"{parquet_file} is missing although its manifest exists", manifest), manifest
    return None, manifest


def _check_bytes(parquet_file: Path, data: bytes, manifest: dict[str, Any]) -> CacheStatus | None:
    info = manifest["parquet"]
    if len(data) != info["size"]:
        return CacheStatus(
            CORRUPT, f"{parquet_file} has {len(data)} bytes, its manifest says {info['size']} (partial file?)", manifest
        )
    digest = hashlib.sha256(data).hexdigest()
    if digest != info["sha256"]:
        return CacheStatus(CORRUPT, f"{parquet_file} sha256 is {digest}, its manifest says {info['sha256']}", manifest)
    return None


def _check_frame(parquet_file: Path, frame: pd.DataFrame, manifest: dict[str, Any]) -> CacheStatus | None:
    info = manifest["parquet"]
    if len(frame) != info["rows"]:
        return CacheStatus(CORRUPT, f"{parquet_file} has {len(frame)} rows, its manifest says {info['rows']}", manifest)
    columns = [str(column) for column in frame.columns]
    if columns != list(info["columns"]):
        return CacheStatus(
            CORRUPT, f"{parquet_file} has columns {columns}, its manifest says {info['columns']}", manifest
        )
    return None


def verify_table(
    directory: str | os.PathLike, name: str, *, expect: Mapping[str, Any] | None = None
) -> CacheStatus:
    """Check a cached table without parsing it fully: manifest, size, sha256, row count.

    Parameters
    ----------
    directory : str or os.PathLike
        Cache directory.
    name : str
        Table name.
    expect : mapping, optional
        ``metadata`` entries the manifest must hold with exactly these values (recipe
        version, source checksum ...); a difference makes the table ``"outdated"``.

    Returns
    -------
    CacheStatus
    """
    directory = Path(directory)
    failure, manifest = _check_manifest(directory, name, expect or {})
    if failure is not None:
        return failure
    parquet_file = parquet_path(directory, name)
    try:
        data = parquet_file.read_bytes()
    except OSError as err:
        return CacheStatus(CORRUPT, f"{parquet_file} cannot be read: {err}", manifest)
    failure = _check_bytes(parquet_file, data, manifest)
    if failure is not None:
        return failure
    try:
        rows = pq.ParquetFile(io.BytesIO(data)).metadata.num_rows
    except Exception as err:  # any Parquet error: the file does not parse
        return CacheStatus(CORRUPT, f"{parquet_file} is not a readable Parquet file: {err}", manifest)
    if rows != manifest["parquet"]["rows"]:
        return CacheStatus(
            CORRUPT, f"{parquet_file} has {rows} rows, its manifest says {manifest['parquet']['rows']}", manifest
        )
    return CacheStatus(OK, "", manifest)


def read_table(
    directory: str | os.PathLike, name: str, *, expect: Mapping[str, Any] | None = None
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read a cached table after verifying it (see :func:`verify_table`).

    Returns
    -------
    frame : DataFrame
        The table, exactly as written.
    manifest : dict
        Its manifest.

    Raises
    ------
    CacheError
        The table is missing, corrupt or outdated; ``err.status`` says which and why.
    """
    directory = Path(directory)
    failure, manifest = _check_manifest(directory, name, expect or {})
    if failure is None:
        parquet_file = parquet_path(directory, name)
        try:
            data = parquet_file.read_bytes()
        except OSError as err:
            failure = CacheStatus(CORRUPT, f"{parquet_file} cannot be read: {err}", manifest)
        else:
            failure = _check_bytes(parquet_file, data, manifest)
            if failure is None:
                try:
                    frame = pd.read_parquet(io.BytesIO(data))
                except Exception as err:  # any Parquet error: the file does not parse
                    failure = CacheStatus(CORRUPT, f"{parquet_file} is not a readable Parquet file: {err}", manifest)
                else:
                    failure = _check_frame(parquet_file, frame, manifest)
                    if failure is None:
                        return frame, manifest
    raise CacheError(f"cached table {name!r} is {failure.status}: {failure.reason}", status=failure)
