"""A range the data do not cover is refused in one sentence that says what they cover and what
to do, in the package (``cryptousd.data.locate.check_covers``) and in the notebooks that take
ranges."""

from __future__ import annotations

import papermill as pm
import pytest

from cryptousd.config import NOTEBOOKS_DIR
from cryptousd.data.locate import (
    FETCH_HINT,
    SAMPLE_FILE,
    DataLocation,
    check_covers,
    locate_candles,
)
from cryptousd.errors import DataError

COVER = "2025-03-25 00:00 .. 2025-03-31 23:59 UTC"


@pytest.fixture(scope="module")
def sample():
    """The sample as a clone alone finds it (here other data may be found first)."""
    where = DataLocation([SAMPLE_FILE], "sample", "sample: the 7 days shipped with the package")
    return where, where.load()


def test_a_range_inside_the_sample_passes(sample):
    where, candles = sample
    check_covers(candles, "2025-03-25", "2025-04-01", where=where)  # end is exclusive
    check_covers(candles, "2025-03-29 12:00", None, where=where)
    check_covers(candles)


@pytest.mark.parametrize(
    "start, end",
    [("2025-03-01", "2025-04-01"), ("2025-03-29", "2025-04-01 00:01"), ("2025-05-01", None)],
)
def test_a_range_outside_the_sample_says_what_it_covers(sample, start, end):
    where, candles = sample
    with pytest.raises(DataError) as err:
        check_covers(candles, start, end, what="start .. end", where=where)
    msg = str(err.value)
    assert "\n" not in msg
    assert msg.startswith(f"start .. end = {start[:10]}")
    assert f"7-day sample shipped with the package ({SAMPLE_FILE.name}), which holds {COVER}" in msg
    assert msg.endswith(f"fetch the history with `{FETCH_HINT}`")


def test_a_reversed_or_unreadable_range_is_refused(sample):
    _, candles = sample
    with pytest.raises(DataError, match="ends before it starts"):
        check_covers(candles, "2025-03-30", "2025-03-29")
    with pytest.raises(DataError, match="not a date"):
        check_covers(candles, "the 1st of March")


def test_given_data_are_named(sample):
    _, candles = sample
    where = locate_candles([str(SAMPLE_FILE)])
    with pytest.raises(DataError, match=f"outside the data \\(given: {SAMPLE_FILE.name}\\)"):
        check_covers(candles, "2025-01-01", "2025-02-01", where=where)


def test_no_candles_at_all(sample):
    _, candles = sample
    with pytest.raises(DataError, match="no candles at all"):
        check_covers(candles.iloc[:0], "2025-03-29")


OUTSIDE = {  # notebook: a parameter outside the sample's week
    "03-train-lstm": {"train_range": ["2025-03-01", "2025-03-20"]},
    "04-backtest": {"start": "2025-03-01", "stride": 5, "fee_bps": 5},
    "05-indicators-direction": {"show_day": "2025-04-02"},
}


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(OUTSIDE))
def test_a_notebook_stops_in_its_first_data_cell(name, tmp_path):
    params = {"data": [str(SAMPLE_FILE)], **OUTSIDE[name]}
    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(
            str(NOTEBOOKS_DIR / f"{name}.ipynb"),
            str(tmp_path / "out.ipynb"),
            parameters=params,
            progress_bar=False,
            kernel_name="python3",
        )
    assert err.value.ename == "DataError"
    assert f"which holds {COVER}: give a range inside that" in err.value.evalue
    assert "\n" not in err.value.evalue
    # the first code cell after the parameters (papermill's injected cell counts as one)
    assert err.value.exec_count <= 4, err.value.exec_count
