"""Build a map artifact: dataset -> similarity -> fingerprints -> 2D maps -> quality -> files.

The orchestration lives here; every computation is a ``fingerprints`` function. The result is
written with :func:`data.map_artifact.building_directory`, so an interrupted build leaves the
previous map (if any) untouched and never a half-written one.
"""

from __future__ import annotations

import hashlib
import logging
import pickle
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from fingerprints.elements import element_table
from fingerprints.estimator import PettiforEmbedding
from fingerprints.grid_layout import snap_to_grid
from fingerprints.map_quality import (
    element_neighbour_agreement,
    knn_preservation,
    trustworthiness_score,
)
from fingerprints.projection import compound_map, element_map, library_versions

from .download import default_cache_dir, sha256_of
from .map_artifact import (
    ELEMENTS_FILE,
    EMBEDDING_FILE,
    POINTS_FILE,
    PROJECTOR_FILE,
    SKIPPED_FILE,
    build_lock,
    building_directory,
    check_output_folder,
    write_metadata,
)
from .sources import Dataset, load_dataset, resolve_similarity

log = logging.getLogger(__name__)

DEFAULT_MAP_NAME = "mp-mined-corrected-umap"
QUALITY_SAMPLE = 5000
QUALITY_K = 15
#: Distributions whose versions a map records.
MAP_LIBRARIES = ("numpy", "scipy", "pandas", "scikit-learn", "umap-learn", "pynndescent", "numba")


def default_map_dir() -> Path:
    """Where ``python app.py`` keeps the built-in default map."""
    return default_cache_dir() / "maps" / DEFAULT_MAP_NAME


@dataclass
class MapSpec:
    """Everything that decides a map; stored in its metadata."""

    dataset: str = "mp"
    similarity: str = "mined"
    variant: str = "corrected"
    method: str = "umap"
    params: dict = field(default_factory=dict)
    element_method: str = "umap"
    fit_sample: int | None = None
    normalize: bool = True


class BuildSteps:
    """A progress bar over the build steps, with the time each one took (``timings``, seconds)."""

    def __init__(self, names: list[str], *, progress: bool):
        self.bar = tqdm(total=len(names), desc="build-map", unit="step", disable=not progress, leave=True)
        self.timings: dict[str, float] = {}
        self._name = None
        self._start = 0.0

    def start(self, name: str) -> None:
        self._finish()
        self._name, self._start = name, time.perf_counter()
        self.bar.set_postfix_str(name)
        log.debug("build-map: %s", name)

    def _finish(self) -> None:
        if self._name is not None:
            self.timings[self._name] = round(time.perf_counter() - self._start, 3)
            self.bar.update(1)
            self._name = None

    def close(self) -> None:
        self._finish()
        self.bar.close()


def dataset_fingerprint(dataset: Dataset) -> str:
    """sha256 of the dataset file when it is a file, else of its formulas and columns."""
    path = Path(dataset.source)
    if path.is_file():
        return sha256_of(path)
    digest = hashlib.sha256()
    digest.update("\x1f".join(map(str, dataset.table.columns)).encode())
    digest.update(pd.util.hash_pandas_object(dataset.table["formula"], index=False).to_numpy().tobytes())
    return digest.hexdigest()


def _point_table(dataset: Dataset, usable: np.ndarray, coords: np.ndarray) -> pd.DataFrame:
    table = dataset.table.loc[usable].reset_index(drop=True)
    for id_column in ("mat_id", "material_id", "id"):
        if id_column in table.columns:
            ids = table.pop(id_column)
            if pd.api.types.is_float_dtype(ids) and ids.dropna().eq(ids.dropna().round()).all():
                ids = ids.astype("Int64")  # an integer id read as float: 17, not "17.0"
            ids = ids.astype(str)
            break
    else:
        ids = table["formula"].astype(str)  # formulas are unique in the built-in datasets
    points = pd.DataFrame({"id": ids.to_numpy(), "formula": table.pop("formula").astype(str).to_numpy()})
    points["x"] = coords[:, 0].astype(np.float32)
    points["y"] = coords[:, 1].astype(np.float32)
    # A property called x or y must not overwrite the map coordinates.
    table = table.rename(columns={c: f"{c}_2" for c in ("x", "y") if c in table.columns})
    for column in table.columns:
        points[column] = table[column].to_numpy() if not isinstance(table[column].dtype, pd.CategoricalDtype) else table[column]
    return points


def element_frame(vectors: pd.DataFrame, method: str) -> pd.DataFrame:
    """The element map: ``element_table()`` columns, 2D ``x, y`` and the learned grid cell
    (``grid_col, grid_row``; -1 for elements without data); ``attrs["projection"]`` holds its parameters."""
    xy = element_map(vectors, method=method)
    elements = element_table().merge(xy, on="symbol")
    cells = np.full((len(elements), 2), -1, dtype=np.int64)
    has_data = elements["has_data"].to_numpy()
    cells[has_data] = snap_to_grid(elements.loc[has_data, ["x", "y"]].to_numpy())
    elements["grid_col"], elements["grid_row"] = cells[:, 0], cells[:, 1]
    elements.attrs["projection"] = xy.attrs.get("projection", {})
    return elements


def write_map_files(
    folder: Path, *, elements: pd.DataFrame, embedding: PettiforEmbedding, projector, skipped: pd.DataFrame
) -> None:
    """Write the files every engine writes besides the points: element map, embedding, projector, skipped rows."""
    elements.to_parquet(folder / ELEMENTS_FILE, index=False)
    embedding.save(folder / EMBEDDING_FILE)
    with (folder / PROJECTOR_FILE).open("wb") as handle:
        pickle.dump(projector, handle, protocol=pickle.HIGHEST_PROTOCOL)
    skipped.to_csv(folder / SKIPPED_FILE, index=False)


def finish_map(
    folder: Path,
    *,
    spec: MapSpec,
    counts,
    embedding: PettiforEmbedding,
    projector,
    elements: pd.DataFrame,
    skipped: pd.DataFrame,
    dataset: dict,
    rows: int,
    quality: dict,
    steps: BuildSteps,
    started: float,
    libraries: tuple[str, ...] = MAP_LIBRARIES,
    extra: dict | None = None,
) -> dict:
    """Complete a map being built in ``folder`` (``points.parquet`` already written).

    Writes the other files (:func:`write_map_files`), closes ``steps``, and writes
    ``metadata.json`` last: provenance, parameters, quality, versions, timings and the
    checksum of every file. Both build engines end here, so their metadata agree.

    Parameters
    ----------
    folder : Path
        The temporary build directory (see :func:`data.map_artifact.building_directory`).
    spec : MapSpec
    counts : SubstitutionCounts
        The similarity source the embedding was fitted on.
    embedding, projector :
        The fitted ``PettiforEmbedding`` and compound projection.
    elements, skipped : DataFrame
        The element map and the skipped rows (``row, formula, reason, stage``).
    dataset : dict
        ``name``, ``source``, ``sha256`` and ``rows`` of the input.
    rows : int
        Points on the map.
    quality : dict
        ``{"compounds": ..., "elements": ...}``.
    steps : BuildSteps
        Closed here; its timings are recorded.
    started : float
        ``time.perf_counter()`` at the start of the build.
    libraries : tuple of str, keyword-only
        Distributions whose versions are recorded.
    extra : dict, optional
        Engine-specific entries added to the metadata.

    Returns
    -------
    dict
        The metadata written (without the file checksums).
    """
    write_map_files(folder, elements=elements, embedding=embedding, projector=projector, skipped=skipped)
    metadata = {
        "dataset": dataset,
        "similarity": {"spec": spec.similarity, "source": counts.source, "notes": list(counts.notes)},
        "variant": spec.variant,
        "normalize": spec.normalize,
        "method": spec.method,
        "projection": projector.params_,
        "element_projection": elements.attrs.get("projection", {}),
        "elements_without_data": embedding.elements_without_data_,
        "rows": int(rows),
        "skipped_rows": len(skipped),
        "quality": quality,
        **(extra or {}),
        "versions": library_versions(libraries),
        "built": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "build_seconds": None,
        "step_seconds": steps.timings,
    }
    steps.close()
    metadata["build_seconds"] = round(time.perf_counter() - started, 2)
    write_metadata(folder, metadata)
    return metadata


def build_map(spec: MapSpec, out: str | Path, *, progress: bool = True, cache_dir: Path | None = None) -> Path:
    """Build the map described by ``spec`` into the directory ``out`` (atomically).

    Returns the directory. Rows whose formula fails to parse, or whose elements all lack
    similarity data, are left out of the map and listed in ``skipped.csv`` with the reason.
    An output that cannot be written (:class:`data.map_artifact.MapOutputError`) is refused
    before any work.
    """
    check_output_folder(out)
    with build_lock(out):  # a second build of ``out`` fails here at once, not at the end
        steps = BuildSteps(
            ["load dataset", "similarity", "fingerprints", "compound map", "element map", "quality", "write"],
            progress=progress,
        )
        started = time.perf_counter()
        try:
            steps.start("load dataset")
            dataset = load_dataset(spec.dataset, cache_dir=cache_dir)
            if "formula" not in dataset.table.columns:
                raise ValueError(f"dataset {spec.dataset} has no formula column")

            steps.start("similarity")
            counts = resolve_similarity(spec.similarity, dataset=dataset, cache_dir=cache_dir)
            embedding = PettiforEmbedding(variant=spec.variant, normalize=spec.normalize).fit(counts)

            steps.start("fingerprints")
            fingerprints, batch = embedding.transform_formulas(dataset.table["formula"].to_numpy())
            zero = batch.ok & ~fingerprints.any(axis=1)
            usable = batch.ok & ~zero
            skipped = pd.concat(
                [
                    dataset.skipped.assign(stage="load")[["row", "formula", "reason", "stage"]],
                    batch.failures().rename(columns={"error": "reason"}).assign(stage="fingerprint"),
                    pd.DataFrame(
                        {
                            "row": np.flatnonzero(zero),
                            "formula": batch.formulas[zero],
                            "reason": "only elements without similarity data: "
                            + ", ".join(embedding.elements_without_data_),
                            "stage": "fingerprint",
                        }
                    ),
                ],
                ignore_index=True,
            )
            if not usable.any():
                raise ValueError(f"dataset {spec.dataset}: no formula could be fingerprinted")

            steps.start("compound map")
            coords, projector = compound_map(fingerprints[usable], method=spec.method, fit_sample=spec.fit_sample, **spec.params)

            steps.start("element map")
            elements = element_frame(embedding.element_vectors_, spec.element_method)

            steps.start("quality")
            quality = {
                "compounds": {
                    "trustworthiness": trustworthiness_score(fingerprints[usable], coords, n_neighbors=QUALITY_K, sample=QUALITY_SAMPLE),
                    "knn_preservation": knn_preservation(fingerprints[usable], coords, k=QUALITY_K, sample=QUALITY_SAMPLE),
                    "k": QUALITY_K,
                    "sample": min(QUALITY_SAMPLE, int(usable.sum())),
                },
                "elements": element_quality(embedding, elements),
            }

            steps.start("write")
            points = _point_table(dataset, usable, coords)
            with building_directory(out) as folder:
                points.to_parquet(folder / POINTS_FILE, index=False)
                finish_map(
                    folder, spec=spec, counts=counts, embedding=embedding, projector=projector, elements=elements,
                    skipped=skipped, rows=len(points), quality=quality, steps=steps, started=started,
                    dataset={
                        "name": dataset.name, "source": dataset.source, "sha256": dataset_fingerprint(dataset),
                        "rows": len(dataset.table),
                    },
                )  # fmt: skip
        finally:
            steps.close()
    log.info("map written to %s (%d points, %d skipped) in %.1f s", out, len(points), len(skipped), time.perf_counter() - started)
    return Path(out)


def element_quality(embedding: PettiforEmbedding, elements: pd.DataFrame) -> dict:
    """Quality of the element map: trustworthiness (5 neighbours) and group/block agreement."""
    has_data = elements["has_data"].to_numpy()
    vectors = embedding.element_vectors_.to_numpy()[has_data]
    xy = elements.loc[has_data, ["x", "y"]].to_numpy()
    agreement = element_neighbour_agreement(elements[["symbol", "x", "y"]], element_table())
    return {
        "trustworthiness": trustworthiness_score(vectors, xy, n_neighbors=5, sample=None),
        **agreement,
    }
