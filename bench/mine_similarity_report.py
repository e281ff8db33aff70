"""How well does a similarity mined from data agree with the ICSD one, and how fast is mining?

Prints, for a few mining settings on the Materials Project compositions, the Spearman
correlation between the mined element cosines and the ICSD-count cosines, then the mining
time on synthetic tables of up to a million compositions.

Usage::

    python bench/mine_similarity_report.py [--icsd-dir DIR] [--crabnet-wheel WHEEL] [--rows 1000000]

The MP compositions come from the built-in dataset (``data.builtin.load_builtin("mp")``)
when it is cached, otherwise from the ``crabnet==2.0.8`` wheel given with ``--crabnet-wheel``
(``mp_e_hull`` train/val/test: formula, e_above_hull). The ICSD counts come from
``--icsd-dir`` (default ``../shared/data``). Parts whose data is missing are skipped with
the reason.
"""

from __future__ import annotations

import argparse
import io
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fingerprints.counts import SubstitutionCounts  # noqa: E402
from fingerprints.elements import SYMBOLS  # noqa: E402
from fingerprints.formula import parse_formulas  # noqa: E402
from fingerprints.mining import mine_substitution_counts, spearman_against_reference  # noqa: E402

CRABNET_SPLITS = tuple(f"crabnet/data/benchmark_data/mp_e_hull/{split}.csv" for split in ("train", "val", "test"))


def load_mp(crabnet_wheel: Path | None) -> tuple[pd.DataFrame | None, str]:
    """MP compositions with e_above_hull, and where they came from (or why they are missing)."""
    try:
        from data.builtin import load_builtin

        table = load_builtin("mp", build_if_missing=False)
        if isinstance(table, pd.DataFrame) and {"formula", "e_above_hull"} <= set(table.columns):
            return table, "built-in dataset 'mp'"
        reason = "the built-in 'mp' dataset has no formula/e_above_hull columns"
    except Exception as err:  # noqa: BLE001 - any failure just means "not available here"
        reason = f"built-in 'mp' dataset unavailable ({type(err).__name__}: {err})"
    if crabnet_wheel is None:
        return None, reason + "; pass --crabnet-wheel to read the crabnet==2.0.8 wheel instead"
    with zipfile.ZipFile(crabnet_wheel) as wheel:
        parts = [pd.read_csv(io.BytesIO(wheel.read(name))) for name in CRABNET_SPLITS]
    table = pd.concat(parts, ignore_index=True).rename(columns={"target": "e_above_hull"})
    return table, f"{crabnet_wheel.name} (mp_e_hull)"


def load_icsd(directory: Path) -> SubstitutionCounts | None:
    from data.substitution_counts import read_substitution_counts

    counts, element_counts = directory / "substitution.dat", directory / "substitution.dat.element_count"
    if not (counts.is_file() and element_counts.is_file()):
        return None
    return read_substitution_counts(counts, element_counts)


def synthetic_formulas(n: int, *, seed: int = 0, n_patterns: int = 3000) -> np.ndarray:
    """``n`` formulas shaped like a materials database: shared stoichiometry patterns, skewed elements.

    Each row takes one of ``n_patterns`` patterns (2 to 6 elements, amounts 1..8) and fills
    it with distinct elements drawn with Zipf-like weights, so pairs are frequent, as in
    real data. Returns an object array of strings (about a fifth are duplicates).
    """
    rng = np.random.default_rng(seed)
    n_elements = rng.choice([2, 3, 4, 5, 6], size=n_patterns, p=[0.25, 0.35, 0.25, 0.1, 0.05])
    pattern_amounts = rng.integers(1, 9, size=(n_patterns, 6))
    weights = 1.0 / np.arange(1, len(SYMBOLS) + 1) ** 0.8
    weights /= weights.sum()
    pattern = rng.integers(0, n_patterns, size=n)
    m = n_elements[pattern]
    # Distinct elements per row: Gumbel top-k on the log weights, in chunks to bound memory.
    chosen = np.empty((n, 6), dtype=np.int64)
    for start in range(0, n, 100_000):
        size = min(100_000, n - start)
        noise = np.clip(rng.random((size, len(SYMBOLS)), dtype=np.float32), 1e-6, 1 - 1e-6)
        scores = np.log(weights, dtype=np.float32)[None, :] - np.log(-np.log(noise))
        chosen[start : start + size] = np.argpartition(-scores, 6, axis=1)[:, :6]
    symbols = np.asarray(SYMBOLS, dtype=object)
    formulas = np.full(n, "", dtype=object)
    for position in range(6):
        present = m > position
        amount = pattern_amounts[pattern, position].astype(str).astype(object)
        amount[amount == "1"] = ""
        formulas[present] += symbols[chosen[present, position]] + amount[present]
    return formulas


def _normalize_rows(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return np.divide(matrix, norms, out=np.zeros_like(matrix), where=norms > 0)


def rho_without_sqrt(mined: SubstitutionCounts, reference: SubstitutionCounts) -> float:
    """Experiment, not a product recipe: mined vectors without the square-root step
    (rows of M = N + diag(n) normalised once) against the corrected ICSD vectors."""
    from scipy.stats import spearmanr

    from fingerprints.embedding import element_vector_array

    plain = _normalize_rows(mined.pair_counts + np.diag(mined.element_counts))
    icsd = element_vector_array(reference)
    common = np.flatnonzero(np.any(plain != 0, axis=1) & np.any(icsd != 0, axis=1))
    upper = np.triu_indices(common.size, k=1)
    return float(spearmanr((plain[common] @ plain[common].T)[upper], (icsd[common] @ icsd[common].T)[upper]).statistic)


def report_mp(table: pd.DataFrame, origin: str, icsd: SubstitutionCounts) -> None:
    print(f"\nMP compositions: {len(table)} rows from {origin}; reference: ICSD counts (corrected recipe)")
    print("Spearman rho of the element cosines; columns: recipe applied to the mined counts")
    header = f"{'setting':<40} {'corrected':>9} {'published-2024':>14} {'no sqrt':>7} {'elements':>8} {'pairs':>6} {'time':>7}"
    print(header)
    settings = [(threshold, None) for threshold in (None, 0.0, 0.025, 0.05, 0.1, 0.2)]
    settings.append((None, True))
    for threshold, pair_elements in settings:
        start = time.perf_counter()
        mined = mine_substitution_counts(
            table, max_e_above_hull=threshold, pair_elements=pair_elements, source=origin
        )
        elapsed = time.perf_counter() - start
        corrected = spearman_against_reference(mined, icsd)
        published = spearman_against_reference(mined, icsd, variant="published-2024")
        label = "no stability filter" if threshold is None else f"e_above_hull <= {threshold:g} eV/atom"
        if pair_elements:
            label += ", elements paired"
        print(
            f"{label:<40} {corrected['rho']:>9.3f} {published['rho']:>14.3f} {rho_without_sqrt(mined, icsd):>7.3f} "
            f"{corrected['n_elements']:>8} {corrected['n_pairs']:>6} {elapsed:>6.2f}s"
        )


def _best_time(function, repeats: int = 2) -> tuple[float, object]:
    """Fastest of ``repeats`` runs: other processes on a shared machine only ever add time."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = function()
        best = min(best, time.perf_counter() - start)
    return best, result


def report_timing(n_rows: int) -> None:
    print("\nMining time on synthetic compositions (best of 2 runs)")
    print(f"{'rows':>9} {'mine_substitution_counts':>25} {'of which parse_formulas':>24} {'substitution pairs':>19}")
    for n in sorted({min(n_rows, 100_000), min(n_rows, 400_000), n_rows}):
        table = pd.DataFrame({"formula": synthetic_formulas(n)})
        parse_time, _ = _best_time(lambda: parse_formulas(table["formula"]))
        total, mined = _best_time(lambda: mine_substitution_counts(table))
        pairs = int(mined.pair_counts.sum() // 2)
        print(f"{n:>9} {total:>24.2f}s {parse_time:>23.2f}s {pairs:>19}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--icsd-dir", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--crabnet-wheel", type=Path, default=None)
    parser.add_argument("--rows", type=int, default=1_000_000, help="largest synthetic table")
    args = parser.parse_args(argv)

    icsd = load_icsd(args.icsd_dir)
    table, origin = load_mp(args.crabnet_wheel)
    if icsd is None:
        print(f"skipping the agreement report: no ICSD counts in {args.icsd_dir}")
    elif table is None:
        print(f"skipping the agreement report: {origin}")
    else:
        report_mp(table, origin, icsd)
    report_timing(args.rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
