"""No third outcome: for every field kind, bytes either decode to a value that re-encodes to the
same bytes (after the documented normalisation), or the record is a reject.

A value that decodes, loads and reconciles but is not what the bytes say would pass every
check downstream, so this is the property that keeps wrong values out of the tables. The
documented normalisations are the ones the encoder cannot reproduce because they carry no
information: the preferred sign (C/D zone and nibble, F for unsigned; IBM hardware also reads
A/E as plus and B as minus), minus zero written as plus zero, trailing spaces of text, and
LOW-VALUES (and PIC N's ideographic space) read as spaces by default.
Edited fields are normalised by printing: their bytes must hold exactly the digits and point
of the value (a reference reading in Python, independent of the vectorized decoder).
"""

from __future__ import annotations

import re
from decimal import Decimal

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mfpipe.codec import DecodeOptions, DecodePlan
from mfpipe.codec.encode import encode_column
from mfpipe.layout import Category, Field, RecordLayout, SignPosition, Usage
from tests.codec.helpers import record

SETTINGS = settings(max_examples=150, deadline=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
_ZONED_BYTES = list(range(0xF0, 0xFA)) + list(range(0xC0, 0xCA)) + list(range(0xD0, 0xDA)) + [
    0xA3, 0xB5, 0xE7, 0x40, 0x4E, 0x60, 0x00, 0xFA, 0x5A]
_EDITED_TEXT = "0123456789 .,+-$*CRDB/"

KINDS = {
    "zoned": ["PIC S9(5)V99", "PIC S9(5) SIGN LEADING", "PIC S9(4) SIGN LEADING SEPARATE",
              "PIC S9(3)V9 SIGN TRAILING SEPARATE", "PIC 9(5)", "PIC S9(3)PP", "PIC SVPP9(3)",
              "PIC 9(2)PPP", "PIC S9(20)V9"],
    "packed": ["PIC S9(7)V99 COMP-3", "PIC 9(4) COMP-3", "PIC S9(3)PPP COMP-3",
               "PIC SVPP99 COMP-3", "PIC S9(20) COMP-3", "PIC 9(5) COMP-3U", "PIC S9(4) COMP-3"],
    "binary": ["PIC S9(4) COMP", "PIC 9(9) COMP-4", "PIC S9(3)PPP COMP", "PIC SVPP99 BINARY",
               "PIC 9(18) COMP-5", "PIC S9(7)V99 COMP", "PIC 9(4)PP COMP", "PIC S9(18) COMP"],
    "float": ["COMP-1", "COMP-2"],
    "text": ["PIC X(4)", "PIC N(3)"],
    "edited": ["PIC ZZZ,ZZ9.99-", "PIC $$$,$$9.99CR", "PIC +ZZ9", "PIC ZZ9.99DB",
               "PIC ---,--9.99", "PIC ***,**9.99", "PIC ZZ,ZZ9", "PIC 99/99/99", "PIC +++9",
               "PIC 9(5).99", "PIC ZZZZ", "PIC ZZ9V99", "PIC 9(4).9(2)"],
}


def _record(clause: str) -> RecordLayout:
    return record(f"""
    01  REC.
        05  V  {clause}.
    """)


def _raw(kind: str, field: Field) -> st.SearchStrategy[bytes]:
    """Bytes of one field: noise, bytes drawn from what the kind usually holds, or a valid
    encoding with a few bytes changed (so that many records are accepted, and the property
    is tested on them)."""
    size = field.size
    noise = st.binary(min_size=size, max_size=size)
    if kind in ("float", "text", "binary"):
        return noise  # nearly every byte pattern is a value
    if kind == "zoned":
        alphabet = st.sampled_from(_ZONED_BYTES)
    elif kind == "edited":
        alphabet = st.sampled_from(_EDITED_TEXT).map(lambda c: c.encode("cp037")[0])
    else:  # packed: nibbles, mostly digits
        nibble = st.one_of(st.integers(0, 9), st.integers(0, 15))
        alphabet = st.tuples(nibble, nibble).map(lambda p: p[0] << 4 | p[1])
    likely = st.lists(alphabet, min_size=size, max_size=size).map(bytes)
    return st.one_of(noise, likely, _mutated(field, alphabet), _mutated(field, alphabet))


@st.composite
def _mutated(draw: st.DrawFn, field: Field, alphabet: st.SearchStrategy[int]) -> bytes:
    """A value in the picture's range written by the encoder, then 0-2 bytes overwritten."""
    top = 10 ** field.digits - 1
    value = draw(st.integers(-top if field.signed else 0, top))
    data = bytearray(encode_column(field, np.array([value], dtype=object),
                                   DecodeOptions()).tobytes())
    if field.category is Category.NUMERIC_EDITED and draw(st.booleans()):
        data = bytearray(_justified(data, field.size, draw(st.booleans())))
    for _ in range(draw(st.integers(0, 2))):
        data[draw(st.integers(0, field.size - 1))] = draw(alphabet)
    return bytes(data)


def _justified(data: bytearray, size: int, left: bool) -> bytes:
    """Printed text moved to the left or right edge, as producers other than COBOL write it."""
    text = bytes(data).strip(b"\x40")
    return text.ljust(size, b"\x40") if left else text.rjust(size, b"\x40")


def _unscaled(value: object, field: Field) -> int:
    """The stored integer of a decoded number (P positions right of the digits divide out)."""
    exact = Decimal(str(value)).scaleb(field.scale)
    assert exact == exact.to_integral_value(), (value, field.picture)
    return int(exact)


def _normalised(raw: bytes, field: Field, value: object) -> bytes:
    """``raw`` with the documented normalisation applied: preferred signs, plus zero."""
    data = bytearray(raw)
    zero = value is not None and Decimal(str(value)) == 0
    if field.usage in (Usage.COMP_3,):
        sign = data[-1] & 0xF
        preferred = 0xF if not field.signed else 0xD if sign in (0xB, 0xD) and not zero else 0xC
        data[-1] = data[-1] & 0xF0 | preferred
    elif field.usage is Usage.DISPLAY and field.category is Category.NUMERIC:
        position = field.sign_position
        if position in (SignPosition.LEADING_SEPARATE, SignPosition.TRAILING_SEPARATE):
            at = 0 if position is SignPosition.LEADING_SEPARATE else -1
            if zero:
                data[at] = 0x4E
        else:
            at = 0 if position is SignPosition.LEADING else -1
            zone = data[at] >> 4
            preferred = 0xF if not field.signed else 0xD if zone in (0xB, 0xD) and not zero \
                else 0xC
            data[at] = preferred << 4 | data[at] & 0xF
    return bytes(data)


def _read_edited(text: str, field: Field) -> Decimal:
    """A reference reading of edited text: its digits at its own point, its sign."""
    digits = re.sub(r"[^0-9.]", "", text)
    number = Decimal(digits) if digits.strip(".") else Decimal(0)
    if "." not in text:  # only pictures with an implied point print none
        number = number.scaleb(-field.scale)
    return -number if ("-" in text or "CR" in text or "DB" in text) else number


def _check(rec: RecordLayout, raw: bytes, value: object) -> None:
    """An accepted value is exactly what the bytes say."""
    field, options = rec.fields[0], DecodeOptions()
    if field.category is Category.NUMERIC_EDITED:
        text = raw.decode("cp037")
        if value is None:  # all spaces: NULL by default (documented), never a number
            assert text.strip() == ""
            return
        assert Decimal(str(value)) == _read_edited(text, field), (text, value)
        again = encode_column(field, [_unscaled(value, field)], options).tobytes()
        assert again.decode("cp037").strip() != "" or Decimal(str(value)) == 0
        return
    if field.category is Category.FLOAT:
        again = encode_column(field, np.array([value], dtype=np.float64), options)
        back = DecodePlan.compile(rec).decode(again, 1, np.zeros(1, np.int64))
        assert back.batch.column("v").to_pylist() == [value]
        return
    if field.category in (Category.ALPHANUMERIC, Category.NATIONAL):
        again = encode_column(field, [value], options).tobytes()
        if field.category is Category.NATIONAL:
            assert again == _pad_national(raw)
        else:
            assert again.rstrip(b"\x40") == raw.replace(b"\x00", b"\x40").rstrip(b"\x40")
        return
    if value is None:  # all spaces: NULL by default (documented), never a number
        assert raw == b"\x40" * len(raw)
        return
    again = encode_column(field, np.array([_unscaled(value, field)], dtype=object), options)
    assert again.tobytes() == _normalised(raw, field, value), (raw.hex(), value)


def _pad_national(raw: bytes) -> bytes:
    """UTF-16 text loses its trailing spaces on decode; the encoder pads with them again."""
    spaces = {b"\x00\x00": b"\x00\x20", b"\x30\x00": b"\x00\x20"}
    units = [spaces.get(raw[i:i + 2], raw[i:i + 2]) for i in range(0, len(raw), 2)]
    while units and units[-1] == b"\x00\x20":
        units.pop()
    return b"".join(units) + b"\x00\x20" * (len(raw) // 2 - len(units))


@pytest.mark.parametrize("clause", [c for clauses in KINDS.values() for c in clauses])
@SETTINGS
@given(data=st.data())
def test_bytes_decode_to_what_they_say_or_reject(clause, data):
    """Every record of random bytes is a reject or a value that re-encodes to its bytes."""
    rec = _record(clause)
    field = rec.fields[0]
    kind = next(k for k, clauses in KINDS.items() if clause in clauses)
    raws = data.draw(st.lists(_raw(kind, field), min_size=1, max_size=16))
    rows = np.frombuffer(b"".join(raws), dtype=np.uint8).reshape(len(raws), field.size)
    plan = DecodePlan.compile(rec)
    out = plan.decode(rows, 1, np.arange(len(raws), dtype=np.int64) * field.size)
    assert out.batch.num_rows + out.rejects.num_rows == len(raws)
    for record_no, value in zip(out.record_no.tolist(), out.batch.column("v").to_pylist()):
        _check(rec, raws[record_no - 1], value)
