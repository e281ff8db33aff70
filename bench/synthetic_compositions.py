"""Realistic random compositions for scale tests, written to Parquet row group by row group.

    python bench/synthetic_compositions.py --n 2000000 --out /tmp/synthetic_2m.parquet
                                           [--seed 0] [--row-group 100000]
                                           [--replace 0.5] [--invalid 0.0001]

How a composition is made: a template is drawn from the built-in ``mp`` compositions
(``data.builtin.load_builtin("mp")``, about 95.7k reduced formulas), so the number of
elements and the stoichiometry follow the real distribution (binaries, ternaries,
quaternaries; ABO3, A2BC4 ...). Each element of the template is then replaced, with
probability ``--replace`` (and at least one per row, so almost every row is new), by an
element drawn with the frequency it has in ``mp`` (the share of compounds containing it).
A replacement that would repeat an element of the row is drawn again. Element order is the
template's. Two numeric properties follow the template's values with noise: ``band_gap``
(eV, multiplied by a log-normal factor, NaN where the template has none) and
``e_above_hull`` (eV/atom, plus the absolute value of a normal draw with sd 0.05).
``--invalid`` is the share of rows given a broken formula (unknown symbol, empty, unbalanced
bracket) so that the skipped-row reporting is exercised at scale.

Columns: ``id`` (``syn-000000001`` ...), ``formula``, ``band_gap``, ``e_above_hull``.
Memory: one row group of Python strings at a time (``--row-group``), never all N.
The same ``--seed`` and ``--row-group`` give the same file.
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fingerprints.elements import MAX_Z, SYMBOL_TO_INDEX, SYMBOLS  # noqa: E402

_TOKEN = re.compile(r"([A-Z][a-z]?)(\d*(?:\.\d+)?)")
INVALID_FORMULAS = ("Xx2O3", "", "Fe2O3)", "Qq", "Li2(SO4", "NaCl@")
#: Redraws of a replacement that repeats an element of its row before the template is kept.
MAX_REDRAWS = 20


@dataclass(frozen=True)
class Templates:
    """Template compositions and element frequencies.

    Attributes
    ----------
    elements : int16 array of shape (T, K)
        Element index (0..97) of each template position, -1 past the template's length.
    amounts : object array of shape (T, K)
        The amount as written (``""`` for 1).
    band_gap, e_above_hull : float64 arrays of shape (T,)
    frequency : float64 array of shape (98,)
        Probability of drawing each element (share of templates containing it).
    """

    elements: np.ndarray
    amounts: np.ndarray
    band_gap: np.ndarray
    e_above_hull: np.ndarray
    frequency: np.ndarray

    @classmethod
    def from_table(cls, table: pd.DataFrame) -> "Templates":
        """Templates from a table with ``formula`` (simple formulas: symbols and amounts) and
        optional ``band_gap`` and ``e_above_hull`` columns."""
        tokens = [_TOKEN.findall(str(f)) for f in table["formula"]]
        width = max(len(t) for t in tokens)
        elements = np.full((len(tokens), width), -1, dtype=np.int16)
        amounts = np.full((len(tokens), width), "", dtype=object)
        keep = np.ones(len(tokens), dtype=bool)
        for row, parts in enumerate(tokens):
            symbols = [s for s, _ in parts]
            if not parts or len(set(symbols)) != len(symbols) or any(s not in SYMBOL_TO_INDEX for s in symbols):
                keep[row] = False
                continue
            for k, (symbol, amount) in enumerate(parts):
                elements[row, k] = SYMBOL_TO_INDEX[symbol]
                amounts[row, k] = "" if amount == "1" else amount
        counts = np.bincount(elements[keep][elements[keep] >= 0], minlength=MAX_Z).astype(np.float64)

        def column(name: str) -> np.ndarray:
            if name not in table.columns:
                return np.full(int(keep.sum()), np.nan)
            return pd.to_numeric(table[name], errors="coerce").to_numpy(dtype=np.float64)[keep]

        return cls(elements[keep], amounts[keep], column("band_gap"), column("e_above_hull"), counts / counts.sum())


def load_mp_templates() -> Templates:
    """Templates from the built-in ``mp`` dataset (it must have been built once)."""
    from data.builtin import load_builtin

    try:
        table = load_builtin("mp", build_if_missing=False)
    except Exception as exc:  # noqa: BLE001 - any failure means: build it first
        raise SystemExit(f"the built-in mp dataset is not available ({exc}); build it with `python app.py data build mp`") from None
    return Templates.from_table(table)


def _distinct_rows(elements: np.ndarray) -> np.ndarray:
    """True for rows whose valid (>= 0) entries are all different."""
    width = elements.shape[1]
    marked = np.where(elements >= 0, elements, MAX_Z + np.arange(width, dtype=np.int16))
    ordered = np.sort(marked, axis=1)
    return ~(ordered[:, 1:] == ordered[:, :-1]).any(axis=1)


def generate_chunk(templates: Templates, n: int, rng: np.random.Generator, *, replace: float = 0.5, invalid: float = 0.0) -> pd.DataFrame:
    """``n`` synthetic rows: ``formula, band_gap, e_above_hull`` (ids are added by the writer)."""
    pick = rng.integers(0, len(templates.elements), size=n)
    original = templates.elements[pick]
    valid = original >= 0
    lengths = valid.sum(axis=1)
    chosen = (rng.random(original.shape) < replace) & valid
    chosen[np.arange(n), (rng.random(n) * lengths).astype(np.int64)] = True  # at least one new element
    elements = original.copy()
    todo = np.ones(n, dtype=bool)
    for _ in range(MAX_REDRAWS):
        rows = np.flatnonzero(todo)
        if rows.size == 0:
            break
        draw = rng.choice(MAX_Z, size=(rows.size, original.shape[1]), p=templates.frequency).astype(np.int16)
        elements[rows] = np.where(chosen[rows], draw, original[rows])
        todo[rows] = ~_distinct_rows(elements[rows])
    elements[todo] = original[todo]  # rare: keep the real composition
    symbols = np.array(SYMBOLS + ("",), dtype=object)
    formulas = np.full(n, "", dtype=object)
    amounts = templates.amounts[pick]
    for k in range(elements.shape[1]):
        formulas = formulas + symbols[elements[:, k]] + np.where(valid[:, k], amounts[:, k], "")
    if invalid > 0:
        broken = rng.random(n) < invalid
        formulas[broken] = rng.choice(np.array(INVALID_FORMULAS, dtype=object), size=int(broken.sum()))
    gap = templates.band_gap[pick] * rng.lognormal(0.0, 0.25, size=n)
    hull = templates.e_above_hull[pick] + np.abs(rng.normal(0.0, 0.05, size=n))
    return pd.DataFrame({"formula": formulas, "band_gap": gap, "e_above_hull": hull})


def write_synthetic(
    path: str | Path,
    n: int,
    *,
    templates: Templates | None = None,
    seed: int = 0,
    row_group: int = 100_000,
    replace: float = 0.5,
    invalid: float = 0.0,
) -> Path:
    """Write ``n`` synthetic compositions to the Parquet file ``path`` (atomically), one row
    group of ``row_group`` rows at a time. Returns the path."""
    from fingerprints.io import atomic_path

    if n < 1 or row_group < 1:
        raise ValueError(f"n and row_group must be positive, got n={n}, row_group={row_group}")
    templates = templates or load_mp_templates()
    rng = np.random.default_rng(seed)
    schema = pa.schema([("id", pa.string()), ("formula", pa.string()), ("band_gap", pa.float64()), ("e_above_hull", pa.float64())])
    path = Path(path)
    with atomic_path(path) as temp:
        with pq.ParquetWriter(temp, schema) as writer:
            for start in range(0, n, row_group):
                size = min(row_group, n - start)
                chunk = generate_chunk(templates, size, rng, replace=replace, invalid=invalid)
                ids = np.char.add("syn-", np.char.zfill(np.arange(start + 1, start + size + 1).astype(str), 9))
                chunk.insert(0, "id", ids.astype(object))
                writer.write_table(pa.Table.from_pandas(chunk, schema=schema, preserve_index=False))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="rows to write")
    parser.add_argument("--out", type=Path, required=True, help="output .parquet file")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--row-group", type=int, default=100_000, help="rows per row group (and per chunk in memory)")
    parser.add_argument("--replace", type=float, default=0.5, help="probability of replacing each template element")
    parser.add_argument("--invalid", type=float, default=0.0, help="share of rows given a broken formula")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    write_synthetic(args.out, args.n, seed=args.seed, row_group=args.row_group, replace=args.replace, invalid=args.invalid)
    print(f"{args.out}: {args.n:,} rows in {time.perf_counter() - started:.1f} s, {args.out.stat().st_size / 1e6:.1f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
