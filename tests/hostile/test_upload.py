"""Hostile files through the loader (``load_user_dataset`` with the upload limits) and through
the dashboard's upload path (``decode_upload`` + ``place_upload`` inside the callbacks'
``guarded`` wrapper): a clear message, a log line, bounded time, nothing placed when refused."""

from __future__ import annotations

import base64
import io
import time

import numpy as np

import pytest

from dashboard.callbacks import upload, validate
from data.user_dataset import UserDatasetError, load_user_dataset
from tests.hostile.conftest import app_errors, app_warnings, as_text
from tests.hostile.corpus import CONTENTS_CASES, UPLOAD_CASES, oversized_contents, resolve

pytestmark = pytest.mark.timeout(120)

#: No case may hold a server worker longer than this.
SECONDS = 5.0


def _data_url(data: bytes) -> str:
    return "data:application/octet-stream;base64," + base64.b64encode(data).decode()


def _through_the_callback(loaded, contents, filename):
    """What the upload callback does with the browser's contents (errors become a message)."""

    @validate.guarded(lambda message: ("refused", message))
    def handle():
        data, name = upload.decode_upload(contents, filename)
        return upload.place_upload(loaded, data, name)

    return handle()


@pytest.mark.parametrize("case", UPLOAD_CASES, ids=lambda case: case.id)
def test_the_loader_refuses_or_reports_each_hostile_file(case):
    data = resolve(case.data)
    started = time.perf_counter()
    if case.outcome == "refused":
        with pytest.raises(UserDatasetError) as info:
            load_user_dataset(data, filename=case.filename, max_bytes=upload.MAX_UPLOAD_BYTES, max_rows=upload.MAX_UPLOAD_ROWS)
        message = str(info.value)
        assert case.message in message
        assert message.startswith(f"upload {case.filename!r}"), "the message names the file"
        assert len(message) < 2000
    else:
        dataset = load_user_dataset(data, filename=case.filename, max_bytes=upload.MAX_UPLOAD_BYTES, max_rows=upload.MAX_UPLOAD_ROWS)
        assert len(dataset.table) >= 1
        if case.outcome == "reported":
            assert case.message in "\n".join(dataset.summary())
    assert time.perf_counter() - started < SECONDS


@pytest.mark.parametrize("case", UPLOAD_CASES, ids=lambda case: case.id)
def test_the_dashboard_upload_answers_each_hostile_file_with_a_message(case, loaded_small, caplog):
    data = resolve(case.data)
    started = time.perf_counter()
    result = _through_the_callback(loaded_small, _data_url(data), case.filename)
    assert time.perf_counter() - started < SECONDS
    assert not app_errors(caplog), "no unexpected exception"
    if case.outcome == "refused":
        assert result[0] == "refused"
        assert case.message in result[1]
        assert app_warnings(caplog), "a refused upload leaves a line in the server's log"
        return
    overlay, lines = result
    shown = as_text([line.to_plotly_json() for line in lines])
    assert case.message in shown
    assert len(overlay["points"]) <= upload.MAX_PLACED
    if case.outcome == "reported":
        assert app_warnings(caplog)


@pytest.mark.parametrize("case", CONTENTS_CASES, ids=lambda case: case.id)
def test_forged_upload_contents_get_a_message(case, loaded_small, caplog):
    contents = oversized_contents() if case.contents == "@oversized_contents" else case.contents
    started = time.perf_counter()
    result = _through_the_callback(loaded_small, contents, case.filename)
    assert time.perf_counter() - started < SECONDS
    assert result[0] == "refused"
    assert case.message in result[1]
    assert app_warnings(caplog) and not app_errors(caplog)


def test_an_upload_over_the_row_limit_is_refused_before_its_rows_are_checked(monkeypatch):
    import data.user_dataset as user_dataset

    def no_parsing(*args, **kwargs):
        raise AssertionError("rows over the limit must not be parsed")

    monkeypatch.setattr(user_dataset, "parse_formulas", no_parsing)
    rows = b"formula,gap\n" + b"Fe2O3,1\n" * 1001
    with pytest.raises(UserDatasetError, match=r"^upload 'x.csv' has more than 1,000 data rows"):
        load_user_dataset(rows, filename="x.csv", max_rows=1000)


def test_a_parquet_bomb_is_refused_from_its_metadata_without_reading_its_pages(monkeypatch):
    import pyarrow.parquet as pq

    bomb = resolve("@bomb_parquet_rows")
    assert len(bomb) < 200_000

    def no_reading(*args, **kwargs):
        raise AssertionError("the data pages must not be read")

    monkeypatch.setattr(pq, "read_table", no_reading)
    with pytest.raises(UserDatasetError, match=r"has 25,000,000 rows, more than the limit of 100,000"):
        load_user_dataset(bomb, filename="x.parquet", max_rows=upload.MAX_UPLOAD_ROWS)


def test_a_parquet_whose_values_expand_to_gigabytes_is_measured_not_expanded():
    import pyarrow as pa
    import pyarrow.parquet as pq

    # 60,000 copies of a 50 kB string: 3 GB expanded, a few kB on disk
    column = pa.DictionaryArray.from_arrays(pa.array(np.zeros(60_000, dtype=np.int32)), pa.array(["Fe2O3" * 10_000]))
    buffer = io.BytesIO()
    pq.write_table(pa.table({"formula": column}), buffer, compression="zstd")
    bomb = buffer.getvalue()
    assert len(bomb) < 100_000
    pool = pa.default_memory_pool()
    peak_before = pool.max_memory()
    started = time.perf_counter()
    with pytest.raises(UserDatasetError, match=r"expands to 3000\.2 MB of values \(60,000 rows\), more than the limit"):
        load_user_dataset(bomb, filename="x.parquet", max_bytes=upload.MAX_UPLOAD_BYTES)
    assert time.perf_counter() - started < 0.5
    assert pool.max_memory() - peak_before < 100 * 2**20, "the column was never expanded"


def test_a_parquet_with_wrong_column_types_says_which_column():
    with pytest.raises(UserDatasetError, match=r"column 'formula' holds list<element: string> values, not formula text"):
        load_user_dataset(resolve("@parquet_list_formula"), filename="x.parquet")
    dataset = load_user_dataset(resolve("@parquet_utf8_binary_formula"), filename="x.parquet")
    assert dataset.table["formula"].tolist() == ["Fe2O3", "NaCl"]
