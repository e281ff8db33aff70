"""Fingerprint a million formulas: our batch path against the per-formula pymatgen loop.

    python bench/bench_fingerprint.py [--n 1000000] [--pool 30000] [--seed 0]
                                      [--baseline-n N] [--variant corrected] [--profile]

Draws ``--n`` formulas with replacement from a pool of ``--pool`` distinct realistic formulas
(fixed seed: binaries, ternaries, quaternaries of common stoichiometries, groups such as
``Li3Fe2(PO4)3``, decimals such as ``Ba0.5Sr0.5TiO3``, hydrates such as ``CuSO4·5H2O``) and
fingerprints them (unnormalised, ``v = sum_A x_A e_A``) two ways:

* ours: ``parse_formulas`` then ``composition_fingerprints(batch.fractions, E, normalize=False)``,
  timed end to end;
* baseline (what the paper's authors did): for every formula,
  ``Composition(f).fractional_composition`` and ``sum(x * E[Z - 1])``. pymatgen cannot read
  ``·`` hydrates, so for those the baseline adds the parts, ``Composition(a) + k *
  Composition(b)``: still one plain call per formula, nothing cached by us (pymatgen's own
  512-entry parse cache is left as shipped).

The element table E is the real one (corrected recipe) when the ICSD counts exist in
``../shared/data`` (or ``$CHEMMAP_SHARED_DATA``), else a fixed random 98 x 98 table with unit
rows; the output says which. Prints both times, the speed-up, and the largest absolute
difference between the two fingerprint matrices (must be <= 1e-12).

``--baseline-n N`` times the baseline on the first N formulas only and extrapolates
linearly to ``--n`` (the difference is then checked on those N rows); by default the
baseline runs on all ``--n`` formulas, which takes a few minutes for a million.
``--repeat R`` runs our path R times (default 3) and reports each run; the speed-up uses
the median. ``--profile`` prints where our path spends its time.

Before timing, the script touches as much memory as the runs will use (``--no-warmup`` to
skip): on a fresh virtual machine the first touch of memory the guest never used costs
about 1.5 s per GB, which would otherwise land on whichever path runs first.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fingerprints.composition import composition_fingerprints
from fingerprints.elements import MAX_Z
from fingerprints.formula import parse_formulas

SHARED_DATA = Path(os.environ.get("CHEMMAP_SHARED_DATA", ROOT.parent / "shared" / "data"))

# Common cations and anions, roughly by how often they appear in inorganic databases.
CATIONS = [
    "Li",
    "Na",
    "K",
    "Rb",
    "Cs",
    "Be",
    "Mg",
    "Ca",
    "Sr",
    "Ba",
    "Sc",
    "Ti",
    "V",
    "Cr",
    "Mn",
    "Fe",
    "Co",
    "Ni",
    "Cu",
    "Zn",
    "Y",
    "Zr",
    "Nb",
    "Mo",
    "Ru",
    "Rh",
    "Pd",
    "Ag",
    "Cd",
    "In",
    "Sn",
    "Sb",
    "La",
    "Ce",
    "Pr",
    "Nd",
    "Sm",
    "Eu",
    "Gd",
    "Tb",
    "Dy",
    "Ho",
    "Er",
    "Tm",
    "Yb",
    "Lu",
    "Hf",
    "Ta",
    "W",
    "Re",
    "Os",
    "Ir",
    "Pt",
    "Au",
    "Hg",
    "Tl",
    "Pb",
    "Bi",
    "Al",
    "Ga",
    "Ge",
    "Si",
    "B",
    "Th",
    "U",
    "Np",
    "Pu",
]
ANIONS = ["O", "O", "O", "O", "S", "S", "Se", "Te", "N", "F", "F", "Cl", "Cl", "Br", "I", "P", "As", "C", "H"]
OXYANIONS = ("PO4", "SO4", "SiO4", "BO3", "CO3", "NO3", "OH", "CN", "MoO4", "WO4", "VO4", "AsO4")
SOLVENTS = ("H2O", "H2O", "H2O", "NH3")


def _amount(k: float) -> str:
    if k == 1:
        return ""
    return f"{k:g}"


def realistic_pool(size: int, seed: int) -> list[str]:
    """``size`` distinct realistic formulas (fixed by ``seed``)."""
    rng = np.random.default_rng(seed)

    def pick(seq, k=1):
        return list(rng.choice(seq, size=k, replace=False))

    def binary() -> str:
        a, x = pick(CATIONS)[0], pick(ANIONS)[0]
        i, j = [(1, 1), (1, 2), (2, 1), (2, 3), (3, 2), (1, 3), (3, 4), (2, 5), (1, 4), (3, 1)][rng.integers(10)]
        return f"{a}{_amount(i)}{x}{_amount(j)}"

    def ternary() -> str:
        a, b = pick(CATIONS, 2)
        x = pick(ANIONS)[0]
        i, j, k = [(1, 1, 3), (1, 2, 4), (2, 1, 4), (1, 1, 2), (2, 1, 6), (3, 1, 4), (1, 1, 1), (2, 2, 7), (1, 2, 6)][
            rng.integers(9)
        ]
        return f"{a}{_amount(i)}{b}{_amount(j)}{x}{_amount(k)}"

    def quaternary() -> str:
        a, b, c = pick(CATIONS, 3)
        x = pick(ANIONS)[0]
        i, j, k, m = [(1, 1, 1, 4), (2, 1, 1, 6), (1, 1, 2, 6), (2, 1, 1, 4), (1, 2, 2, 7)][rng.integers(5)]
        return f"{a}{_amount(i)}{b}{_amount(j)}{c}{_amount(k)}{x}{_amount(m)}"

    def grouped() -> str:
        a, b = pick(CATIONS, 2)
        g = pick(OXYANIONS)[0]
        template = rng.integers(4)
        if template == 0:
            return f"{a}{_amount(int(rng.integers(1, 4)))}{b}{_amount(int(rng.integers(1, 3)))}({g}){int(rng.integers(2, 4))}"
        if template == 1:
            return f"{a}({g}){int(rng.integers(2, 4))}"
        if template == 2:
            return f"{a}{_amount(int(rng.integers(1, 4)))}({g}){int(rng.integers(1, 4))}"
        return f"{a}{int(rng.integers(2, 5))}[{b}(CN)6]"

    def decimal() -> str:
        a, b, c = pick(CATIONS, 3)
        x = pick(ANIONS[:6])[0]
        f = round(float(rng.integers(1, 20)) / 20, 2)
        template = rng.integers(3)
        if template == 0:
            return f"{a}{f:g}{b}{1 - f:.2g}{c}{x}3"
        if template == 1:  # layered oxides such as LiNi0.8Co0.1Mn0.1O2
            x, y = sorted(rng.choice(np.arange(1, 20), size=2, replace=False) / 20)
            return f"Li{a}{x:g}{b}{y - x:g}{c}{1 - y:g}O2"
        return f"{a}{_amount(float(rng.integers(1, 30)) / 10)}{x}{_amount(int(rng.integers(1, 4)))}"

    def hydrate() -> str:
        a = pick(CATIONS)[0]
        core = [f"{a}SO4", f"{a}Cl2", f"{a}(NO3)2", f"{a}2CO3", f"{a}Br2"][rng.integers(5)]
        n = int(rng.integers(1, 13))
        return f"{core}·{_amount(n)}{pick(SOLVENTS)[0]}"

    makers = (binary, ternary, quaternary, grouped, decimal, hydrate)
    weights = np.array([0.25, 0.3, 0.15, 0.12, 0.12, 0.06])
    pool: dict[str, None] = {}
    attempts = 0
    while len(pool) < size and attempts < 50 * size:
        attempts += 1
        pool[makers[rng.choice(len(makers), p=weights)]()] = None
    return list(pool)


def element_table(variant: str) -> tuple[np.ndarray, str]:
    counts_path = SHARED_DATA / "substitution.dat"
    element_counts_path = SHARED_DATA / "substitution.dat.element_count"
    if counts_path.is_file() and element_counts_path.is_file():
        from data.substitution_counts import read_substitution_counts
        from fingerprints.embedding import element_vectors

        counts = read_substitution_counts(counts_path, element_counts_path)
        vectors = element_vectors(counts, variant=variant).to_numpy(dtype=np.float64)
        return vectors, f"real ICSD element vectors ({variant}) from {counts_path}"
    rng = np.random.default_rng(12345)
    e = rng.random((MAX_Z, MAX_Z))
    e /= np.linalg.norm(e, axis=1, keepdims=True)
    return e, f"fixed random 98 x 98 table with unit rows (no ICSD counts in {SHARED_DATA})"


def warm_up_memory(n_bytes: int) -> float:
    start = time.perf_counter()
    block = np.empty(n_bytes // 8)
    block.fill(1.0)
    del block
    return time.perf_counter() - start


def ours(formulas: np.ndarray, e: np.ndarray) -> tuple[np.ndarray, object]:
    batch = parse_formulas(formulas)
    return composition_fingerprints(batch.fractions, e, normalize=False), batch


def baseline(formulas, e: np.ndarray) -> np.ndarray:
    """The per-formula pymatgen loop (one Composition per formula, no caching of ours)."""
    from pymatgen.core import Composition

    out = np.zeros((len(formulas), MAX_Z))
    for i, formula in enumerate(formulas):
        if "·" in formula:  # pymatgen has no hydrate syntax: add the parts
            head, _, tail = formula.partition("·")
            digits = len(tail) - len(tail.lstrip("0123456789."))
            comp = Composition(head) + float(tail[:digits] or 1) * Composition(tail[digits:])
        else:
            comp = Composition(formula)
        v = out[i]
        for el, x in comp.fractional_composition.items():
            v += x * e[el.Z - 1]
    return out


def profile_ours(formulas: np.ndarray, e: np.ndarray) -> None:
    """Our path step by step (the same steps as parse_formulas, timed one by one)."""
    import scipy.sparse as sp

    from fingerprints import formula as fm

    t0 = time.perf_counter()
    values = fm._as_object_array(formulas)
    t1 = time.perf_counter()
    codes, uniques = fm._factorize(values)
    t2 = time.perf_counter()
    distinct = uniques.to_pylist() if not isinstance(uniques, np.ndarray) else uniques
    t3 = time.perf_counter()
    batch_u = parse_formulas(np.asarray(distinct, dtype=object))
    t4 = time.perf_counter()
    full = sp.csr_matrix(batch_u.fractions[codes])
    t5 = time.perf_counter()
    fp = composition_fingerprints(full, e, normalize=False)
    t6 = time.perf_counter()
    print("profile of our path:")
    print(f"  input -> object array           {t1 - t0:8.3f} s")
    print(f"  factorize (Arrow dictionary)    {t2 - t1:8.3f} s")
    print(f"  distinct strings to Python      {t3 - t2:8.3f} s  (profiling only)")
    print(f"  parse {len(distinct):>9,} distinct        {t4 - t3:8.3f} s")
    print(f"  CSR row expansion by codes      {t5 - t4:8.3f} s")
    print(f"  fractions @ E (98 x 98)         {t6 - t5:8.3f} s  -> {fp.shape}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="formulas to fingerprint")
    parser.add_argument("--pool", type=int, default=30_000, help="distinct formulas to draw from")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--baseline-n", type=int, default=None, help="time the baseline on the first N formulas and extrapolate"
    )
    parser.add_argument("--variant", default="corrected", choices=("corrected", "published-2024"))
    parser.add_argument("--repeat", type=int, default=3, help="runs of our path (the median is used)")
    parser.add_argument("--no-warmup", action="store_true", help="skip touching memory before timing")
    parser.add_argument("--profile", action="store_true", help="break our time down by step")
    args = parser.parse_args(argv)

    e, e_source = element_table(args.variant)
    pool = realistic_pool(args.pool, args.seed)
    rng = np.random.default_rng(args.seed + 1)
    formulas = np.array(pool, dtype=object)[rng.integers(0, len(pool), size=args.n)]
    n_unique = len(set(formulas.tolist()))
    print(f"element table: {e_source}")
    print(f"pool: {len(pool):,} distinct formulas; drawn: {args.n:,} with replacement, {n_unique:,} unique")
    kinds = {
        "with brackets": sum(any(c in p for c in "([{") for p in pool),
        "with decimals": sum("." in p for p in pool),
        "hydrates (·)": sum("·" in p for p in pool),
    }
    print("pool has " + ", ".join(f"{k:,} {name}" for name, k in kinds.items()))
    print(f"examples: {', '.join(pool[:8])}")
    if not args.no_warmup:
        n_bytes = 3 * args.n * MAX_Z * 8
        print(f"memory warm-up: touched {n_bytes / 1e9:.1f} GB in {warm_up_memory(n_bytes):.2f} s")

    times = []
    for _ in range(max(args.repeat, 1)):
        fp_ours = batch = None
        start = time.perf_counter()
        fp_ours, batch = ours(formulas, e)
        times.append(time.perf_counter() - start)
    t_ours = float(np.median(times))
    runs = ", ".join(f"{t:.3f}" for t in times)
    print(
        f"ours:     {t_ours:9.3f} s  median of [{runs}] s ({args.n / t_ours:,.0f} formulas/s; {batch.n_failed} failed rows)"
    )
    if batch.n_failed:
        print(batch.failures().drop_duplicates("formula").head(10).to_string())

    n_base = args.n if args.baseline_n is None else min(args.baseline_n, args.n)
    start = time.perf_counter()
    fp_base = baseline(formulas[:n_base], e)
    t_base_run = time.perf_counter() - start
    t_base = t_base_run * args.n / n_base
    label = "baseline:" if n_base == args.n else f"baseline: (ran {n_base:,} in {t_base_run:.3f} s, extrapolated)"
    print(f"{label} {t_base:9.3f} s  ({args.n / t_base:,.0f} formulas/s)")

    diff = float(np.max(np.abs(fp_ours[:n_base] - fp_base))) if n_base else 0.0
    print(f"speed-up: {t_base / t_ours:.1f}x")
    print(f"max |ours - baseline| over {n_base:,} rows: {diff:.3e}  ({'OK' if diff <= 1e-12 else 'TOO LARGE'})")

    if args.profile:
        profile_ours(formulas, e)
    return 0 if diff <= 1e-12 else 1


if __name__ == "__main__":
    raise SystemExit(main())
