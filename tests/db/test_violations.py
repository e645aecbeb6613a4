"""Business rules: parsing, and counting violations in SQL on each real database."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa

from mfpipe.db import dialects
from mfpipe.db.loaders import open_loader
from mfpipe.db.rules import Rule
from mfpipe.db.schema import final_table
from mfpipe.db.urls import create_engine
from mfpipe.db.violations import violations
from mfpipe.errors import ConfigError

SCHEMA = pa.schema([("acct", pa.int64()), ("branch", pa.int32()), ("kind", pa.string()),
                    ("amount", pa.decimal128(9, 2)), ("opened", pa.int64()),
                    ("day", pa.date32())])
ROWS = [
    (1, 10, "S", "5.00", 20240229, dt.date(2024, 2, 29)),
    # amount above 100.00; 2023 has no 29 February
    (2, 10, "C", "100.01", 20230229, dt.date(1999, 12, 31)),
    # kind not allowed; amount below 0; month 13
    (2, 11, "X", "-0.01", 20241301, dt.date(2025, 1, 1)),
    (2, 10, None, None, None, None),  # acct 2 twice in branch 10
]


@pytest.fixture(params=["sqlite", "postgresql"])
def table(request, tmp_path):
    """The rows above, loaded with mfpipe's loader, and a connection to count on."""
    url = (f"sqlite:///{tmp_path / 'rules.db'}" if request.param == "sqlite"
           else request.getfixturevalue("postgres_url"))
    engine = create_engine(url)
    t = final_table(sa.MetaData(), "book", SCHEMA, dialects.of(engine))
    t.create(engine)
    batch = pa.RecordBatch.from_pylist(
        [{"acct": a, "branch": b, "kind": k, "amount": Decimal(m) if m else None, "opened": o,
          "day": d, "last_run_id": "r"} for a, b, k, m, o, d in ROWS],
        schema=SCHEMA.append(pa.field("last_run_id", pa.string())))
    with open_loader(url) as loader:
        loader.load("book", batch)
        loader.commit()
    with engine.connect() as connection:
        yield connection, t
    engine.dispose()


def count(table, text: str) -> tuple[int, tuple[str, ...]]:
    connection, t = table
    found = violations(connection, Rule.parse(text), t, t.c.last_run_id == "r",
                       dict(zip(SCHEMA.names, SCHEMA.types)))
    return found.count, found.samples


class TestViolations:
    def test_not_null(self, table):
        """NULLs are counted."""
        assert count(table, "not_null:kind")[0] == 1

    def test_range_is_exact_on_decimals(self, table):
        """A cent beyond either bound counts, on SQLite (decimals as text) too."""
        assert count(table, "range:amount:0..100")[0] == 2
        assert count(table, "range:amount:..100.01")[0] == 0

    def test_range_on_dates_and_text(self, table):
        """A range compares dates as dates and text in code-point order (a range on such a
        column once raised InvalidOperation: its bounds were read as decimals)."""
        found, samples = count(table, "range:day:2000-01-01..2024-12-31")
        assert (found, set(samples)) == (2, {"1999-12-31", "2025-01-01"})
        assert count(table, "range:kind:B..R")[0] == 2  # S and X; C is inside
        assert count(table, "allowed:day:2024-02-29,1999-12-31") == (1, ("2025-01-01",))

    def test_allowed_values(self, table):
        """Values outside the list count; NULL is for not_null to judge."""
        found, samples = count(table, "allowed:kind:S,C,L")
        assert (found, samples) == (1, ("'X'",))

    def test_dates(self, table):
        """Impossible dates count: 29 February of a common year, month 13."""
        found, samples = count(table, "date:opened:YYYYMMDD")
        assert found == 2 and set(samples) == {"20230229", "20241301"}

    def test_unique_over_several_columns(self, table):
        """Extra rows of a repeated key count once per repeat, with the key as a sample."""
        found, samples = count(table, "unique:acct,branch")
        assert found == 1 and samples == ("acct=2, branch=10 x2",)

    def test_unknown_column_is_named(self, table):
        """A rule on a column the table lacks is a configuration error naming it."""
        with pytest.raises(ConfigError, match="nope"):
            count(table, "not_null:nope")


class TestParse:
    @pytest.mark.parametrize("text", ["nonsense:a", "range:a", "range:a:5", "date:a:JULIAN",
                                      "not_null:a/maybe", "unique:"])
    def test_bad_rules_are_refused(self, text):
        """A malformed rule is a configuration error quoting it."""
        with pytest.raises(ConfigError) as caught:
            Rule.parse(text)
        assert text in str(caught.value)

    def test_warn_severity_and_name(self):
        """'/warn' lowers the severity; the check name is derived from kind and columns."""
        rule = Rule.parse("unique:a,b/warn")
        assert (rule.severity, rule.columns, rule.name) == ("warn", ("a", "b"), "rule_unique_a_b")
