"""Shared fixtures. The ICSD counts are read from ../shared/data and never committed."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from fingerprints.counts import SubstitutionCounts  # noqa: E402
from fingerprints.elements import SYMBOL_TO_INDEX  # noqa: E402

SHARED_DATA = Path(os.environ.get("CHEMMAP_SHARED_DATA", ROOT.parent / "shared" / "data"))
ICSD_COUNTS = SHARED_DATA / "substitution.dat"
ICSD_ELEMENT_COUNTS = SHARED_DATA / "substitution.dat.element_count"


@pytest.fixture(scope="session")
def icsd_paths() -> tuple[Path, Path]:
    if not (ICSD_COUNTS.is_file() and ICSD_ELEMENT_COUNTS.is_file()):
        pytest.skip(f"ICSD counts not found in {SHARED_DATA} (set CHEMMAP_SHARED_DATA to their folder)")
    return ICSD_COUNTS, ICSD_ELEMENT_COUNTS


@pytest.fixture(scope="session")
def icsd_counts(icsd_paths) -> SubstitutionCounts:
    from data.substitution_counts import read_substitution_counts

    return read_substitution_counts(*icsd_paths)


def toy_counts() -> SubstitutionCounts:
    """Three elements with data, worked by hand in test_embedding.py.

    Pairs: H-He 3, He-Li 4. Compounds: H 4. Every other element has no data.
    """
    pair = np.zeros((98, 98))
    h, he, li = (SYMBOL_TO_INDEX[s] for s in ("H", "He", "Li"))
    pair[h, he] = pair[he, h] = 3
    pair[he, li] = pair[li, he] = 4
    single = np.zeros(98)
    single[h] = 4
    return SubstitutionCounts(pair, single, source="toy")


@pytest.fixture
def toy() -> SubstitutionCounts:
    return toy_counts()


# -- a small map, built once per session (PCA: seconds, no numba compilation) ----------------

CATIONS = ["Li", "Na", "K", "Mg", "Ca", "Sr", "Ba", "Fe", "Co", "Ni", "Cu", "Zn", "Al", "Ga", "Ti", "Zr"]
ANIONS = ["O", "S", "Se", "F", "Cl", "Br", "N", "P"]


@pytest.fixture(scope="session")
def small_counts_dir(tmp_path_factory):
    """Random symmetric counts over every element but Rn (so Rn has no data)."""
    from data.substitution_counts import write_substitution_counts
    from fingerprints.elements import SYMBOLS

    rng = np.random.default_rng(3)
    pair = np.triu(rng.integers(0, 50, size=(98, 98)).astype(float), 1)
    pair = pair + pair.T
    single = rng.integers(1, 100, size=98).astype(float)
    rn = SYMBOLS.index("Rn")
    pair[rn, :] = pair[:, rn] = 0
    single[rn] = 0
    counts = SubstitutionCounts(pair, single, source="random")
    return write_substitution_counts(counts, tmp_path_factory.mktemp("counts"))[0].parent


@pytest.fixture(scope="session")
def small_dataset_csv(tmp_path_factory):
    """384 binary compounds with a numeric and a categorical property, plus two bad rows."""
    import pandas as pd

    rows = []
    for i, cation in enumerate(CATIONS):
        for j, anion in enumerate(ANIONS):
            for a, b in ((1, 1), (2, 3), (1, 2)):
                rows.append({"formula": f"{cation}{a}{anion}{b}", "band_gap": float(i + j) / 3, "kind": "oxide" if anion == "O" else "other"})
    rows.append({"formula": "Xx2O", "band_gap": 1.0, "kind": "bad"})
    rows.append({"formula": "Rn", "band_gap": 0.0, "kind": "noble"})
    path = tmp_path_factory.mktemp("dataset") / "compounds.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


@pytest.fixture(scope="session")
def small_map(tmp_path_factory, small_dataset_csv, small_counts_dir):
    from data.map_build import MapSpec, build_map

    out = tmp_path_factory.mktemp("maps") / "small"
    spec = MapSpec(dataset=str(small_dataset_csv), similarity=f"icsd:{small_counts_dir}", method="pca", element_method="pca")
    return build_map(spec, out, progress=False)
