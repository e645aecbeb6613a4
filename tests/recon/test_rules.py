"""Business rules as checks: the row-wise rules are counted by the staging measure's scan."""

from __future__ import annotations

from mfpipe.db.rules import Rule
from mfpipe.db.violations import violations
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
            assert len(subject.staging_chunks) > 2 and len(subject.row_rules) == 4
            found = {rule.name: v for rule, v in subject.rule_findings}
            with run.store.engine.connect() as c:
                alone = {rule.name: violations(c, rule, subject.staging, subject.in_staging,
                                               subject.types) for rule in subject.rules}
            assert found == alone
            assert found["rule_range_balance"].count > 0  # the rules do find something
            assert found["rule_not_null_cust_id"].count == 0
        finally:
            run.store.close()
