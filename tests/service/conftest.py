"""The service through its real ASGI app, over a real database, launching real runs: a jobs
folder with a job file of the customer layout and keyed sample files."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from mfpipe.service.app import create_app
from mfpipe.service.settings import ServiceSettings, Token
from tests.recon.conftest import LAYOUT, keyed_file

JOB = """
[job]
name = "customers"
[source]
path = "in/*.dat"
layout = "{layout}"
recfm = "FB"
dates = {{ open_date = "YYYYMMDD" }}
[target]
key = ["cust_id"]
[pipeline]
processors = 1
writers = 1
chunk_records = {chunk}
"""
ENDED = ("COMPLETED", "FAILED", "CANCELLED")


class Jobs:
    """A jobs folder: ``customers.toml`` loads ``in/*.dat``."""

    def __init__(self, root: Path, chunk: int = 1000) -> None:
        self.root = root
        (root / "in").mkdir(parents=True, exist_ok=True)
        (root / "customers.toml").write_text(JOB.format(layout=LAYOUT, chunk=chunk))

    def files(self, *sizes: int) -> list[str]:
        """Keyed files ``in/f1.dat``... with distinct keys, of these many records."""
        first, made = 1, []
        for n, size in enumerate(sizes, 1):
            made.append(keyed_file(self.root / "in" / f"f{n}.dat", size, seed=n,
                                   first_key=first))
            first += size
        return made

    def bad(self, name: str = "f0bad.dat") -> str:
        """A file that cannot be framed (not a multiple of the record length): exit 65."""
        path = self.root / "in" / name
        path.write_bytes(b"\x40" * 1050)
        return str(path)


@pytest.fixture
def jobs(tmp_path) -> Jobs:
    return Jobs(tmp_path / "jobs")


@pytest.fixture
def service(jobs, db_url) -> Callable[..., TestClient]:
    """Start the service (as a context manager, so its startup runs)."""
    def start(tokens: tuple[Token, ...] = ()) -> TestClient:
        settings = ServiceSettings(db_url, jobs.root.resolve(), tokens)
        return TestClient(create_app(settings), base_url="http://127.0.0.1")
    return start


@pytest.fixture
def client(service) -> Iterator[TestClient]:
    with service() as started:
        yield started


def wait_batch(client: TestClient, batch_id: str, until: Callable[[dict], bool] | None = None,
               timeout: float = 180) -> dict:
    """Poll the batch until it ended (or ``until`` its body holds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        batch = client.get(f"/batch/jobs/{batch_id}").json()
        if (until or (lambda b: b["status"] in ENDED))(batch):
            return batch
        time.sleep(0.2)
    raise AssertionError(f"batch {batch_id} did not get there: {batch}")


def launch(client: TestClient, *items: dict, **settings) -> str:
    response = client.post("/batch/jobs", json={"jobs": list(items), **settings})
    assert response.status_code == 202, response.json()
    return response.json()["batch_id"]
