"""A loaded, promoted and reconciled run on each real database, to check and to tamper with."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import sqlalchemy as sa

from mfpipe.codec import DecodeOptions
from mfpipe.codec.encode import encode_records
from mfpipe.codec.synth import synthesize
from mfpipe.db.rules import Rule
from mfpipe.db.runs import RunStore
from mfpipe.framing import FramingOptions, write_records
from mfpipe.jobs import load_file
from mfpipe.layout import load_layout
from mfpipe.pipeline.spec import JobSpec
from tests.support import ROOT

LAYOUT = str(ROOT / "mfpipe/data/customer.cpy")
OPTIONS = DecodeOptions(dates=(("open_date", "YYYYMMDD"),))



def keyed_file(path, n: int, seed: int = 5, first_key: int = 1) -> str:
    """An FB file of the customer layout whose cust_id counts up from ``first_key`` (a unique
    key)."""
    record = load_layout(LAYOUT).record()
    values = synthesize(record, n, seed, OPTIONS)
    values["cust_id"] = np.arange(first_key, first_key + n, dtype=np.int64)
    rows = encode_records(record, values, n, OPTIONS)
    path.write_bytes(write_records(rows, None, FramingOptions("FB", lrecl=record.size)))
    return str(path)


@dataclass
class LoadedRun:
    """A completed run and the handles a test needs to inspect or tamper with it."""

    config: JobSpec
    summary: object
    store: RunStore

    def execute(self, sql: str, **params: object) -> None:
        with self.store.engine.begin() as c:
            c.execute(sa.text(sql), params)

    def scalar(self, sql: str, **params: object) -> object:
        with self.store.engine.connect() as c:
            return c.execute(sa.text(sql), params).scalar_one()


def load(tmp_path, db_url, n: int = 6_000, seed: int = 5, **overrides) -> LoadedRun:
    """Load a keyed file with two processors and small chunks, as a nightly job would."""
    values = dict(layout_path=LAYOUT, input_path=keyed_file(tmp_path / "in.dat", n, seed),
                  db_url=db_url, framing=FramingOptions("FB", lrecl=100), decode=OPTIONS,
                  processors=2, writers=2, chunk_records=1_000, key=("cust_id",),
                  rules=(Rule.parse("unique:cust_id"), Rule.parse("not_null:cust_id")),
                  bad_file=str(tmp_path / "in.bad"))
    values.update(overrides)
    config = JobSpec.of(**values)
    summary = load_file(config)
    config = config.changed(run_id=summary.run_id)  # a resumed run keeps its own id
    store = RunStore(db_url)
    return LoadedRun(config, summary, store)


@pytest.fixture
def loaded(tmp_path, db_url):
    run = load(tmp_path, db_url)
    yield run
    run.store.close()
