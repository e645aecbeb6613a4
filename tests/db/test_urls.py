"""Database URLs as each driver needs them, and never a password where people read."""

from __future__ import annotations

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

