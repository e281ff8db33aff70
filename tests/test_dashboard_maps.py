"""Listing and loading maps for the app; element membership and highlight masks."""

from __future__ import annotations

import json
import shutil
import threading
import time

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

from dashboard.maps import (
    MAPS,
    MapCache,
    MapChoiceError,
    element_frequencies,
    highlight_mask,
    list_maps,
    membership_matrix,
    resolve_map,
    scan_maps,
    seriation_order,
)
from data.map_artifact import MapArtifactError
from fingerprints.elements import SYMBOL_TO_INDEX
from tests.browser.maps import build_test_map


@pytest.fixture(scope="module")
def maps_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("dash-maps") / "maps"
    build_test_map(root, "small")
    (root / "not-a-map").mkdir()
    (root / ".hidden").mkdir()
    broken = root / "broken"
    broken.mkdir()
    (broken / "metadata.json").write_text("{not json")
    return root


def test_only_valid_maps_are_listed(maps_root):
    entries = scan_maps(maps_root)
    assert [e.name for e in entries] == ["small"]
    entry = entries[0]
    assert entry.rows > 500 and entry.method == "pca" and "576 compounds" in entry.label


def test_a_start_map_outside_the_root_is_listed_too(maps_root, tmp_path):
    outside = tmp_path / "elsewhere" / "small"
    shutil.copytree(maps_root / "small", outside)
    names = [e.name for e in list_maps(maps_root, extra=outside)]
    assert names == ["small", "small+"]
    assert [e.name for e in list_maps(maps_root, extra=maps_root / "small")] == ["small"]
    assert list_maps(tmp_path / "missing") == []


@pytest.mark.parametrize("name", ["../small", "/etc", "", None, 3, ["small"], "small/..", ".hidden", "x" * 500])
def test_map_choice_only_accepts_listed_names(maps_root, name):
    entries = scan_maps(maps_root)
    with pytest.raises(MapChoiceError):
        resolve_map(entries, name)
    assert resolve_map(entries, "small").path == maps_root / "small"


def test_no_map_at_all_says_so():
    with pytest.raises(MapChoiceError, match="no map has been built"):
        resolve_map([], "small")


def test_membership_and_highlight_modes():
    formulas = ["Fe2O3", "FeO", "Fe", "LiFePO4", "NaCl", "O2", "bad((", "CuFeS2"]
    membership, parsed = membership_matrix(formulas)
    assert membership.shape == (8, 98) and membership.dtype == bool
    assert parsed.tolist() == [True, True, True, True, True, True, False, True]
    csc = membership.tocsc()
    counts = np.diff(membership.indptr)
    fe, o = SYMBOL_TO_INDEX["Fe"], SYMBOL_TO_INDEX["O"]
    assert highlight_mask(csc, counts, [fe, o], "all").tolist() == [True, True, False, True, False, False, False, False]
    assert highlight_mask(csc, counts, [fe, o], "any").tolist() == [True, True, True, True, False, True, False, True]
    assert highlight_mask(csc, counts, [fe, o], "only").tolist() == [True, True, True, False, False, True, False, False]
    assert highlight_mask(csc, counts, [], "all").sum() == 0
    with pytest.raises(ValueError, match="mode"):
        highlight_mask(csc, counts, [fe], "most")
    with pytest.raises(ValueError, match="indices"):
        highlight_mask(csc, counts, [120], "all")


def test_highlight_of_a_million_rows_is_fast():
    import time

    rng = np.random.default_rng(0)
    n = 1_000_000
    columns = rng.integers(0, 98, size=(n, 3))
    membership = sp.csr_matrix((np.ones(3 * n, dtype=bool), columns.ravel(), np.arange(0, 3 * n + 1, 3)), shape=(n, 98))
    membership.sum_duplicates()
    csc = membership.tocsc()
    counts = np.diff(membership.indptr)
    started = time.perf_counter()
    mask = highlight_mask(csc, counts, [7, 25], "all")
    assert time.perf_counter() - started < 0.5
    expected = np.isin(columns, [7]).any(axis=1) & np.isin(columns, [25]).any(axis=1)
    assert np.array_equal(mask, expected)


def test_element_frequencies_count_compounds_not_atoms():
    membership, _ = membership_matrix(["Fe2O3", "FeO", "NaCl"])
    freq = element_frequencies(membership, [0, 1])
    assert freq["Fe"] == 2 and freq["O"] == 2 and freq["Na"] == 0 and len(freq) == 98


def test_learned_order_puts_similar_elements_together():
    symbols = ["H", "He", "Li", "Be", "B"]
    # two families: {H, Li} and {He, Be, B}; B has no data
    cos = pd.DataFrame(np.eye(5), index=symbols, columns=symbols)
    for a, b, c in (("H", "Li", 0.9), ("He", "Be", 0.8), ("H", "He", 0.1), ("Li", "Be", 0.1), ("H", "Be", 0.05), ("Li", "He", 0.05)):
        cos.loc[a, b] = cos.loc[b, a] = c
    cos.loc["B"] = cos["B"] = 0.0
    order = seriation_order(cos)
    assert order[-1] == "B"
    assert abs(order.index("H") - order.index("Li")) == 1 and abs(order.index("He") - order.index("Be")) == 1


def test_learned_order_is_the_seriation_with_unplaceable_elements_last():
    """Families along a chain come out in chain order (the bandwidth seriation's optimum),
    elements with data but no positive cosine to another follow, then those without data."""
    from fingerprints.seriation import arrangement_cost, seriate

    chain = ["Li", "Na", "K", "Mg", "Ca", "Fe", "Co", "Cl", "F"]  # alkali metals ... halogens
    symbols = ["He", *chain, "Rn", "Ar"]
    n = len(chain)
    values = np.zeros((len(symbols), len(symbols)))
    for i in range(n):
        for j in range(n):
            values[i + 1, j + 1] = 0.9 ** abs(i - j)  # similarity decays along the chain
    values[0, 0] = 1.0  # He: data, but no positive cosine to any other element
    cos = pd.DataFrame(values, index=symbols, columns=symbols).sample(frac=1, random_state=1)
    cos = cos[cos.index]
    order = seriation_order(cos)
    assert order[:n] == chain  # oriented like the Pettifor scale: alkali metals before halogens
    assert order[n:] == ["He", "Ar", "Rn"]  # isolated, then without data, each in Z order
    inner = cos.loc[chain, chain]
    assert arrangement_cost(inner, order[:n]) == pytest.approx(seriate(inner).cost)


def test_loaded_map_prepares_views(maps_root):
    loaded = MAPS.get(resolve_map(scan_maps(maps_root), "small"))
    assert loaded.n_points == len(loaded.points) == loaded.membership.shape[0]
    assert {"band_gap", "e_above_hull", "magnetization"} <= set(loaded.numeric_columns)
    assert {"n_elements", "magnetic"} <= set(loaded.categorical_columns)
    assert loaded.default_color == "band_gap"
    assert set(loaded.points["magnetic"].dropna()) <= {"magnetic", "non-magnetic"}
    assert loaded.element_counts["O"] == loaded.points["formula"].str.contains("O(?![a-z])").sum()
    mean_o = loaded.element_means["band_gap"]["O"]
    contains_o = loaded.membership[:, SYMBOL_TO_INDEX["O"]].toarray().ravel()
    assert mean_o == pytest.approx(loaded.points.loc[contains_o, "band_gap"].mean())
    assert len(loaded.order_learned) == 98 and loaded.order_learned[-1] == "Rn"
    assert MAPS.get(resolve_map(scan_maps(maps_root), "small")) is loaded  # cached


def test_a_map_rebuilt_in_place_is_reloaded(maps_root, tmp_path):
    root = tmp_path / "maps"
    shutil.copytree(maps_root / "small", root / "copy")
    cache = MapCache(size=2)
    first = cache.get(scan_maps(root)[0])
    metadata = json.loads((root / "copy" / "metadata.json").read_text())
    metadata["built"] = "later"
    (root / "copy" / "metadata.json").write_text(json.dumps(metadata))
    second = cache.get(scan_maps(root)[0])
    assert second is not first


def test_a_failed_load_keeps_no_loading_lock_and_the_next_request_retries(maps_root, tmp_path, monkeypatch):
    import dashboard.maps as maps_module

    root = tmp_path / "maps"
    shutil.copytree(maps_root / "small", root / "copy")
    entry = scan_maps(root)[0]
    cache = MapCache(warm_in_background=False)
    real_load = maps_module.load_map

    def broken(path):
        raise MapArtifactError(f"{path}: points file damaged")

    monkeypatch.setattr(maps_module, "load_map", broken)
    with pytest.raises(MapArtifactError, match="damaged"):
        cache.get(entry)
    assert cache._loading == {}
    monkeypatch.setattr(maps_module, "load_map", real_load)
    assert cache.get(entry).n_points == len(real_load(entry.path).points)
    assert cache._loading == {}


def _slow_fingerprints(loaded, monkeypatch, *, delay: float) -> list[int]:
    """Make the fingerprints of the whole map slow to compute, and count how often they are."""
    calls: list[int] = []
    embedding = loaded.artifact.embedding
    original = embedding.transform

    def slow_transform(formulas, *args, **kwargs):
        if len(formulas) == loaded.n_points:
            calls.append(len(formulas))
            time.sleep(delay)
        return original(formulas, *args, **kwargs)

    monkeypatch.setattr(embedding, "transform", slow_transform)
    return calls


def test_a_loaded_map_warms_up_in_the_background_without_blocking(maps_root, monkeypatch):
    cache = MapCache(warm_in_background=False)
    loaded = cache.get(resolve_map(scan_maps(maps_root), "small"))
    calls = _slow_fingerprints(loaded, monkeypatch, delay=1.0)
    started = time.perf_counter()
    thread = loaded.start_warming()
    assert time.perf_counter() - started < 0.5 and thread.daemon  # the page does not wait
    assert loaded.wait_warm(timeout=60)
    assert loaded._slow.projector_ready and loaded._slow.order is not None and calls == [loaded.n_points]
    started = time.perf_counter()
    placed = loaded.place(["LiFeO2", "NaCl", "not a formula"], k=3)
    assert time.perf_counter() - started < 1.0 and calls == [loaded.n_points]  # nothing recomputed
    assert np.isfinite(placed["x"].iloc[:2]).all() and placed["error"].iloc[2]


def test_requests_during_the_warm_up_wait_for_it_instead_of_recomputing(maps_root, monkeypatch):
    cache = MapCache(warm_in_background=False)
    loaded = cache.get(resolve_map(scan_maps(maps_root), "small"))
    calls = _slow_fingerprints(loaded, monkeypatch, delay=0.5)
    loaded.start_warming()
    results, errors = [], []

    def request(kind: str) -> None:
        try:
            results.append(loaded.place(["LiFeO2"], k=2) if kind == "place" else loaded.neighbours_of([0], k=2))
        except Exception as err:  # noqa: BLE001 - reported by the assertion below
            errors.append(err)

    threads = [threading.Thread(target=request, args=(kind,)) for kind in ("place", "neighbours") * 3]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == [] and len(results) == 6
    assert calls == [loaded.n_points]  # the fingerprints of the map were computed once


def test_a_forked_worker_gets_fresh_locks():
    from dashboard import maps

    slow = maps._SlowParts()
    maps._ALL_SLOW_PARTS.add(slow)
    slow.projector_lock.acquire()  # as if the warm-up thread held it when the process forked
    maps._after_fork_in_child()
    assert slow.projector_lock.acquire(timeout=1)
    slow.projector_lock.release()
