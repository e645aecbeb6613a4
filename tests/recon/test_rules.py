"""Business rules as checks: the row-wise rules are counted by the staging measure's scan."""

from __future__ import annotations

from mfpipe.db.rules import Rule
from mfpipe.db.runs import RunStore
from mfpipe.db.violations import violations
from mfpipe.recon.measures import measure_staging
from mfpipe.recon.subject import RunSubject
from tests.recon.conftest import load

RULES = ("range:balance:0..100/warn", "allowed:status_code:AC/warn", "not_null:cust_id",
         "range:interest_rate:..0.5/warn", "unique:cust_id")


class TestRuleFindings:
    def test_counts_from_the_measure_equal_a_query_per_rule(self, tmp_path, db_url):
        """Several row-wise rules counted in the one staging scan (over chunks and workers)
        find exactly what one query per rule finds, samples included; unique rules keep
        their own query."""
        run = load(tmp_path, db_url, n=3_000, rules=tuple(Rule.parse(r) for r in RULES),
                   condition_rules=False)
        try:
            subject = RunSubject.load(run.store, run.summary.run_id)
            with run.store.engine.connect() as c:
                alone = {rule.name: violations(c, rule, subject.staging, subject.in_staging,
                                               subject.types) for rule in subject.rules}
            for rescan in (False, True):  # the chunks' proofs, then a scan of staging
                staging = measure_staging(subject, rescan)
                assert staging.proof == ("scan" if rescan else "chunk")
                assert len(staging.chunks) > 2 and len(subject.row_rules) == 4
                found = {rule.name: v for rule, v in staging.findings}
                assert found == alone
            assert found["rule_range_balance"].count > 0  # the rules do find something
            assert found["rule_not_null_cust_id"].count == 0
        finally:
            run.store.close()


class TestConditionRules:
    def test_thru_ranges_and_figurative_values_are_checked(self, tmp_path, db_url, capsys):
        """Level-88 THRU ranges are checked (they were silently skipped) and a figurative
        VALUE ZERO on a number is the number 0 (it failed the run with exit 78): only the
        values outside every condition are warned about."""
        import json

        from mfpipe.cli import main
        from tests.support import copybook

        layout = tmp_path / "c.cpy"
        layout.write_text(copybook("""
            01  REC.
                05  CODE   PIC 9(2).
                    88  LOW-CODE   VALUE 1 THRU 5.
                    88  NO-CODE    VALUE ZERO.
                05  GRADE  PIC X.
                    88  GOOD       VALUE 'A' THRU 'C'.
                    88  UNKNOWN    VALUE SPACE.
        """))
        data = tmp_path / "c.dat"
        data.write_bytes(b"01A07B00Z03 06C")
        assert main(["run", "--layout", str(layout), "--input", str(data), "--encoding",
                     "ascii", "--db", db_url, "--json"]) == 0
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert summary["reconciliation"]["warnings"] == ["rule_allowed_code",
                                                         "rule_allowed_grade"]
        run = RunSubject.load(RunStore(db_url), summary["run_id"])
        found = {rule.name: (v.count, sorted(v.samples))
                 for rule, v in measure_staging(run).findings}
        assert found == {"rule_allowed_code": (2, ["6", "7"]),
                         "rule_allowed_grade": (1, ["'Z'"])}
        run.store.close()

    def test_conditions_on_a_field_decoded_as_a_date_are_left_out(self, tmp_path, db_url,
                                                                   capsys):
        """A level-88 ``VALUE ZEROS`` on a date field loaded as a date has no date form: it
        makes no rule (it made the run fail comparing a date with 0), while a date rule of
        the job's own, ``allowed`` with ISO dates, checks the column."""
        import json

        from mfpipe.cli import main
        from tests.support import copybook

        layout = tmp_path / "d.cpy"
        layout.write_text(copybook("""
            01  REC.
                05  OPENED PIC 9(8).
                    88  NEVER      VALUE ZEROS.
        """))
        data = tmp_path / "d.dat"
        data.write_bytes(b"2024022920240301")
        assert main(["run", "--layout", str(layout), "--input", str(data), "--encoding",
                     "ascii", "--db", db_url, "--date", "opened=YYYYMMDD", "--rule",
                     "allowed:opened:2024-02-29/warn", "--json"]) == 0
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert summary["status"] == "COMPLETED"
        assert summary["reconciliation"]["warnings"] == ["rule_allowed_opened"]
