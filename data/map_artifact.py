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
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from fingerprints.io import give_default_permissions

from .download import sha256_of

FORMAT_NAME = "chemmap.map"
FORMAT_VERSION = 1
POINTS_FILE = "points.parquet"
ELEMENTS_FILE = "elements.parquet"
EMBEDDING_FILE = "embedding.json"
PROJECTOR_FILE = "projector.pkl"
METADATA_FILE = "metadata.json"
REQUIRED_POINT_COLUMNS = ("id", "formula", "x", "y")


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


@contextmanager
def building_directory(target: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh temporary directory next to ``target``; swap it into place on success.

    An existing map at ``target`` is replaced only after the new one is complete; on failure
    the temporary directory is removed and the old map stays untouched.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    temp = Path(tempfile.mkdtemp(prefix=f".{target.name}.building-", dir=target.parent))
    give_default_permissions(temp)
    try:
        yield temp
        if target.exists():
            old = Path(tempfile.mkdtemp(prefix=f".{target.name}.old-", dir=target.parent))
            old.rmdir()
            os.replace(target, old)
            os.replace(temp, target)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(temp, target)
    finally:
        if temp.exists():
            shutil.rmtree(temp, ignore_errors=True)


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
        raise MapArtifactError(f"map directory {directory} does not exist")
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
    """
    directory = Path(directory)
    metadata = read_metadata(directory)
    points_path = _verify_file(directory, POINTS_FILE, metadata)
    elements_path = _verify_file(directory, ELEMENTS_FILE, metadata)
    _verify_file(directory, EMBEDDING_FILE, metadata, full_hash=False)
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
