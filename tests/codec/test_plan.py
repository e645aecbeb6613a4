"""DecodePlan: reject rows, REDEFINES branches, OCCURS DEPENDING ON and short records."""

from __future__ import annotations

import pickle
from decimal import Decimal

import numpy as np
import pyarrow as pa
import pytest

from mfpipe.codec import REJECT_SCHEMA, Branch, DecodeOptions, DecodePlan, Reason
from mfpipe.codec.encode import encode_records
from mfpipe.codec.odo import compact
from mfpipe.errors import ConfigError
from tests.codec.helpers import column, decode, matrix, record, reject, rejects

ACCOUNT = """
01  ACCOUNT-REC.
    05  ACCT-ID      PIC X(4).
    05  BALANCE      PIC S9(5)V99 COMP-3.
    05  TXN-COUNT    PIC 9(3).
"""


def _account(acct: str, balance_hex: str, count: str) -> bytes:
    return acct.encode("cp037") + bytes.fromhex(balance_hex) + count.encode("cp037")


class TestRejects:
    def test_one_bad_record_is_one_reject_row(self):
        """A bad record becomes one reject row with every attribute; the rest of the chunk
        decodes."""
        rows = [_account("A001", "0012345C", "001"), _account("A002", "00123457", "002"),
                _account("A003", "0000100D", "003")]
        rec = record(ACCOUNT)
        plan = DecodePlan.compile(rec)
        out = plan.decode(matrix(rows), 101, np.array([0, 1000, 2000], dtype=np.int64))
        assert out.rejects.schema == REJECT_SCHEMA
        assert out.rejects.to_pylist() == [{
            "record_no": 102, "byte_offset": 1000, "field": "BALANCE", "column": "balance",
            "field_offset": 4, "reason": Reason.PACKED_SIGN.text,
            "raw_hex": "C1F0F0F200123457F0F0F2"}]
        assert out.record_no.tolist() == [101, 103]
        assert column(out, "acct_id") == ["A001", "A003"]
        assert column(out, "balance") == [Decimal("123.45"), Decimal("-1.00")]

    def test_first_bad_field_is_named(self):
        """When several fields of a record are bad, the reject names the first one."""
        out = decode(ACCOUNT, [_account("A001", "FFFFFFFF", "0X1")])
        assert rejects(out) == [reject(1, "BALANCE", Reason.PACKED_DIGIT)]

    def test_reject_rows_of_several_records(self):
        """Each bad record gives its own row, in record order, with its own field and reason."""
        out = decode(ACCOUNT, [_account("A001", "0012345C", "0X1"),
                               _account("A002", "0012345C", "002"),
                               _account("A003", "00123450", "003")], first_record_no=7)
        assert rejects(out) == [reject(7, "TXN-COUNT", Reason.ZONED_DIGIT),
                                reject(9, "BALANCE", Reason.PACKED_SIGN)]
        assert out.record_no.tolist() == [8]
        assert out.rejects.column("byte_offset").to_pylist() == [0, 22]
        assert out.rejects.column("field_offset").to_pylist() == [8, 4]

    def test_written_plus_rejected_is_read(self):
        """Every record of a chunk is either a row or a reject, never both or neither."""
        rows = [_account(f"A{i:03d}", "0012345C" if i % 3 else "00123459", f"{i:03d}")
                for i in range(30)]
        out = decode(ACCOUNT, rows)
        assert out.batch.num_rows + out.rejects.num_rows == 30
        assert sorted(out.record_no.tolist() + out.rejects.column("record_no").to_pylist()) == \
            list(range(1, 31))

    def test_raw_hex_stops_at_the_record_length(self):
        """For variable-length records the reject's raw_hex holds only the record's own bytes."""
        out = decode(ACCOUNT, [_account("A001", "00123459", "")], lengths=[8])
        assert out.rejects.column("raw_hex").to_pylist() == ["C1F0F0F100123459"]

    def test_schema(self):
        """The batch follows the plan's schema: exact decimals, integers, strings."""
        plan = DecodePlan.compile(record(ACCOUNT))
        assert plan.schema.types == [pa.string(), pa.decimal128(7, 2), pa.int16()]
        assert decode(ACCOUNT, [_account("A001", "0012345C", "001")]).batch.schema == plan.schema

    def test_plan_pickles(self):
        """A plan crosses process boundaries: it pickles and decodes the same after."""
        plan = DecodePlan.compile(record(ACCOUNT), DecodeOptions(encoding="cp500"))
        again = pickle.loads(pickle.dumps(plan))
        rows = matrix([_account("A001", "0012345C", "001")])
        assert again.decode(rows, 1, np.zeros(1, np.int64)).batch == plan.decode(
            rows, 1, np.zeros(1, np.int64)).batch


REDEFINED = """
01  REC.
    05  KIND        PIC X.
    05  PAYMENT.
        10  AMOUNT  PIC S9(5) COMP-3.
    05  NOTE REDEFINES PAYMENT.
        10  TEXT    PIC X(3).
    05  TRAILER     PIC X(2).
"""


class TestRedefines:
    ROWS = (bytes.fromhex("D7") + bytes.fromhex("12345C") + "ZZ".encode("cp037"),
            "NABCZZ".encode("cp037"))
    BINDINGS = (Branch("PAYMENT", "kind", ("P",)), Branch("NOTE", "kind", ("N",)))

    def test_both_branches_get_columns(self):
        """Every field of every branch is a column, at the overlaid offset."""
        rec = record(REDEFINED)
        assert [(f.column, f.offset) for f in rec.fields] == [
            ("kind", 0), ("amount", 1), ("text", 1), ("trailer", 4)]
        assert rec.redefine_branches == ("PAYMENT", "NOTE")

    def test_discriminator_nulls_the_other_branch(self):
        """With Branch bindings the branch that does not apply is NULL and never rejects."""
        out = decode(REDEFINED, self.ROWS, branches=self.BINDINGS)
        assert rejects(out) == []
        assert column(out, "amount") == [12345, None]
        assert column(out, "text") == [None, "ABC"]
        assert column(out, "trailer") == ["ZZ", "ZZ"]

    def test_applying_branch_still_rejects(self):
        """Invalid bytes in the branch that applies are a reject naming its field."""
        rows = ["PABCZZ".encode("cp037")]
        out = decode(REDEFINED, rows, branches=self.BINDINGS)
        assert rejects(out) == [reject(1, "AMOUNT", Reason.PACKED_DIGIT)]

    def test_unknown_discriminator_value_nulls_both(self):
        """A record type no binding names gets NULL in both bound branches."""
        out = decode(REDEFINED, ["XABCZZ".encode("cp037")], branches=self.BINDINGS)
        assert rejects(out) == []
        assert column(out, "amount") == [None]
        assert column(out, "text") == [None]

    def test_unbound_branches_read_invalid_bytes_as_null(self):
        """Without bindings both branches decode; bytes invalid under a reading are NULL there."""
        out = decode(REDEFINED, self.ROWS)
        assert rejects(out) == []
        assert column(out, "amount") == [12345, None]
        assert column(out, "text")[1] == "ABC"

    def test_numeric_discriminator(self):
        """A numeric record-type field binds by its decoded value written as text."""
        out = decode("""
        01  REC.
            05  REC-TYPE  PIC 9.
            05  A.
                10  N     PIC S9(3) COMP-3.
            05  B REDEFINES A.
                10  T     PIC X(2).
        """, [bytes.fromhex("F1123C"), bytes.fromhex("F2C1C2")],
            branches=(Branch("A", "rec_type", ("1",)), Branch("B", "rec_type", ("2",))))
        assert column(out, "n") == [123, None]
        assert column(out, "t") == [None, "AB"]

    @pytest.mark.parametrize("body, binding, fragment", [
        ("01  REC.\n    05  BODY.\n        10  AMT PIC S9(3) COMP-3.\n    05  NOTE REDEFINES "
         "BODY PIC X(2).\n    05  KIND PIC X.", Branch("BODY", "kind", ("B",)), "come before"),
        ("01  REC.\n    05  BODY.\n        10  AMT PIC S9(3) COMP-3.\n    05  NOTE REDEFINES "
         "BODY PIC X(2).", Branch("BODY", "amt", ("1",)), "outside it"),
        ("01  REC.\n    05  KIND PIC 9.\n    05  BODY.\n        10  AMT PIC S9(3) COMP-3.\n"
         "    05  NOTE REDEFINES BODY PIC X(2).", Branch("BODY", "kind", ("B",)),
         "not values of kind"),
    ])
    def test_discriminator_placement_and_type(self, body, binding, fragment):
        """A discriminator after or inside its branch, or values not of its type, are a
        configuration error when the plan is compiled (they were a KeyError or ArrowInvalid
        in a processor)."""
        with pytest.raises(ConfigError, match=fragment):
            DecodePlan.compile(record(body), DecodeOptions(branches=(binding,)))

    def test_a_segment_load_has_its_own_columns_and_records(self):
        """A segment load keeps the columns outside the bound branches and its own; the
        other segment's records are neither rows nor rejects (they are that segment's)."""
        rows = [*self.ROWS, "NDEFZZ".encode("cp037")]
        payments = decode(REDEFINED, rows, branches=self.BINDINGS, segment="PAYMENT")
        assert payments.batch.schema.names == ["kind", "amount", "trailer"]
        assert payments.record_no.tolist() == [1] and column(payments, "amount") == [12345]
        assert payments.elsewhere.tolist() == [2, 3] and rejects(payments) == []
        notes = decode(REDEFINED, rows, branches=self.BINDINGS, segment="NOTE")
        assert notes.batch.schema.names == ["kind", "text", "trailer"]
        assert column(notes, "text") == ["ABC", "DEF"] and notes.elsewhere.tolist() == [1]

    def test_a_record_of_no_segment_is_a_reject_of_each(self):
        """A record whose discriminator names no bound segment is never in no table
        unseen: every segment's load rejects it, naming the discriminator."""
        rows = ["XABCZZ".encode("cp037"), "NABCZZ".encode("cp037")]
        for segment in ("PAYMENT", "NOTE"):
            out = decode(REDEFINED, rows, branches=self.BINDINGS, segment=segment)
            assert rejects(out) == [reject(1, "KIND", Reason.NO_SEGMENT)]

    def test_a_record_of_another_segment_with_bad_bytes_is_not_this_loads_reject(self):
        """Bad bytes in a record of another segment are that segment's reject only."""
        rows = ["PABCZZ".encode("cp037"), "NABCZZ".encode("cp037")]
        notes = decode(REDEFINED, rows, branches=self.BINDINGS, segment="NOTE")
        assert rejects(notes) == [] and notes.elsewhere.tolist() == [1]
        payments = decode(REDEFINED, rows, branches=self.BINDINGS, segment="PAYMENT")
        assert rejects(payments) == [reject(1, "AMOUNT", Reason.PACKED_DIGIT)]

    def test_a_segment_must_be_bound(self):
        with pytest.raises(ConfigError, match="not a branch bound with --branch"):
            DecodePlan.compile(record(REDEFINED), DecodeOptions(branches=self.BINDINGS[:1],
                                                                segment="NOTE"))

    @pytest.mark.parametrize("binding, named", [
        (Branch("NOPE", "kind", ("P",)), "NOPE"), (Branch("NOTE", "nope", ("P",)), "nope")])
    def test_bad_binding_is_a_config_error(self, binding, named):
        """A binding naming an unknown branch or column fails when the plan is compiled."""
        with pytest.raises(ConfigError) as info:
            DecodePlan.compile(record(REDEFINED), DecodeOptions(branches=(binding,)))
        assert named in info.value.message


ODO = """
01  REC.
    05  CNT        PIC S9(3) COMP-3.
    05  ITEMS OCCURS 0 TO 4 TIMES DEPENDING ON CNT.
        10  CODE   PIC X(2).
        10  QTY    PIC S9(3) COMP-3.
    05  TAIL       PIC X(3).
"""


def _odo_values(counts: list[int]) -> dict[str, object]:
    n = len(counts)
    values: dict[str, object] = {"cnt": np.array(counts),
                                 "tail": np.array([f"T{i:02d}" for i in range(n)])}
    for i in range(1, 5):
        values[f"code_{i}"] = np.array([f"C{i}"] * n)
        values[f"qty_{i}"] = np.array([-10 * i] * n)
    return values


class TestOccursDependingOn:
    def test_layout_at_maximum(self):
        """The layout places the table at its maximum; TAIL sits after four elements."""
        rec = record(ODO)
        assert rec.size == 2 + 4 * 4 + 3
        assert rec.field("tail").offset == 18
        assert rec.odo[0].max_count == 4 and rec.odo[0].min_count == 0

    def test_variable_records_shift_later_fields(self):
        """odo="variable": TAIL follows the elements a record holds; the rest are NULL."""
        rec = record(ODO)
        counts = [0, 1, 3, 4]
        full = encode_records(rec, _odo_values(counts), len(counts))
        rows, lengths = compact(full, rec.odo, (np.array(counts),))
        assert lengths.tolist() == [5, 9, 17, 21]
        out = DecodePlan.compile(rec).decode(rows, 1, np.arange(4, dtype=np.int64), lengths)
        assert rejects(out) == []
        assert column(out, "tail") == ["T00", "T01", "T02", "T03"]
        assert column(out, "code_1") == [None, "C1", "C1", "C1"]
        assert column(out, "qty_3") == [None, None, -30, -30]
        assert column(out, "code_4") == [None, None, None, "C4"]

    def test_a_filler_table_still_shifts_what_follows(self):
        """A FILLER variable table loads no column, but the fields after it move with its
        count (they used to be read at the maximum offset: NULL on every record)."""
        rec = record("""
        01  REC.
            05  N  PIC 9.
            05  FILLER OCCURS 0 TO 3 DEPENDING ON N PIC X(2).
            05  Z  PIC X.
        """)
        data = [b"1AAZ", b"0Y", b"2AABBX", b"4AABBCCDDW"]
        out = decode(rec, [d.decode().encode("cp037") for d in data],
                     lengths=[len(d) for d in data])
        assert column(out, "z") == ["Z", "Y", "X"]
        assert [r[0] for r in rejects(out)] == [4]

    def test_occurs_n_depending_on_holds_0_to_n(self):
        """OCCURS n DEPENDING ON (no m TO): counts 0..n are read, more is a reject."""
        rec = record("""
        01  REC.
            05  N  PIC 9.
            05  T  OCCURS 3 DEPENDING ON N PIC X.
            05  Z  PIC X.
        """)
        assert (rec.odo[0].min_count, rec.odo[0].max_count) == (0, 3)
        data = [b"0Z", b"1AZ", b"3ABCZ", b"4ABCDZ"]
        out = decode(rec, [d.decode().encode("cp037") for d in data],
                     lengths=[len(d) for d in data])
        assert column(out, "z") == ["Z", "Z", "Z"]
        assert column(out, "t_1") == [None, "A", "A"]
        assert [r[0] for r in rejects(out)] == [4]

    def test_variable_records_built_by_hand(self):
        """A hand-built record with two elements puts TAIL right behind them."""
        data = bytes.fromhex("002C") + "AA".encode("cp037") + bytes.fromhex("001C") + \
            "BB".encode("cp037") + bytes.fromhex("002D") + "END".encode("cp037")
        out = decode(ODO, [data], lengths=[len(data)])
        assert column(out, "qty_2") == [-2]
        assert column(out, "code_3") == [None]
        assert column(out, "tail") == ["END"]

    def test_fixed_layout(self):
        """odo="fixed": the table always takes its maximum; elements past the count are NULL."""
        rec = record(ODO)
        counts = [1, 4]
        full = encode_records(rec, _odo_values(counts), 2)
        out = DecodePlan.compile(rec, DecodeOptions(odo="fixed")).decode(
            full, 1, np.array([0, 21], dtype=np.int64))
        assert column(out, "tail") == ["T00", "T01"]
        assert column(out, "code_2") == [None, "C2"]

    @pytest.mark.parametrize("count_hex", ["005C", "999C", "001D"])
    def test_count_out_of_range_is_a_reject(self, count_hex):
        """A count beyond the maximum (or below the minimum) rejects the record at the counter."""
        data = bytes.fromhex(count_hex) + bytes(16) + "END".encode("cp037")
        out = decode(ODO, [data], odo="fixed")
        assert rejects(out) == [reject(1, "CNT", Reason.ODO_COUNT)]

    def test_invalid_count_is_a_reject(self):
        """A counter that is not a number at all also rejects the record at the counter."""
        data = bytes.fromhex("4040") + "END".encode("cp037")
        out = decode(ODO, [data], lengths=[5])
        assert rejects(out) == [reject(1, "CNT", Reason.ODO_COUNT)]

    def test_reject_shows_the_records_own_bytes(self):
        """raw_hex of a shifted ODO record is the record as read, not the normalized layout."""
        data = bytes.fromhex("001C") + "AA".encode("cp037") + bytes.fromhex("001C") + \
            bytes.fromhex("C500C4") + bytes.fromhex("40") * 12  # padded to the maximum size
        out = decode(ODO, [data], low_values="reject")
        assert rejects(out) == [reject(1, "TAIL", Reason.LOW_VALUES)]
        assert out.rejects.column("raw_hex").to_pylist() == [data.hex().upper()]


class TestShortRecords:
    LAYOUT = """
    01  REC.
        05  A  PIC X(2).
        05  B  PIC S9(3) COMP-3.
        05  C  PIC X(3).
    """

    def test_absent_fields_are_null(self):
        """Fields past a short record's end are NULL, never rejects (zero-padding is not data);
        a text field the record ends inside keeps its bytes (the rest reads as spaces, as
        producers that drop trailing blanks mean it)."""
        rows = ["AB".encode("cp037"), "AB".encode("cp037") + bytes.fromhex("123C"),
                "AB".encode("cp037") + bytes.fromhex("123C") + "X".encode("cp037"),
                "AB".encode("cp037") + bytes.fromhex("123C") + "XYZ".encode("cp037"), b""]
        out = decode(self.LAYOUT, rows, lengths=[len(r) for r in rows])
        assert rejects(out) == []
        assert column(out, "a") == ["AB", "AB", "AB", "AB", None]
        assert column(out, "b") == [None, 123, 123, 123, None]
        assert column(out, "c") == [None, None, "X", "XYZ", None]

    def test_a_key_the_record_ends_inside_is_a_reject(self):
        """Part of a key is not kept (it would merge into another row): TRUNCATED."""
        rows = ["AB".encode("cp037") + bytes.fromhex("123C") + "X".encode("cp037")]
        out = decode(self.LAYOUT, rows, lengths=[5], required=("c",))
        assert rejects(out) == [reject(1, "C", Reason.TRUNCATED)]

    def test_a_record_ending_inside_a_number_is_a_reject(self):
        """Half a packed field is not a number: the record is a reject naming the field."""
        rows = ["AB".encode("cp037") + bytes.fromhex("12")]
        out = decode(self.LAYOUT, rows, lengths=[3])
        assert rejects(out) == [reject(1, "B", Reason.TRUNCATED)]

    def test_longer_records_ignore_the_excess(self):
        """Bytes beyond the layout's size are ignored."""
        rows = ["AB".encode("cp037") + bytes.fromhex("123C") + "XYZ".encode("cp037") + b"\xff" * 4]
        out = decode(self.LAYOUT, rows, lengths=[11])
        assert column(out, "c") == ["XYZ"]
        assert rejects(out) == []


class TestInvalidNumeric:
    LAYOUT = """
    01  REC.
        05  K  PIC 9(3).
        05  A  PIC S9(3) COMP-3.
        05  B  PIC 9(2).
        05  T  PIC X(2).
    """

    def _rows(self) -> list[bytes]:
        good = "001".encode("cp037") + bytes.fromhex("123C") + "45AB".encode("cp037")
        bad_a = "002".encode("cp037") + bytes.fromhex("FF0C") + "45AB".encode("cp037")
        bad_ab = "003".encode("cp037") + b"\x00\x00" + b"\x00\x00" + "AB".encode("cp037")
        bad_key = b"\x00\x00\x00" + bytes.fromhex("123C") + "45AB".encode("cp037")
        return [good, bad_a, bad_ab, bad_key]

    def test_null_keeps_the_record_and_counts_per_column(self):
        """invalid_numeric="null": invalid numerics are NULL, counted per column; a required
        column (a key) stays a reject, and its record is not counted."""
        out = decode(self.LAYOUT, self._rows(), invalid_numeric="null", required=("k",))
        assert column(out, "k") == [1, 2, 3]
        assert column(out, "a") == [123, None, None]
        assert column(out, "b") == [45, 45, None]
        assert dict(out.nulled) == {"a": 2, "b": 1}
        assert [r[:2] for r in rejects(out)] == [(4, "K")]

    def test_a_bad_date_stays_a_reject(self):
        """A column read as a date is not an invalid numeric: a bad date rejects its record
        even with invalid_numeric="null"."""
        rows = ["001".encode("cp037") + bytes.fromhex("123C") + "45AB".encode("cp037")]
        out = decode(self.LAYOUT, rows, invalid_numeric="null", dates=(("k", "YYYYMMDD"),))
        assert [r[:2] for r in rejects(out)] == [(1, "K")] and out.nulled == ()

    def test_reject_by_default(self):
        """By default the same records are rejects and nothing is nulled."""
        out = decode(self.LAYOUT, self._rows())
        assert [r[:2] for r in rejects(out)] == [(2, "A"), (3, "A"), (4, "K")]
        assert out.nulled == ()
