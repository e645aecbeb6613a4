"""Database URLs as each driver needs them, and never a password where people read."""

from __future__ import annotations

import json

import pytest

from mfpipe.db.urls import libpq_uri, redact, session_url


class TestLibpqUri:
    def test_query_values_are_percent_encoded(self):
        """libpq keeps ``+`` as a plus: a space in ``options`` must travel as %20, or two
        ``-c`` settings would reach the server as one broken value."""
        uri = libpq_uri("postgresql+psycopg://u@h:5432/db?options=-c%20search_path%3Ds"
                        "%20-c%20DateStyle%3DISO&application_name=nightly")
        assert uri == ("postgresql://u@h:5432/db?options=-c%20search_path%3Ds%20-c%20DateStyle"
                       "%3DISO&application_name=nightly")

    def test_password_characters_survive(self):
        assert libpq_uri("postgresql://u:p%40ss%2Fw@h/db") == "postgresql://u:p%40ss%2Fw@h/db"


def test_redact_hides_the_password():
    shown = redact("postgresql://loader:s3cret@db.bank.example:5432/books?sslmode=require")
    assert "s3cret" not in shown and "loader" in shown


def test_session_url_names_the_run_on_postgresql_only():
    """Writer sessions carry the run in ``application_name`` (to end a dead launcher's);
    the operator's own query parameters and password stay as they were."""
    url = session_url("postgresql://u:pw@h/db?options=-csearch_path%3Ds", "20261123T0500Z-ab12")
    assert libpq_uri(url) == ("postgresql://u:pw@h/db?application_name=mfpipe%3A20261123T0500Z"
                              "-ab12&options=-csearch_path%3Ds")
    assert session_url("sqlite:///m.db", "r") == "sqlite:///m.db"



SECRET = "Sup3r-S3cret"
URLS = [
    f"postgresql://loader:{SECRET}@db.bank.example:5432/books",
    f"postgresql://loader@db.bank.example/books?password={SECRET}",
    f"postgresql://loader@db.bank.example/books?sslmode=require&PASSWORD={SECRET}",
    f"postgresql://loader@db.bank.example/books?sslpassword={SECRET}&sslcert=/c.pem",
    f"postgresql:///?dbname=host%3Ddb.bank.example%20password%3D{SECRET}%20dbname%3Dbooks",
    f"postgresql:///?dbname=host%3Ddb%20password%3D%27{SECRET}%27",
    f"postgresql+psycopg://loader:{SECRET}@db/books?application_name=x",
    f"oracle://scott:{SECRET}@db.bank.example:1521/?service_name=BOOKS",
    f"oracle+oracledb://scott@?dsn=db.bank.example/BOOKS&password={SECRET}",
    f"oracle://scott@/?dsn=scott%2F{SECRET}%40db",
    f"oracle://?dsn=oracle%3A%2F%2Fscott%3A{SECRET}%40db%3A1521%2FBOOKS",
    f"postgresql://loader:p%40{SECRET}%2F@db/books",
    f"postgresql://loader@db/books?pwd={SECRET}&wallet_password={SECRET}",
    f"oracle://?dsn=oracle%3A%2F%2Fscott%3Ap%40{SECRET}%40db%3A1521%2FBOOKS",
    f"oracle://scott@/?dsn=scott%2Fp%40{SECRET}%40db",
]


@pytest.mark.parametrize("url", URLS)
def test_no_credential_form_survives_redaction(url):
    """Every form of credential libpq, SQLAlchemy and python-oracledb accept is hidden: in
    the user-info, in the query, and inside a query value."""
    shown = redact(url)
    assert SECRET not in shown and "***" in shown, shown
    assert shown.split("://")[0] == url.split("://")[0]


def test_a_password_in_the_query_never_reaches_the_run_or_its_report(tmp_path, capsys):
    """`?password=` (accepted by libpq) used to appear on stdout, in the JSON logs, in
    mfp_run.options, `runs show --json` and the reports: redacted everywhere now."""
    from mfpipe.cli import main
    from tests.jobs.support import LAYOUT, keyed_file

    url = f"sqlite:///{tmp_path / 'm.db'}?password={SECRET}"
    path = keyed_file(tmp_path / "in.dat", 200)
    assert main(["run", "--input", path, "--layout", LAYOUT, "--date", "open_date=YYYYMMDD",
                 "--db", url, "--json"]) == 0
    run_id = json.loads(capsys.readouterr().out.strip().splitlines()[-1])["run_id"]
    for command in (["runs", "show", run_id, "--json"], ["report", run_id],
                    ["report", run_id, "--format", "html"], ["report", run_id, "--format", "json"],
                    ["runs", "list", "--json"]):
        assert main([*command, "--db", url]) == 0
        out, err = capsys.readouterr()
        assert SECRET not in out + err, command
