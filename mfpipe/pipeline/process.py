"""The processor's work on one chunk: its records as a byte matrix, decoded by the plan."""

from __future__ import annotations

from mfpipe.codec import DecodedBatch, DecodePlan
from mfpipe.errors import ConfigError
from mfpipe.framing import FramingOptions, RawChunk
from mfpipe.layout import RecordLayout


def check_framing(record: RecordLayout, framing: FramingOptions) -> None:
    """Refuse a record format that cannot hold the layout's records, before any file is
    read or written: an LRECL shorter than the record (every record would be cut), or
    TEXT lines for a layout with binary fields (their bytes may be newlines, and a line
    would end inside a record)."""
    if framing.recfm in ("F", "FB") and framing.lrecl and framing.lrecl < record.size:
        raise ConfigError(f"--lrecl {framing.lrecl} is shorter than record {record.name} "
                          f"({record.size} bytes): every record would be cut short")
    if framing.recfm == "TEXT" and record.binary_fields:
        fields = ", ".join(f"{f.name} ({f.usage.value})" for f in record.binary_fields[:3])
        raise ConfigError(f"--recfm TEXT keeps one record per line, but record {record.name} "
                          f"has binary fields ({fields}) whose bytes may be newlines: use "
                          "FB or VB")


def decode_chunk(plan: DecodePlan, chunk: RawChunk, framing: FramingOptions) -> DecodedBatch:
    """Decode every record of a chunk; fixed records are viewed in place, not copied. A
    TEXT line must be as long as the record (at most as long, with OCCURS DEPENDING ON):
    a line of another length is a reject, never a record read at the wrong offsets."""
    if framing.recfm in ("F", "FB"):
        matrix = chunk.matrix(framing.lrecl or plan.record.size)
        lengths = None
    else:
        matrix = chunk.matrix(plan.record.size)
        lengths = chunk.lengths
    return plan.decode(matrix, chunk.first_record_no, chunk.record_offsets, lengths,
                       exact=framing.recfm == "TEXT")
