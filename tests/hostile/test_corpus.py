"""The corpus itself: big enough, every case named once, every entry point covered."""

from __future__ import annotations

from collections import Counter

from tests.hostile import corpus


def test_the_corpus_has_at_least_200_distinct_cases():
    ids = corpus.all_case_ids()
    repeated = [case_id for case_id, n in Counter(ids).items() if n > 1]
    assert not repeated, f"case ids used twice: {repeated}"
    assert len(ids) >= 200, corpus.counts()


def test_every_entry_point_has_cases():
    counts = corpus.counts()
    assert set(counts) == {
        "parser", "command line", "upload files", "upload contents", "callback payloads", "callback request shapes", "links",
    }  # fmt: skip
    assert all(n >= 10 for n in counts.values()), counts
    assert sum(counts.values()) == len(corpus.all_case_ids())


def test_generated_files_are_named_by_cases():
    named = {case.data[1:] for case in corpus.UPLOAD_CASES if isinstance(case.data, str)}
    named |= {data[1:].decode() for case in corpus.CLI_CASES for data in case.files.values() if data.startswith(b"@")}
    assert named <= set(corpus.GENERATED)
