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
