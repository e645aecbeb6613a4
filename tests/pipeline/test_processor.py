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
                      FramingOptions("FB", lrecl=100),
                      DecodeOptions(dates=(("open_date", "YYYYMMDD"),)))


def test_an_input_it_cannot_map_is_told_with_its_exit_code(tmp_path, monkeypatch):
    """The launcher's local copy of an object gone (another run of it released it) and the
    input unreadable too: the processor says why (66, naming the input) on the events
    queue, then exits 1."""
    from mfpipe.pipeline import processor

    monkeypatch.setattr(processor.signal, "signal", lambda *args: None)  # the test's own
    monkeypatch.setattr(processor, "leave_with_launcher", lambda: None)
    work = dataclasses.replace(spec().decode_work(), local_path=str(tmp_path / "gone.copy"))
    assert work.readable_path == "/landing/cust.dat"
    events: queue.Queue = queue.Queue()
    with pytest.raises(SystemExit) as ended:
        run_processor(1, work, mp.Queue(), mp.Queue(), events, MetricsAggregator({}),
                      mp.Event())
    assert ended.value.code == 1
    kind, name, message, code = events.get_nowait()
    assert (kind, name, code) == ("error", "processor-1", 66)
    assert "MFP-2002 /landing/cust.dat: no such file" in message


def test_the_launchers_copy_is_mapped_while_it_is_there(tmp_path):
    copy = tmp_path / "object.copy"
    copy.write_bytes(b"x")
    work = dataclasses.replace(spec().decode_work(), local_path=str(copy))
    assert work.readable_path == str(copy)
    assert spec().decode_work().readable_path == "/landing/cust.dat"
