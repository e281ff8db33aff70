"""The maps the app can show: listing them, validating a user's choice, loading them once.

A *maps root* is a folder whose subfolders are map directories written by ``build-map``. The
browser only ever names a map (one of the listed subfolder names); no path from a request is
opened. A loaded map is cached per process, keyed by its directory and build stamp, so several
workers give the same answers and a rebuilt map is picked up.

:class:`LoadedMap` adds what the views need on top of :class:`data.map_artifact.MapArtifact`:

- ``membership``: a sparse (n_points, 98) boolean matrix "compound i contains element j",
  from the parsed formulas, so element highlights (all / any / only) are two sparse ops;
- per-element statistics (compound counts, means of numeric properties);
- the colour options of the materials map (numeric and categorical columns, with derived
  ``n_elements`` and ``magnetic`` when the data allow);
- element similarity: cosines, top-5 neighbours for hovers, a learned 1D element ordering
  (seriation);
- the slow parts (the ordering, the compounds' fingerprints, the projector and its compiled
  ``transform``) computed once, in a background thread started when the map is loaded.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse as sp

from data.map_artifact import MapArtifact, MapArtifactError, load_map, read_metadata
from fingerprints.elements import MAX_Z, SYMBOL_TO_INDEX, SYMBOLS
from fingerprints.formula import parse_formulas

log = logging.getLogger(__name__)

#: Map names the app accepts: a plain folder name, no separators, no leading dot.
MAP_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,119}$")
#: Loaded maps kept in memory per process.
CACHE_SIZE = 3
HIGHLIGHT_MODES = ("all", "any", "only")
#: |magnetisation| above which a compound counts as magnetic (derived ``magnetic`` column).
MAGNETIC_THRESHOLD = 0.1
DERIVED_MAGNETIC = "magnetic"
DERIVED_N_ELEMENTS = "n_elements"
#: Columns never offered as colourings (identifiers and free text).
NOT_COLORABLE = ("id", "formula", "x", "y", "elements")
#: Preferred default colourings of the materials map, first present wins.
DEFAULT_COLORS = ("band_gap", "e_above_hull", "e_form")
#: Random starts of the element seriation besides the spectral one. Each costs about a second
#: for 90 elements; on the default (mined) similarity the spectral start wins against four
#: random ones anyway (bench/results/compare/seriation.csv), so the page does not pay for them.
SERIATION_RANDOM_STARTS = 0


class MapChoiceError(ValueError):
    """The requested map is not one of the listed maps (or none exists)."""


@dataclass(frozen=True)
class MapEntry:
    """One selectable map: its name (the folder name) and a short description."""

    name: str
    path: Path
    rows: int
    dataset: str
    method: str
    similarity: str

    @property
    def label(self) -> str:
        return f"{self.name} · {self.dataset} · {self.rows:,} compounds · {self.method}"


def _entry(name: str, path: Path) -> MapEntry | None:
    try:
        metadata = read_metadata(path)
    except MapArtifactError as err:
        log.info("not a usable map, skipped: %s", err)
        return None
    dataset = metadata.get("dataset", {})
    return MapEntry(
        name=name,
        path=path,
        rows=int(metadata.get("rows", 0) or 0),
        dataset=str(dataset.get("name", "?")) if isinstance(dataset, dict) else "?",
        method=str(metadata.get("method", "?")),
        similarity=str(metadata.get("similarity", {}).get("spec", "?")),
    )


_LISTING_CACHE: dict[tuple, list[MapEntry]] = {}


def _listing_key(maps_root: Path | None, extra: Path | None) -> tuple:
    stamps = []
    for folder in (maps_root, extra):
        try:
            info = Path(folder).stat() if folder is not None else None
        except OSError:
            info = None
        stamps.append((str(folder), info.st_mtime_ns if info else None))
    if maps_root is not None and Path(maps_root).is_dir():
        # A map built into an existing folder changes that folder, not the root.
        for path in Path(maps_root).iterdir():
            try:
                stamps.append((path.name, (path / "metadata.json").stat().st_mtime_ns))
            except OSError:
                continue
    return tuple(sorted(stamps, key=str))


def list_maps(maps_root: Path | None, *, extra: Path | None = None) -> list[MapEntry]:
    """Like :func:`scan_maps`, cached until a map folder or its metadata changes."""
    key = _listing_key(maps_root, extra)
    cached = _LISTING_CACHE.get(key)
    if cached is None:
        cached = scan_maps(maps_root, extra=extra)
        if len(_LISTING_CACHE) > 16:
            _LISTING_CACHE.clear()
        _LISTING_CACHE[key] = cached
    return list(cached)


def scan_maps(maps_root: Path | None, *, extra: Path | None = None) -> list[MapEntry]:
    """Valid maps among the subfolders of ``maps_root``, sorted by name, plus ``extra``.

    Parameters
    ----------
    maps_root : Path or None
        Folder whose subfolders are map directories; missing folders give no maps.
    extra : Path, optional
        A map directory outside ``maps_root`` (the one the app was started with); listed
        under its folder name unless a map of that name already exists.
    """
    entries: dict[str, MapEntry] = {}
    if maps_root is not None and Path(maps_root).is_dir():
        for path in sorted(Path(maps_root).iterdir()):
            if path.is_dir() and MAP_NAME_PATTERN.match(path.name):
                entry = _entry(path.name, path)
                if entry is not None:
                    entries[entry.name] = entry
    if extra is not None and Path(extra).is_dir():
        extra = Path(extra)
        already = any(e.path.resolve() == extra.resolve() for e in entries.values())
        if not already:
            name = extra.name if MAP_NAME_PATTERN.match(extra.name) else "map"
            while name in entries:
                name = f"{name}+"
            entry = _entry(name, extra)
            if entry is not None:
                entries[name] = entry
    return [entries[name] for name in sorted(entries)]


def resolve_map(entries: list[MapEntry], name: object) -> MapEntry:
    """The listed map called ``name``.

    Raises
    ------
    MapChoiceError
        When ``name`` is not a string naming one of ``entries`` (the message lists them).
    """
    if not entries:
        raise MapChoiceError("no map has been built yet")
    if not isinstance(name, str) or not MAP_NAME_PATTERN.match(name):
        raise MapChoiceError(f"map name {str(name)[:60]!r} is not valid (expected one of {[e.name for e in entries][:10]})")
    for entry in entries:
        if entry.name == name:
            return entry
    raise MapChoiceError(f"no map called {name!r} (available: {', '.join(e.name for e in entries[:10])})")


# ----------------------------------------------------------------------------- loaded maps


def membership_matrix(formulas) -> tuple[sp.csr_matrix, np.ndarray]:
    """Which elements each formula contains.

    Returns
    -------
    membership : csr_matrix of bool, shape (n, 98)
    parsed : ndarray of bool, shape (n,)
        False where the formula did not parse (its row is empty).
    """
    batch = parse_formulas(np.asarray(formulas, dtype=object))
    fractions = batch.fractions.tocsr()
    membership = sp.csr_matrix((fractions.data > 0, fractions.indices, fractions.indptr), shape=fractions.shape, dtype=bool)
    membership.eliminate_zeros()
    return membership, batch.ok


def highlight_mask(membership_csc: sp.csc_matrix, row_counts: np.ndarray, element_indices, mode: str) -> np.ndarray:
    """Compounds matching an element selection.

    Parameters
    ----------
    membership_csc : csc_matrix of bool, shape (n, 98)
    row_counts : ndarray of int, shape (n,)
        Number of distinct elements of each compound.
    element_indices : sequence of int
        Column indices (Z - 1) of the selected elements; empty selects nothing.
    mode : {"all", "any", "only"}
        ``all``: contains every selected element (and maybe others); ``any``: contains at
        least one; ``only``: made of selected elements only (a chemical system and its
        subsystems, e.g. Fe, O -> Fe, FeO, Fe2O3, O2).

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    if mode not in HIGHLIGHT_MODES:
        raise ValueError(f"mode must be one of {HIGHLIGHT_MODES}, got {mode!r}")
    indices = np.unique(np.asarray(list(element_indices), dtype=np.int64))
    n = membership_csc.shape[0]
    if indices.size == 0:
        return np.zeros(n, dtype=bool)
    if indices.min() < 0 or indices.max() >= membership_csc.shape[1]:
        raise ValueError(f"element indices must be in 0..{membership_csc.shape[1] - 1}")
    hits = np.zeros(n, dtype=np.int32)
    columns = membership_csc[:, indices]
    np.add.at(hits, columns.indices, 1)
    if mode == "any":
        return hits > 0
    if mode == "all":
        return hits == indices.size
    return (hits == row_counts) & (row_counts > 0)


def element_frequencies(membership_csr: sp.csr_matrix, rows) -> pd.Series:
    """How many of the compounds ``rows`` contain each element (Series indexed by symbol, 98)."""
    rows = np.asarray(rows, dtype=np.int64)
    counts = np.zeros(MAX_Z, dtype=np.int64)
    if rows.size:
        np.add.at(counts, membership_csr[rows].indices, 1)
    return pd.Series(counts, index=pd.Index(SYMBOLS, name="symbol"), name="compounds in selection")


def seriation_order(cosines: pd.DataFrame, *, n_random_starts: int = SERIATION_RANDOM_STARTS, seed: int = 0) -> list[str]:
    """The learned 1D ordering of the elements: :func:`fingerprints.seriation.seriate` on the cosines.

    Elements with a positive cosine to some other element are ordered by bandwidth seriation
    (similar elements close together; Spearman 0.87-0.91 against the modified Pettifor scale
    in the comparison study), oriented with the alkali metals before the halogens like the
    Pettifor scale. Elements without such a partner follow in Z order: first those with data
    but no positive cosine to any other (He in the mined similarity), then those without data.

    Parameters
    ----------
    cosines : DataFrame (n, n)
        Element cosines labelled by symbol (all-zero rows for elements without data).
    n_random_starts, seed : int, keyword-only
        Passed to :func:`~fingerprints.seriation.seriate`.

    Returns
    -------
    list of str
        Every label of ``cosines`` once.
    """
    from fingerprints.seriation import seriate

    values = np.nan_to_num(np.asarray(cosines, dtype=np.float64), nan=0.0)
    symbols = [str(s) for s in cosines.index]
    has_data = np.any(values != 0, axis=1)
    off_diagonal = values.copy()
    np.fill_diagonal(off_diagonal, 0.0)
    keep = has_data.copy()
    while True:  # an element whose only partners were left out has no place either
        isolated = keep & ~np.any(off_diagonal[:, keep] > 0, axis=1)
        if not isolated.any():
            break
        keep &= ~isolated
    by_z = np.argsort([SYMBOL_TO_INDEX.get(s, MAX_Z) for s in symbols], kind="stable")
    rest = [symbols[i] for i in by_z if has_data[i] and not keep[i]] + [symbols[i] for i in by_z if not has_data[i]]
    if keep.sum() < 3:
        return [symbols[i] for i in np.flatnonzero(keep)] + rest
    labels = [symbols[i] for i in np.flatnonzero(keep)]
    similarity = pd.DataFrame((values[np.ix_(keep, keep)] + values[np.ix_(keep, keep)].T) / 2, index=labels, columns=labels)
    order = list(seriate(similarity, n_random_starts=n_random_starts, seed=seed).order)
    if _reads_backwards(order):
        order.reverse()
    return order + rest


def _reads_backwards(order: list[str]) -> bool:
    """True when the halogens come before the alkali metals (the Pettifor scale has them after)."""
    from fingerprints.elements import element_table

    category = element_table().set_index("symbol")["category"]
    position = pd.Series(np.arange(len(order)), index=order)
    known = category.reindex(order)
    alkali = position[(known == "alkali metal").to_numpy()]
    halogens = position[(known == "halogen").to_numpy()]
    if len(alkali) and len(halogens):
        return bool(alkali.mean() > halogens.mean())
    return SYMBOL_TO_INDEX.get(order[0], 0) > SYMBOL_TO_INDEX.get(order[-1], 0)  # lighter end first


#: Niceness of the warm-up thread (Linux): page requests get the CPU first on a busy machine.
WARM_UP_NICENESS = 10


def _lower_this_threads_priority() -> None:
    """Best effort: on Linux a thread is a task with its own nice value."""
    if hasattr(os, "setpriority") and hasattr(threading, "get_native_id"):
        try:
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), WARM_UP_NICENESS)
        except OSError:
            pass


class _SlowParts:
    """State of a loaded map's slow parts, with one lock per part (see :meth:`LoadedMap.warm`)."""

    def __init__(self) -> None:
        self.order: list[str] | None = None
        self.has_fingerprints = False
        self.projector_ready = False
        self.thread: threading.Thread | None = None
        #: Finished figures that depend only on the map and the view (see dashboard.callbacks.build).
        self.figures: OrderedDict = OrderedDict()
        self.reset_locks()

    def reset_locks(self) -> None:
        self.order_lock = threading.Lock()
        self.fingerprints_lock = threading.Lock()
        self.projector_lock = threading.Lock()
        self.figures_lock = threading.Lock()


#: Every _SlowParts alive, so a forked worker can replace locks held by threads it did not inherit.
_ALL_SLOW_PARTS: weakref.WeakSet = weakref.WeakSet()


def _after_fork_in_child() -> None:
    # A fork (gunicorn preload) copies the locks but not the warm-up thread that may hold them.
    for slow in list(_ALL_SLOW_PARTS):
        slow.reset_locks()
        slow.thread = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


@dataclass
class LoadedMap:
    """A map ready for the views (see the module docstring)."""

    name: str
    artifact: MapArtifact
    points: pd.DataFrame
    membership: sp.csr_matrix
    membership_csc: sp.csc_matrix
    row_counts: np.ndarray
    numeric_columns: list[str]
    categorical_columns: list[str]
    element_counts: pd.Series
    element_means: dict[str, pd.Series] = field(repr=False)
    cosines: pd.DataFrame = field(repr=False)
    similar: dict = field(repr=False)
    _slow: _SlowParts = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self._slow is None:
            self._slow = _SlowParts()
        _ALL_SLOW_PARTS.add(self._slow)

    @property
    def n_points(self) -> int:
        return len(self.points)

    # -- the slow parts: computed once, by the warm-up thread or by the first request ----------

    @property
    def order_learned(self) -> list[str]:
        """The learned 1D element ordering (:func:`seriation_order`), computed once."""
        slow = self._slow
        if slow.order is None:
            with slow.order_lock:
                if slow.order is None:
                    slow.order = seriation_order(self.cosines)
        return slow.order

    def _fingerprints(self) -> np.ndarray:
        slow = self._slow
        if not slow.has_fingerprints:
            with slow.fingerprints_lock:
                if not slow.has_fingerprints:
                    _ = self.artifact.fingerprints
                    slow.has_fingerprints = True
        return self.artifact.fingerprints

    def _projector_ready(self) -> None:
        """Load the projector and compile its ``transform`` (numba, for UMAP) once."""
        slow = self._slow
        if slow.projector_ready:
            return
        fingerprints = self._fingerprints()
        with slow.projector_lock:
            if slow.projector_ready:
                return
            projector = self.artifact.projector
            if projector is not None and len(fingerprints):
                projector.transform(fingerprints[:1])
            slow.projector_ready = True

    def neighbours_of(self, rows, *, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`MapArtifact.neighbours_of`, sharing the fingerprints with the warm-up thread."""
        self._fingerprints()
        return self.artifact.neighbours_of(rows, k=k)

    def place(self, formulas, *, k: int = 10) -> pd.DataFrame:
        """:meth:`MapArtifact.place`, after (or while waiting for) the projector's warm-up."""
        self._projector_ready()
        return self.artifact.place(formulas, k=k)

    def warm(self) -> None:
        """Do the slow one-time work now, in this thread: the element ordering, the
        fingerprints of every compound, the projector and its compiled ``transform``.

        Thread-safe and idempotent: a request needing one of these waits for the thread
        already computing it instead of computing it again.
        """
        _ = self.order_learned
        self._projector_ready()

    def start_warming(self) -> threading.Thread:
        """:meth:`warm` in a daemon thread (the first search of a new formula then answers at once)."""
        thread = threading.Thread(target=self._warm_quietly, name=f"chemmap-warm-{self.name}", daemon=True)
        self._slow.thread = thread
        thread.start()
        return thread

    def wait_warm(self, timeout: float | None = None) -> bool:
        """Wait for the warm-up thread (if any); True when it has finished."""
        thread = self._slow.thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def _warm_quietly(self) -> None:
        started = time.perf_counter()
        _lower_this_threads_priority()
        try:
            self.warm()
        except Exception:  # noqa: BLE001 - the request that needs the part redoes it and reports the error
            log.warning("warming map %s failed; the first request that needs it will retry", self.name, exc_info=True)
        else:
            log.info("map %s warmed up in %.1f s", self.name, time.perf_counter() - started)

    @property
    def color_columns(self) -> list[str]:
        return self.numeric_columns + self.categorical_columns

    @property
    def default_color(self) -> str | None:
        for column in DEFAULT_COLORS:
            if column in self.numeric_columns:
                return column
        return (self.color_columns or [None])[0]

    @property
    def elements(self) -> pd.DataFrame:
        return self.artifact.elements

    def highlight(self, symbols, mode: str) -> np.ndarray:
        """Boolean mask (n_points,) of the compounds matching ``symbols`` under ``mode``."""
        indices = [SYMBOL_TO_INDEX[s] for s in symbols]
        return highlight_mask(self.membership_csc, self.row_counts, indices, mode)

    def frequencies(self, rows) -> pd.Series:
        return element_frequencies(self.membership, rows)

    def cached_figure(self, key: tuple, build, *, max_entries: int = 256):
        """``build()``, kept for later calls with the same ``key`` (least recently used dropped).

        For figures that are a pure function of this map and the view: building them with
        plotly's validating objects costs far more than serving a kept copy. The caller must
        not modify the returned object.
        """
        slow = self._slow
        with slow.figures_lock:
            if key in slow.figures:
                slow.figures.move_to_end(key)
                return slow.figures[key]
        value = build()
        with slow.figures_lock:
            slow.figures[key] = value
            while len(slow.figures) > max_entries:
                slow.figures.popitem(last=False)
        return value


def _add_derived_columns(points: pd.DataFrame, row_counts: np.ndarray) -> pd.DataFrame:
    points = points.copy()
    if DERIVED_N_ELEMENTS not in points.columns:
        points[DERIVED_N_ELEMENTS] = row_counts.astype(np.int16)
    if "magnetization" in points.columns and DERIVED_MAGNETIC not in points.columns:
        values = pd.to_numeric(points["magnetization"], errors="coerce").to_numpy(dtype=np.float64)
        labels = np.where(np.abs(values) > MAGNETIC_THRESHOLD, "magnetic", "non-magnetic").astype(object)
        labels[~np.isfinite(values)] = None
        points[DERIVED_MAGNETIC] = pd.Categorical(labels, categories=["magnetic", "non-magnetic"])
    return points


def _split_columns(points: pd.DataFrame) -> tuple[list[str], list[str]]:
    from dashboard.figures.materials_map import is_categorical

    numeric, categorical = [], []
    for column in points.columns:
        if column in NOT_COLORABLE:
            continue
        series = points[column]
        if is_categorical(series):
            if series.nunique(dropna=True) >= 1:
                categorical.append(column)
        elif series.notna().any():
            numeric.append(column)
    return numeric, categorical


def _element_means(membership_csc: sp.csc_matrix, points: pd.DataFrame, columns: list[str]) -> dict[str, pd.Series]:
    means = {}
    transpose = membership_csc.T.tocsr().astype(np.float64)
    for column in columns:
        values = points[column].to_numpy(dtype=np.float64, na_value=np.nan)
        valid = np.isfinite(values)
        sums = transpose @ np.where(valid, values, 0.0)
        counts = transpose @ valid.astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
        means[column] = pd.Series(mean, index=pd.Index(SYMBOLS, name="symbol"), name=column)
    return means


def prepare_map(name: str, artifact: MapArtifact) -> LoadedMap:
    """Everything the views need from an artifact, computed once (vectorised)."""
    from dashboard.figures.similarity import top_similar

    membership, _ = membership_matrix(artifact.points["formula"].to_numpy())
    membership_csc = membership.tocsc()
    row_counts = np.diff(membership.indptr).astype(np.int32)
    points = _add_derived_columns(artifact.points, row_counts)
    numeric, categorical = _split_columns(points)
    counts = np.asarray(membership.sum(axis=0)).ravel().astype(np.int64)
    cosines = artifact.embedding.cosines_
    return LoadedMap(
        name=name,
        artifact=artifact,
        points=points,
        membership=membership,
        membership_csc=membership_csc,
        row_counts=row_counts,
        numeric_columns=numeric,
        categorical_columns=categorical,
        element_counts=pd.Series(counts, index=pd.Index(SYMBOLS, name="symbol"), name="compounds"),
        element_means=_element_means(membership_csc, points, numeric),
        cosines=cosines,
        similar=top_similar(cosines, top=5),
    )


class MapCache:
    """Loaded maps of this process, least recently used dropped first.

    A newly loaded map starts warming up in a background thread (``warm_in_background``):
    its element ordering, its compound fingerprints and its projector (for UMAP, ``transform``
    compiles numba code for several seconds), so the first search of a new formula does not
    wait for them. Requests never wait for the warm-up except for a part they need.

    The key is the directory plus its build stamp and points checksum, so two workers
    holding the same map agree, and a map rebuilt in place is loaded again.
    """

    def __init__(self, size: int = CACHE_SIZE, *, warm_in_background: bool = True):
        self.size = size
        self.warm_in_background = warm_in_background
        self._maps: OrderedDict[tuple, LoadedMap] = OrderedDict()
        self._lock = threading.Lock()
        self._loading: dict[tuple, threading.Lock] = {}

    @staticmethod
    def key(entry: MapEntry) -> tuple:
        # build-map swaps a rebuilt map in with a rename: a new inode and mtime for metadata.json.
        info = (entry.path / "metadata.json").stat()
        return (str(entry.path.resolve()), entry.name, info.st_ino, info.st_mtime_ns, info.st_size)

    def get(self, entry: MapEntry) -> LoadedMap:
        key = self.key(entry)
        with self._lock:
            if key in self._maps:
                self._maps.move_to_end(key)
                return self._maps[key]
            loading = self._loading.setdefault(key, threading.Lock())
        with loading:  # one thread loads a map; the others wait for it
            with self._lock:
                if key in self._maps:
                    return self._maps[key]
            try:
                loaded = prepare_map(entry.name, load_map(entry.path))
            except BaseException:  # a failed load keeps no lock: the next request retries afresh
                with self._lock:
                    self._loading.pop(key, None)
                raise
            if self.warm_in_background:
                loaded.start_warming()
            with self._lock:
                self._maps[key] = loaded
                self._loading.pop(key, None)
                while len(self._maps) > self.size:
                    self._maps.popitem(last=False)
            return loaded

    def clear(self) -> None:
        with self._lock:
            self._maps.clear()


#: The process-wide cache (maps are immutable once built).
MAPS = MapCache()
