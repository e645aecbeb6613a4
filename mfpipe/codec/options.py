"""Per-file decode options: code page, trimming, null and low-value policies, float format."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from mfpipe.errors import ConfigError

Trim = Literal["right", "left", "both", "none"]
_DATE_FORMATS = ("YYYYMMDD", "YYMMDD", "CYYMMDD", "YYYYDDD", "YYDDD", "MMDDYYYY", "DDMMYYYY",
                 "YYYY-MM-DD", "DD.MM.YYYY", "MM/DD/YYYY", "DD/MM/YYYY")


@dataclass(frozen=True, slots=True)
class Branch:
    """Binds a REDEFINES branch to a discriminator: the branch applies where column in values."""

    branch: str
    column: str
    values: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Parent:
    """A hierarchical file's segments: each record of segment ``child`` belongs to the
    nearest record of segment ``parent`` before it, whose record number and ``key`` columns
    its rows carry (``parent_record_no``, ``parent_<key>``)."""

    child: str
    parent: str
    key: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DecodeOptions:
    """How to read the bytes of one file; every field has a safe, documented default."""

    encoding: str = "cp037"
    trim: Trim = "right"
    spaces_numeric: Literal["null", "reject"] = "null"  # an all-spaces numeric field
    low_values: Literal["space", "reject", "keep"] = "space"  # 0x00 in text fields
    float_format: Literal["ibm", "ieee"] = "ibm"
    strict_signs: bool = False  # reject the A, B, E sign nibbles/zones (accept C, D, F only)
    binary_range: Literal["full", "pic"] = "full"  # "pic" rejects values beyond the PIC digits
    odo: Literal["variable", "fixed"] = "variable"  # do fields after an ODO table shift?
    dates: tuple[tuple[str, str], ...] = ()  # (column, format), e.g. ("open_date", "YYYYMMDD")
    branches: tuple[Branch, ...] = field(default=())
    required: tuple[str, ...] = ()  # columns that must have a value (a key): NULL is a reject
    # an invalid numeric field (LOW-VALUES, garbage): the record is a reject, or (opt-in) the
    # field loads as NULL, counted per column, and the record is kept
    invalid_numeric: Literal["reject", "null"] = "reject"
    # a segment load: only the records of this bound branch, with the columns outside every
    # bound branch and the branch's own (the other segments' records go to their own tables)
    segment: str | None = None
    parents: tuple[Parent, ...] = ()  # the segments' hierarchy (see Parent)

    def __post_init__(self) -> None:
        from mfpipe.codec.charsets import charset

        charset(self.encoding)  # an unknown code page is a configuration error, raised now
        if self.invalid_numeric not in ("reject", "null"):
            raise ConfigError(f"invalid_numeric {self.invalid_numeric!r} is not reject or null")
        for column, fmt in self.dates:
            if fmt.upper() not in _DATE_FORMATS:
                raise ConfigError(f"date format {fmt!r} of {column} is not one of "
                                  + ", ".join(_DATE_FORMATS))

    @property
    def segment_binding(self) -> Branch | None:
        """The branch binding of :attr:`segment` (None when this is no segment load)."""
        return next((b for b in self.branches if b.branch == self.segment), None)

    @property
    def parent(self) -> Parent | None:
        """The parent of :attr:`segment` (None: no segment load, or a root segment)."""
        return next((p for p in self.parents if p.child == self.segment), None)

    @property
    def date_formats(self) -> dict[str, str]:
        return {column: fmt.upper() for column, fmt in self.dates}
