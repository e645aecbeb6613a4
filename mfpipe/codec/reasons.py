"""Why a value was rejected: one small code per reason, so decoders stay vectorized."""

from __future__ import annotations

import enum


class Reason(enum.IntEnum):
    """Reject reasons; 0 means the value is valid. The text goes into ``mfp_reject.reason``."""

    OK = 0
    PACKED_DIGIT = 1
    PACKED_SIGN = 2
    ZONED_DIGIT = 3
    ZONED_SIGN = 4
    NEGATIVE_UNSIGNED = 5
    TOO_MANY_DIGITS = 6
    SPACES = 7
    LOW_VALUES = 8
    BAD_DATE = 9
    NOT_A_NUMBER = 10
    BAD_EDITED = 11
    BAD_CHARACTER = 12
    ODO_COUNT = 13
    STRICT_SIGN = 14
    REQUIRED_EMPTY = 15
    LENGTH = 16
    TOO_LONG = 17
    TRUNCATED = 18
    NO_SEGMENT = 19
    NO_PARENT = 20
    PARENT_REJECTED = 21

    @property
    def text(self) -> str:
        return _TEXT[self]


_TEXT = {
    Reason.OK: "valid",
    Reason.PACKED_DIGIT: "packed decimal digit nibble above 9",
    Reason.PACKED_SIGN: "packed decimal sign nibble is not A-F",
    Reason.ZONED_DIGIT: "non-digit byte in a zoned decimal",
    Reason.ZONED_SIGN: "invalid sign zone in a zoned decimal",
    Reason.NEGATIVE_UNSIGNED: "negative sign in an unsigned field",
    Reason.TOO_MANY_DIGITS: "value has more digits than the PIC allows",
    Reason.SPACES: "numeric field is all spaces",
    Reason.LOW_VALUES: "low-values (0x00) in a text field",
    Reason.BAD_DATE: "not a valid date",
    Reason.NOT_A_NUMBER: "floating point NaN or infinity",
    Reason.BAD_EDITED: "character not allowed by the edited picture",
    Reason.BAD_CHARACTER: "unpaired UTF-16 surrogate in a national field",
    Reason.ODO_COUNT: "OCCURS DEPENDING ON count outside its range",
    Reason.STRICT_SIGN: "sign nibble A, B or E refused by strict_signs",
    Reason.REQUIRED_EMPTY: "key field has no value (all spaces, or absent)",
    Reason.LENGTH: "line is not as long as the record layout",
    Reason.TOO_LONG: "record is longer than the record layout (its last bytes would be lost)",
    Reason.TRUNCATED: "record ends inside this field",
    Reason.NO_SEGMENT: "discriminator matches no segment bound with --branch",
    Reason.NO_PARENT: "no record of its parent segment (--parent) before it since the last "
                      "record outside the parent's subtree or of no segment",
    Reason.PARENT_REJECTED: "its parent record is a reject, so it has no place in the "
                            "nested output",
}
