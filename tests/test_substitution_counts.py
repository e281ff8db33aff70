"""Reading and writing counts in the ICSD format, with clear errors for broken files."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest

from data.substitution_counts import (
    ICSD_SHA256,
    CountsFormatError,
    read_substitution_counts,
    write_substitution_counts,
)
from tests.conftest import toy_counts


def _write_matrix(path, matrix):
    path.write_text("\n".join(" ".join(f"{int(v):5d}" for v in row) for row in matrix) + "\n")


def _valid_files(tmp_path, size=117):
    pair = np.zeros((size, size), dtype=int)
    pair[1, 2] = pair[2, 1] = 3  # H-He
    pair[26, 27] = pair[27, 26] = 7  # Fe-Co
    single = np.zeros(size, dtype=int)
    single[1], single[26] = 4, 9
    single[0] = single.sum()
    counts, elements = tmp_path / "substitution.dat", tmp_path / "substitution.dat.element_count"
    _write_matrix(counts, pair)
    elements.write_text("\n".join(str(v) for v in single) + "\n")
    return counts, elements, pair, single


def test_reads_the_format_and_restricts_to_cf(tmp_path):
    counts_path, element_path, pair, single = _valid_files(tmp_path)
    counts = read_substitution_counts(counts_path, element_path)
    assert counts.pair_counts.shape == (98, 98)
    assert counts.pair_counts[0, 1] == 3 and counts.pair_counts[25, 26] == 7
    assert counts.element_counts[0] == 4 and counts.element_counts[25] == 9
    assert counts.notes == ()


def test_counts_beyond_cf_are_reported(tmp_path):
    counts_path, element_path, pair, single = _valid_files(tmp_path)
    pair[99, 26] = pair[26, 99] = 2
    single[99] = 2
    _write_matrix(counts_path, pair)
    element_path.write_text(" ".join(str(v) for v in single))  # one line works too
    counts = read_substitution_counts(counts_path, element_path)
    assert counts.notes == ("dropped counts of elements beyond Cf: 2 compounds and 2 substitutions",)


def test_write_then_read_round_trips(tmp_path):
    original = toy_counts()
    counts_path, element_path = write_substitution_counts(original, tmp_path / "out")
    again = read_substitution_counts(counts_path, element_path)
    np.testing.assert_array_equal(again.pair_counts, original.pair_counts)
    np.testing.assert_array_equal(again.element_counts, original.element_counts)
    assert int(element_path.read_text().split()[0]) == 4  # index 0 holds the total
    assert not list((tmp_path / "out").glob("*.tmp"))


@pytest.mark.parametrize(
    "breakage, message",
    [
        ("missing", "does not exist"),
        ("empty", "is empty"),
        ("binary", "is binary"),
        ("word", "'abc' is not a number"),
        ("ragged", "different numbers of columns"),
        ("small", "needs at least 99 x 99"),
        ("asymmetric", "not symmetric"),
        ("negative", "negative"),
        ("latin1", "not plain text"),
    ],
)
def test_broken_counts_files_get_clear_errors(tmp_path, breakage, message):
    counts_path, element_path, pair, _ = _valid_files(tmp_path)
    if breakage == "missing":
        counts_path.unlink()
    elif breakage == "empty":
        counts_path.write_text("")
    elif breakage == "binary":
        counts_path.write_bytes(b"\x00\x01\x02PK\x03\x04")
    elif breakage == "word":
        counts_path.write_text(counts_path.read_text().replace("    3", "  abc", 1))
    elif breakage == "ragged":
        counts_path.write_text(counts_path.read_text() + "1 2 3\n")
    elif breakage == "small":
        _write_matrix(counts_path, pair[:50, :50])
    elif breakage == "asymmetric":
        pair[1, 2] = 5
        _write_matrix(counts_path, pair)
    elif breakage == "negative":
        pair[1, 2] = pair[2, 1] = -1
        _write_matrix(counts_path, pair)
    elif breakage == "latin1":
        counts_path.write_bytes("caf\xe9".encode("latin-1"))
    with pytest.raises(CountsFormatError, match=message) as info:
        read_substitution_counts(counts_path, element_path)
    assert str(counts_path) in str(info.value)


def test_short_element_counts_file(tmp_path):
    counts_path, element_path, _, _ = _valid_files(tmp_path)
    element_path.write_text("1 2 3")
    with pytest.raises(CountsFormatError, match="has 3 numbers, needs at least 99"):
        read_substitution_counts(counts_path, element_path)


@pytest.mark.shared_data
def test_shared_files_are_the_pinned_ones(icsd_paths):
    for path in icsd_paths:
        assert hashlib.sha256(path.read_bytes()).hexdigest() == ICSD_SHA256[path.name]


@pytest.mark.shared_data
def test_real_counts_read(icsd_counts):
    assert icsd_counts.elements_without_data == ["At", "Rn", "Fr"]
    assert icsd_counts.element_counts.sum() == 139018 - 2  # Es (Z = 99) dropped
    assert len(icsd_counts.notes) == 1


def test_download_checks_the_pinned_sha256(tmp_path, monkeypatch):
    from data import substitution_counts
    from data.download import ChecksumError

    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "substitution.dat").write_text("1 2 3\n")
    (mirror / "substitution.dat.element_count").write_text("1\n")
    monkeypatch.setattr(substitution_counts, "ICSD_BASE_URL", mirror.as_uri() + "/")
    with pytest.raises(ChecksumError):
        substitution_counts.download_icsd_counts(cache_dir=tmp_path / "cache", progress=False)
    assert not (tmp_path / "cache" / "substitution.dat").exists()


@pytest.mark.shared_data
def test_download_caches_the_public_files(icsd_paths, tmp_path, monkeypatch):
    from data import substitution_counts

    monkeypatch.setattr(substitution_counts, "ICSD_BASE_URL", icsd_paths[0].parent.as_uri() + "/")
    paths = substitution_counts.download_icsd_counts(cache_dir=tmp_path / "cache", progress=False)
    assert [p.name for p in paths] == ["substitution.dat", "substitution.dat.element_count"]
    assert read_substitution_counts(*paths).elements_without_data == ["At", "Rn", "Fr"]
    monkeypatch.setattr(substitution_counts, "ICSD_BASE_URL", "http://127.0.0.1:9/unreachable/")
    assert substitution_counts.download_icsd_counts(cache_dir=tmp_path / "cache", progress=False) == paths  # cache hit
