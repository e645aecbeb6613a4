"""Property tests: values -> encode -> bytes -> DecodePlan.decode give the same values back,
and the decoder never raises on arbitrary bytes."""

from __future__ import annotations

import datetime as dt
from decimal import Context, Decimal

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpipe.codec import Branch, DecodedBatch, DecodeOptions, DecodePlan
from mfpipe.codec.encode import encode_column, encode_float, encode_records
from mfpipe.codec.odo import compact
from mfpipe.codec.synth import synthesize
from mfpipe.layout import RecordLayout
from tests.codec.helpers import record

SETTINGS = settings(max_examples=100, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_WIDE = Context(prec=60)


def _exact(unscaled: int, scale: int) -> Decimal:
    """The Decimal ``unscaled * 10**-scale``, with no rounding at any width."""
    return Decimal(unscaled).scaleb(-scale, _WIDE)


def _roundtrip(rec: RecordLayout, values: dict[str, object], n: int,
               options: DecodeOptions | None = None) -> DecodedBatch:
    """Encode ``values`` into records, decode them, and check that nothing was rejected."""
    options = options or DecodeOptions()
    rows = encode_records(rec, values, n, options)
    out = DecodePlan.compile(rec, options).decode(rows, 1, np.arange(n, dtype=np.int64) * rec.size)
    assert out.rejects.to_pylist() == []
    assert out.batch.num_rows == n
    return out


def _one_field(clause: str) -> RecordLayout:
    return record(f"""
    01  REC.
        05  V  {clause}.
    """)


def _code_page_text(encoding: str) -> st.SearchStrategy[str]:
    """Strings of characters the code page can hold, without NUL and without trailing spaces."""
    name = "latin-1" if encoding == "ascii" else encoding
    import ebcdic  # noqa: F401  (registers cp1047)
    alphabet = sorted(set(bytes(range(1, 256)).decode(name)))
    return st.text(alphabet=alphabet, max_size=8).filter(lambda s: not s.endswith(" "))


class TestText:
    @pytest.mark.parametrize("encoding", ["cp037", "cp500", "cp1047", "cp273", "cp1140", "ascii"])
    @SETTINGS
    @given(data=st.data())
    def test_alphanumeric(self, encoding, data):
        """PIC X(8) text in every code page comes back unchanged (right-trimmed)."""
        values = data.draw(st.lists(_code_page_text(encoding), min_size=1, max_size=12))
        out = _roundtrip(_one_field("PIC X(8)"), {"v": values}, len(values),
                         DecodeOptions(encoding=encoding))
        assert out.batch.column("v").to_pylist() == values

    @SETTINGS
    @given(values=st.lists(st.text(alphabet=st.characters(
        max_codepoint=0xFFFF, exclude_categories=("Cs",), exclude_characters="\x00\u3000"),
        max_size=4).filter(lambda s: not s.endswith(" ")), min_size=1, max_size=12))
    def test_national(self, values):
        """PIC N(4) (UTF-16BE) holds any BMP text and gives it back."""
        out = _roundtrip(_one_field("PIC N(4)"), {"v": values}, len(values))
        assert out.batch.column("v").to_pylist() == values


    def test_national_beyond_the_bmp(self):
        """Characters beyond the BMP are written as surrogate pairs and read back whole."""
        values = ["\U00010000a", "x\U0001F600", "ab"]
        out = _roundtrip(_one_field("PIC N(3)"), {"v": values}, len(values))
        assert out.batch.column("v").to_pylist() == values


SIGN_CLAUSES = ["", "SIGN LEADING", "SIGN TRAILING", "SIGN LEADING SEPARATE",
                "SIGN TRAILING SEPARATE"]


def _fields(clauses: list[str]) -> RecordLayout:
    """A record with one field V0, V1, ... per clause, so one example covers every variant."""
    lines = "".join(f"        05  V{i}  {clause}.\n" for i, clause in enumerate(clauses))
    return record("    01  REC.\n" + lines)


def _columns(data: st.DataObject, bounds: list[tuple[int, int]]) -> tuple[int, list[list[int]]]:
    """A record count and, for every field, that many integers within the field's bounds."""
    n = data.draw(st.integers(1, 12))
    return n, [data.draw(st.lists(st.integers(low, high), min_size=n, max_size=n))
               for low, high in bounds]


class TestZoned:
    @pytest.mark.parametrize("encoding", ["cp037", "ascii"])
    @SETTINGS
    @given(data=st.data())
    def test_every_sign_position(self, encoding, data):
        """S9(7)V99 with every sign position, and unsigned 9(9), round-trip exactly."""
        rec = _fields([f"PIC S9(7)V99 {sign}" for sign in SIGN_CLAUSES] + ["PIC 9(9)"])
        top = 10**9 - 1
        n, columns = _columns(data, [(-top, top)] * len(SIGN_CLAUSES) + [(0, top)])
        values = {f"v{i}": np.array(c) for i, c in enumerate(columns)}
        out = _roundtrip(rec, values, n, DecodeOptions(encoding=encoding))
        for i, c in enumerate(columns[:-1]):
            assert out.batch.column(f"v{i}").to_pylist() == [_exact(v, 2) for v in c]
        assert out.batch.column(f"v{len(columns) - 1}").to_pylist() == columns[-1]

    @SETTINGS
    @given(values=st.lists(st.integers(-(10**31 - 1), 10**31 - 1), min_size=1, max_size=12))
    def test_wide(self, values):
        """S9(25)V9(6) zoned (31 digits) round-trips exactly as decimal128."""
        rec = _one_field("PIC S9(25)V9(6)")
        out = _roundtrip(rec, {"v": np.array(values, dtype=object)}, len(values))
        assert out.batch.column("v").to_pylist() == [_exact(v, 6) for v in values]


PACKED = [("PIC S9(7)V99 COMP-3", 9, 2, True), ("PIC 9(6) COMP-3", 6, 0, False),
          ("PIC S9(18) COMP-3", 18, 0, True), ("PIC S9(31) COMP-3", 31, 0, True),
          ("PIC S9(25)V9(6) COMP-3", 31, 6, True), ("PIC S9(1) COMP-3", 1, 0, True),
          ("PIC 9(19) COMP-3", 19, 0, False), ("PIC 9(5) COMP-3U", 5, 0, False),
          ("PIC 9(6) COMP-3U", 6, 0, False), ("PIC 9(20) COMP-3U", 20, 0, False)]


class TestPacked:
    @SETTINGS
    @given(data=st.data())
    def test_every_width(self, data):
        """COMP-3 (C/D/F signs) and COMP-3U of every width round-trip exactly."""
        rec = _fields([clause for clause, *_ in PACKED])
        bounds = [(-(10**d - 1) if signed else 0, 10**d - 1) for _, d, _, signed in PACKED]
        n, columns = _columns(data, bounds)
        values = {f"v{i}": np.array(c, dtype=object) for i, c in enumerate(columns)}
        out = _roundtrip(rec, values, n)
        for i, (c, (_, _, scale, _)) in enumerate(zip(columns, PACKED)):
            assert [Decimal(v) for v in out.batch.column(f"v{i}").to_pylist()] == [
                _exact(v, scale) for v in c]


BINARY = [("PIC S9(4) COMP", -(2**15), 2**15 - 1, 0), ("PIC 9(4) COMP", 0, 2**16 - 1, 0),
          ("PIC S9(9) COMP", -(2**31), 2**31 - 1, 0), ("PIC 9(9) BINARY", 0, 2**32 - 1, 0),
          ("PIC S9(18) COMP-4", -(2**63), 2**63 - 1, 0), ("PIC 9(18) COMP", 0, 2**64 - 1, 0),
          ("PIC S9(4) COMP-5", -(2**15), 2**15 - 1, 0),
          ("PIC S9(7)V99 COMP", -(2**31), 2**31 - 1, 2)]


class TestBinary:
    @SETTINGS
    @given(data=st.data())
    def test_full_range(self, data):
        """2-, 4- and 8-byte binary, signed and unsigned, round-trip over the full storage range."""
        rec = _fields([clause for clause, *_ in BINARY])
        n, columns = _columns(data, [(low, high) for _, low, high, _ in BINARY])
        values = {f"v{i}": np.array(c, dtype=np.uint64 if c and max(c) >= 2**63 else np.int64)
                  for i, c in enumerate(columns)}
        out = _roundtrip(rec, values, n)
        for i, (c, (*_, scale)) in enumerate(zip(columns, BINARY)):
            assert [Decimal(v) for v in out.batch.column(f"v{i}").to_pylist()] == [
                _exact(v, scale) for v in c]


def _ibm_words(size: int) -> st.SearchStrategy[int]:
    """Normalized IBM hex floats (or zero) whose fraction float64 holds exactly."""
    bits = 8 * size - 8

    def build(sign: int, exponent: int, fraction: int) -> int:
        if size == 8:  # keep at most 53 significant bits
            fraction &= ~((1 << max(fraction.bit_length() - 53, 0)) - 1)
        return (sign << (8 * size - 1)) | (exponent << bits) | fraction

    normal = st.builds(build, st.integers(0, 1), st.integers(0, 127),
                       st.integers(1 << (bits - 4), (1 << bits) - 1))
    return st.one_of(st.just(0), normal)


class TestFloats:
    @pytest.mark.parametrize("usage, size", [("COMP-1", 4), ("COMP-2", 8)])
    @SETTINGS
    @given(data=st.data())
    def test_ibm_bytes_survive_decode_encode(self, usage, size, data):
        """encode(decode(bytes)) == bytes for IBM hex floats built from sign, exponent, fraction."""
        words = data.draw(st.lists(_ibm_words(size), min_size=1, max_size=12))
        raw = b"".join(w.to_bytes(size, "big") for w in words)
        rec = _one_field(usage)
        out = DecodePlan.compile(rec).decode(
            np.frombuffer(raw, dtype=np.uint8).reshape(-1, size), 1,
            np.arange(len(words), dtype=np.int64))
        assert out.rejects.num_rows == 0
        decoded = np.asarray(out.batch.column("v").to_numpy())
        assert encode_float(decoded, size, "ibm").tobytes() == raw
        assert encode_column(rec.fields[0], decoded, DecodeOptions()).tobytes() == raw

    @SETTINGS
    @given(values=st.lists(st.floats(width=32, allow_nan=False, allow_infinity=False),
                           min_size=1, max_size=12),
           doubles=st.lists(st.floats(allow_nan=False, allow_infinity=False), min_size=12,
                            max_size=12))
    def test_ieee(self, values, doubles):
        """IEEE big-endian COMP-1 and COMP-2 give back every finite value."""
        rec = record("""
        01  REC.
            05  S  COMP-1.
            05  D  COMP-2.
        """)
        n = len(values)
        out = _roundtrip(rec, {"s": np.array(values), "d": np.array(doubles[:n])}, n,
                         DecodeOptions(float_format="ieee"))
        assert out.batch.column("s").to_pylist() == values
        assert out.batch.column("d").to_pylist() == doubles[:n]


EDITED = [("ZZZ,ZZ9.99-", 8, 2, True), ("$$$,$$9.99CR", 7, 2, True), ("+ZZ9", 3, 0, True),
          ("ZZ9.99DB", 5, 2, True), ("---,--9.99", 7, 2, True), ("***,**9.99", 8, 2, False),
          ("ZZ,ZZ9", 5, 0, False), ("99/99/99", 6, 0, False), ("+++9", 3, 0, True),
          ("9(5).99", 7, 2, False), ("ZZZZ", 4, 0, False)]


class TestEdited:
    @SETTINGS
    @given(data=st.data())
    def test_edited(self, data):
        """A value printed through each edited picture reads back as the same number."""
        rec = _fields([f"PIC {picture}" for picture, *_ in EDITED])
        bounds = [(-(10**d - 1) if signed else 0, 10**d - 1) for _, d, _, signed in EDITED]
        n, columns = _columns(data, bounds)
        out = _roundtrip(rec, {f"v{i}": np.array(c) for i, c in enumerate(columns)}, n)
        for i, (c, (_, _, scale, _)) in enumerate(zip(columns, EDITED)):
            assert [Decimal(v) for v in out.batch.column(f"v{i}").to_pylist()] == [
                _exact(v, scale) for v in c]


DATED = """
01  REC.
    05  D8   PIC 9(8).
    05  C7   PIC 9(7).
    05  J7   PIC 9(7) COMP-3.
    05  ISO  PIC X(10).
    05  B8   PIC S9(8) COMP.
"""
DATE_FORMATS = (("d8", "YYYYMMDD"), ("c7", "CYYMMDD"), ("j7", "YYYYDDD"), ("iso", "YYYY-MM-DD"),
                ("b8", "YYYYMMDD"))


class TestDates:
    @SETTINGS
    @given(dates=st.lists(st.dates(dt.date(1900, 1, 1), dt.date(2099, 12, 31)), min_size=1,
                          max_size=12))
    def test_every_format(self, dates):
        """Dates written in YYYYMMDD, CYYMMDD, YYYYDDD, YYYY-MM-DD and binary read back equal."""
        values = {
            "d8": np.array([d.year * 10000 + d.month * 100 + d.day for d in dates]),
            "c7": np.array([(d.year - 1900) * 10000 + d.month * 100 + d.day for d in dates]),
            "j7": np.array([d.year * 1000 + d.timetuple().tm_yday for d in dates]),
            "iso": np.array([d.isoformat() for d in dates]),
            "b8": np.array([d.year * 10000 + d.month * 100 + d.day for d in dates]),
        }
        out = _roundtrip(record(DATED), values, len(dates), DecodeOptions(dates=DATE_FORMATS))
        for name, _ in DATE_FORMATS:
            assert out.batch.column(name).to_pylist() == dates

    @SETTINGS
    @given(dates=st.lists(st.dates(dt.date(1, 1, 1), dt.date(9999, 12, 31)), min_size=1,
                          max_size=12))
    def test_four_digit_years_cover_the_calendar(self, dates):
        """YYYYMMDD reads any date from 0001-01-01 to 9999-12-31."""
        rec = _one_field("PIC 9(8)")
        values = np.array([d.year * 10000 + d.month * 100 + d.day for d in dates])
        out = _roundtrip(rec, {"v": values}, len(dates), DecodeOptions(dates=(("v", "YYYYMMDD"),)))
        assert out.batch.column("v").to_pylist() == dates


EVERYTHING = """
01  REC.
    05  T    PIC X(3).
    05  N    PIC N(2).
    05  Z1   PIC S9(3)V9.
    05  Z2   PIC S9(3) SIGN LEADING.
    05  Z3   PIC S9(3) SIGN LEADING SEPARATE.
    05  Z4   PIC S9(3) SIGN TRAILING SEPARATE.
    05  Z5   PIC 9(3)PP.
    05  Z6   PIC SVPP9(2).
    05  ZW   PIC S9(20).
    05  P1   PIC S9(5)V99 COMP-3.
    05  P2   PIC S9(31) COMP-3.
    05  P3   PIC S9(17)PP COMP-3.
    05  PU   PIC 9(4) COMP-3U.
    05  B2   PIC S9(4) COMP.
    05  B4   PIC 9(9) COMP.
    05  B8   PIC 9(18) COMP.
    05  B5   PIC S9(4) COMP-5.
    05  F1   COMP-1.
    05  F2   COMP-2.
    05  E1   PIC ZZ9.99-.
    05  E2   PIC $$,$$9.99CR.
    05  D    PIC 9(8).
    05  DT   PIC X(10).
    05  KIND PIC X.
    05  BODY.
        10  AMT  PIC S9(3) COMP-3.
    05  NOTE REDEFINES BODY PIC X(2).
    05  CNT  PIC 9.
    05  ITEMS OCCURS 0 TO 3 TIMES DEPENDING ON CNT.
        10  ITEM PIC S9(3) COMP-3.
    05  TAIL PIC X(2).
"""
ANY_OPTIONS = [
    DecodeOptions(),
    DecodeOptions(dates=(("d", "YYYYMMDD"), ("dt", "YYYY-MM-DD")),
                  branches=(Branch("BODY", "kind", ("B",)), Branch("NOTE", "kind", ("N",)))),
    DecodeOptions(encoding="ascii", float_format="ieee", strict_signs=True,
                  spaces_numeric="reject", low_values="reject", binary_range="pic", trim="both"),
    DecodeOptions(encoding="cp1140", odo="fixed", trim="left", low_values="keep",
                  dates=(("d", "YYYYMMDD"),)),
    DecodeOptions(encoding="cp273", trim="none", dates=(("dt", "DD.MM.YYYY"),)),
]


@st.composite
def _chunks(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray | None]:
    """A chunk of records: valid generated records with some bytes overwritten, or pure noise."""
    rec = record(EVERYTHING)
    n = draw(st.integers(0, 8))
    values = synthesize(rec, n, seed=draw(st.integers(0, 2**16)))
    rows = encode_records(rec, values, n)
    counts = (np.asarray(values["cnt"]),)
    rows, lengths = compact(rows, rec.odo, counts) if n else (rows, np.zeros(0, np.int64))
    for i in range(n):
        if draw(st.booleans()):
            noise = draw(st.binary(min_size=rec.size, max_size=rec.size))
            rows[i] = np.frombuffer(noise, dtype=np.uint8)
        for _ in range(draw(st.integers(0, 3))):
            rows[i, draw(st.integers(0, rec.size - 1))] = draw(st.integers(0, 255))
    if draw(st.booleans()):
        lengths = np.array([draw(st.integers(0, rec.size + 4)) for _ in range(n)], dtype=np.int64)
    elif draw(st.booleans()):
        lengths = None
    return rows, lengths


class TestNeverRaises:
    def test_empty_chunk(self):
        """Zero records synthesize, encode and decode to an empty batch."""
        rec = record(EVERYTHING)
        rows = encode_records(rec, synthesize(rec, 0), 0)
        out = DecodePlan.compile(rec).decode(rows, 1, np.zeros(0, dtype=np.int64))
        assert (out.batch.num_rows, out.rejects.num_rows) == (0, 0)

    @settings(max_examples=200, deadline=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(chunk=_chunks(), options=st.sampled_from(ANY_OPTIONS))
    def test_arbitrary_bytes(self, chunk, options):
        """Any bytes give rows and rejects, never an exception; written + rejected == read."""
        rows, lengths = chunk
        rec = record(EVERYTHING)
        plan = DecodePlan.compile(rec, options)
        n = rows.shape[0]
        offsets = np.arange(n, dtype=np.int64) * rec.size
        out = plan.decode(rows, 1, offsets, lengths)
        out.batch.validate(full=True)
        out.rejects.validate(full=True)
        assert out.batch.schema == plan.schema
        assert out.batch.num_rows + out.rejects.num_rows == n
        numbers = out.record_no.tolist() + out.rejects.column("record_no").to_pylist()
        assert sorted(numbers) == list(range(1, n + 1))
        assert all(reason for reason in out.rejects.column("reason").to_pylist())

    @settings(max_examples=100, deadline=None)
    @given(raw=st.lists(st.binary(min_size=0, max_size=120), min_size=1, max_size=6),
           options=st.sampled_from(ANY_OPTIONS))
    def test_pure_noise_of_any_length(self, raw, options):
        """Records of random bytes and random lengths decode without raising."""
        rec = record(EVERYTHING)
        rows = np.zeros((len(raw), rec.size), dtype=np.uint8)
        for i, r in enumerate(raw):
            part = np.frombuffer(r, dtype=np.uint8)[:rec.size]
            rows[i, :len(part)] = part
        lengths = np.array([len(r) for r in raw], dtype=np.int64)
        out = DecodePlan.compile(rec, options).decode(
            rows, 1, np.arange(len(raw), dtype=np.int64), lengths)
        assert out.batch.num_rows + out.rejects.num_rows == len(raw)
        assert pa.types.is_string(out.rejects.schema.field("raw_hex").type)
