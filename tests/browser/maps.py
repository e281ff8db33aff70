"""Small maps for the dashboard tests, built with the real ``build-map`` (PCA, a few seconds).

Imported by ``tests/test_dashboard_*.py`` and by the browser tests' conftest.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from data.map_build import MapSpec, build_map
from data.substitution_counts import write_substitution_counts
from fingerprints.counts import SubstitutionCounts
from fingerprints.elements import SYMBOLS

CATIONS = ["Li", "Na", "K", "Mg", "Ca", "Sr", "Ba", "Fe", "Co", "Ni", "Cu", "Zn", "Al", "Ga", "Ti", "Zr", "La", "Y"]
ANIONS = ["O", "S", "Se", "F", "Cl", "Br", "N", "P"]
STOICHIOMETRIES = ((1, 1), (2, 3), (1, 2))
#: Elements without similarity data in the test counts.
NO_DATA = ("Rn",)


def write_counts(folder: Path) -> Path:
    """Random symmetric substitution counts over every element but Rn, in the ICSD format."""
    rng = np.random.default_rng(3)
    pair = rng.integers(0, 50, size=(98, 98)).astype(float)
    pair = np.triu(pair, 1)
    pair = pair + pair.T
    single = rng.integers(1, 100, size=98).astype(float)
    for symbol in NO_DATA:
        index = SYMBOLS.index(symbol)
        pair[index, :] = pair[:, index] = 0
        single[index] = 0
    counts_path, _ = write_substitution_counts(SubstitutionCounts(pair, single, source="random test counts"), folder)
    return counts_path.parent


def compounds_table(*, ternaries: bool = True) -> pd.DataFrame:
    """Binary (and ternary) compounds with band gap, energy above hull and magnetisation."""
    rng = np.random.default_rng(11)
    rows = []
    for i, cation in enumerate(CATIONS):
        for j, anion in enumerate(ANIONS):
            for a, b in STOICHIOMETRIES:
                rows.append({"formula": f"{cation}{a}{anion}{b}"})
            if ternaries:
                other = CATIONS[(i + 5) % len(CATIONS)]
                rows.append({"formula": f"{cation}{other}{anion}3"})
    table = pd.DataFrame(rows).drop_duplicates("formula").reset_index(drop=True)
    n = len(table)
    table.insert(0, "mat_id", [f"test-{k}" for k in range(n)])
    table["band_gap"] = np.round(rng.uniform(0, 6, n), 3)
    table.loc[::7, "band_gap"] = np.nan
    table["e_above_hull"] = np.round(rng.exponential(0.2, n), 4)
    table["magnetization"] = np.where(rng.uniform(size=n) < 0.3, np.round(rng.uniform(0.5, 5, n), 2), 0.0)
    return table


def build_test_map(root: Path, name: str = "small", *, ternaries: bool = True) -> Path:
    """Build a small PCA map called ``name`` under ``root`` (the counts go to ``root/../counts``)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    work = root.parent / f"{root.name}-inputs"
    work.mkdir(exist_ok=True)
    counts_dir = write_counts(work / "counts")
    dataset = work / f"{name}.csv"
    compounds_table(ternaries=ternaries).to_csv(dataset, index=False)
    spec = MapSpec(dataset=str(dataset), similarity=f"icsd:{counts_dir}", method="pca", element_method="pca")
    return build_map(spec, root / name, progress=False)
