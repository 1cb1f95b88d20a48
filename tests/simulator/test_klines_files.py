"""Directories of Binance kline files as datasets (:mod:`simulator.klines_files`), from real files in ``tmp_path``."""

from __future__ import annotations

import gzip
import shutil
import zipfile
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from simulator.dataset import Dataset, DatasetNotFoundError
from simulator.kline import INTERVAL_MS
from simulator.klines_files import KlineFileError, dir_symbols, load_datasets, load_dir
from simulator.market import WARMUP_CANDLES, Market, start_within
from tests.conftest import NOV_2021_BTC, TEST_DATA, archive_line, project_rows, write_archive

SAMPLE_2026 = TEST_DATA / "archive-format-sample-BTCUSDT-1m-2026-09-15.csv"


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


def numbers(ds: Dataset) -> list[tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]]:
    return [
        (t, Decimal(o), Decimal(h), Decimal(lo), Decimal(c), Decimal(v))
        for t, o, h, lo, c, v in zip(ds.open_time_ms, ds.open, ds.high, ds.low, ds.close, ds.volume, strict=True)
    ]


def row_numbers(rows: list[list[str]]) -> list[tuple[int, Decimal, Decimal, Decimal, Decimal, Decimal]]:
    return [(int(r[0]), *(Decimal(x) for x in r[1:6])) for r in rows]  # type: ignore[misc]


# ---------------------------------------------------------------------------------------------------- formats
def test_the_archives_microsecond_times_are_read_as_milliseconds(tmp_path: Path) -> None:
    """The public archive's layout since 2025: no header, 12 columns, µs times; the file's strings and trade counts."""
    shutil.copy(SAMPLE_2026, tmp_path / "BTCUSDT-1m-2026-09-15.csv")

    ds = load_dir(tmp_path, "BTCUSDT")

    assert list(ds.open_time_ms) == [ms("2026-09-15T00:00"), ms("2026-09-15T00:01"), ms("2026-09-15T00:02"), ms("2026-09-15T00:03")]
    assert ds.open[0] == "78189.20000000" and tuple(ds.close) == ("78199.66000000", "78225.75000000", "78221.01000000", "78218.50000000")
    assert ds.volume[1] == "7.33866000"
    assert list(ds.trades) == [1076, 1757, 1382, 1156]  # the archive's own counts, not estimates
    assert list(ds.first_trade_id) == [1, 1077, 2834, 4216]
    assert ds.candle(0).close_time_ms == ms("2026-09-15T00:01") - 1


def test_daily_archive_zips_hold_the_same_candles_as_the_project_file(tmp_path: Path) -> None:
    rows = project_rows()
    written = write_archive(tmp_path, "BTCUSDT", rows, by="day")
    assert [p.name for p in written] == ["BTCUSDT-1m-2021-11-12.zip", "BTCUSDT-1m-2021-11-13.zip"]
    with zipfile.ZipFile(written[0]) as archive:
        assert archive.namelist() == ["BTCUSDT-1m-2021-11-12.csv"]
        first = archive.read("BTCUSDT-1m-2021-11-12.csv").decode().splitlines()[0]
    assert first.startswith("1636675200000,64774.25000000,64779.73000000,64736.02000000,64760.35000000,59.27118000,1636675259999,")

    ds = load_dir(tmp_path, "BTCUSDT")

    assert len(ds) == 2880
    assert numbers(ds) == row_numbers(rows)
    assert ds.high[0] == "64779.73000000"  # the file's string, not re-formatted
    assert list(ds.trades) == [int(archive_line(r).split(",")[8]) for r in rows]


def test_a_project_format_csv_gz_is_read_with_its_exact_strings(tmp_path: Path) -> None:
    """A copy of a bundled-style file: header ``open_time_ms,...``, CRLF lines; strings kept as written."""
    shutil.copy(NOV_2021_BTC, tmp_path)
    rows = project_rows()

    ds = load_dir(tmp_path, "btcusdt")

    assert ds.symbol == "BTCUSDT"
    assert list(ds.open_time_ms) == [int(r[0]) for r in rows]
    assert list(ds.close) == [r[4] for r in rows] and ds.low[-1] == "64380.0"
    assert ds.start_ms == ms("2021-11-12T00:00") and ds.end_ms == ms("2021-11-13T23:59")


@pytest.mark.parametrize("ext", ["csv", "csv.gz"])
def test_plain_and_gzipped_archive_csvs_are_read(tmp_path: Path, ext: str) -> None:
    rows = project_rows()[:120]
    write_archive(tmp_path, "BTCUSDT", rows, ext=ext)
    assert numbers(load_dir(tmp_path, "BTCUSDT")) == row_numbers(rows)


def test_two_monthly_files_merge_across_the_switch_to_microseconds(tmp_path: Path) -> None:
    """December 2024 in ms, January 2025 in µs; December's file also repeats January's first minute (an identical
    duplicate, in the other unit and number format): read once."""
    prices = project_rows()[:240]
    start = ms("2024-12-31T22:00")
    rows = [[str(start + i * INTERVAL_MS), *row[1:]] for i, row in enumerate(prices)]
    december = [r for r in rows if int(r[0]) < ms("2025-01-01T00:00")]
    january = rows[len(december):]
    write_archive(tmp_path, "BTCUSDT", december, by="month")
    write_archive(tmp_path, "BTCUSDT", january, by="month", micro=True)
    december_zip = tmp_path / "BTCUSDT-1m-2024-12.zip"
    with zipfile.ZipFile(december_zip) as archive:
        text = archive.read("BTCUSDT-1m-2024-12.csv").decode()
    with zipfile.ZipFile(december_zip, "w") as archive:  # plus a second copy of January's first minute
        archive.writestr("BTCUSDT-1m-2024-12.csv", text + archive_line(january[0]) + "\n")
    assert (tmp_path / "BTCUSDT-1m-2025-01.zip").exists()

    ds = load_dir(tmp_path, "BTCUSDT")

    assert list(ds.open_time_ms) == [start + i * INTERVAL_MS for i in range(240)]
    assert numbers(ds) == row_numbers(rows)


def test_overlapping_monthly_and_daily_files_are_merged_once(tmp_path: Path) -> None:
    rows = project_rows()
    write_archive(tmp_path, "BTCUSDT", rows, by="day")
    shutil.copy(NOV_2021_BTC, tmp_path / "BTCUSDT-1m-2021-11.csv.gz")  # the same two days again, other format

    assert numbers(load_dir(tmp_path, "BTCUSDT")) == row_numbers(rows)


def test_a_conflicting_duplicate_names_both_files_and_lines(tmp_path: Path) -> None:
    rows = project_rows()[:10]
    write_archive(tmp_path, "BTCUSDT", rows, ext="csv")
    changed = [*rows[3][:5], "1.5"]
    (tmp_path / "BTCUSDT-1m-2021-11.csv").write_text(
        "open_time_ms,open,high,low,close,volume\n" + ",".join(changed) + "\n", encoding="ascii"
    )

    with pytest.raises(KlineFileError) as raised:
        load_dir(tmp_path, "BTCUSDT")

    assert str(raised.value) == (
        f"{tmp_path}/BTCUSDT-1m-2021-11.csv:2: the candle opening at 2021-11-12 00:03 UTC (1636675380000) differs from "
        f"{tmp_path}/BTCUSDT-1m-2021-11-12.csv:4 (volume '1.5' vs '{Decimal(rows[3][5]):.8f}')"
    )


# ---------------------------------------------------------------------------------------------------- malformed files
GOOD = "1636675200000,64774.25,64779.73,64736.02,64760.35,59.27118"
NEXT = "1636675260000,64774.25,64779.73,64736.02,64760.35,59.27118"
GOOD_ARCHIVE = "1636675200000,64774.25,64779.73,64736.02,64760.35,59.27118,1636675259999,3838423.5,3839,29.1,1884593.2,0"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        pytest.param(NEXT.replace("64760.35", "abc"), "close 'abc' is not a number", id="close"),
        pytest.param(NEXT.replace("64760.35", "NaN"), "close 'NaN' is not a number", id="nan"),
        pytest.param(NEXT.replace("64760.35", "-1"), "close '-1' is not a number", id="negative"),
        pytest.param(NEXT.replace("64760.35", "1_000"), "close '1_000' is not a number", id="underscore"),
        pytest.param(NEXT.replace("59.27118", ""), "volume '' is not a number", id="empty-volume"),
        pytest.param(NEXT + ",1", "expected 6 fields (open_time_ms,open,high,low,close,volume), got 7", id="fields"),
        pytest.param(
            NEXT.replace("1636675260000", "1636675230000"),
            "open time 1636675230000 (2021-11-12 00:00:30.000 UTC) is not a whole minute",
            id="minute",
        ),
        pytest.param(
            NEXT.replace("1636675260000", "1636675260"),
            "open time 1636675260 is neither Unix milliseconds nor microseconds",
            id="seconds",
        ),
        pytest.param(NEXT.replace("1636675260000", "2021-11-12"), "open time '2021-11-12' is not a whole number", id="iso-time"),
        pytest.param(NEXT.replace("64779.73", "64700.00"), "high '64700.00' is below open '64774.25'", id="high"),
        pytest.param(NEXT.replace("64736.02", "64765.00"), "low '64765.00' is above close '64760.35'", id="low"),
        pytest.param("1636675260000,0,0,0,0,1", "low '0' is not a positive price", id="zero"),
    ],
)
def test_a_malformed_project_line_names_file_line_and_field(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "BTCUSDT-1m-2021-11.csv"
    path.write_text(f"open_time_ms,open,high,low,close,volume\n{GOOD}\n{line}\n", encoding="ascii")

    with pytest.raises(KlineFileError) as raised:
        load_dir(tmp_path, "BTCUSDT")

    assert str(raised.value) == f"{path}:3: {problem}"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        pytest.param(GOOD_ARCHIVE.replace("64760.35", "abc"), "close 'abc' is not a number", id="close"),
        pytest.param(GOOD_ARCHIVE.rsplit(",", 1)[0], "expected 12 fields (the Binance kline archive's), got 11", id="fields"),
        pytest.param(GOOD_ARCHIVE.replace(",3839,", ",3839.5,"), "number of trades '3839.5' is not a whole number", id="trades"),
        pytest.param(GOOD_ARCHIVE.replace("3838423.5", "x"), "quote volume 'x' is not a number", id="quote-volume"),
        pytest.param(
            GOOD_ARCHIVE.replace("1636675259999", "1636678799999"),
            "close time 1636678799999 is not within the minute opening at 1636675200000 (not 1m data?)",
            id="1h-close-time",
        ),
        pytest.param(
            GOOD_ARCHIVE.replace("1636675200000", "1636675200000123"),
            "open time 1636675200000123 is not a whole minute",
            id="micro-not-minute",
        ),
    ],
)
def test_a_malformed_archive_line_names_file_line_and_field(tmp_path: Path, line: str, problem: str) -> None:
    path = tmp_path / "BTCUSDT-1m-2021-11-12.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("BTCUSDT-1m-2021-11-12.csv", f"{line}\n")

    with pytest.raises(KlineFileError) as raised:
        load_dir(tmp_path, "BTCUSDT")

    assert str(raised.value) == f"{path}/BTCUSDT-1m-2021-11-12.csv:1: {problem}"


def test_the_example_message_word_for_word(tmp_path: Path) -> None:
    lines = [f"{1635724800000 + i * INTERVAL_MS},1,2,0.5,1.5,10,{1635724859999 + i * INTERVAL_MS},15,3,5,7.5,0" for i in range(20)]
    lines[16] = lines[16].replace(",1.5,", ",abc,")
    (tmp_path / "BTCUSDT-1m-2021-11.csv").write_text("\n".join(lines) + "\n")

    with pytest.raises(KlineFileError, match=r"/BTCUSDT-1m-2021-11\.csv:17: close 'abc' is not a number$"):
        load_dir(tmp_path, "BTCUSDT")


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        pytest.param("BTCUSDT-1m-2021-11.csv", b"", "no candles", id="empty"),
        pytest.param("BTCUSDT-1m-2021-11.csv", b"open_time_ms,open,high,low,close,volume\r\n", "no candles", id="header-only"),
        pytest.param("BTCUSDT-1m-2021-11.csv", b"time,o,h,l,c,v\n", "1: header 'time,o,h,l,c,v' is neither "
                     "'open_time_ms,open,high,low,close,volume' nor one of the archive's 12 columns", id="header"),
        pytest.param("BTCUSDT-1m-2021-11.csv", GOOD_ARCHIVE.encode() + b"\n\xff\n", "2: not ASCII text", id="binary"),
        pytest.param("BTCUSDT-1m-2021-11.csv.gz", b"not gzip", "cannot be read: Not a gzipped file (b'no')", id="gzip"),
        pytest.param("BTCUSDT-1m-2021-11.zip", b"not a zip", "cannot be read: File is not a zip file", id="zip"),
    ],
)
def test_a_file_that_cannot_be_read_is_one_line(tmp_path: Path, name: str, content: bytes, problem: str) -> None:
    (tmp_path / name).write_bytes(content)
    with pytest.raises(KlineFileError) as raised:
        load_dir(tmp_path, "BTCUSDT")
    sep = ":" if problem[0].isdigit() else ": "
    assert str(raised.value) == f"{tmp_path / name}{sep}{problem}"


def test_an_archive_header_line_is_skipped(tmp_path: Path) -> None:
    """The futures archive's files start with a header; a spot file with one is read the same."""
    header = "open_time,open,high,low,close,volume,close_time,quote_volume,count,taker_buy_volume,taker_buy_quote_volume,ignore"
    (tmp_path / "BTCUSDT-1m-2021-11-12.csv").write_text(f"{header}\n{GOOD_ARCHIVE}\n")
    ds = load_dir(tmp_path, "BTCUSDT")
    assert (tuple(ds.close), list(ds.trades)) == (("64760.35",), [3839])


def test_a_project_file_without_its_header_is_told_what_is_missing(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2021-11.csv"
    path.write_text(f"{GOOD}\n")
    with pytest.raises(KlineFileError) as raised:
        load_dir(tmp_path, "BTCUSDT")
    assert str(raised.value) == (
        f"{path}:1: expected 12 fields (the Binance kline archive's), got 6 "
        "(a file in the project's format starts with the header open_time_ms,open,high,low,close,volume)"
    )


def test_a_zip_must_hold_exactly_one_file(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2021-11.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("a.csv", GOOD_ARCHIVE)
        archive.writestr("b.csv", GOOD_ARCHIVE)
    with pytest.raises(KlineFileError) as raised:
        load_dir(tmp_path, "BTCUSDT")
    assert str(raised.value) == f"{path}: a kline zip must hold exactly one CSV file; it holds a.csv, b.csv"


def test_a_truncated_gzip_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-1m-2021-11-12_2021-11-13.csv.gz"
    path.write_bytes(NOV_2021_BTC.read_bytes()[:20_000])
    with pytest.raises(KlineFileError, match=r"^.*\.csv\.gz: cannot be read: Compressed file ended"):
        load_dir(tmp_path, "BTCUSDT")


# ---------------------------------------------------------------------------------------------------- directories
def test_symbols_other_intervals_and_other_files(tmp_path: Path) -> None:
    rows = project_rows()[:5]
    write_archive(tmp_path, "BTCUSDT", rows)
    write_archive(tmp_path, "ETHUSDT", rows, ext="csv")
    (tmp_path / "BTCUSDT-1m-2021-11-12.zip.CHECKSUM").write_text("abc  BTCUSDT-1m-2021-11-12.zip\n")
    (tmp_path / "DOGEUSDT-1h-2021-11.zip").write_bytes(b"never read")
    (tmp_path / "DOGEUSDT-5m-2021-11.csv").write_bytes(b"never read")
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "XRPUSDT-1m-2021-11.csv").mkdir()  # a directory, not a file

    assert dir_symbols(tmp_path) == ("BTCUSDT", "ETHUSDT")
    assert len(load_dir(tmp_path, "BTCUSDT")) == 5
    with pytest.raises(DatasetNotFoundError) as raised:
        load_dir(tmp_path, "DOGEUSDT")
    assert str(raised.value) == (
        f"{tmp_path}: no 1m kline files for DOGEUSDT (only 1h, 5m files; only 1m data can be replayed); "
        "it has BTCUSDT, ETHUSDT"
    )


def test_an_empty_or_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError) as raised:
        load_dir(tmp_path, "BTCUSDT")
    assert str(raised.value) == f"{tmp_path}: no 1m kline files for BTCUSDT; it has none"

    with pytest.raises(DatasetNotFoundError) as raised:
        load_dir(tmp_path / "nope", "BTCUSDT")
    assert str(raised.value) == f"{tmp_path / 'nope'}: no such data directory"

    (tmp_path / "file").write_text("")
    with pytest.raises(DatasetNotFoundError) as raised:
        dir_symbols(tmp_path / "file")
    assert str(raised.value) == f"{tmp_path / 'file'}: not a directory"


def test_load_datasets_without_a_directory_is_the_bundled_data() -> None:
    bundled = load_datasets(["btcusdt"])
    assert list(bundled) == ["BTCUSDT"] and bundled["BTCUSDT"].start_ms == ms("2021-04-20T20:42")


def test_a_gzip_member_name_does_not_matter(tmp_path: Path) -> None:
    """A ``.csv.gz`` is read whatever name its gzip header carries."""
    with gzip.open(tmp_path / "BTCUSDT-1m-2021-11.csv.gz", "wb") as out:
        out.write(f"{GOOD_ARCHIVE}\n".encode())
    assert tuple(load_dir(tmp_path, "BTCUSDT").close) == ("64760.35",)


# ---------------------------------------------------------------------------------------------------- the market
def test_a_market_over_a_data_directory_serves_its_candles(tmp_path: Path) -> None:
    rows = project_rows()
    write_archive(tmp_path, "BTCUSDT", rows)

    market = Market.replay(["BTCUSDT"], speed=60, data_dir=tmp_path, clock=lambda: 0.0)

    assert market.now_ms() == ms("2021-11-12T00:00") + WARMUP_CANDLES * INTERVAL_MS
    served = market.klines("BTCUSDT", limit=3)  # the last two closed candles and the one just opened
    assert [c.open_time_ms for c in served] == [ms("2021-11-12T04:58"), ms("2021-11-12T04:59"), ms("2021-11-12T05:00")]
    assert [c.close for c in served[:2]] == [Decimal(rows[298][4]), Decimal(rows[299][4])]
    assert served[2].close == Decimal(rows[300][1])  # in progress: at its open


def test_start_within_keeps_a_start_inside_the_data_and_replaces_one_outside() -> None:
    datasets = load_datasets(["BTCUSDT"], TEST_DATA)
    first = ms("2021-11-12T00:00")
    default = first + WARMUP_CANDLES * INTERVAL_MS
    assert start_within(datasets, ms("2021-11-13T12:00")) == ms("2021-11-13T12:00")
    assert start_within(datasets, first) == first
    assert start_within(datasets, ms("2021-11-13T23:59")) == ms("2021-11-13T23:59")  # the last candle opens then
    assert start_within(datasets, ms("2021-11-14T00:00")) == default  # after the last candle has closed
    assert start_within(datasets, ms("2021-04-22T18:05")) == default  # sim.start's default: the bundled month
    assert start_within(datasets, None) == default
