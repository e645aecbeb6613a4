"""A processor process's contract with the launcher: an error the operator can act on is
told, with its exit code, before the process ends (never a bare death, 70)."""

from __future__ import annotations

import dataclasses
import multiprocessing as mp
import queue

import pytest

from mfpipe.cli.demo import DEMO_LAYOUT
from mfpipe.codec import DecodeOptions
from mfpipe.framing import FramingOptions
from mfpipe.pipeline.metrics import MetricsAggregator
from mfpipe.pipeline.processor import run_processor
from mfpipe.pipeline.spec import JobSpec


def spec() -> JobSpec:
    return JobSpec.of(str(DEMO_LAYOUT), "/landing/cust.dat", "sqlite:///mfpipe.db",
                      FramingOptions("FB", lrecl=100), DecodeOptions(dates=(("open_date", "YYYYMMDD"),)))


def test_an_input_it_cannot_map_is_told_with_its_exit_code(tmp_path):
    """The launcher's local copy of an object gone before a processor maps it: the
    processor says why (66, naming the file) on the events queue, then exits 1."""
    work = dataclasses.replace(spec().decode_work(), local_path=str(tmp_path / "gone.copy"))
    assert work.readable_path == str(tmp_path / "gone.copy")
    events: queue.Queue = queue.Queue()
    with pytest.raises(SystemExit) as ended:
        run_processor(1, work, mp.Queue(), mp.Queue(), events, MetricsAggregator({}),
                      mp.Event())
    assert ended.value.code == 1
    kind, name, message, code = events.get_nowait()
    assert (kind, name, code) == ("error", "processor-1", 66)
    assert "MFP-2002" in message and "gone.copy: no such file" in message


def test_a_local_file_is_mapped_as_given():
    work = spec().decode_work()
    assert work.local_path == "" and work.readable_path == "/landing/cust.dat"
