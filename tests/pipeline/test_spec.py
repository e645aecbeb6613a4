"""The job spec: its parts, what is stored with a run (versioned), what a resumed run may
change, and what each process receives."""

from __future__ import annotations

import pickle

import pytest

from mfpipe.codec import Branch, DecodeOptions
from mfpipe.db.rules import Rule
from mfpipe.errors import ConfigError
from mfpipe.framing import FramingOptions
from mfpipe.pipeline.spec import (PART_OF, RESUMABLE, DecodeWork, JobSpec, WriteWork,
                                  changed_options, options_of, resumed, spec_from_options)
from tests.recon.conftest import LAYOUT

URL = "postgresql://loader:s3cret@db.example/books"


def spec(**options) -> JobSpec:
    decode = DecodeOptions(dates=(("open_date", "YYYYMMDD"),),
                           branches=(Branch("detail", "rec_type", ("D",)),))
    return JobSpec.of(LAYOUT, "/landing/cust.dat", URL, FramingOptions("FB", lrecl=100), decode,
                      **{"job": "customers", "key": ("cust_id",), "processors": 3,
                         "rules": (Rule.parse("range:balance:0..100"),),
                         "trailer_totals": (("total", "balance"),), **options})


class TestParts:
    def test_every_option_belongs_to_one_part(self):
        built = spec()
        assert built.source.input_path == "/landing/cust.dat"
        assert built.execution.processors == 3 and built.execution.db_url == URL
        assert built.target.key == ("cust_id",)
        assert built.proof.trailer_totals == (("total", "balance"),)
        assert set(built.flat()) == set(PART_OF) | {"job", "run_id"}

    def test_changed_by_flat_name(self):
        built = spec()
        again = built.changed(writers=4, final_table="books", run_id="r9")
        assert (again.execution.writers, again.target.final_table, again.run_id) == (
            4, "books", "r9")
        assert again.source == built.source and again.proof == built.proof

    @pytest.mark.parametrize("options", [{"processors": 0}, {"empty_file": "maybe"},
                                         {"duplicate_keys": "keep"}, {"skip_records": -1}])
    def test_each_part_checks_its_values(self, options):
        with pytest.raises(ConfigError):
            spec(**options)

    def test_an_unknown_option_is_refused(self):
        with pytest.raises(TypeError, match="no such option: colour"):
            spec(colour="red")

    def test_the_key_columns_must_have_values(self):
        assert spec().record_decode.required == ("cust_id",)
        assert spec(key=()).record_decode.required == ()


class TestStored:
    def test_stored_by_part_with_its_version_and_no_password(self):
        stored = options_of(spec())
        assert stored["spec_version"] == 2
        assert set(stored) == {"spec_version", "job", "run_id", "source", "execution",
                               "target", "proof"}
        assert "s3cret" not in str(stored) and stored["execution"]["db_url"].startswith(
            "postgresql://loader:***@")

    def test_rebuilt_as_it_began(self):
        built = spec()
        assert spec_from_options(options_of(built), URL) == built

    def test_a_run_stored_before_the_parts_rebuilds(self):
        """Runs stored by version 1 (flat options) still restart and reconcile."""
        built = spec()
        flat = {**options_of(built)["source"], **options_of(built)["execution"],
                **options_of(built)["target"], **options_of(built)["proof"],
                "job": built.job, "run_id": built.run_id}
        assert spec_from_options(flat, URL) == built
        assert changed_options(flat, built) == []

    def test_only_what_changes_the_load_is_named(self):
        built = spec()
        stored = options_of(built)
        relaunch = built.changed(processors=1, input_path="/landing/copy.dat",
                                 key=("cust_id", "branch"), run_id="other")
        assert changed_options(stored, relaunch) == ["key"]

    def test_a_resumed_run_keeps_its_own_and_takes_the_launchs_pace(self):
        stored, launch = spec(), spec(processors=1, max_errors=7, chunk_records=10)
        again = resumed(stored, launch)
        assert again.run_id == stored.run_id and again.execution.chunk_records == 50_000
        assert (again.execution.processors, again.execution.max_errors) == (1, 7)
        assert RESUMABLE <= set(PART_OF)


class TestProcesses:
    def test_each_process_gets_its_part_only(self):
        built = spec(bad_file="/tmp")
        decode, write = built.decode_work(), built.write_work()
        assert isinstance(decode, DecodeWork) and isinstance(write, WriteWork)
        assert "s3cret" not in repr(decode)  # processors never see the database's URL
        assert decode.loader_kind == "postgresql" and decode.decode.required == ("cust_id",)
        assert write.outputs.bad_path == f"/tmp/cust.dat.{built.run_id}.bad"
        assert write.outputs.discard_path is None  # no --when: no discard file
        assert pickle.loads(pickle.dumps(decode)) == decode
