"""Job files: every key checked, relative paths, and the command line overriding the file."""

from __future__ import annotations

import json

import pytest

from mfpipe.cli import main
from mfpipe.errors import ConfigError
from mfpipe.jobs.jobfile import read_job
from tests.jobs.support import keyed_file
from tests.support import ROOT

LAYOUT = ROOT / "mfpipe/data/customer.cpy"


def job(tmp_path, text: str) -> str:
    path = tmp_path / "job.toml"
    path.write_text(text)
    return str(path)


class TestReadJob:
    def test_sample_job_file(self, monkeypatch):
        """The sample in schemas/ reads into run options, paths relative to its folder."""
        monkeypatch.setenv("MFPIPE_DB", "sqlite:///nightly.db")
        settings = read_job(ROOT / "schemas/customer_job.toml")
        assert settings["layout_path"] == str(ROOT / "schemas/../mfpipe/data/customer.cpy")
        assert settings["input_path"].endswith("landing/customer_*.dat")
        assert settings["db_url"] == "sqlite:///nightly.db"
        assert settings["key"] == "cust_id" and settings["dates"] == ("open_date=YYYYMMDD",)
        assert "unique:cust_id" in settings["rules"] and settings["job"] == "customer-nightly"
        assert settings["keep_staging_days"] == 7

    def test_an_object_url_stays_as_given(self, tmp_path):
        """An input in an object store is not a path relative to the job file's folder."""
        path = job(tmp_path, "[source]\npath = 's3://landing/nightly/ACCT.D*.dat'\n"
                             "layout = 'acct.cpy'\n")
        settings = read_job(path)
        assert settings["input_path"] == "s3://landing/nightly/ACCT.D*.dat"
        assert settings["layout_path"] == str(tmp_path / "acct.cpy")

    @pytest.mark.parametrize("text, named", [
        ("[source]\nlrecl = 'x'\n", "source.lrecl must be a whole number"),
        ("[source]\nbogus = 1\n", "source.bogus is not a known key"),
        ("[sauce]\npath = 'x'\n", "[sauce] is not a section"),
        ("[pipeline]\nprocessors = true\n", "pipeline.processors must be a whole number"),
        ("[reconcile]\nrules = [1]\n", "reconcile.rules must be a list of text"),
        ("[reconcile.trailer]\nrecrod = 'T'\n", "reconcile.trailer.recrod is not a known key"),
        ("[target]\ndb_env = 'MFPIPE_NOT_SET_ANYWHERE'\n", "MFPIPE_NOT_SET_ANYWHERE"),
        ("[source\n", "not valid TOML"),
    ])
    def test_bad_job_file_names_the_key(self, tmp_path, text, named):
        """A bad key, type or section is a configuration error naming the file and key."""
        path = job(tmp_path, text)
        with pytest.raises(ConfigError) as caught:
            read_job(path)
        assert named in str(caught.value) and path in str(caught.value)

    def test_a_wrongly_typed_db_never_shows_its_value(self, tmp_path):
        """target.db of the wrong type is named, but its value (a URL with a password) is
        not printed."""
        path = job(tmp_path, "[target]\ndb = ['postgresql://u:s3cret@h/db']\n")
        with pytest.raises(ConfigError) as caught:
            read_job(path)
        assert "target.db must be text" in str(caught.value)
        assert "s3cret" not in str(caught.value)

    def test_bad_job_file_exits_78(self, tmp_path, capsys):
        """Through the CLI, a bad job file exits 78 with the key in the message."""
        assert main(["run", job(tmp_path, "[pipeline]\nwriters = 'two'\n")]) == 78
        assert "pipeline.writers" in capsys.readouterr().err


class TestRunJob:
    def test_job_file_runs_and_flags_override(self, tmp_path, capsys):
        """`run JOB.toml` loads what the file says; --db and --processors on the command
        line win over the file's."""
        data = keyed_file(tmp_path / "in.dat", 3_000)
        path = job(tmp_path, f"""
            [job]
            name = "nightly"
            [source]
            path = "{data}"
            layout = "{LAYOUT}"
            dates = {{ open_date = "YYYYMMDD" }}
            [target]
            db = "sqlite:///{tmp_path / 'not-this.db'}"
            key = ["cust_id"]
            [pipeline]
            processors = 2
            chunk_records = 1000
        """.replace("\n            ", "\n"))
        db = f"sqlite:///{tmp_path / 'this.db'}"
        assert main(["run", path, "--db", db, "--processors", "1", "--json"]) == 0
        summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
        assert summary["counts"]["read"] == 3_000 and summary["reconciliation"]["passed"]
        assert list(summary["counts"]["per_worker"]) == ["1"]
        assert (tmp_path / "this.db").exists() and not (tmp_path / "not-this.db").exists()
