"""The layout model: what a copybook says about the bytes of a record, and nothing about decoding.

Fields are small frozen values; facts derived from them (Arrow type, precision) are properties,
so there is one place that decides, for instance, that ``S9(7)V99 COMP-3`` is ``decimal128(9, 2)``.
Decoders live in :mod:`mfpipe.codec` and are chosen from ``(category, usage)``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import pyarrow as pa

from mfpipe.errors import LayoutError

LENGTH_KEY = b"mfpipe.max_length"  # Arrow field metadata: the most characters a string holds


class Usage(enum.Enum):
    """How a field's value is stored (the COBOL USAGE clause, synonyms folded)."""

    DISPLAY = "DISPLAY"
    COMP = "COMP"  # COMP, COMP-4, BINARY: big-endian two's complement
    COMP_5 = "COMP_5"  # native binary, full range regardless of PIC digits
    COMP_1 = "COMP_1"  # 4-byte floating point (IBM hex or IEEE)
    COMP_2 = "COMP_2"  # 8-byte floating point
    COMP_3 = "COMP_3"  # packed decimal
    COMP_3U = "COMP_3U"  # packed digits without a sign nibble (Cobrix's COMP-3U)
    NATIONAL = "NATIONAL"  # PIC N, UTF-16 big-endian


class Category(enum.Enum):
    """What a field's picture says the value is."""

    ALPHANUMERIC = "ALPHANUMERIC"
    NUMERIC = "NUMERIC"
    NUMERIC_EDITED = "NUMERIC_EDITED"
    NATIONAL = "NATIONAL"
    FLOAT = "FLOAT"


class SignPosition(enum.Enum):
    """Where a DISPLAY numeric keeps its sign."""

    NONE = "NONE"
    TRAILING = "TRAILING"  # overpunched in the zone of the last byte (the default)
    LEADING = "LEADING"  # overpunched in the zone of the first byte
    TRAILING_SEPARATE = "TRAILING_SEPARATE"  # an extra '+'/'-' byte after the digits
    LEADING_SEPARATE = "LEADING_SEPARATE"  # an extra '+'/'-' byte before the digits


@dataclass(frozen=True, slots=True)
class Condition:
    """A level-88 condition name: the values a field is allowed (or expected) to hold."""

    name: str
    values: tuple[str, ...] = ()
    ranges: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True, slots=True)
class OccursDependingOn:
    """A variable table: ``count_column`` says how many of ``max_count`` elements a record holds."""

    count_column: str
    offset: int  # byte offset of the first element
    element_size: int
    max_count: int
    min_count: int


@dataclass(frozen=True, slots=True)
class Field:
    """One loaded, elementary column of a record, with its place in the record's bytes."""

    name: str  # the COBOL data name, e.g. ACCT-BALANCE
    column: str  # the column name, e.g. acct_balance_2
    level: int
    offset: int  # bytes from the start of the record (ODO tables at their maximum size)
    size: int  # bytes
    usage: Usage
    category: Category
    picture: str = ""
    digits: int = 0  # stored digit positions (numeric) or characters (text)
    scale: int = 0  # decimal places; negative for P positions right of the digits
    signed: bool = False
    sign_position: SignPosition = SignPosition.NONE
    occurs: tuple[int, ...] = ()  # 1-based indices within enclosing OCCURS tables
    redefines: tuple[str, ...] = ()  # the overlay branches (item names) this field lies in
    redefining: bool = False  # lies under an item with a REDEFINES clause (not the base branch)
    odo: OccursDependingOn | None = None  # set when the field is an element of a variable table
    conditions: tuple[Condition, ...] = ()
    justified: bool = False
    blank_when_zero: bool = False
    line_no: int = 0

    @property
    def precision(self) -> int:
        """Decimal digits of the value, counting P scaling positions on either side.

        Binary fields hold their full storage range, so their stored digits follow the size;
        ``S9(3)PPP COMP`` holds up to 32767 x 1000, eight digits.
        """
        stored = self.digits
        if self.usage in (Usage.COMP, Usage.COMP_5):
            stored = _BINARY_CAPACITY[(self.size, self.signed)]
        if self.scale < 0:
            return stored - self.scale
        return max(stored, self.scale)

    @property
    def arrow_field(self) -> pa.Field:
        """The Arrow field of the column; strings carry their maximum length as metadata."""
        length = self.size // 2 if self.category is Category.NATIONAL else self.size
        metadata = {LENGTH_KEY: str(length)} if pa.types.is_string(self.arrow_type) else None
        return pa.field(self.column, self.arrow_type, nullable=True, metadata=metadata)

    @property
    def arrow_type(self) -> pa.DataType:
        """The exact Arrow type of the decoded values (never float for decimal data)."""
        if self.category in (Category.ALPHANUMERIC, Category.NATIONAL):
            return pa.string()
        if self.category is Category.FLOAT:
            return pa.float64()
        precision = self.precision
        if precision > 38:
            raise LayoutError(self.name, f"{precision} digits exceed decimal128's 38")
        if self.scale > 0:
            return pa.decimal128(precision, self.scale)
        if self.usage in (Usage.COMP, Usage.COMP_5) and self.scale == 0:
            return _BINARY_TYPES.get((self.size, self.signed), pa.decimal128(precision, 0))
        for limit, integer_type in ((4, pa.int16()), (9, pa.int32()), (18, pa.int64())):
            if precision <= limit:
                return integer_type
        return pa.decimal128(precision, 0)


# Binary fields hold their full storage range (TRUNC(BIN), COMP-5), so the type follows the size.
_BINARY_CAPACITY = {(2, True): 5, (2, False): 5, (4, True): 10, (4, False): 10,
                    (8, True): 19, (8, False): 20}
_BINARY_TYPES = {(2, True): pa.int16(), (2, False): pa.int32(), (4, True): pa.int32(),
                 (4, False): pa.int64(), (8, True): pa.int64()}


@dataclass(frozen=True, slots=True)
class RecordLayout:
    """One 01-level record: its loaded fields in offset order and its size in bytes."""

    name: str  # the 01-level COBOL name
    table: str  # the table name derived from it
    size: int  # bytes, variable tables at their maximum
    fields: tuple[Field, ...]
    redefine_branches: tuple[str, ...] = ()
    renames: dict[str, tuple[str, str]] = field(default_factory=dict)
    source: str = ""
    # every variable table, a FILLER one too (it loads no column, but the fields after it
    # shift with its count); empty: derived from the fields
    tables: tuple[OccursDependingOn, ...] = ()

    @property
    def odo(self) -> tuple[OccursDependingOn, ...]:
        """The variable tables of the record, in offset order (empty for fixed layouts)."""
        if self.tables:
            return self.tables
        seen: dict[int, OccursDependingOn] = {}
        for f in self.fields:
            if f.odo is not None:
                seen.setdefault(f.odo.offset, f.odo)
        return tuple(seen[k] for k in sorted(seen))

    @property
    def binary_fields(self) -> tuple[Field, ...]:
        """Fields whose bytes are not characters (binary, packed, floating point, national):
        any byte value, a newline's included, may appear in them."""
        return tuple(f for f in self.fields if f.usage is not Usage.DISPLAY)

    @property
    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema of the decoded record batch."""
        return pa.schema([f.arrow_field for f in self.fields])

    def field(self, column: str) -> Field:
        """The field with this column name (or COBOL name)."""
        for f in self.fields:
            if column in (f.column, f.name):
                return f
        raise LayoutError(self.name, f"no field named {column!r}")


@dataclass(frozen=True, slots=True)
class Layout:
    """All records of one copybook, in declaration order."""

    path: str
    records: tuple[RecordLayout, ...]

    def record(self, name: str | None = None) -> RecordLayout:
        """The record named ``name`` (COBOL or table name), or the first record."""
        if name is None:
            return self.records[0]
        for record in self.records:
            if name in (record.name, record.table) or name.upper() == record.name:
                return record
        known = ", ".join(r.name for r in self.records)
        raise LayoutError(self.path, f"no record named {name!r} (records: {known})")
