"""The sparse index: a chunk's span (offset, length, first record, count) is all a task
needs; framing the span's bytes alone gives back every record boundary the whole file's
framing found, for every record format, BDW blocks and truncated last records included."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpipe.errors import FramingError
from mfpipe.framing import (ChunkSpan, FramingOptions, LengthField, frame, iter_chunks, reframe,
                            write_records)

SETTINGS = settings(max_examples=60, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

FORMATS = {
    "VB": FramingOptions("VB"),
    "VB-bdw": FramingOptions("VB", bdw=True),
    "VB-bdw-le-ex": FramingOptions("VB", bdw=True, rdw_little_endian=True,
                                   rdw_excludes_header=True),
    "V-offsets": FramingOptions("V", record_start_offset=1, record_end_offset=1),
    "FB-header-trailer": FramingOptions("FB", lrecl=7, skip_header_bytes=3,
                                        skip_trailer_bytes=2),
    "F-offsets": FramingOptions("F", lrecl=9, record_start_offset=2, record_end_offset=1),
    "TEXT": FramingOptions("TEXT"),
    "TEXT-offsets": FramingOptions("TEXT", record_start_offset=1, record_end_offset=1),
}


def _file(options: FramingOptions, records: list[bytes], block_size: int) -> bytes:
    """``records`` framed as ``options`` says (fixed ones cut or padded to LRECL)."""
    if options.recfm in ("F", "FB"):
        width = options.lrecl or 1
        records = [(r * width)[:width] for r in records]
    if options.recfm == "TEXT":
        return b"\n".join(r.replace(b"\n", b"x").replace(b"\r", b"y") for r in records) + \
            b"\r\n"
    width = max(map(len, records))
    rows = np.zeros((len(records), width), dtype=np.uint8)
    for i, record in enumerate(records):
        rows[i, :len(record)] = np.frombuffer(record, dtype=np.uint8)
    lengths = np.array([len(r) for r in records], dtype=np.int64)
    body = write_records(rows, lengths, options, block_size)
    return b"H" * options.skip_header_bytes + body + b"T" * options.skip_trailer_bytes


def _boundaries(data: bytes, options: FramingOptions, per_chunk: int
                ) -> tuple[list[int], list[int]]:
    """Every record's file offset and length, from each chunk's span alone."""
    starts: list[int] = []
    lengths: list[int] = []
    for chunk in iter_chunks(data, options, per_chunk):
        span = ChunkSpan.of(chunk, options)
        own = reframe(data[span.byte_offset:span.byte_offset + span.byte_length], span, options)
        assert own.first_record_no == chunk.first_record_no == len(starts) + 1
        assert (own.byte_offset, own.data.tobytes()) == (chunk.byte_offset, chunk.data.tobytes())
        assert own.starts.tolist() == chunk.starts.tolist()
        starts += own.record_offsets.tolist()
        lengths += own.lengths.tolist()
    return starts, lengths


@pytest.mark.parametrize("name", FORMATS)
@SETTINGS
@given(records=st.lists(st.binary(min_size=2, max_size=120), min_size=1, max_size=40),
       per_chunk=st.integers(1, 9), block_size=st.integers(64, 700))
def test_every_boundary_is_the_whole_files(name, records, per_chunk, block_size):
    options = FORMATS[name]
    data = _file(options, records, block_size)
    starts, lengths = frame(data, options)
    assert _boundaries(data, options, per_chunk) == (starts.tolist(), lengths.tolist())


def test_a_length_field_frames_from_the_span():
    """Records that say their own length (F with a length field)."""
    options = FramingOptions("F", length_field=LengthField(0, 2, True))
    records = [bytes([0, 2 + n]) + bytes(range(n)) for n in (3, 0, 7, 1, 5)]
    data = b"".join(records)
    starts, lengths = frame(data, options)
    assert _boundaries(data, options, 2) == (starts.tolist(), lengths.tolist())


def test_text_lines_ending_in_cr_or_empty():
    """A span ends where its last line's data ends: an empty last line, a CR that is the
    line's own data before the CR LF, stay as the whole file's framing has them."""
    data = b"ab\r\r\n\ncd\r\n\n"
    options = FramingOptions("TEXT")
    starts, lengths = frame(data, options)
    for per_chunk in (1, 2, 3):
        assert _boundaries(data, options, per_chunk) == (starts.tolist(), lengths.tolist())


def test_a_truncated_last_record_fails_planning_as_framing_does():
    """The spans before a truncated last record (in a BDW block) reframe exactly; planning
    then fails at the offset and with the message the whole file's framing gives."""
    options = FramingOptions("VB", bdw=True)
    rows = np.frombuffer(bytes(range(60)), dtype=np.uint8).reshape(6, 10)
    data = write_records(rows, None, options, block_size=40)[:-3]
    with pytest.raises(FramingError) as whole:
        frame(data, options)
    planned: list[int] = []
    with pytest.raises(FramingError) as planning:
        for chunk in iter_chunks(data, options, 1):
            span = ChunkSpan.of(chunk, options)
            own = reframe(data[span.byte_offset:span.byte_offset + span.byte_length], span,
                          options)
            planned += own.record_offsets.tolist()
    assert str(planning.value) == str(whole.value)
    assert planned == [8, 22, 40, 54]  # two whole blocks of two 14-byte records


def test_a_span_whose_bytes_changed_names_the_file_offset():
    """A span that no longer frames as planned (an RDW overwritten, the file cut short)."""
    options = FramingOptions("VB")
    rows = np.frombuffer(bytes(40), dtype=np.uint8).reshape(4, 10)
    data = bytearray(write_records(rows, None, options))
    span = ChunkSpan(1, 3, 28, 28, 2)
    data[42:44] = b"\x00\x00"  # the second record's RDW: a length of 0
    with pytest.raises(FramingError, match="RDW length 0") as bad:
        reframe(bytes(data[28:56]), span, options, "in.dat")
    assert bad.value.offset == 42 and bad.value.path == "in.dat"
    with pytest.raises(FramingError, match="has 20 bytes, not the 28") as short:
        reframe(bytes(data[28:48]), span, options, "in.dat")
    assert short.value.offset == 48
    with pytest.raises(FramingError, match="frames into 2 records, not the 3"):
        reframe(bytes(data[:28]), ChunkSpan(0, 1, 0, 28, 3), options, "in.dat")
