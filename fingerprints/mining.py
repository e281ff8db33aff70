"""Element-substitution counts mined from any table of compounds.

The Pettifor embedding needs a symmetric matrix ``N[A, B]`` (how often A substitutes for B
in the same structure type) and ``n[A]`` (compounds containing A). The ICSD counts are not
always available; this module learns both from whatever compounds a user has (Materials
Project, OQMD, Alexandria ...), so the embedding recipe applies unchanged.

What counts as one substitution
-------------------------------
Every formula is reduced to its smallest integer stoichiometry (``Fe4O6`` -> Fe2 O3). Two
compounds form one A-B substitution (A != B) when:

- both have the same number of elements, and all their elements and amounts are identical
  except that element A in one is element B in the other, *with the same amount*: Fe2O3 /
  Al2O3 (Fe2 <-> Al2, O3 shared) is a pair; Fe2O3 / FeO (different amounts) and Fe2O3 /
  Fe2S3O (different number of elements) are not; and
- with prototype labels (``prototype_column``, e.g. Alexandria's ``prototype_id``), both
  carry the same label. Without labels the stoichiometry alone decides ("composition-only
  mining"; REFERENCE.md section 3).
- One-element compounds (Fe, Cu) pair only with prototype labels by default (see
  ``pair_elements``): without a structure type, "Fe substitutes for Cu" in the pure element
  would hold for every pair of elements and say nothing about chemistry.

Identical compounds are counted once: rows with the same reduced stoichiometry (and, with
labels, the same prototype) are deduplicated first, so several polymorphs or repeated
calculations of one composition never inflate a pair. With labels, one composition in two
prototypes is two compounds, each pairing only inside its own prototype.

``n[A]`` is the number of these deduplicated compounds that contain A.

How it is computed (hash-based, no pairwise loop)
-------------------------------------------------
For each compound and each of its elements, the *key* is (prototype, amount of that element,
the compound's other elements with their amounts), i.e. the stoichiometry with that element
replaced by a wildcard. Two deduplicated compounds share a key exactly when they differ by one
element swapped at the same amount, and such a pair shares exactly one key (the one with the
wildcard on the swapped element), so grouping the keys counts every pair once: a key group
holding elements ``{A1 .. Ak}`` adds one to every ``N[Ai, Aj]``, i.e. ``N = G^T G`` with a
zeroed diagonal, where ``G`` is the (keys x 98) incidence matrix. Keys are built exactly (no
hash collisions) by factorising the columns one at a time; compounds are processed in blocks
of equal element count, since only those can pair.

Integer stoichiometry
---------------------
Atomic fractions are divided by the smallest one and multiplied by the smallest ``k`` in
1..``max_denominator`` that makes every amount an integer (relative tolerance
``tolerance``): Fe2O3, Ba0.5Sr0.5TiO3 (-> Ba Sr Ti2 O6) and Li0.33CoO2 (-> Li33 Co100 O200)
are exact. A composition that needs a larger denominator (Fe0.9473O) is keyed by its
rational approximation ``round(max_denominator * ratio)`` divided by the common factor
(Fe0.9473O -> Fe125 O132): deterministic, so such compositions pair with each other when
their approximations agree; they are counted in the notes. The tolerance (1e-9) only
absorbs floating-point round-off, never a written decimal (Fe0.3333O is not FeO3 exactly).
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
import scipy.sparse as sp

from .counts import SubstitutionCounts
from .elements import MAX_Z
from .embedding import Variant, element_vector_array
from .formula import parse_formulas

__all__ = [
    "DEFAULT_MAX_DENOMINATOR",
    "RECOMMENDED_MAX_E_ABOVE_HULL",
    "integer_stoichiometry",
    "mine_substitution_counts",
    "spearman_against_reference",
]

#: Largest multiplier tried to turn a composition into integer amounts (see module docstring).
DEFAULT_MAX_DENOMINATOR = 1000

#: Stability threshold (eV/atom) recommended for mining computed databases: compounds within
#: 0.05 eV/atom of the hull are the usual "stable within DFT error" set. On the Materials
#: Project compositions it gives Spearman 0.867 against the ICSD cosines (on the hull only
#: 0.823, 0.1 eV/atom 0.870, no filter 0.846 on all 95.6k built-in rows, 0.828 on the 56.7k
#: rows that have an e_above_hull); see bench/mine_similarity_report.py.
RECOMMENDED_MAX_E_ABOVE_HULL = 0.05

#: Relative tolerance for "this amount is an integer".
DEFAULT_TOLERANCE = 1e-9

_EXAMPLES_IN_NOTES = 3


def integer_stoichiometry(
    fractions: sp.spmatrix | sp.sparray,
    *,
    max_denominator: int = DEFAULT_MAX_DENOMINATOR,
    tolerance: float = DEFAULT_TOLERANCE,
) -> tuple[sp.csr_matrix, np.ndarray]:
    """Smallest integer amounts with the given atomic fractions, for every row.

    Parameters
    ----------
    fractions : sparse matrix of shape (N, 98)
        Atomic fractions (e.g. ``parse_formulas(...).fractions``); all-zero rows stay empty.
    max_denominator : int, keyword-only
        Largest multiplier tried; rows needing more are rounded to ``1 / max_denominator``
        of their smallest amount.
    tolerance : float, keyword-only
        Relative tolerance for accepting an amount as an integer.

    Returns
    -------
    amounts : csr_matrix of shape (N, 98), int64
        Reduced integer amounts (Fe2O3 -> Fe 2, O 3), sorted column indices, no explicit zeros.
    approximated : ndarray of shape (N,), bool
        True for rows keyed by their rational approximation (no exact integer ratio found).
    """
    if not isinstance(max_denominator, numbers.Integral) or max_denominator < 1:
        raise ValueError(f"max_denominator must be a positive integer, got {max_denominator!r}")
    if not (isinstance(tolerance, numbers.Real) and 0 < tolerance < 0.5):
        raise ValueError(f"tolerance must be a number between 0 and 0.5, got {tolerance!r}")
    matrix = sp.csr_matrix(fractions, dtype=np.float64, copy=True)
    if matrix.ndim != 2 or matrix.shape[1] != MAX_Z:
        raise ValueError(f"fractions must have shape (n, {MAX_Z}), got {matrix.shape}")
    matrix.sum_duplicates()
    matrix.eliminate_zeros()
    matrix.sort_indices()
    data = matrix.data
    if data.size and not (np.all(np.isfinite(data)) and data.min() > 0):
        raise ValueError("fractions must be finite and positive")
    n_rows = matrix.shape[0]
    nnz = np.diff(matrix.indptr)
    rows = np.flatnonzero(nnz)
    starts = matrix.indptr[:-1][rows]
    ratio = data / np.repeat(np.minimum.reduceat(data, starts), nnz[rows]) if data.size else data

    multiplier = np.full(n_rows, max_denominator, dtype=np.int64)
    approximated = np.zeros(n_rows, dtype=bool)
    # Compacted candidates: entries of unresolved rows, still contiguous per row.
    cand_rows, cand_nnz, cand_ratio = rows, nnz[rows], ratio
    for k in range(1, max_denominator + 1):
        if cand_rows.size == 0:
            break
        scaled = cand_ratio * k
        off = np.abs(scaled - np.rint(scaled)) <= tolerance * scaled
        cand_starts = np.concatenate(([0], np.cumsum(cand_nnz)[:-1]))
        row_ok = np.logical_and.reduceat(off, cand_starts)
        multiplier[cand_rows[row_ok]] = k
        keep_entries = np.repeat(~row_ok, cand_nnz)
        cand_rows, cand_nnz, cand_ratio = cand_rows[~row_ok], cand_nnz[~row_ok], cand_ratio[keep_entries]
    approximated[cand_rows] = True

    entry_rows = np.repeat(np.arange(n_rows), nnz)
    amounts = np.rint(ratio * multiplier[entry_rows]).astype(np.int64)
    result = sp.csr_matrix((amounts, matrix.indices.copy(), matrix.indptr.copy()), shape=(n_rows, MAX_Z))
    if approximated.any():
        # Rounding can leave a common factor or a zero; normalise those rows too.
        result.eliminate_zeros()
        nnz_after = np.diff(result.indptr)
        nonempty = nnz_after > 0
        gcd = np.ones(n_rows, dtype=np.int64)
        gcd[nonempty] = np.gcd.reduceat(result.data, result.indptr[:-1][nonempty])
        result.data //= np.repeat(gcd, nnz_after)
    return result, approximated


def _compact_codes(values: np.ndarray) -> tuple[np.ndarray, int]:
    codes, uniques = pd.factorize(values, sort=False)
    return codes.astype(np.int64, copy=False), len(uniques)


def _combine_columns(columns: list[np.ndarray], sizes: list[int]) -> np.ndarray:
    """Exact group id of every row of a multi-column integer key.

    ``columns[i]`` holds codes in ``0 .. sizes[i] - 1``. Columns are folded in one at a time
    (``id * size + code`` re-factorised), so ids never exceed the row count and cannot overflow.
    """
    key = columns[0]
    for column, size in zip(columns[1:], sizes[1:]):
        if key.size and int(key.max()) * size + size >= np.iinfo(np.int64).max:
            raise OverflowError("mining keys too large to combine")  # needs > 1e9 distinct tokens
        key, _ = _compact_codes(key * size + column)
    return key


def _check_table(table, formula_column, prototype_column, max_e_above_hull, e_above_hull_column) -> None:
    if not isinstance(table, pd.DataFrame):
        raise TypeError(f"table must be a pandas DataFrame, got {type(table).__name__}")
    wanted = {"formula_column": formula_column}
    if prototype_column is not None:
        wanted["prototype_column"] = prototype_column
    if max_e_above_hull is not None:
        wanted["e_above_hull_column"] = e_above_hull_column
    for option, column in wanted.items():
        if column not in table.columns:
            available = ", ".join(map(repr, table.columns[:20]))
            raise KeyError(f"{option}={column!r} is not a column of the table (columns: {available})")
    if max_e_above_hull is not None and not (
        isinstance(max_e_above_hull, numbers.Real)
        and not isinstance(max_e_above_hull, bool)
        and np.isfinite(max_e_above_hull)
    ):
        raise ValueError(f"max_e_above_hull must be a finite number (eV/atom) or None, got {max_e_above_hull!r}")


def _examples(formulas: np.ndarray, reasons: np.ndarray) -> str:
    shown = [f"{formula!r}: {reason}" for formula, reason in zip(formulas[:_EXAMPLES_IN_NOTES], reasons)]
    return "; ".join(shown)


def mine_substitution_counts(
    table: pd.DataFrame,
    *,
    formula_column: str = "formula",
    prototype_column: str | None = None,
    max_e_above_hull: float | None = None,
    e_above_hull_column: str = "e_above_hull",
    pair_elements: bool | None = None,
    max_denominator: int = DEFAULT_MAX_DENOMINATOR,
    source: str = "mined",
) -> SubstitutionCounts:
    """Substitution counts mined from a table of compounds (rules in the module docstring).

    Parameters
    ----------
    table : DataFrame with N rows
        One compound per row.
    formula_column : str, keyword-only
        Column of chemical formulas. Formulas that fail
        :func:`fingerprints.formula.parse_formulas` are skipped and counted in the notes.
    prototype_column : str or None, keyword-only
        Column of structure-type labels (e.g. Alexandria's ``prototype_id``). When given,
        only compounds of the same prototype pair, and rows without a label are skipped
        (and counted). ``None`` mines by stoichiometry alone.
    max_e_above_hull : float or None, keyword-only
        Keep only rows with ``e_above_hull_column <= max_e_above_hull`` (eV/atom). Rows
        without a value (NaN or not a number) are then skipped and counted. ``None``: no filter.
    e_above_hull_column : str, keyword-only
        Column read by the stability filter.
    pair_elements : bool or None, keyword-only
        Whether one-element compounds (Fe, Cu ...) take part in pairing; they always count
        in ``element_counts``. ``None`` (default): only with prototype labels. Without labels
        every element would pair with every other one (Fe / Cu, one atom each), a uniform
        +1 that says nothing about chemistry (adding the 88 elements as stable compounds to
        the 38k MP compositions within 0.05 eV/atom of the hull drops the agreement with the
        ICSD cosines from 0.86 to 0.62 when they pair); with labels they pair only within a
        structure type (fcc, bcc ...), which is real information.
    max_denominator : int, keyword-only
        See :func:`integer_stoichiometry`.
    source : str, keyword-only
        Provenance kept in the result (e.g. ``"Materials Project (CrabNet mp_e_hull)"``).

    Returns
    -------
    SubstitutionCounts
        ``pair_counts`` (98, 98) symmetric with zero diagonal, ``element_counts`` (98,);
        ``notes`` say how many rows were read, filtered, unparsable, deduplicated and used.

    Raises
    ------
    TypeError, KeyError, ValueError
        ``table`` is not a DataFrame, a named column is missing, or an option is invalid.
    """
    _check_table(table, formula_column, prototype_column, max_e_above_hull, e_above_hull_column)
    if pair_elements is None:
        pair_elements = prototype_column is not None
    notes: list[str] = [f"{len(table)} rows read from column {formula_column!r}"]
    keep = np.ones(len(table), dtype=bool)

    if max_e_above_hull is not None:
        raw = table[e_above_hull_column]
        values = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
        missing = ~np.isfinite(values)
        not_numbers = missing & raw.notna().to_numpy()
        above = ~missing & (values > max_e_above_hull)
        keep &= ~missing & ~above
        detail = ""
        if not_numbers.any():
            examples = ", ".join(map(repr, raw[not_numbers].iloc[:_EXAMPLES_IN_NOTES]))
            detail = f" ({int(not_numbers.sum())} of them not finite numbers, e.g. {examples})"
        notes.append(
            f"stability filter {e_above_hull_column} <= {max_e_above_hull:g} eV/atom: "
            f"{int(above.sum())} rows above it and {int(missing.sum())} rows without a value{detail} skipped"
        )

    prototype_codes = np.zeros(len(table), dtype=np.int64)
    if prototype_column is not None:
        labels = table[prototype_column]
        unlabelled = labels.isna().to_numpy()
        n_skipped = int((unlabelled & keep).sum())
        keep &= ~unlabelled
        prototype_codes, _ = _compact_codes(labels.to_numpy(dtype=object))
        notes.append(f"prototype column {prototype_column!r}: {n_skipped} rows without a label skipped")

    rows = np.flatnonzero(keep)
    batch = parse_formulas(table[formula_column].to_numpy(dtype=object)[rows])
    if batch.n_failed:
        bad = ~batch.ok
        notes.append(
            f"{batch.n_failed} formulas failed to parse and were skipped "
            f"(e.g. {_examples(batch.formulas[bad], batch.errors[bad])})"
        )
    amounts, approximated = integer_stoichiometry(batch.fractions[batch.ok], max_denominator=max_denominator)
    prototype_codes = prototype_codes[rows][batch.ok]
    if approximated.any():
        notes.append(
            f"{int(approximated.sum())} compositions have no integer stoichiometry with denominator "
            f"<= {max_denominator} and are keyed by their rational approximation "
            f"(e.g. {', '.join(map(repr, batch.formulas[batch.ok][approximated][:_EXAMPLES_IN_NOTES]))})"
        )

    pair_counts, element_counts, summary = _count_substitutions(
        amounts, prototype_codes, pair_elements=pair_elements
    )
    scope = "same reduced stoichiometry and prototype" if prototype_column is not None else "same reduced stoichiometry"
    notes.append(
        f"{amounts.shape[0]} compositions used, {summary['n_compounds']} distinct compounds after "
        f"merging duplicates ({scope})"
        + (f", {summary['n_elemental']} one-element compounds left out of pairing" if summary["n_elemental"] else "")
    )
    notes.append(
        f"{summary['n_pairs']} substitution pairs between {summary['n_paired_compounds']} compounds "
        f"in {summary['n_groups']} groups; {int(np.count_nonzero(np.triu(pair_counts)))} distinct element pairs"
    )
    return SubstitutionCounts(pair_counts, element_counts, source=source, notes=tuple(notes))


def _count_substitutions(
    amounts: sp.csr_matrix, prototype_codes: np.ndarray, *, pair_elements: bool
) -> tuple[np.ndarray, np.ndarray, dict[str, int]]:
    """Pair counts (98, 98), element counts (98,) and a summary, from integer stoichiometries."""
    n_elements = np.diff(amounts.indptr)
    tokens, n_tokens = _compact_codes(amounts.data * MAX_Z + amounts.indices)  # (element, amount)
    amount_codes, n_amounts = _compact_codes(amounts.data)
    proto_codes, n_protos = _compact_codes(prototype_codes)

    element_counts = np.zeros(MAX_Z)
    key_chunks: list[np.ndarray] = []
    element_chunks: list[np.ndarray] = []
    compound_chunks: list[np.ndarray] = []
    n_compounds = n_elemental = 0
    key_offset = 0
    for m in np.unique(n_elements[n_elements > 0]):
        block = np.flatnonzero(n_elements == m)
        entry = amounts.indptr[block][:, None] + np.arange(m)  # (n_block, m) positions in data
        block_tokens = tokens[entry]
        block_protos = proto_codes[block]
        # Merge duplicates: same prototype and the same (element, amount) tokens.
        compound = _combine_columns([block_protos, *block_tokens.T], [n_protos] + [n_tokens] * m)
        _, first = np.unique(compound, return_index=True)
        entry, block_tokens, block_protos = entry[first], block_tokens[first], block_protos[first]
        compound_ids = n_compounds + np.arange(len(first))
        n_compounds += len(first)
        element_counts += np.bincount(amounts.indices[entry.ravel()], minlength=MAX_Z)
        if m == 1 and not pair_elements:
            n_elemental = len(first)
            continue
        # One key per (compound, wildcard position j): prototype, wildcard amount, other
        # tokens. All positions share one key space: the swapped element of Li2O / Na2O sits
        # at different positions (elements are in Z order).
        n_block = len(first)
        positions = np.repeat(np.arange(m), n_block)
        compounds = np.tile(np.arange(n_block), m)
        kept = np.ones((n_block * m, m), dtype=bool)
        kept[np.arange(n_block * m), positions] = False
        others = np.tile(block_tokens, (m, 1))[kept].reshape(n_block * m, m - 1)
        columns = [block_protos[compounds], amount_codes[entry[compounds, positions]], *others.T]
        key = _combine_columns(columns, [n_protos, n_amounts] + [n_tokens] * (m - 1))
        key_chunks.append(key + key_offset)
        element_chunks.append(amounts.indices[entry[compounds, positions]])
        compound_chunks.append(compound_ids[compounds])
        key_offset += int(key.max()) + 1

    summary = {"n_compounds": n_compounds, "n_elemental": n_elemental, "n_pairs": 0, "n_groups": 0,
               "n_paired_compounds": 0}
    pair_counts = np.zeros((MAX_Z, MAX_Z))
    if key_chunks:
        keys = np.concatenate(key_chunks)
        elements = np.concatenate(element_chunks)
        sizes = np.bincount(keys)
        shared = sizes[keys] > 1  # singletons pair with nobody
        keys, groups = _compact_codes(keys[shared])
        incidence = sp.csr_matrix(
            (np.ones(keys.size), (keys, elements[shared])), shape=(groups, MAX_Z)
        )
        if incidence.nnz != keys.size:  # two equal (key, element) = an undeduplicated compound
            raise RuntimeError("internal error: duplicate compounds reached the pairing step")
        pair_counts = np.asarray((incidence.T @ incidence).todense(), dtype=np.float64)
        np.fill_diagonal(pair_counts, 0.0)
        group_sizes = np.bincount(keys)
        summary["n_pairs"] = int((group_sizes * (group_sizes - 1) // 2).sum())
        summary["n_groups"] = int(groups)
        summary["n_paired_compounds"] = int(np.unique(np.concatenate(compound_chunks)[shared]).size)
    return pair_counts, element_counts, summary


def spearman_against_reference(
    mined: SubstitutionCounts,
    reference: SubstitutionCounts,
    *,
    variant: Variant = "corrected",
) -> dict:
    """Spearman correlation between the element cosines of two sets of counts.

    Both sets go through the same embedding recipe; the cosines of every pair of distinct
    elements with data in both (non-zero vectors in both) are compared (upper triangle).

    Parameters
    ----------
    mined, reference : SubstitutionCounts
    variant : {"corrected", "published-2024"}, keyword-only
        Recipe variant applied to both.

    Returns
    -------
    dict
        ``rho`` (float; NaN when either side's cosines are all equal), ``n_elements`` (int),
        ``n_pairs`` (int, ``n_elements * (n_elements - 1) / 2``), ``variant`` (str).

    Raises
    ------
    ValueError
        Fewer than three elements have data in both.
    """
    from scipy.stats import spearmanr

    mined_vectors = element_vector_array(mined, variant=variant)
    reference_vectors = element_vector_array(reference, variant=variant)
    common = np.flatnonzero(np.any(mined_vectors != 0, axis=1) & np.any(reference_vectors != 0, axis=1))
    if common.size < 3:
        raise ValueError(
            f"only {common.size} elements have data in both {mined.source!r} and {reference.source!r}; "
            "a rank correlation needs at least 3"
        )
    upper = np.triu_indices(common.size, k=1)
    mined_cos = (mined_vectors[common] @ mined_vectors[common].T)[upper]
    reference_cos = (reference_vectors[common] @ reference_vectors[common].T)[upper]
    if np.ptp(mined_cos) == 0 or np.ptp(reference_cos) == 0:
        rho = float("nan")
    else:
        rho = float(spearmanr(mined_cos, reference_cos).statistic)
    return {"rho": rho, "n_elements": int(common.size), "n_pairs": int(mined_cos.size), "variant": variant}
