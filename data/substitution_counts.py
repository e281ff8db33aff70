"""Reader, writer and downloader for element-substitution counts in the ICSD file format.

The format (Marques group, "Pettifor raw data"): ``substitution.dat`` is a square matrix of
whitespace-separated integers whose row/column index is the atomic number Z (index 0 unused),
symmetric with a zero diagonal; ``substitution.dat.element_count`` holds one integer per Z
(index 0 holds a total). The published files are 117 x 117 (Z up to Og).
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np

from fingerprints.counts import SubstitutionCounts
from fingerprints.elements import MAX_Z
from fingerprints.io import atomic_write

COUNTS_FILENAME = "substitution.dat"
ELEMENT_COUNTS_FILENAME = "substitution.dat.element_count"

ICSD_BASE_URL = "https://tddft.org/bmg/files/data/pettifor/raw_data/"
ICSD_SHA256 = {
    COUNTS_FILENAME: "d83abba1d0f91f88ff50bf14f4fa641f678cde201e9c154f186830b61fe37974",
    ELEMENT_COUNTS_FILENAME: "876abfce01d523099c059ce1b1229bc0c6448af3756a9f9b41e32387f454f8c6",
}

# A real counts file is a few hundred kB; refuse anything far larger before parsing it.
MAX_FILE_BYTES = 50 * 1024 * 1024


class CountsFormatError(ValueError):
    """A substitution-counts file is missing, unreadable or not in the expected format."""


def _read_numbers(path: Path, what: str) -> np.ndarray:
    path = Path(path)
    if not path.exists():
        raise CountsFormatError(f"{what} file {path} does not exist")
    if not path.is_file():
        raise CountsFormatError(f"{what} path {path} is not a file")
    size = path.stat().st_size
    if size == 0:
        raise CountsFormatError(f"{what} file {path} is empty")
    if size > MAX_FILE_BYTES:
        raise CountsFormatError(f"{what} file {path} is {size} bytes, larger than any counts file")
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise CountsFormatError(f"{what} file {path} is binary, expected whitespace-separated numbers")
    try:
        text = raw.decode("ascii")
    except UnicodeDecodeError as err:
        raise CountsFormatError(f"{what} file {path} is not plain text ({err.reason} at byte {err.start})") from None
    rows = [line.split() for line in text.splitlines() if line.strip()]
    widths = {len(row) for row in rows}
    if len(widths) != 1:
        raise CountsFormatError(
            f"{what} file {path}: rows have different numbers of columns ({sorted(widths)})"
        )
    try:
        values = np.array(rows, dtype=np.float64)
    except ValueError:
        bad = next(tok for row in rows for tok in row if not _is_number(tok))
        raise CountsFormatError(f"{what} file {path}: {bad!r} is not a number") from None
    if not np.all(np.isfinite(values)):
        raise CountsFormatError(f"{what} file {path}: contains NaN or inf")
    if np.any(values < 0):
        raise CountsFormatError(f"{what} file {path}: contains negative counts")
    return values


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def read_substitution_counts(counts_path: str | os.PathLike, element_counts_path: str | os.PathLike) -> SubstitutionCounts:
    """Read counts in the ICSD format and restrict them to Z = 1..98.

    Parameters
    ----------
    counts_path : path
        ``substitution.dat``: square matrix indexed by Z, at least 99 x 99.
    element_counts_path : path
        ``substitution.dat.element_count``: one count per Z (one per line or on one line).

    Returns
    -------
    SubstitutionCounts
        Pair counts (98, 98) and element counts (98,). Counts of elements beyond Cf are
        dropped; ``notes`` says how many were.
    """
    pair = _read_numbers(Path(counts_path), "substitution counts")
    if pair.ndim != 2 or pair.shape[0] != pair.shape[1]:
        raise CountsFormatError(f"substitution counts file {counts_path}: expected a square matrix, got {pair.shape[0]} x {pair.shape[1]}")
    if pair.shape[0] < MAX_Z + 1:
        raise CountsFormatError(
            f"substitution counts file {counts_path}: matrix is {pair.shape[0]} x {pair.shape[0]}, "
            f"needs at least {MAX_Z + 1} x {MAX_Z + 1} (index = Z, row 0 unused)"
        )
    single = _read_numbers(Path(element_counts_path), "element counts").ravel()
    if single.size < MAX_Z + 1:
        raise CountsFormatError(
            f"element counts file {element_counts_path}: has {single.size} numbers, needs at least {MAX_Z + 1} (index = Z)"
        )
    if not np.array_equal(pair, pair.T):
        i, j = np.unravel_index(np.argmax(np.abs(pair - pair.T)), pair.shape)
        raise CountsFormatError(f"substitution counts file {counts_path}: not symmetric (Z={i}, Z={j}: {pair[i, j]:g} vs {pair[j, i]:g})")
    if np.any(np.diag(pair)[1:] != 0):
        z = int(np.flatnonzero(np.diag(pair)[1:])[0]) + 1
        raise CountsFormatError(f"substitution counts file {counts_path}: diagonal must be zero, Z={z} has {pair[z, z]:g}")
    notes = []
    dropped_pairs = pair[MAX_Z + 1 :, :].sum()
    dropped_single = single[MAX_Z + 1 :].sum()
    if dropped_pairs or dropped_single:
        notes.append(
            f"dropped counts of elements beyond Cf: {dropped_single:g} compounds and "
            f"{dropped_pairs:g} substitutions"
        )
    return SubstitutionCounts(
        pair_counts=pair[1 : MAX_Z + 1, 1 : MAX_Z + 1],
        element_counts=single[1 : MAX_Z + 1],
        source=f"{counts_path} + {element_counts_path}",
        notes=tuple(notes),
    )


def write_substitution_counts(counts: SubstitutionCounts, directory: str | os.PathLike) -> tuple[Path, Path]:
    """Write counts in the ICSD format (99 x 99, index = Z) into ``directory``, atomically.

    Returns the paths of ``substitution.dat`` and ``substitution.dat.element_count``.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    pair = np.zeros((MAX_Z + 1, MAX_Z + 1), dtype=np.int64)
    pair[1:, 1:] = np.rint(counts.pair_counts).astype(np.int64)
    single = np.zeros(MAX_Z + 1, dtype=np.int64)
    single[1:] = np.rint(counts.element_counts).astype(np.int64)
    single[0] = single[1:].sum()

    counts_buffer = io.StringIO()
    np.savetxt(counts_buffer, pair, fmt="%5d", delimiter="")
    element_buffer = io.StringIO()
    np.savetxt(element_buffer, single[:, None], fmt="%5d")

    counts_path = directory / COUNTS_FILENAME
    element_path = directory / ELEMENT_COUNTS_FILENAME
    atomic_write(counts_path, counts_buffer.getvalue())
    atomic_write(element_path, element_buffer.getvalue())
    return counts_path, element_path


def download_icsd_counts(*, cache_dir: str | os.PathLike | None = None, progress: bool = True) -> tuple[Path, Path]:
    """Download the public ICSD counts (pinned sha256) into the cache, or reuse the cached copy.

    Raises ``data.download.OfflineError`` with a hint when the host cannot be reached.
    """
    from .download import default_cache_dir, fetch

    target = Path(cache_dir) if cache_dir is not None else default_cache_dir() / "icsd"
    paths = []
    for name, digest in ICSD_SHA256.items():
        paths.append(
            fetch(
                ICSD_BASE_URL + name,
                dest=target / name,
                sha256=digest,
                progress=progress,
                manual_hint=(
                    f"download {ICSD_BASE_URL + name} by hand and pass it with "
                    "--counts / --element-counts"
                ),
            )
        )
    return paths[0], paths[1]
