"""SQL*Loader's record selection: --skip-records, --load-records and --when, end to end.

Counts stay honest (read = loaded + rejected + discarded; skipped records are not read),
discarded records keep their bytes in the discard file, and a record of another type is
discarded by a condition on its type field, not rejected by the fields it cannot decode.
"""

from __future__ import annotations

import json
import signal

import numpy as np
import pytest

from mfpipe.cli import main
from mfpipe.codec import DecodeOptions
from mfpipe.codec.encode import encode_records
from mfpipe.errors import MfpipeError
from mfpipe.layout import load_layout
from mfpipe.pipeline.selection import Condition, Window
from tests.jobs.support import LAYOUT, keyed_file, last_json, launcher, wait_for_commits
from tests.support import copybook, query

ARGS = ["--layout", LAYOUT, "--date", "open_date=YYYYMMDD", "--chunk-records", "250",
        "--json"]


def cli(capsys, db_url: str, *args: str) -> tuple[int, dict]:
    code = main([*args, *ARGS, "--db", db_url])
    return code, last_json(capsys.readouterr().out)


class TestWindow:
    @pytest.mark.parametrize("first, n, expected", [(1, 100, (100, 100)), (101, 100, (0, 50)),
                                                    (121, 10, (0, 10)), (141, 20, (0, 10)),
                                                    (51, 100, (50, 100))])
    def test_part_of_a_chunk(self, first, n, expected):
        """Records 101-150 of the file (skip 100, load 50), as slices [lo, hi) of chunks;
        lo also counts a chunk's records skipped before the window."""
        assert Window(100, 50).part(first, n) == expected

    def test_skip_and_load_end_to_end(self, tmp_path, db_url, capsys):
        """--skip-records 100 --load-records 300 of 1,000 records: records 101-400 are read
        and loaded, 100 are skipped, the rest is not read; the report says so."""
        path = keyed_file(tmp_path / "in.dat", 1_000)
        code, summary = cli(capsys, db_url, "run", "--input", path, "--skip-records", "100",
                            "--load-records", "300")
        assert code == 0, summary
        counts = summary["counts"]
        assert (counts["read"], counts["loaded"], counts["skipped"]) == (300, 300, 100)
        assert query(db_url, "SELECT min(record_no), max(record_no), count(*) FROM "
                             "stg_customer_account") == [(101, 400, 300)]
        main(["report", summary["run_id"], "--db", db_url])
        skipped = next(line for line in capsys.readouterr().out.splitlines()
                       if "records skipped" in line)
        assert skipped.split()[-1] == "100"


class TestWhen:
    def test_discarded_records_are_counted_and_kept(self, tmp_path, db_url, capsys):
        """--when keeps the records that meet it; the others are discarded: counted apart
        (read = loaded + rejected + discarded), their bytes in the discard file, beside the
        input by default; the run reconciles."""
        path = keyed_file(tmp_path / "in.dat", 1_000)
        data = open(path, "rb").read()
        savings = [i for i in range(1_000) if data[i * 100 + 44] == 0xE2]  # 'S' in cp037
        code, summary = cli(capsys, db_url, "run", "--input", path, "--when",
                            "acct_type = 'S'")
        assert code == 0 and summary["reconciliation"]["passed"], summary
        counts = summary["counts"]
        assert counts["read"] == 1_000 and counts["discarded"] == 1_000 - counts["loaded"]
        loaded = query(db_url, "SELECT DISTINCT acct_type FROM customer_account")
        assert loaded == [("S",)] and counts["loaded"] == len(savings) > 0
        discard = tmp_path / f"in.dat.{summary['run_id']}.dsc"
        assert len(discard.read_bytes()) == 100 * counts["discarded"]

    def test_records_of_another_type_are_discarded_not_rejected(self, tmp_path, capsys):
        """A header and a trailer whose bytes are not valid detail records: with a
        condition on the type field they are discarded, and nothing is rejected."""
        layout = tmp_path / "d.cpy"
        layout.write_text(copybook("""
            01  DETAIL.
                05  REC-TYPE  PIC X.
                05  AMOUNT    PIC S9(5)V99 COMP-3.
        """))
        record = load_layout(str(layout)).record()
        details = encode_records(record, {"rec_type": np.array(["D"] * 6),
                                          "amount": np.arange(6, dtype=np.int64)}, 6,
                                 DecodeOptions())
        header, trailer = b"\xc8" + b"\xff" * 4, b"\xe3" + b"\x00" * 4  # 'H', 'T': no amount
        data = tmp_path / "d.dat"
        data.write_bytes(header + details.tobytes() + trailer)
        db = f"sqlite:///{tmp_path / 'd.db'}"
        assert main(["run", "--layout", str(layout), "--input", str(data), "--db", db,
                     "--when", "rec_type = 'D'", "--json"]) == 0
        counts = last_json(capsys.readouterr().out)["counts"]
        assert (counts["read"], counts["loaded"], counts["rejected"], counts["discarded"]) \
            == (8, 6, 0, 2)

    @pytest.mark.parametrize("text, word", [("acct_type = S", "COLUMN OP VALUE"),
                                            ("nope = 'S'", "nope"),
                                            ("acct_type = 5", "quote the value"),
                                            ("balance = 'x'", "a number"),
                                            ("open_date = 20200101", "date")])
    def test_a_bad_condition_is_a_configuration_error(self, text, word):
        """A condition that does not parse, names no column, or compares a column with a
        value of another kind is refused with 78, saying what is wrong."""
        record = load_layout(LAYOUT).record()
        options = DecodeOptions(dates=(("open_date", "YYYYMMDD"),))
        with pytest.raises(MfpipeError) as caught:
            Condition.parse(text, record, options)
        assert caught.value.exit_code == 78 and word in str(caught.value)

    def test_a_stopped_run_with_a_condition_resumes_exactly(self, tmp_path, db_url, capsys):
        """SIGTERM, then a relaunch: the resumed run discards and loads exactly what one
        uninterrupted run does (the chunks and the condition are the run's own)."""
        path = keyed_file(tmp_path / "in.dat", 60_000)
        args = ["run", "--input", path, *ARGS, "--db", db_url, "--when", "acct_type = 'S'",
                "--skip-records", "1000", "--processors", "2", "--writers", "1"]
        process = launcher(args, tmp_path)
        wait_for_commits(db_url, 4)
        process.send_signal(signal.SIGTERM)
        assert process.communicate(timeout=60) and process.returncode == 143
        code, summary = cli(capsys, db_url, "run", "--input", path, "--when",
                            "acct_type = 'S'", "--skip-records", "1000")
        assert code == 0 and summary["reconciliation"]["passed"], summary
        counts = summary["counts"]
        assert counts["read"] == 59_000 == counts["loaded"] + counts["discarded"]
        (loaded,) = query(db_url, "SELECT count(*) FROM customer_account")[0]
        assert loaded == counts["loaded"]
        assert json.loads(json.dumps(counts))["skipped"] == 1_000


class TestConditionEdges:
    def test_a_value_with_more_places_than_the_column_compares_exactly(self, tmp_path,
                                                                       db_url, capsys):
        """`balance > 0.005` on a 2-place column is compared exactly (it used to crash the
        processors: the value could not be cast to the column's type)."""
        path = keyed_file(tmp_path / "in.dat", 500)
        code, summary = cli(capsys, db_url, "run", "--input", path, "--when",
                            "balance > 0.005")
        assert code == 0, summary
        (positive,) = query(db_url, "SELECT count(*) FROM customer_account")[0]
        assert positive == summary["counts"]["loaded"] == 500 - summary["counts"]["discarded"]

    def test_a_corrupt_condition_field_is_a_reject_not_a_discard(self, tmp_path, db_url,
                                                                  capsys):
        """A record whose condition field does not decode is rejected with its reason (and
        counts toward --max-errors), never discarded as if it were another record type."""
        path = keyed_file(tmp_path / "in.dat", 500)
        data = bytearray(open(path, "rb").read())
        data[7 * 100 + 53] = 0xFF  # record 8's balance: a bad packed digit
        open(path, "wb").write(bytes(data))
        code, summary = cli(capsys, db_url, "run", "--input", path, "--when",
                            "balance > -100000000000")
        assert code == 0 and (summary["counts"]["rejected"], summary["counts"]["discarded"]) \
            == (1, 0)

    def test_a_field_after_a_variable_table_is_refused(self, tmp_path):
        """Fields in or after an OCCURS DEPENDING ON table move with the count: a condition
        on one is a configuration error, not a misread."""
        layout = tmp_path / "o.cpy"
        layout.write_text(copybook("""
            01  REC.
                05  N      PIC 9.
                05  T      PIC X OCCURS 1 TO 3 DEPENDING ON N.
                05  KIND   PIC X.
        """))
        record = load_layout(str(layout)).record()
        with pytest.raises(MfpipeError, match="OCCURS DEPENDING ON"):
            Condition.parse("kind = 'A'", record, DecodeOptions())
        assert Condition.parse("n = 2", record, DecodeOptions()).terms == (
            ("n", "=", __import__("decimal").Decimal(2)),)
