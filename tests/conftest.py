"""Fixtures shared by the whole suite: the real PostgreSQL server, one schema per test."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from urllib.parse import quote

import pytest

from tests.support import POSTGRES_URL


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of the local PostgreSQL server; the test is skipped when it is not reachable."""
    psycopg = pytest.importorskip("psycopg")
    try:
        with psycopg.connect(POSTGRES_URL, connect_timeout=3):
            pass
    except psycopg.OperationalError as exc:
        if os.environ.get("MFPIPE_REQUIRE_POSTGRES"):  # CI: a missing server is a failure
            pytest.fail(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {POSTGRES_URL}: {exc}")
    return POSTGRES_URL


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh database of each kind: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mfpipe.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def postgres_url(postgres_server):
    """A URL whose search_path is a fresh schema, dropped afterwards: tests never collide."""
    import psycopg

    schema = f"t_{secrets.token_hex(4)}"
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f"CREATE SCHEMA {schema}")
    # application_name tags this test's connections, so fault tests kill only their own
    yield (f"{postgres_server}?options={quote(f'-csearch_path={schema}')}"
           f"&application_name={schema}")
    with psycopg.connect(postgres_server, autocommit=True) as connection:
        connection.execute(f"DROP SCHEMA {schema} CASCADE")


class FaultCluster:
    """A throwaway PostgreSQL cluster of the tests' own, which they restart, stop and start
    as a real server fails (never the shared server other tests use)."""

    VERSION_DIR = "/usr/lib/postgresql"

    def __init__(self, version: str, name: str, port: int) -> None:
        self.version, self.name, self.port = version, name, port
        self.url = f"postgresql://postgres@127.0.0.1:{port}/postgres"

    def ctl(self, *args: str) -> None:
        import subprocess

        subprocess.run(["pg_ctlcluster", self.version, self.name, *args], check=True,
                       capture_output=True, timeout=60)

    def restart_now(self) -> None:
        """An immediate restart: sessions die mid-statement, as in a crash."""
        self.ctl("restart", "-m", "immediate")

    def stop_now(self) -> None:
        self.ctl("stop", "-m", "immediate")

    def start(self) -> None:
        self.ctl("start")

    def read_only(self, on: bool) -> None:
        """Switch the server to read-only transactions (as a failover to a standby does),
        or back."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as connection:
            value = "on" if on else "off"
            connection.execute(f"ALTER SYSTEM SET default_transaction_read_only = {value}")
            connection.execute("SELECT pg_reload_conf()")


@pytest.fixture
def fault_cluster():
    """A fresh cluster on port 5499, dropped afterwards; skipped where clusters cannot be
    made (no postgresql-common tools, or not root)."""
    import os
    import shutil
    import subprocess

    if os.geteuid() != 0 or not shutil.which("pg_createcluster") or not os.path.isdir(
            FaultCluster.VERSION_DIR):
        pytest.skip("a throwaway PostgreSQL cluster needs postgresql-common and root")
    version = sorted(os.listdir(FaultCluster.VERSION_DIR))[-1]
    cluster = FaultCluster(version, f"mfpfault{secrets.token_hex(2)}", 5499)
    subprocess.run(["pg_dropcluster", "--stop", version, cluster.name], capture_output=True)
    made = subprocess.run(["pg_createcluster", version, cluster.name, "-p", str(cluster.port),
                           "--", "--auth=trust"], capture_output=True, text=True)
    if made.returncode:
        pytest.skip(f"cannot create a PostgreSQL cluster: {made.stderr[-300:]}")
    try:
        cluster.start()
        yield cluster
    finally:
        subprocess.run(["pg_dropcluster", "--stop", version, cluster.name], capture_output=True)


class ObjectStore:
    """An S3-compatible server of the tests' own (moto's server mode: real HTTP, spoken to
    by s3fs and botocore as to S3), with one bucket."""

    def __init__(self, endpoint: str, bucket: str) -> None:
        self.endpoint, self.bucket = endpoint, bucket

    def url(self, name: str) -> str:
        return f"s3://{self.bucket}/{name}"

    def put(self, name: str, data: bytes) -> str:
        """Store ``data`` as the object ``name`` (replacing it); its URL."""
        import fsspec

        fs = fsspec.filesystem("s3", skip_instance_cache=True)
        with fs.open(f"{self.bucket}/{name}", "wb") as target:
            target.write(data)
        return self.url(name)


@pytest.fixture(scope="session")
def object_store() -> Iterator[ObjectStore]:
    """The S3-compatible server, its address in the environment (``AWS_ENDPOINT_URL``, as a
    cluster's hosts would have it configured), so every process a test starts reaches it."""
    pytest.importorskip("s3fs")
    server_mode = pytest.importorskip("moto.server")
    server = server_mode.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    settings = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "mfpipe",
                "AWS_SECRET_ACCESS_KEY": "mfpipe-secret", "AWS_DEFAULT_REGION": "us-east-1"}
    before = {name: os.environ.get(name) for name in settings}
    os.environ.update(settings)
    import fsspec

    fsspec.filesystem("s3", skip_instance_cache=True).mkdir("nightly")
    try:
        yield ObjectStore(settings["AWS_ENDPOINT_URL"], "nightly")
    finally:
        server.stop()
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
