"""Alexandria PBE entries (convex hull and full set) as a compact property table.

Alexandria (Schmidt et al., CC BY 4.0) publishes its PBE data as bz2-compressed JSON files:
``https://alexandria.icams.rub.de/data/pbe/<date>/convex_hull.json.bz2`` (about 116k
entries) and the full 3D set ``alexandria_000.json.bz2`` ... (about 5 million entries in
~58 files). Each file is one JSON object whose ``entries`` key is a list of pymatgen
``ComputedStructureEntry`` dicts; every entry's ``data`` dict holds the properties.

This module streams such a file (bounded memory: one entry and one chunk of table rows at a
time, never the whole JSON document), keeps ten scalar properties per entry and caches the
result as Parquet with a JSON manifest:

===============  ======  ===========================================================
column           dtype   meaning
===============  ======  ===========================================================
mat_id           str     Alexandria id, e.g. ``agm002153478``
formula          str     formula as given (validated with ``fingerprints.formula``)
prototype_id     str     AFLOW-style prototype label
spg              Int64   space-group number 1..230
e_above_hull     float   energy above the convex hull, eV/atom
e_form           float   formation energy, eV/atom
band_gap_ind     float   indirect (fundamental) PBE band gap, eV
band_gap_dir     float   direct PBE band gap, eV
total_mag        float   total magnetic moment of the cell, Bohr magnetons
nsites           Int64   number of sites in the cell
===============  ======  ===========================================================

Missing keys, ``null`` and non-finite numbers become NaN/NA and are counted per column
(``missing_values``); values of the wrong type (a string where a number belongs, a
non-integral space group...) also become NaN/NA and are counted (``invalid_values``). Rows
are skipped, never silently, when the entry is not an object or has no ``data`` object,
when the formula is missing or invalid (the parser's reason is kept) and when a ``mat_id``
repeats (the first is kept). Bare ``NaN``/``Infinity`` tokens, which Python's ``json``
writes but strict JSON parsers reject, are read as ``null``.

The input may also be gzip-compressed or plain JSON (detected from the first bytes), and a
top-level list of entries is accepted as well as ``{"entries": [...]}``.
"""

from __future__ import annotations

import bz2
import gzip
import json
import logging
import math
import os
import queue
import re
import sys
import threading
import zlib
from collections import Counter
from pathlib import Path
from typing import IO, Any
from urllib.parse import unquote, urlsplit
from urllib.request import url2pathname

import numpy as np
import pandas as pd

from data import cache
from data.download import default_cache_dir, fetch, sha256_of
from fingerprints.formula import parse_formulas
from fingerprints.io import atomic_path, atomic_write

__all__ = [
    "ALEXANDRIA_PBE_URL",
    "COLUMNS",
    "AlexandriaError",
    "alexandria_info",
    "load_alexandria",
    "load_cached_alexandria",
    "parse_alexandria_file",
    "summarize_manifest",
]

logger = logging.getLogger(__name__)

#: Where the PBE files are published (``<date>/convex_hull.json.bz2``, ``alexandria_000.json.bz2``...).
ALEXANDRIA_PBE_URL = "https://alexandria.icams.rub.de/data/pbe/"

STRING_COLUMNS = ("mat_id", "formula", "prototype_id")
INTEGER_COLUMNS = ("spg", "nsites")
FLOAT_COLUMNS = ("e_above_hull", "e_form", "band_gap_ind", "band_gap_dir", "total_mag")
#: Output columns, in order.
COLUMNS = (
    "mat_id", "formula", "prototype_id", "spg", "e_above_hull", "e_form",
    "band_gap_ind", "band_gap_dir", "total_mag", "nsites",
)  # fmt: skip
_EMPTY_DTYPES = {
    name: "str" if name in STRING_COLUMNS else "Int64" if name in INTEGER_COLUMNS else "float64" for name in COLUMNS
}
_VALID_INTEGER_RANGE = {"spg": (1, 230), "nsites": (1, 10**9)}

#: Bumped when the table recipe changes; cached tables of another recipe are parsed again.
RECIPE_VERSION = 1
#: Names the current table in ``<cache_dir>/alexandria/``.
CURRENT_FILE = "current.json"
DEFAULT_CHUNK_ROWS = 20_000
_SKIPPED_EXAMPLES = 20
_PROGRESS_EVERY = 2_000

_READ_BLOCK = 1 << 20
# The NaN/Infinity repair cuts blocks at a comma; a block with no comma at all is passed on
# once this much is held back, so a pathological file cannot make the reader hold it whole.
_MAX_HELD_BYTES = 16 << 20
_READ_AHEAD_BLOCKS = 4
# ijson turns each buffer it reads into Python events at once: 64 kB keeps that small.
_IJSON_BUFFER = 1 << 16
# A bare NaN / Infinity / -Infinity in value position (after ':' ',' or '['; before ',' ']'
# '}' or the end of the block). A string value such as "NaN" (sodium nitride) is preceded by
# a quote and left alone; only a string containing ':NaN,' itself would be altered.
_NON_FINITE_RE = re.compile(rb"([:,\[]\s*)-?(?:NaN|Infinity)(?=\s*(?:[,\]}]|\Z))")
_RELEASE_RE = re.compile(r"/(\d{4}\.\d{1,2}\.\d{1,2})/")


class AlexandriaError(ValueError):
    """An Alexandria file is missing, unreadable, truncated, corrupt or holds no usable entry."""


# --------------------------------------------------------------------------- reading bytes


class _ReadAhead:
    """Decompressed bytes of ``stream``, read in a background thread (a file-like ``read``).

    bz2 decompression dominates the run time and releases the GIL, so reading ahead in a
    thread overlaps it with JSON parsing. At most ``depth`` blocks wait in the queue
    (bounded memory). Bare ``NaN``/``Infinity`` tokens are replaced by ``null``; blocks are
    cut just before a comma so that a token is never split between two blocks.
    """

    def __init__(
        self, stream: IO[bytes], raw: IO[bytes], *, block_size: int = _READ_BLOCK, depth: int = _READ_AHEAD_BLOCKS
    ) -> None:
        self._stream = stream
        self._raw = raw
        self._block_size = block_size
        self._queue: queue.Queue = queue.Queue(maxsize=depth)
        self._stop = threading.Event()
        self._buffer = b""
        self._pos = 0
        self._done = False
        self.non_finite = 0
        self.compressed_position = 0
        self._thread = threading.Thread(target=self._produce, name="alexandria-read-ahead", daemon=True)
        self._thread.start()

    # producer side (background thread)
    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _repair(self, data: bytes) -> bytes:
        if b"NaN" in data or b"Infinity" in data:
            data, count = _NON_FINITE_RE.subn(rb"\1null", data)
            self.non_finite += count
        return data

    def _produce(self) -> None:
        held = b""
        try:
            while not self._stop.is_set():
                block = self._stream.read(self._block_size)
                self.compressed_position = self._raw.tell()
                if not block:
                    if held and not self._put(self._repair(held)):
                        return
                    break
                data = held + block if held else block
                cut = data.rfind(b",")
                if cut <= 0 and len(data) < _MAX_HELD_BYTES:
                    held = data
                    continue
                if cut <= 0:
                    cut = len(data)
                held = data[cut:]
                if not self._put(self._repair(data[:cut])):
                    return
        except BaseException as exc:  # handed to the reader, which raises it in its thread
            self._put(exc)
            return
        self._put(None)

    # consumer side
    def _fill(self) -> bool:
        while self._pos >= len(self._buffer):
            if self._done:
                return False
            item = self._queue.get()
            if item is None:
                self._done = True
                return False
            if isinstance(item, BaseException):
                self._done = True
                raise item
            self._buffer, self._pos = item, 0
        return True

    def read(self, size: int = -1) -> bytes:
        if size == 0:
            return b""
        if not self._fill():
            return b""
        if self._pos == 0 and (size < 0 or size >= len(self._buffer)):
            self._pos = len(self._buffer)
            return self._buffer
        end = len(self._buffer) if size < 0 else self._pos + size
        out = self._buffer[self._pos : end]
        self._pos += len(out)
        return out

    def first_byte(self) -> bytes:
        """The first byte that is not whitespace or a UTF-8 BOM (consumed: BOM and whitespace only)."""
        while self._fill():
            if self._pos == 0 and self._buffer.startswith(b"\xef\xbb\xbf"):
                self._pos = 3
            stripped = self._buffer[self._pos :].lstrip()
            self._pos = len(self._buffer) - len(stripped)
            if stripped:
                return stripped[:1]
        return b""

    def close(self) -> None:
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=10)


def _open_decompressed(raw: IO[bytes]) -> tuple[IO[bytes], str]:
    """Wrap ``raw`` in the decompressor its magic bytes call for."""
    magic = raw.read(4)
    raw.seek(0)
    if magic[:3] == b"BZh" and magic[3:4].isdigit():
        return bz2.BZ2File(raw, "rb"), "bz2"
    if magic[:2] == b"\x1f\x8b":
        return gzip.GzipFile(fileobj=raw, mode="rb"), "gzip"
    return raw, "plain"


# --------------------------------------------------------------------------- columns


class _ColumnStats:
    """Per-column counts of missing and invalid values, over the whole file."""

    def __init__(self) -> None:
        self.missing: Counter[str] = Counter()
        self.invalid: Counter[str] = Counter()


def _string_column(values: list, name: str, stats: _ColumnStats) -> pd.Series:
    out = [v if type(v) is str else None for v in values]
    missing = sum(1 for v in values if v is None)
    stats.missing[name] += missing
    stats.invalid[name] += sum(1 for v in out if v is None) - missing
    return pd.Series(out, dtype="str")


def _float_column(values: list, name: str, stats: _ColumnStats) -> np.ndarray:
    # bool is an int subclass but never a property value here: exact type checks
    numeric = [v if (type(v) is float or type(v) is int) else None for v in values]
    missing = sum(1 for v in values if v is None)
    invalid = sum(1 for v in numeric if v is None) - missing
    with np.errstate(over="ignore"):
        try:
            array = np.array([np.nan if v is None else v for v in numeric], dtype=np.float64)
        except OverflowError:  # an integer beyond float range
            array = np.array([np.nan if v is None or abs(v) > 1e308 else float(v) for v in numeric], dtype=np.float64)
    bad = ~np.isfinite(array) & np.array([v is not None for v in numeric], dtype=bool)
    array[bad] = np.nan
    stats.missing[name] += missing
    stats.invalid[name] += invalid + int(bad.sum())
    return array


def _integer_column(values: list, name: str, stats: _ColumnStats) -> pd.Series:
    array = _float_column(values, name, stats)
    low, high = _VALID_INTEGER_RANGE[name]
    present = ~np.isnan(array)
    good = present & (array == np.round(array)) & (array >= low) & (array <= high)
    stats.invalid[name] += int((present & ~good).sum())
    result = pd.array(np.where(good, array, 0).astype(np.int64), dtype="Int64")
    result[~good] = pd.NA
    return pd.Series(result)


# --------------------------------------------------------------------------- parsing


class _TableBuilder:
    """Collects rows in column lists and turns every ``chunk_rows`` rows into a DataFrame."""

    def __init__(self, chunk_rows: int) -> None:
        self.chunk_rows = chunk_rows
        self.stats = _ColumnStats()
        self.columns: dict[str, list] = {name: [] for name in COLUMNS}
        self.entry_index: list[int] = []
        self.chunks: list[pd.DataFrame] = []
        self.chunk_entries: list[np.ndarray] = []
        self.skipped: list[tuple[int, Any, Any, str]] = []

    def add(self, index: int, data: dict) -> None:
        for name, values in self.columns.items():
            values.append(data.get(name))
        self.entry_index.append(index)
        if len(self.entry_index) >= self.chunk_rows:
            self.flush()

    def skip(self, index: int, mat_id: Any, formula: Any, reason: str) -> None:
        self.skipped.append((index, mat_id, formula, reason))

    def flush(self) -> None:
        if not self.entry_index:
            return
        cols, stats = self.columns, self.stats
        batch = parse_formulas(cols["formula"])
        ok = batch.ok
        if not ok.all():
            for row in np.flatnonzero(~ok):
                formula = cols["formula"][row]
                reason = "missing formula" if formula is None else f"invalid formula: {batch.errors[row]}"
                self.skip(self.entry_index[row], cols["mat_id"][row], formula, reason)
        data: dict[str, object] = {}
        for name in COLUMNS:  # built in the final column order: no reordering copy later
            if name == "formula":
                data[name] = pd.Series([f if type(f) is str else None for f in cols[name]], dtype="str")
            elif name in STRING_COLUMNS:
                data[name] = _string_column(cols[name], name, stats)
            elif name in INTEGER_COLUMNS:
                data[name] = _integer_column(cols[name], name, stats)
            else:
                data[name] = _float_column(cols[name], name, stats)
        frame = pd.DataFrame(data)
        entries = np.asarray(self.entry_index, dtype=np.int64)
        if not ok.all():
            frame = frame.loc[ok].reset_index(drop=True)
            entries = entries[ok]
        self.chunks.append(frame)
        self.chunk_entries.append(entries)
        for values in cols.values():
            values.clear()
        self.entry_index.clear()

    def finish(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        self.flush()
        if self.chunks:
            table = pd.concat(self.chunks, ignore_index=True) if len(self.chunks) > 1 else self.chunks[0]
            entries = np.concatenate(self.chunk_entries)
        else:
            table = pd.DataFrame({name: pd.Series(dtype=_EMPTY_DTYPES[name]) for name in COLUMNS})
            entries = np.zeros(0, dtype=np.int64)
        self.chunks.clear()
        self.chunk_entries.clear()
        ids = table["mat_id"]
        duplicated = (ids.duplicated(keep="first") & ids.notna()).to_numpy()
        if duplicated.any():
            codes, _ = pd.factorize(ids)
            _, first_row = np.unique(codes[codes >= 0], return_index=True)
            first_row = np.flatnonzero(codes >= 0)[first_row]  # per id code, its first row
            for row in np.flatnonzero(duplicated):
                first_entry = int(entries[first_row[codes[row]]])
                self.skip(
                    int(entries[row]),
                    ids.iloc[row],
                    table["formula"].iloc[row],
                    f"duplicate mat_id: first seen at entry {first_entry}",
                )
            table = table.loc[~duplicated].reset_index(drop=True)
        rows = self.skipped
        skipped = pd.DataFrame(
            {
                "entry": np.array([r[0] for r in rows], dtype=np.int64),
                "mat_id": pd.Series([_plain(r[1]) for r in rows], dtype=object),
                "formula": pd.Series([_plain(r[2]) for r in rows], dtype=object),
                "reason": pd.Series([r[3] for r in rows], dtype="str"),
            }
        )
        skipped = skipped.sort_values("entry", kind="stable").reset_index(drop=True)
        return table, skipped


def _plain(value: Any) -> Any:
    """A skipped row's id or formula as found: a str, None for missing, else kept as is."""
    return None if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) else value


def _describe_json_error(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0].strip() if text else type(exc).__name__


IJSON_INSTALL = "pip install ijson==3.6.0"


def _require_ijson(source: str | os.PathLike[str]):
    """The ijson module (imported here so that importing this module stays cheap), or an
    :class:`AlexandriaError` naming the feature and the pip command."""
    try:
        import ijson
    except ImportError as exc:
        raise AlexandriaError(
            f"loading Alexandria data (reading {source}) needs the optional package ijson, which is not "
            f"installed ({exc}): {IJSON_INSTALL}"
        ) from None
    return ijson


def parse_alexandria_file(
    path: str | os.PathLike[str],
    *,
    progress: bool = True,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Stream an Alexandria ``.json.bz2`` file into a property table (bounded memory).

    Parameters
    ----------
    path : str or os.PathLike
        A bz2-compressed (or gzip-compressed, or plain) JSON file: an object with an
        ``entries`` list of ComputedStructureEntry dicts, or a bare list of them.
    progress : bool, keyword-only
        Show a progress bar (compressed bytes read) on stderr.
    chunk_rows : int, keyword-only
        Rows collected in Python lists before they become a DataFrame chunk.

    Returns
    -------
    table : DataFrame of shape (n_kept, 10)
        Columns :data:`COLUMNS` (see the module docstring), in file order.
        ``table.attrs["alexandria"]`` holds ``entries`` (entries read), ``compression``,
        ``missing_values`` and ``invalid_values`` (column -> count) and
        ``non_finite_numbers`` (bare NaN/Infinity tokens read as null).
    skipped : DataFrame of shape (n_skipped, 4)
        Columns ``entry`` (0-based position in the entries list), ``mat_id``, ``formula``
        (as found, may be None) and ``reason`` (``"<category>: <detail>"``), by entry.

    Raises
    ------
    AlexandriaError
        The file is missing, not (compressed) JSON, truncated or corrupt, has no entries,
        or every entry was skipped. No partial result is returned.
    """
    path = Path(path)
    if not path.is_file():
        raise AlexandriaError(
            f"Alexandria file {path} does not exist" if not path.exists() else f"Alexandria path {path} is not a file"
        )
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be at least 1, got {chunk_rows}")
    ijson = _require_ijson(path)

    total_bytes = path.stat().st_size
    if total_bytes == 0:
        raise AlexandriaError(f"Alexandria file {path} is empty")
    builder = _TableBuilder(chunk_rows)
    n_entries = 0
    from tqdm import tqdm

    with open(path, "rb") as raw:
        stream, compression = _open_decompressed(raw)
        reader = _ReadAhead(stream, raw)
        bar = tqdm(total=total_bytes, unit="B", unit_scale=True, unit_divisor=1024, desc=path.name,
                   file=sys.stderr, disable=not progress, dynamic_ncols=True)  # fmt: skip
        try:
            first = reader.first_byte()
            if first == b"{":
                prefix = "entries.item"
            elif first == b"[":
                prefix = "item"
            elif not first:
                raise AlexandriaError(f"Alexandria file {path} holds no data ({compression} content is empty)")
            else:
                kind = (
                    "bz2-compressed content"
                    if compression == "bz2"
                    else ("gzip-compressed content" if compression == "gzip" else "file")
                )
                raise AlexandriaError(
                    f"Alexandria file {path} is not JSON: the {kind} starts with {first!r}, expected '{{' "
                    "(a .json.bz2 file as published by Alexandria)"
                )
            for index, entry in enumerate(ijson.items(reader, prefix, use_float=True, buf_size=_IJSON_BUFFER)):
                n_entries = index + 1
                if type(entry) is not dict:
                    builder.skip(index, None, None, f"not an entry: a JSON {type(entry).__name__}, expected an object")
                elif type(data := entry.get("data")) is not dict:
                    what = "no 'data' object" if data is None else f"'data' is a {type(data).__name__}, not an object"
                    builder.skip(index, entry.get("entry_id"), None, f"malformed entry: {what}")
                else:
                    builder.add(index, data)
                if n_entries % _PROGRESS_EVERY == 0:
                    bar.update(reader.compressed_position - bar.n)
            bar.update(total_bytes - bar.n)
        except AlexandriaError:
            raise
        except EOFError as exc:
            raise AlexandriaError(
                f"Alexandria file {path} is truncated: the {compression} stream ends early after "
                f"{n_entries} entries ({exc}); delete it and download it again"
            ) from None
        except ijson.JSONError as exc:
            raise AlexandriaError(
                f"Alexandria file {path} is not valid JSON after {n_entries} entries "
                f"({_describe_json_error(exc)}); the file is truncated or corrupt: delete it and download it again"
            ) from None
        except (OSError, zlib.error) as exc:
            raise AlexandriaError(
                f"Alexandria file {path} cannot be decompressed ({compression}) after {n_entries} entries: "
                f"{exc}; the file is corrupt: delete it and download it again"
            ) from None
        finally:
            bar.close()
            reader.close()

    if n_entries == 0:
        where = "an 'entries' list" if prefix == "entries.item" else "a list"
        raise AlexandriaError(
            f"Alexandria file {path} has no entries (expected {where} of ComputedStructureEntry objects)"
        )
    table, skipped = builder.finish()
    if table.empty:
        reasons = _reason_counts(skipped)
        raise AlexandriaError(
            f"Alexandria file {path}: none of its {n_entries} entries is usable; skipped: "
            + ", ".join(f"{count} {reason}" for reason, count in reasons.items())
        )
    table.attrs["alexandria"] = {
        "entries": n_entries,
        "compression": compression,
        "missing_values": {name: int(builder.stats.missing[name]) for name in COLUMNS if builder.stats.missing[name]},
        "invalid_values": {name: int(builder.stats.invalid[name]) for name in COLUMNS if builder.stats.invalid[name]},
        "non_finite_numbers": int(reader.non_finite),
    }
    return table, skipped


def _reason_counts(skipped: pd.DataFrame) -> dict[str, int]:
    """Skipped rows per reason category (the text before the first colon)."""
    if skipped.empty:
        return {}
    categories = skipped["reason"].astype(str).str.split(":", n=1).str[0]
    return {str(k): int(v) for k, v in categories.value_counts().items()}


# --------------------------------------------------------------------------- cache


def _local_path(source: str | os.PathLike[str]) -> Path | None:
    """The local file a source names (plain path or file:// URL), or None for http(s)."""
    if isinstance(source, os.PathLike):
        return Path(source)
    parts = urlsplit(source)
    if parts.scheme.lower() == "file":
        return Path(url2pathname(unquote(parts.path)))
    if parts.scheme.lower() in {"http", "https"}:
        return None
    return Path(source).expanduser()


def _download_path(url: str, directory: Path) -> Path:
    """Where a URL is cached: the host and path mirrored (the date folders tell releases apart)."""
    parts = urlsplit(url)
    pieces = [p for p in unquote(parts.path).split("/") if p not in ("", ".", "..")]
    if not pieces:
        raise AlexandriaError(f"Alexandria URL {url} names no file")
    safe = [re.sub(r"[^A-Za-z0-9._-]", "_", p) for p in [parts.hostname or "host", *pieces]]
    return directory.joinpath("downloads", *safe)


def _stem(path: Path) -> str:
    name = path.name
    for suffix in (".bz2", ".gz", ".json"):
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
    return re.sub(r"[^A-Za-z0-9._-]", "_", name) or "alexandria"


def _alexandria_dir(cache_dir: str | os.PathLike[str] | None) -> Path:
    root = Path(cache_dir).expanduser() if cache_dir is not None else default_cache_dir()
    return root / "alexandria"


def _expectations(source_sha256: str) -> dict[str, Any]:
    return {"dataset": "alexandria", "recipe": RECIPE_VERSION, "source_sha256": source_sha256}


def _set_current(directory: Path, name: str) -> None:
    """Remember the table the last ``load_alexandria`` produced (what ``--dataset alexandria`` reads)."""
    atomic_write(directory / CURRENT_FILE, json.dumps({"name": name}) + "\n")


def _current_name(directory: Path) -> str | None:
    try:
        name = json.loads((directory / CURRENT_FILE).read_text(encoding="utf-8")).get("name")
    except (OSError, ValueError, AttributeError):
        return None
    return name if isinstance(name, str) and name else None


def summarize_manifest(manifest: dict) -> list[str]:
    """Human-readable lines about a loaded table (for the command line).

    Parameters
    ----------
    manifest : dict
        ``table.attrs["manifest"]`` of a table returned by :func:`load_alexandria`.
    """
    meta = manifest["metadata"]
    lines = [
        f"alexandria: {manifest['parquet']['rows']} rows from {meta['entries']} entries of {meta['source']}"
        + (f" (release {meta['release']})" if meta.get("release") else ""),
        f"table: {meta['table']} (built {manifest.get('built', '?')})",
    ]
    if meta["skipped"]:
        reasons = ", ".join(f"{n} {reason}" for reason, n in meta["skipped_by_reason"].items())
        noun = "entry" if meta["skipped"] == 1 else "entries"
        lines.append(f"skipped {meta['skipped']} {noun} ({reasons}); all of them in {meta['skipped_file']}")
        for example in meta["skipped_examples"][:5]:
            lines.append(f"  entry {example['entry']} ({example['mat_id']}): {example['reason']}")
    for kind in ("missing_values", "invalid_values"):
        if meta.get(kind):
            counts = ", ".join(f"{name} {n}" for name, n in meta[kind].items())
            label = "missing values (NaN)" if kind == "missing_values" else "invalid values read as NaN"
            lines.append(f"{label}: {counts}")
    if meta.get("non_finite_numbers"):
        lines.append(f"{meta['non_finite_numbers']} bare NaN/Infinity numbers read as missing")
    return lines


def _resolve_source(
    source: str | os.PathLike[str], directory: Path, *, sha256: str | None, size: int | None, progress: bool
) -> tuple[Path, bool]:
    """The local file to parse (downloaded first for an http(s) URL) and whether it was downloaded."""
    source_text = os.fspath(source)
    local = _local_path(source)
    if local is None:
        dest = _download_path(source_text, directory)
        hint = (
            f"download {source_text} by hand (e.g. with a browser or `curl -O`) and run "
            f"`python app.py data load alexandria PATH` with the downloaded file"
        )
        return fetch(source_text, dest=dest, sha256=sha256, size=size, progress=progress, manual_hint=hint), True
    path = local.resolve() if local.exists() else local
    if not path.is_file():
        raise AlexandriaError(
            f"Alexandria file {path} does not exist" if not path.exists() else f"Alexandria path {path} is not a file"
        )
    if size is not None and path.stat().st_size != size:
        raise AlexandriaError(f"Alexandria file {path} has {path.stat().st_size} bytes, expected {size}")
    return path, False


def load_alexandria(
    source: str | os.PathLike[str],
    *,
    cache_dir: str | os.PathLike[str] | None = None,
    sha256: str | None = None,
    size: int | None = None,
    progress: bool = True,
    refresh: bool = False,
) -> pd.DataFrame:
    """Download (if needed), parse and cache an Alexandria file; return its property table.

    The table is cached with :mod:`data.cache` (Parquet plus a verified manifest) under
    ``<cache_dir>/alexandria/<file stem>-<source sha256 prefix>.parquet`` and becomes the
    *current* Alexandria table, the one :func:`load_cached_alexandria` returns.

    Parameters
    ----------
    source : str or os.PathLike
        An ``http(s)://`` URL (downloaded once into ``<cache_dir>/alexandria/downloads/``
        with resume and retries), a ``file://`` URL or a local path (read in place).
    cache_dir : str or os.PathLike, optional
        Cache root; default :func:`data.download.default_cache_dir`.
    sha256, size : optional
        Expected sha256 / size in bytes of the source file, checked before parsing.
    progress : bool, keyword-only
        Progress bars for the download and the parse.
    refresh : bool, keyword-only
        Parse again even when a verified table for this exact source (same sha256) exists.

    Returns
    -------
    DataFrame of shape (n_rows, 10)
        Columns :data:`COLUMNS`. ``attrs["manifest"]`` is the cache manifest; its
        ``metadata`` holds the source, its sha256, entries read, skipped rows per reason
        with examples (all of them in ``skipped_file``), missing and invalid value counts.
        :func:`summarize_manifest` turns it into lines for the command line.

    Raises
    ------
    data.download.DownloadError
        (``OfflineError``, ``ChecksumError``, ``SizeMismatchError``) when the download fails;
        the message says how to download the file by hand.
    AlexandriaError
        When the file is missing, broken or holds no usable entry; nothing is cached then.
    """
    directory = _alexandria_dir(cache_dir)
    source_text = os.fspath(source)
    if _local_path(source) is None:
        _require_ijson(source_text)  # before a download of several GB that could not be read
    path, downloaded = _resolve_source(source, directory, sha256=sha256, size=size, progress=progress)
    source_sha256 = sha256_of(path)
    if sha256 is not None and not downloaded and source_sha256 != sha256.strip().lower().removeprefix("sha256:"):
        raise AlexandriaError(f"Alexandria file {path} has sha256 {source_sha256}, expected {sha256}")
    name = f"{_stem(path)}-{source_sha256[:16]}"
    expect = _expectations(source_sha256)
    with cache.build_lock(directory, name):
        status = cache.verify_table(directory, name, expect=expect)
        if status.ok and not refresh:
            table, manifest = cache.read_table(directory, name, expect=expect)
            logger.info("loaded %d Alexandria rows of %s from the cache", len(table), source_text)
        else:
            if status.status != "missing" and not refresh:
                logger.warning(
                    "cached Alexandria table %s is %s (%s): parsing the source again",
                    name,
                    status.status,
                    status.reason,
                )
            table, manifest = _parse_and_cache(
                path, source_text if downloaded else str(path), source_sha256, directory, name, progress=progress
            )
            for line in summarize_manifest(manifest)[2:]:
                logger.warning("%s", line)
    _set_current(directory, name)
    table.attrs["manifest"] = manifest
    return table


def _parse_and_cache(
    path: Path, source: str, source_sha256: str, directory: Path, name: str, *, progress: bool
) -> tuple[pd.DataFrame, dict]:
    table, skipped = parse_alexandria_file(path, progress=progress)
    stats = table.attrs.pop("alexandria")
    skipped_path = directory / f"{name}.skipped.csv"
    if len(skipped):
        with atomic_path(skipped_path) as temp:
            skipped.to_csv(temp, index=False)
    else:
        skipped_path.unlink(missing_ok=True)
    release = _RELEASE_RE.search("/" + source.replace(os.sep, "/") + "/")
    metadata = {
        **_expectations(source_sha256),
        "source": source,
        "source_file": str(path),
        "source_bytes": path.stat().st_size,
        "release": release.group(1) if release else None,
        "table": str(cache.parquet_path(directory, name)),
        "entries": stats["entries"],
        "compression": stats["compression"],
        "skipped": len(skipped),
        "skipped_by_reason": _reason_counts(skipped),
        "skipped_file": str(skipped_path) if len(skipped) else None,
        "skipped_examples": [
            {
                "entry": int(r.entry),
                "mat_id": _json_safe(r.mat_id),
                "formula": _json_safe(r.formula),
                "reason": r.reason,
            }
            for r in skipped.head(_SKIPPED_EXAMPLES).itertuples(index=False)
        ],
        "missing_values": stats["missing_values"],
        "invalid_values": stats["invalid_values"],
        "non_finite_numbers": stats["non_finite_numbers"],
        "licence": "Alexandria data: CC BY 4.0 (Schmidt et al.)",
    }
    cache.write_table(table, directory, name, metadata=metadata)
    return table, cache.read_manifest(directory, name)


def load_cached_alexandria(*, cache_dir: str | os.PathLike[str] | None = None) -> tuple[pd.DataFrame, str]:
    """The current Alexandria table (the last one :func:`load_alexandria` produced), verified.

    Parameters
    ----------
    cache_dir : str or os.PathLike, optional
        Cache root, as given to :func:`load_alexandria`.

    Returns
    -------
    table : DataFrame of shape (n_rows, 10)
        Columns :data:`COLUMNS`; ``attrs["manifest"]`` as for :func:`load_alexandria`.
    source : str
        A description of where it came from, for provenance.

    Raises
    ------
    AlexandriaError
        No table was loaded yet, or the cached one is damaged (the message says how to load it).
    """
    directory = _alexandria_dir(cache_dir)
    name = _current_name(directory)
    hint = f"run `python app.py data load alexandria URL|PATH` (e.g. {ALEXANDRIA_PBE_URL}<date>/convex_hull.json.bz2)"
    if name is None:
        raise AlexandriaError(f"no Alexandria table has been loaded yet (nothing in {directory}): {hint}")
    try:
        table, manifest = cache.read_table(directory, name)
    except cache.CacheError as err:
        raise AlexandriaError(f"the cached Alexandria table cannot be used ({err}): {hint} again") from None
    meta = manifest.get("metadata", {})
    release = f" release {meta['release']}" if meta.get("release") else ""
    table.attrs["manifest"] = manifest
    return table, f"Alexandria{release} {meta.get('source', name)} (sha256 {str(meta.get('source_sha256', ''))[:12]})"


def alexandria_info(*, cache_dir: str | os.PathLike[str] | None = None) -> pd.DataFrame:
    """State of the cached Alexandria tables (for ``app.py data info``).

    Returns
    -------
    DataFrame with one row per cached table (one ``missing`` row when there is none) and
        the columns of :func:`data.builtin.builtin_info`: ``dataset`` (``alexandria`` for the
        current table, ``alexandria (not current)`` otherwise), ``status``, ``rows`` (Int64),
        ``source``, ``built``, ``path`` and ``detail``.
    """
    directory = _alexandria_dir(cache_dir)
    current = _current_name(directory)
    names = sorted(p.name[: -len(".manifest.json")] for p in directory.glob("*.manifest.json"))
    names += sorted(p.stem for p in directory.glob("*.parquet") if p.stem not in names)
    records = []
    for name in names:
        status = cache.verify_table(directory, name)
        manifest = status.manifest or {}
        meta = manifest.get("metadata", {}) if isinstance(manifest.get("metadata"), dict) else {}
        parquet = manifest.get("parquet", {}) if isinstance(manifest.get("parquet"), dict) else {}
        records.append(
            {
                "dataset": "alexandria" if name == current else "alexandria (not current)",
                "status": status.status,
                "rows": parquet.get("rows"),
                "source": str(meta.get("source", "")),
                "built": manifest.get("built", ""),
                "path": str(cache.parquet_path(directory, name)),
                "detail": status.reason,
            }
        )
    if not records:
        records.append(
            {
                "dataset": "alexandria",
                "status": "missing",
                "rows": None,
                "source": "",
                "built": "",
                "path": str(directory),
                "detail": "not loaded: python app.py data load alexandria URL|PATH",
            }
        )
    frame = pd.DataFrame.from_records(records)
    frame["rows"] = frame["rows"].astype("Int64")
    return frame


def _json_safe(value: Any) -> Any:
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)
