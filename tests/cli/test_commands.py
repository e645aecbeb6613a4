"""The commands as an operator runs them: output, files written and exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mfpipe.cli import main
from mfpipe.cli.demo import DEMO_LAYOUT
from tests.support import ROOT, copybook

BANK = str(ROOT / "schemas/bank_master.cpy")
CUSTOMER = str(DEMO_LAYOUT)


def run(capsys, *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


class TestLayoutCommand:
    def test_table(self, capsys):
        """`layout` prints one line per column with offsets and SQL types."""
        code, out, _ = run(capsys, "layout", CUSTOMER)
        assert code == 0
        assert "balance          53      7       COMP_3" in out
        assert "NUMERIC(13, 2)" in out and "NUMBER(13, 2)" in out

    def test_json(self, capsys):
        """`layout --json` gives every field with offset, length, types and SQL types."""
        code, out, _ = run(capsys, "layout", BANK, "--json")
        payload = json.loads(out)
        assert code == 0 and len(payload["fields"]) >= 100
        first = payload["fields"][0]
        assert {"column", "offset", "length", "usage", "arrow", "sqlite", "postgresql",
                "oracle"} <= set(first)

    def test_bad_copybook_exits_78(self, capsys, tmp_path):
        """A syntax error exits 78 and names file, line and column on stderr."""
        path = tmp_path / "bad.cpy"
        path.write_text(copybook("01  REC.\n    05  A  PIC X(3) COMPX."))
        code, _, err = run(capsys, "layout", str(path))
        assert code == 78
        assert f"{path}:2:28" in err and "Traceback" not in err


class TestDdlCommand:
    @pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "oracle"])
    @pytest.mark.parametrize("layout", [CUSTOMER, BANK])
    def test_sql_folder_is_current(self, capsys, dialect, layout):
        """The DDL files under sql/ are exactly what `mfpipe ddl` prints today."""
        code, out, _ = run(capsys, "ddl", layout, "--dialect", dialect)
        stored = ROOT / "sql" / dialect / (Path(layout).stem + ".sql")
        assert code == 0
        assert out == stored.read_text()


class TestGenAndConvert:
    def test_round_trip_with_rejects(self, capsys, tmp_path):
        """gen writes K bad records; convert writes the rest and rejects exactly those K."""
        data = tmp_path / "cust.dat"
        code, out, _ = run(capsys, "gen", CUSTOMER, "-o", str(data), "--records", "3000",
                           "--recfm", "VB", "--bad", "4", "--seed", "7",
                           "--date", "open_date=YYYYMMDD", "--json")
        assert code == 0
        bad = json.loads(out)["bad_records"]
        target = tmp_path / "cust.parquet"
        code, out, _ = run(capsys, "convert", CUSTOMER, str(data), "-o", str(target),
                           "--recfm", "VB", "--date", "open_date=YYYYMMDD", "--json")
        summary = json.loads(out)
        assert code == 0
        assert (summary["read"], summary["written"], summary["rejected"]) == (3000, 2996, 4)
        table = pq.read_table(target)
        assert table.num_rows == 2996 and str(table.schema.field("open_date").type) == "date32[day]"
        rejects = [json.loads(line) for line in open(summary["rejects_path"])]
        assert [r["record_no"] for r in rejects] == bad

    def test_jsonl_keeps_decimals_exact(self, capsys, tmp_path):
        """JSON Lines output writes decimals as exact strings."""
        data = tmp_path / "c.dat"
        run(capsys, "gen", CUSTOMER, "-o", str(data), "--records", "10")
        code, _, _ = run(capsys, "convert", CUSTOMER, str(data), "-o", str(tmp_path / "c.jsonl"))
        row = json.loads((tmp_path / "c.jsonl").read_text().splitlines()[0])
        assert code == 0 and isinstance(row["balance"], str) and "." in row["balance"]

    def test_jsonl_small_decimals_have_no_exponent(self, capsys, tmp_path):
        """A zero or 1E-7 in SV9(7) is written 0.0000000 / 0.0000001, not in E notation."""
        layout = tmp_path / "rate.cpy"
        layout.write_text(copybook("""
            01  RATE-REC.
                05  RATE  PIC SV9(7) COMP-3.
            """))
        data = tmp_path / "r.dat"
        data.write_bytes(b"\x00\x00\x00\x0c" + b"\x00\x00\x00\x1d")
        code, _, _ = run(capsys, "convert", str(layout), str(data), "-o",
                         str(tmp_path / "r.jsonl"))
        rows = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
        assert code == 0 and rows == [{"rate": "0.0000000"}, {"rate": "-0.0000001"}]

    def test_missing_input_exits_66(self, capsys, tmp_path):
        """A missing input file exits 66 and leaves no output behind."""
        target = tmp_path / "x.parquet"
        code, _, err = run(capsys, "convert", CUSTOMER, str(tmp_path / "nope.dat"),
                           "-o", str(target))
        assert code == 66 and "no such file" in err
        assert list(tmp_path.iterdir()) == []

    def test_wrong_lrecl_exits_65_without_partial_output(self, capsys, tmp_path):
        """A file that is not a multiple of LRECL exits 65, naming sizes, with no output file."""
        data = tmp_path / "c.dat"
        run(capsys, "gen", CUSTOMER, "-o", str(data), "--records", "10")
        code, _, err = run(capsys, "convert", CUSTOMER, str(data), "-o",
                           str(tmp_path / "c.parquet"), "--lrecl", "110")
        assert code == 65 and "LRECL 110" in err and "remainder 10" in err
        assert not (tmp_path / "c.parquet").exists()

    def test_lrecl_shorter_than_the_record_exits_78(self, capsys, tmp_path):
        """An LRECL that would cut every record short is refused before reading (it used to
        convert 100-byte records as 99-byte ones)."""
        data = tmp_path / "c.dat"
        run(capsys, "gen", CUSTOMER, "-o", str(data), "--records", "99")
        code, _, err = run(capsys, "convert", CUSTOMER, str(data), "-o",
                           str(tmp_path / "c.parquet"), "--lrecl", "50")
        assert code == 78 and "--lrecl 50 is shorter" in err

    @pytest.mark.parametrize("command", ["gen", "convert"])
    def test_text_for_a_binary_layout_is_refused(self, capsys, tmp_path, command):
        """TEXT lines cannot hold packed or binary fields (a byte may be a newline): `gen`
        and `convert` refuse (78) instead of writing or reading misframed records."""
        target = tmp_path / "t.txt"
        args = (["-o", str(target), "--records", "10"] if command == "gen" else
                [str(target), "-o", str(tmp_path / "t.jsonl")])
        code, _, err = run(capsys, command, CUSTOMER, *args, "--recfm", "TEXT")
        assert code == 78 and "BALANCE (COMP_3)" in err and not target.exists()

    def test_text_lines_of_another_length_are_rejects(self, capsys, tmp_path):
        """A TEXT line shorter or longer than the record is a reject with its reason, never
        a record read at shifted offsets."""
        layout = tmp_path / "t.cpy"
        layout.write_text(copybook("01  REC.\n    05  ID  PIC 9(4).\n    05  NAME PIC X(6)."))
        data = tmp_path / "t.txt"
        data.write_bytes(b"0001ALICE \n0002BOB\n00003CAROL \n0004DAVE  \r\n")
        code, _, _ = run(capsys, "convert", str(layout), str(data), "-o",
                         str(tmp_path / "t.jsonl"), "--recfm", "TEXT", "--encoding", "ascii")
        assert code == 0
        rows = (tmp_path / "t.jsonl").read_text().splitlines()
        rejects = [json.loads(r) for r in (tmp_path / "t.rejects.jsonl").read_text().splitlines()]
        assert [json.loads(r)["id"] for r in rows] == [1, 4]
        assert [(r["record_no"], r["reason"]) for r in rejects] == [
            (2, "line is not as long as the record layout"),
            (3, "line is not as long as the record layout")]

    def test_usage_error_exits_64(self, capsys):
        """A missing argument is a usage error: exit 64."""
        code, _, _ = run(capsys, "convert", CUSTOMER)
        assert code == 64

    def test_bad_option_value_exits_78(self, capsys, tmp_path):
        """An unknown code page is a configuration error: exit 78."""
        code, _, err = run(capsys, "convert", CUSTOMER, str(tmp_path / "x"), "-o",
                           str(tmp_path / "y.parquet"), "--encoding", "cp9999")
        assert code == 78 and "cp9999" in err


def started_alone(tmp_path: Path, commands: list[list[str]], absent: tuple[str, ...]
                  ) -> str:
    """Run ``commands`` through ``main`` in a fresh interpreter and require that none of
    the ``absent`` modules was imported; their standard output."""
    code = "\n".join(["import sys", "from mfpipe.cli import main",
                      *(f"assert main({command!r}) == 0" for command in commands),
                      f"heavy = [m for m in {absent!r} if m in sys.modules]",
                      "assert heavy == [], heavy"])
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout


def test_file_commands_start_without_the_database_layer(tmp_path):
    """`gen` and `convert` import neither SQLAlchemy nor the database, jobs, reconciliation
    or service layers: they start in NumPy's and pyarrow's import time, not theirs."""
    data, out = str(tmp_path / "in.dat"), str(tmp_path / "out.parquet")
    started_alone(tmp_path, [["gen", str(DEMO_LAYOUT), "-o", data, "--records", "50"],
                             ["convert", str(DEMO_LAYOUT), data, "-o", out]],
                  ("sqlalchemy", "mfpipe.db.runs", "mfpipe.jobs", "mfpipe.recon",
                   "mfpipe.service", "fastapi"))
    assert pq.read_table(out).num_rows == 50


def test_layout_and_ddl_start_without_runs_loaders_or_drivers(tmp_path):
    """`layout` and `ddl` need the dialects' SQL types, nothing of runs, loaders, jobs,
    reconciliation, service or database drivers."""
    out = started_alone(tmp_path, [["layout", str(DEMO_LAYOUT)],
                                   ["ddl", str(DEMO_LAYOUT), "--dialect", "oracle"]],
                        ("mfpipe.db.runs", "mfpipe.db.control", "mfpipe.db.loaders",
                         "mfpipe.jobs", "mfpipe.recon", "mfpipe.service", "psycopg", "oracledb",
                         "adbc_driver_manager"))
    assert "NUMBER(" in out and "CREATE TABLE" in out


class TestDemo:
    def test_console_script(self, tmp_path):
        """The installed `mfpipe demo` loads ./mfpipe.db in a fresh directory, counts balanced."""
        mfpipe = Path(sys.executable).parent / "mfpipe"
        result = subprocess.run([str(mfpipe), "demo", "--records", "2000"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "read 2000, loaded 1995, rejected 5" in result.stdout
        assert "checks   all passed" in result.stdout
        assert (tmp_path / "mfpipe.db").exists()


class TestErrorsAndExitCodes:
    @pytest.mark.parametrize("command", [
        ["convert", CUSTOMER, "{data}", "-o", "{missing}/x.parquet"],
        ["gen", CUSTOMER, "-o", "{missing}/x.dat", "--records", "5"],
        ["demo", "--dir", "/proc/{name}", "--records", "5"],
        ["report", "R", "-o", "{missing}/r.html"]], ids=["convert", "gen", "demo", "report"])
    def test_outputs_that_cannot_be_written_exit_78(self, capsys, tmp_path, command):
        """An output location that cannot be written is one clear line naming the path
        (78), never a traceback (it used to be an internal error, 70)."""
        data = tmp_path / "c.dat"
        run(capsys, "gen", CUSTOMER, "-o", str(data), "--records", "5")
        args = [a.format(data=data, missing=tmp_path / "missing", name="nope") for a in command]
        code, _, err = run(capsys, *args)
        assert code == 78 and "MFP-2003" in err and "Traceback" not in err

    def test_convert_with_every_record_rejected_exits_65(self, capsys, tmp_path):
        """Every record rejected (here: the wrong code page) is a data error, not a success."""
        data = tmp_path / "c.dat"
        run(capsys, "gen", CUSTOMER, "-o", str(data), "--records", "20")
        code, _, err = run(capsys, "convert", CUSTOMER, str(data), "-o",
                           str(tmp_path / "c.jsonl"), "--encoding", "ascii")
        assert code == 65 and "every record" in err and "--encoding" in err

    @pytest.mark.parametrize("command", [["runs", "list"], ["runs", "stats"],
                                         ["runs", "show", "R"], ["report", "R"],
                                         ["reconcile", "R"], ["runs", "recover"]])
    def test_read_commands_create_nothing(self, capsys, tmp_path, command):
        """Against a database file that does not exist, the read commands exit 66 naming
        it, and leave no file behind (they used to create an empty database)."""
        db = tmp_path / "typo.db"
        code, _, err = run(capsys, *command, "--db", f"sqlite:///{db}")
        assert code == 66 and "no such database file" in err and not db.exists()

    def test_a_down_database_is_75_with_json(self, capsys):
        """A database that does not answer is temporary (75), in one line, and --json still
        prints its object (read commands used to exit 70 with a long traceback)."""
        code, out, err = run(capsys, "runs", "list", "--json", "--db",
                             "postgresql://postgres@127.0.0.1:1/test?connect_timeout=2")
        assert code == 75 and "database unavailable" in err and "Traceback" not in err
        assert json.loads(out.strip().splitlines()[-1])["exit_code"] == 75

    def test_an_unknown_oracle_host_is_75(self, capsys):
        """python-oracledb raises the network's own error for a host that does not resolve:
        it is a database unavailable (75), password hidden, not an internal error."""
        pytest.importorskip("oracledb")
        code, _, err = run(capsys, "runs", "list", "--db",
                           "oracle://u:s3cret@nosuchhost.invalid:1521/db")
        assert code == 75 and "database unavailable" in err and "s3cret" not in err

    def test_json_is_printed_for_configuration_errors(self, capsys, tmp_path):
        """`run --json` prints its JSON object on 66/78 errors too."""
        code, out, _ = run(capsys, "run", "--layout", str(tmp_path / "nope.cpy"), "--input",
                           "x.dat", "--json")
        summary = json.loads(out.strip().splitlines()[-1])
        assert code == 66 and summary["exit_code"] == 66 and summary["run_id"] is None


class TestLogging:
    def test_log_level_and_format(self, capsys, tmp_path):
        """--log-level hides what is below it; --log-format json writes JSON lines even on
        a terminal's behalf (and console, human lines)."""
        data = tmp_path / "c.dat"
        run(capsys, "gen", CUSTOMER, "-o", str(data), "--records", "50")
        db = f"sqlite:///{tmp_path / 'm.db'}"
        code, _, err = run(capsys, "--log-level", "warning", "run", "--layout", CUSTOMER,
                           "--input", str(data), "--db", db)
        assert code == 0 and "run starting" not in err
        data.write_bytes(data.read_bytes()[:4_900])  # other content: a new run
        code, _, err = run(capsys, "--log-format", "json", "run", "--layout", CUSTOMER,
                           "--input", str(data), "--db", db)
        events = [json.loads(line)["event"] for line in err.splitlines() if line.startswith("{")]
        assert code == 0 and "run starting" in events and "load ended" in events


class TestGenUnique:
    def test_unique_columns_count_up(self, capsys, tmp_path):
        """`gen --unique` makes a key each record holds once (numbers from 1, text zero-
        padded), so a job with that key loads the sample without duplicate keys; a column
        too narrow for the count is refused."""
        data = tmp_path / "u.dat"
        code, _, _ = run(capsys, "gen", CUSTOMER, "-o", str(data), "--records", "2500",
                         "--unique", "cust_id,branch_code", "--seed", "3")
        assert code == 0
        out = tmp_path / "u.parquet"
        assert run(capsys, "convert", CUSTOMER, str(data), "-o", str(out))[0] == 0
        table = pq.read_table(out)
        assert table.column("cust_id").to_pylist() == list(range(1, 2501))
        assert table.column("branch_code").to_pylist()[:2] == ["0001", "0002"]
        code, _, err = run(capsys, "gen", CUSTOMER, "-o", str(data), "--records", "10000",
                           "--unique", "branch_code")
        assert code == 78 and "cannot hold 10000" in err


class TestProvenance:
    @pytest.mark.parametrize("recfm, suffix", [("FB", "parquet"), ("VB", "jsonl")])
    def test_every_row_says_where_it_came_from(self, capsys, tmp_path, recfm, suffix):
        """--provenance adds the file, the record number and the record's byte offset to
        every row (rejected records leave their numbers out, so the numbers are the file's)."""
        data = tmp_path / "c.dat"
        run(capsys, "gen", CUSTOMER, "-o", str(data), "--records", "300", "--recfm", recfm,
            "--bad", "3", "--seed", "4")
        out = tmp_path / f"c.{suffix}"
        code, _, _ = run(capsys, "convert", CUSTOMER, str(data), "-o", str(out), "--recfm",
                         recfm, "--provenance", "--chunk-records", "64")
        assert code == 0
        rows = (pq.read_table(out).to_pylist() if suffix == "parquet" else
                [json.loads(line) for line in out.read_text().splitlines()])
        assert len(rows) == 297 and {r["_source_file"] for r in rows} == {str(data)}
        header = 4 if recfm == "VB" else 0
        for row in rows[::37]:
            assert row["_byte_offset"] == (row["_record_no"] - 1) * (100 + header) + header


class TestDdlKeyAndDemo:
    def test_ddl_key(self, capsys):
        """`ddl --key` makes the key the final table's primary key, never a generated one."""
        code, out, _ = run(capsys, "ddl", CUSTOMER, "--dialect", "postgresql", "--key",
                           "cust_id")
        assert code == 0 and "PRIMARY KEY (cust_id)" in out and "SERIAL" not in out

    def test_demo_twice_loads_once_into_mfpipe_db(self, tmp_path, monkeypatch, capsys):
        """The demo honours $MFPIPE_DB, and a second demo shows the first run's report
        instead of loading the same sample into the final table twice."""
        db = tmp_path / "elsewhere.db"
        monkeypatch.setenv("MFPIPE_DB", f"sqlite:///{db}")
        monkeypatch.chdir(tmp_path)
        assert run(capsys, "demo", "--records", "500")[0] == 0
        code, out, _ = run(capsys, "demo", "--records", "500")
        assert code == 0 and "loaded   already, by run" in out and "VERDICT" in out
        import sqlite3

        with sqlite3.connect(db) as c:
            assert c.execute("SELECT count(*) FROM customer_account").fetchone() == (495,)
            assert c.execute("SELECT count(*) FROM mfp_run").fetchone() == (1,)
        assert not (tmp_path / "mfpipe.db").exists()


LENGTH_LAYOUT = """
01  REC.
    05  LEN   PIC 9(4) COMP.
    05  NAME  PIC X(5).
    05  N     PIC 9.
    05  T     OCCURS 0 TO 3 DEPENDING ON N PIC X(2).
"""


def _length_records(tmp_path: Path) -> tuple[str, str, list[bytes]]:
    """A copybook and a file of records that carry their own length, the second one bad."""
    layout = tmp_path / "len.cpy"
    layout.write_text(copybook(LENGTH_LAYOUT))
    records = []
    for name, items in (("ALPHA", "A1"), ("BE?TA", ""), ("GAMMA", "G1G2G3")):
        body = (name + str(len(items) // 2) + items).encode("cp037")
        records.append((len(body) + 2).to_bytes(2, "big") + body)
    records[1] = records[1][:7] + b"\x0f" + records[1][8:]  # N is no digit
    path = tmp_path / "len.dat"
    path.write_bytes(b"".join(records))
    return str(layout), str(path), records


class TestRecordFraming:
    def test_record_length_field(self, capsys, tmp_path):
        """--recfm F --record-length-field: records back to back, each its own length; a
        reject's raw bytes are the whole record, length field included."""
        layout, path, records = _length_records(tmp_path)
        out = tmp_path / "out.jsonl"
        code, _, _ = run(capsys, "convert", layout, path, "-o", str(out), "--recfm", "F",
                         "--record-length-field", "len")
        assert code == 0
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert [(r["name"], r["t_3"]) for r in rows] == [("ALPHA", None), ("GAMMA", "G3")]
        rejected = [json.loads(line) for line in (tmp_path / "out.rejects.jsonl").open()]
        assert [(r["record_no"], r["byte_offset"]) for r in rejected] == [(2, 10)]
        assert rejected[0]["raw_hex"].upper() == records[1].hex().upper()

    def test_record_length_field_must_be_an_integer(self, capsys, tmp_path):
        """A text field as the length is a configuration error (78) naming the option."""
        layout, path, _ = _length_records(tmp_path)
        code, _, err = run(capsys, "convert", layout, path, "-o", str(tmp_path / "o.jsonl"),
                           "--recfm", "F", "--record-length-field", "name")
        assert code == 78 and "--record-length-field name" in err

    def test_record_start_and_end_offsets(self, capsys, tmp_path):
        """Bytes before and after every record's data are skipped; the default LRECL is the
        layout's size plus both."""
        layout = tmp_path / "r.cpy"
        layout.write_text(copybook("01  REC.\n    05  NAME PIC X(5).\n    05  N PIC 9."))
        path = tmp_path / "r.dat"
        path.write_bytes(b"".join(b"\x99\x98" + f"ABCD{i}{i}".encode("cp037") + b"\x77"
                                  for i in range(3)))
        out = tmp_path / "r.jsonl"
        code, _, _ = run(capsys, "convert", str(layout), str(path), "-o", str(out),
                         "--recfm", "F", "--record-start-offset", "2", "--record-end-offset", "1")
        assert code == 0
        assert [json.loads(line) for line in out.read_text().splitlines()] == [
            {"name": f"ABCD{i}", "n": i} for i in range(3)]

    def test_variable_record_longer_than_the_layout_is_a_reject(self, capsys, tmp_path):
        """A VB record longer than the layout is a reject naming why, never cut short."""
        import numpy as np

        from mfpipe.framing import FramingOptions, write_records

        layout = tmp_path / "r.cpy"
        layout.write_text(copybook("01  REC.\n    05  NAME PIC X(5).\n    05  N PIC 9."))
        records = ["ABCDE1", "ABCDE2EXTRA", "ABC"]
        rows = np.zeros((3, 11), dtype=np.uint8)
        for i, r in enumerate(records):
            rows[i, :len(r)] = np.frombuffer(r.encode("cp037"), dtype=np.uint8)
        path = tmp_path / "r.dat"
        path.write_bytes(write_records(rows, np.array([len(r) for r in records]),
                                       FramingOptions("VB")))
        out = tmp_path / "r.jsonl"
        code, _, _ = run(capsys, "convert", str(layout), str(path), "-o", str(out),
                         "--recfm", "VB")
        assert code == 0
        assert [json.loads(line)["name"] for line in out.read_text().splitlines()] == [
            "ABCDE", "ABC"]
        rejected = [json.loads(line) for line in (tmp_path / "r.rejects.jsonl").open()]
        assert [(r["record_no"], r["reason"]) for r in rejected] == [
            (2, "record is longer than the record layout (its last bytes would be lost)")]

    def test_odo_framing(self, capsys, tmp_path):
        """--recfm F --odo-framing: records back to back, each as long as its count makes
        it, the field after the table in its shifted place; a count that frames nothing is
        a framing error (65) naming the byte offset."""
        layout = tmp_path / "o.cpy"
        layout.write_text(copybook("01  REC.\n    05  N PIC 9.\n    05  T OCCURS 0 TO 3 "
                                   "DEPENDING ON N PIC X(2).\n    05  Z PIC X."))
        path = tmp_path / "o.dat"
        path.write_bytes("1A1z0y3C1C2C3x".encode("cp037"))
        out = tmp_path / "o.jsonl"
        code, _, _ = run(capsys, "convert", str(layout), str(path), "-o", str(out),
                         "--recfm", "F", "--odo-framing")
        assert code == 0
        assert [(r["n"], r["t_1"], r["z"]) for r in map(json.loads, out.open())] == [
            (1, "A1", "z"), (0, None, "y"), (3, "C1", "x")]
        code, _, err = run(capsys, "convert", str(layout), str(path), "-o", str(out),
                           "--recfm", "F", "--odo-framing", "--odo", "fixed")
        assert code == 78 and "needs --odo variable" in err
        path.write_bytes("1A1z7y".encode("cp037"))
        code, _, err = run(capsys, "convert", str(layout), str(path), "-o", str(out),
                           "--recfm", "F", "--odo-framing")
        assert code == 65 and "byte offset 4" in err and "above its maximum 3" in err
