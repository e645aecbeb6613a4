"""Record formats: write_records -> frame / iter_chunks give back the same records; bad framing
raises FramingError at the right offset."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpipe.errors import ConfigError, FramingError
from mfpipe.framing import (CountedLength, CountField, FramingOptions, LengthField, frame,
                            iter_chunks, write_records)

SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _rows(records: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    """Records as a zero-padded matrix plus their lengths (the shape write_records takes)."""
    width = max(map(len, records), default=0)
    rows = np.zeros((len(records), width), dtype=np.uint8)
    for i, r in enumerate(records):
        rows[i, :len(r)] = np.frombuffer(r, dtype=np.uint8)
    return rows, np.array([len(r) for r in records], dtype=np.int64)


def _framed(data: bytes, options: FramingOptions) -> list[bytes]:
    starts, lengths = frame(data, options)
    return [data[s:s + n] for s, n in zip(starts.tolist(), lengths.tolist())]


def _chunked(data: bytes, options: FramingOptions, per_chunk: int) -> list[bytes]:
    """Records via iter_chunks, checking record numbers and file offsets on the way."""
    out: list[bytes] = []
    starts, _ = frame(data, options)
    for chunk in iter_chunks(data, options, per_chunk):
        assert chunk.first_record_no == len(out) + 1
        first = chunk.first_record_no - 1
        assert chunk.record_offsets.tolist() == starts[first:first + chunk.n_records].tolist()
        for s, n in zip(chunk.starts.tolist(), chunk.lengths.tolist()):
            out.append(chunk.data[s:s + n].tobytes())
    return out


VARIABLE = [FramingOptions("VB"), FramingOptions("V", rdw_little_endian=True),
            FramingOptions("VB", rdw_excludes_header=True),
            FramingOptions("VB", rdw_little_endian=True, rdw_excludes_header=True),
            FramingOptions("VB", bdw=True), FramingOptions("VB", bdw=True, rdw_little_endian=True)]
_RECORDS = st.lists(st.binary(min_size=1, max_size=200), min_size=1, max_size=30)


class TestVariable:
    @pytest.mark.parametrize("options", VARIABLE,
                             ids=lambda o: f"{o.recfm}-le{o.rdw_little_endian:d}"
                                           f"-ex{o.rdw_excludes_header:d}-bdw{o.bdw:d}")
    @SETTINGS
    @given(records=_RECORDS, per_chunk=st.integers(1, 7), block_size=st.integers(64, 1024))
    def test_roundtrip(self, options, records, per_chunk, block_size):
        """RDW (big/little endian, with or without its header) and BDW files give the records
        back."""
        rows, lengths = _rows(records)
        data = write_records(rows, lengths, options, block_size=block_size)
        assert _framed(data, options) == records
        assert _chunked(data, options, per_chunk) == records

    def test_rdw_bytes(self):
        """A VB record's RDW is the big-endian length including its 4 bytes, then two zeros."""
        rows, lengths = _rows([b"ABCDE"])
        assert write_records(rows, lengths, FramingOptions("VB")) == bytes.fromhex(
            "00090000") + b"ABCDE"
        assert write_records(rows, lengths, FramingOptions("VB", rdw_little_endian=True)) == \
            bytes.fromhex("00000900") + b"ABCDE"
        assert write_records(rows, lengths, FramingOptions("VB", rdw_excludes_header=True)) == \
            bytes.fromhex("00050000") + b"ABCDE"

    def test_extended_bdw_by_hand(self):
        """A BDW with bit 0 set carries a 31-bit block length."""
        block = bytes.fromhex("00080000") + b"ABCD" + bytes.fromhex("00060000") + b"XY"
        data = (0x80000000 | (len(block) + 4)).to_bytes(4, "big") + block
        options = FramingOptions("VB", bdw=True)
        assert _framed(data, options) == [b"ABCD", b"XY"]
        assert _chunked(data, options, 1) == [b"ABCD", b"XY"]

    def test_standard_bdw_by_hand(self):
        """A standard BDW holds the block length (with the BDW) in bytes 0-1, then two zeros."""
        block = bytes.fromhex("00080000") + b"ABCD"
        data = (len(block) + 4).to_bytes(2, "big") + b"\x00\x00" + block
        data += data
        assert _framed(data, FramingOptions("VB", bdw=True)) == [b"ABCD", b"ABCD"]

    def test_large_block_gets_an_extended_bdw(self):
        """A block longer than 15 bits can say (one 40,000-byte record) is written extended."""
        records = [b"A" * 40000, b"B" * 10]
        rows, lengths = _rows(records)
        options = FramingOptions("VB", bdw=True)
        data = write_records(rows, lengths, options)
        assert data[0] & 0x80
        assert _framed(data, options) == records

    def test_record_numbers_continue_across_chunks(self):
        """Chunk after chunk, first_record_no counts every record once."""
        records = [bytes([i]) * (i + 1) for i in range(10)]
        rows, lengths = _rows(records)
        data = write_records(rows, lengths, FramingOptions("VB"))
        chunks = list(iter_chunks(data, FramingOptions("VB"), 3))
        assert [c.first_record_no for c in chunks] == [1, 4, 7, 10]
        assert [c.n_records for c in chunks] == [3, 3, 3, 1]
        assert chunks[1].byte_offset == sum(len(r) + 4 for r in records[:3])

    def test_matrix_pads_short_records(self):
        """RawChunk.matrix pads each record with zeros up to the width asked for."""
        rows, lengths = _rows([b"AB", b"CDEF"])
        (chunk,) = iter_chunks(write_records(rows, lengths, FramingOptions("VB")),
                               FramingOptions("VB"), 10)
        assert chunk.matrix(5).tolist() == [list(b"AB\0\0\0"), list(b"CDEF\0")]


class TestFixed:
    @SETTINGS
    @given(lrecl=st.integers(1, 50), count=st.integers(0, 40), per_chunk=st.integers(1, 9),
           seed=st.integers(0, 1000))
    def test_roundtrip(self, lrecl, count, per_chunk, seed):
        """FB files frame into LRECL-sized records, chunk after chunk."""
        rows = np.random.default_rng(seed).integers(0, 256, (count, lrecl), dtype=np.uint8)
        options = FramingOptions("FB", lrecl=lrecl)
        data = write_records(rows, None, options)
        records = [r.tobytes() for r in rows]
        assert _framed(data, options) == records
        assert _chunked(data, options, per_chunk) == records

    def test_header_and_trailer_bytes(self):
        """skip_header_bytes/skip_trailer_bytes leave the records between them."""
        data = b"HDR" + b"AAAA" + b"BBBB" + b"TR"
        options = FramingOptions("FB", lrecl=4, skip_header_bytes=3, skip_trailer_bytes=2)
        assert _framed(data, options) == [b"AAAA", b"BBBB"]
        assert frame(data, options)[0].tolist() == [3, 7]

    def test_matrix_is_a_view_of_fixed_records(self):
        """Fixed records come out as one [records, lrecl] matrix."""
        options = FramingOptions("FB", lrecl=3)
        (chunk,) = iter_chunks(b"ABCDEF", options, 10)
        assert chunk.matrix(3).tolist() == [list(b"ABC"), list(b"DEF")]


class TestText:
    @SETTINGS
    @given(records=st.lists(st.binary(max_size=80).filter(
        lambda r: b"\n" not in r and b"\r" not in r), min_size=1, max_size=30),
        per_chunk=st.integers(1, 7))
    def test_roundtrip(self, records, per_chunk):
        """TEXT files give one record per line, empty lines included."""
        rows, lengths = _rows(records)
        options = FramingOptions("TEXT")
        data = write_records(rows, lengths, options)
        assert _framed(data, options) == records
        assert _chunked(data, options, per_chunk) == records

    def test_crlf_and_missing_final_newline(self):
        """\\r\\n ends a line like \\n, and a last line without a newline is still a record."""
        data = b"ab\r\ncd\n\r\nef"
        assert _framed(data, FramingOptions("TEXT")) == [b"ab", b"cd", b"", b"ef"]
        assert _chunked(data, FramingOptions("TEXT"), 3) == [b"ab", b"cd", b"", b"ef"]

    def test_empty_file(self):
        """An empty TEXT file has no records."""
        assert _framed(b"", FramingOptions("TEXT")) == []


class TestErrors:
    def test_truncated_fixed_record(self):
        """A file that is not a multiple of LRECL fails at the start of the partial record."""
        with pytest.raises(FramingError) as info:
            frame(b"AAAAABBBBBCC", FramingOptions("FB", lrecl=5), path="in.dat")
        assert info.value.offset == 10
        assert info.value.path == "in.dat"
        assert "remainder 2" in info.value.message

    def test_truncated_fixed_record_after_header(self):
        """The offset of a truncated record counts the skipped header bytes."""
        with pytest.raises(FramingError) as info:
            frame(b"HH" + b"AAAAABB", FramingOptions("FB", lrecl=5, skip_header_bytes=2))
        assert info.value.offset == 7

    def test_truncated_variable_record(self):
        """A last RDW record running past the end fails at its RDW, with the header bytes."""
        data = bytes.fromhex("00080000") + b"ABCD" + bytes.fromhex("00090000") + b"XY"
        with pytest.raises(FramingError) as info:
            frame(data, FramingOptions("VB"))
        assert info.value.offset == 8
        assert info.value.header_hex == "00,09,00,00"

    @pytest.mark.parametrize("rdw", ["00000000", "00040000", "00080001", "0003FFFF"])
    def test_bad_rdw(self, rdw):
        """An RDW length of 4 or less, or non-zero reserved bytes, fails at that RDW."""
        data = bytes.fromhex("00080000") + b"ABCD" + bytes.fromhex(rdw) + b"ABCD"
        with pytest.raises(FramingError) as info:
            frame(data, FramingOptions("VB"))
        assert info.value.offset == 8
        assert info.value.header_hex == ",".join(rdw[i:i + 2] for i in range(0, 8, 2))

    def test_too_few_bytes_for_an_rdw(self):
        """Two stray bytes at the end fail at their offset."""
        with pytest.raises(FramingError) as info:
            frame(bytes.fromhex("00060000") + b"AB" + b"\x00\x08", FramingOptions("VB"))
        assert info.value.offset == 6

    def test_little_endian_file_read_as_big_endian(self):
        """Reading a little-endian RDW file with the default options fails at the first RDW."""
        rows, lengths = _rows([b"ABCD"])
        data = write_records(rows, lengths, FramingOptions("VB", rdw_little_endian=True))
        with pytest.raises(FramingError) as info:
            frame(data, FramingOptions("VB"))
        assert info.value.offset == 0

    @pytest.mark.parametrize("bdw", ["00000000", "00040000", "00100001"])
    def test_bad_bdw(self, bdw):
        """A BDW with a length of 4 or less, or non-zero low bytes, fails at the BDW."""
        data = bytes.fromhex("000C0000") + bytes.fromhex("00080000") + b"ABCD"
        data += bytes.fromhex(bdw) + bytes.fromhex("00080000") + b"ABCD"
        with pytest.raises(FramingError) as info:
            frame(data, FramingOptions("VB", bdw=True))
        assert info.value.offset == 12

    def test_block_past_the_end(self):
        """A block longer than the rest of the file fails at its BDW."""
        data = bytes.fromhex("00200000") + bytes.fromhex("00080000") + b"ABCD"
        with pytest.raises(FramingError) as info:
            frame(data, FramingOptions("VB", bdw=True))
        assert info.value.offset == 0

    def test_header_longer_than_the_file(self):
        """Header and trailer byte counts larger than the file are a FramingError at 0."""
        with pytest.raises(FramingError) as info:
            frame(b"ABC", FramingOptions("FB", lrecl=1, skip_header_bytes=2, skip_trailer_bytes=2))
        assert info.value.offset == 0

    def test_errors_pickle(self):
        """A FramingError crosses process boundaries with its attributes."""
        import pickle
        with pytest.raises(FramingError) as info:
            frame(b"AAAAABB", FramingOptions("FB", lrecl=5))
        again = pickle.loads(pickle.dumps(info.value))
        assert (again.offset, str(again)) == (info.value.offset, str(info.value))

    @pytest.mark.parametrize("kwargs", [{"recfm": "FB"}, {"recfm": "VBS"},
                                        {"recfm": "FB", "lrecl": 0},
                                        {"recfm": "VB", "skip_header_bytes": -1}])
    def test_bad_options(self, kwargs):
        """Impossible framing options are ConfigErrors when they are built."""
        with pytest.raises(ConfigError):
            FramingOptions(**kwargs)

    def test_chunk_size_must_be_positive(self):
        """iter_chunks refuses a chunk size below one record."""
        with pytest.raises(ConfigError):
            list(iter_chunks(b"AAAA", FramingOptions("FB", lrecl=2), 0))


def _with_length(records: list[bytes], binary: bool) -> bytes:
    """Records led by their own 2-byte length (binary) or 4 EBCDIC digits, which count the
    length field itself."""
    size = 2 if binary else 4
    out = b""
    for r in records:
        length = len(r) + size
        out += length.to_bytes(2, "big") if binary else f"{length:04d}".encode("cp037")
        out += r
    return out


class TestRecordOffsets:
    @SETTINGS
    @given(records=st.lists(st.binary(min_size=3, max_size=20), min_size=1, max_size=30),
           per_chunk=st.integers(1, 7), before=st.integers(0, 2), after=st.integers(0, 1))
    def test_variable_records_lose_their_margins(self, records, per_chunk, before, after):
        """Start and end offsets cut every record's data, in frame and in chunks alike; a
        chunk still spans its records' whole bytes."""
        rows, lengths = _rows(records)
        options = FramingOptions("VB", record_start_offset=before, record_end_offset=after)
        data = write_records(rows, lengths, FramingOptions("VB"))
        expected = [r[before:len(r) - after] for r in records]
        assert _framed(data, options) == expected
        assert _chunked(data, options, per_chunk) == expected
        spans = [(c.byte_offset, c.end_offset) for c in iter_chunks(data, options, per_chunk)]
        assert all(a[1] == b[0] for a, b in zip(spans, spans[1:]))  # contiguous

    def test_fixed_records(self):
        """F records of 8 bytes with 2 leading and 1 trailing byte skipped."""
        data = b"".join(bytes([i, i]) + b"ABCDE" + b"\xff" for i in range(4))
        options = FramingOptions("F", lrecl=8, record_start_offset=2, record_end_offset=1)
        assert not options.fixed
        assert _framed(data, options) == [b"ABCDE"] * 4
        assert _chunked(data, options, 3) == [b"ABCDE"] * 4

    def test_record_shorter_than_its_margins(self):
        """A record shorter than the two offsets is a FramingError at its offset."""
        rows, lengths = _rows([b"ABCDEF", b"AB"])
        data = write_records(rows, lengths, FramingOptions("VB"))
        with pytest.raises(FramingError, match="shorter than the record start") as info:
            frame(data, FramingOptions("VB", record_start_offset=2, record_end_offset=1))
        assert info.value.offset == 14


class TestLengthField:
    @SETTINGS
    @given(records=st.lists(st.binary(min_size=0, max_size=40), max_size=30),
           per_chunk=st.integers(1, 7), binary=st.booleans())
    def test_roundtrip(self, records, per_chunk, binary):
        """Records that carry their own length frame back exactly, whole chunks included."""
        size = 2 if binary else 4
        data = _with_length(records, binary)
        options = FramingOptions("F", length_field=LengthField(0, size, binary))
        expected = [(len(r) + size).to_bytes(2, "big") + r if binary else
                    f"{len(r) + size:04d}".encode("cp037") + r for r in records]
        assert _framed(data, options) == expected
        assert _chunked(data, options, per_chunk) == expected

    def test_adjust(self):
        """A length that does not count its own field reads with --record-length-adjust."""
        data = b"\x00\x03ABC\x00\x01Z"
        options = FramingOptions("F", length_field=LengthField(0, 2, True, adjust=2))
        assert _framed(data, options) == [b"\x00\x03ABC", b"\x00\x01Z"]

    @pytest.mark.parametrize("data, fragment", [
        (b"\x00\x09ABC", "runs past the end"),
        (b"\x00\x01ABC", "does not cover the field that gives it"),
        (b"\x00\x05ABC\x00", "too few for a record"),
    ])
    def test_bad_lengths(self, data, fragment):
        """A length that runs past the data or is too short is a FramingError, not a guess."""
        with pytest.raises(FramingError, match=fragment):
            frame(data, FramingOptions("F", length_field=LengthField(0, 2, True)))

    def test_digits_that_are_no_length(self):
        """Display digits that are not digits are a FramingError naming the field's bytes."""
        with pytest.raises(FramingError, match="gives no length") as info:
            frame("00A5XYZ".encode("cp037"), FramingOptions(
                "F", length_field=LengthField(0, 4, False)))
        assert info.value.header_hex == "F0,F0,C1,F5"

    def test_after_a_record_start_offset(self):
        """With --record-start-offset the length field is read after the margin, and its
        value is the whole record's (margin included)."""
        data = b"HH07ABC" + b"HH11DEFGHIJ"
        options = FramingOptions("F", record_start_offset=2,
                                 length_field=LengthField(0, 2, False))
        assert _framed(data, options) == [b"07ABC", b"11DEFGHIJ"]

    def test_only_with_recfm_f(self):
        """A length field replaces the RDW: with V or VB it is a configuration error."""
        with pytest.raises(ConfigError, match="recfm F"):
            FramingOptions("VB", length_field=LengthField(0, 2))


class TestCountedLength:
    LENGTHS = CountedLength(base=3, counts=(CountField(0, 1, "display", 2, 3),
                                            CountField(1, 2, "packed", 1, 9)))

    def test_records_as_long_as_their_counts(self):
        """Each record is 3 bytes plus 2 per first count and 1 per second, packed."""
        records = [b"\xf2\x00\x1c" + b"AABB" + b"Z",  # 2 x 2 + 1 x 1 = 5: 8 bytes
                   b"\xf0\x00\x0c",  # 0 and 0: 3 bytes
                   b"\xf3\x00\x3c" + b"CCDDEE" + b"123"]  # 6 + 3: 12 bytes
        data = b"".join(records)
        options = FramingOptions("F", counted_length=self.LENGTHS)
        assert _framed(data, options) == records
        assert _chunked(data, options, 2) == records

    @pytest.mark.parametrize("data, fragment", [
        (b"\xf4\x00\x0cAABBCCDD", "above its maximum 3"),
        (b"\xc1\x00\x0c", "gives no length"),
        (b"\xf1\x00\x0cA", "runs past the end"),
    ])
    def test_counts_that_frame_nothing(self, data, fragment):
        """A count above its maximum, no count at all, or a record past the end is a
        FramingError (the next record's place would be a guess)."""
        with pytest.raises(FramingError, match=fragment):
            frame(data, FramingOptions("F", counted_length=self.LENGTHS))

    def test_margins_around_counted_records(self):
        """Counted records with start and end offsets: counts read after the first margin,
        both margins added to the record."""
        data = b"<<\xf1\x00\x0cAA>" + b"<<\xf0\x00\x0c>"
        options = FramingOptions("F", counted_length=self.LENGTHS, record_start_offset=2,
                                 record_end_offset=1)
        assert _framed(data, options) == [b"\xf1\x00\x0cAA", b"\xf0\x00\x0c"]

    def test_stored_form_round_trips(self):
        """The options stored with a run (JSON) give the same framing back."""
        import dataclasses
        import json

        options = FramingOptions("F", counted_length=self.LENGTHS)
        stored = json.loads(json.dumps(dataclasses.asdict(options)))
        assert FramingOptions(**stored) == options
