"""Opening inputs: plain files mapped as they are; gzip, bzip2 and xz files (known by their
magic bytes, whatever their name) read through a decompressed spool."""

from __future__ import annotations

import bz2
import gzip
import lzma
from pathlib import Path

import pytest

from mfpipe.errors import InputError
from mfpipe.pipeline.source import open_input, records_size, release_spool

PLAIN = bytes(range(256)) * 4000  # about 1 MB: more than one copy block


def _spools(folder: Path) -> list[Path]:
    return sorted(folder.glob("mfpipe-*.spool"))


@pytest.fixture
def spool_dir(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "spool"
    folder.mkdir()
    monkeypatch.setenv("MFPIPE_SPOOL", str(folder))
    return folder


class TestCompressed:
    @pytest.mark.parametrize("compress", [gzip.compress, bz2.compress, lzma.compress])
    def test_read_as_the_decompressed_bytes(self, tmp_path, spool_dir, compress):
        """A compressed file (named .dat: the magic bytes decide) reads as its content; the
        spool is made once and removed by release_spool."""
        path = tmp_path / "in.dat"
        path.write_bytes(compress(PLAIN))
        with open_input(path) as buffer:
            assert bytes(buffer) == PLAIN
        assert len(_spools(spool_dir)) == 1
        made = _spools(spool_dir)[0].stat().st_mtime_ns
        with open_input(path) as buffer:  # a second reader (a processor) maps the same spool
            assert bytes(buffer[:4]) == PLAIN[:4]
        assert _spools(spool_dir)[0].stat().st_mtime_ns == made
        release_spool(path)
        assert _spools(spool_dir) == []

    def test_the_size_of_the_records_as_read(self, tmp_path, spool_dir):
        """Progress divides committed bytes by the records' size: a compressed file's is its
        decompressed size once a launch has made it (unknown before), never its own."""
        plain, packed = tmp_path / "plain.dat", tmp_path / "packed.dat"
        plain.write_bytes(PLAIN)
        packed.write_bytes(gzip.compress(PLAIN))
        assert records_size(plain) == len(PLAIN)
        assert records_size(packed) is None
        with open_input(packed):
            assert records_size(packed) == len(PLAIN)
        release_spool(packed)
        assert records_size(tmp_path / "gone.dat") is None

    def test_truncated_file_is_an_input_error(self, tmp_path, spool_dir):
        """A truncated gzip file is a clear InputError (66), and leaves no partial spool."""
        path = tmp_path / "in.dat.gz"
        whole = gzip.compress(PLAIN)
        path.write_bytes(whole[:len(whole) // 2])
        with pytest.raises(InputError, match="cannot be decompressed") as info:
            with open_input(path):
                pass
        assert info.value.exit_code == 66
        assert list(spool_dir.iterdir()) == []

    def test_a_changed_file_gets_a_new_spool(self, tmp_path, spool_dir):
        """The spool follows the file's identity: new content is never read from an old spool."""
        path = tmp_path / "in.gz"
        path.write_bytes(gzip.compress(b"first"))
        with open_input(path) as buffer:
            assert bytes(buffer) == b"first"
        path.write_bytes(gzip.compress(b"second, longer"))
        with open_input(path) as buffer:
            assert bytes(buffer) == b"second, longer"

    def test_plain_files_make_no_spool(self, tmp_path, spool_dir):
        """An uncompressed file is mapped directly."""
        path = tmp_path / "in.dat"
        path.write_bytes(PLAIN)
        with open_input(path) as buffer:
            assert len(buffer) == len(PLAIN)
        assert _spools(spool_dir) == []

    def test_a_damaged_stream_is_an_input_error_and_leaves_no_spool(self, tmp_path, spool_dir):
        """Flipped bytes inside a gzip stream (zlib's own error) are the clear InputError
        (66), and the partial spool is removed."""
        whole = bytearray(gzip.compress(bytes(range(256)) * 50_000))
        for at in range(20, 40):
            whole[at] ^= 0xFF
        path = tmp_path / "in.gz"
        path.write_bytes(bytes(whole))
        with pytest.raises(InputError, match="cannot be decompressed"):
            with open_input(path):
                pass
        assert list(spool_dir.iterdir()) == []

    @pytest.mark.parametrize("head", [b"\x1f\x8b\x00\x00", b"BZh9 spaces, text"])
    def test_data_that_only_starts_like_a_compressed_file(self, tmp_path, spool_dir, head):
        """A VB file whose first RDW is 0x1F8B, or text starting 'BZh9', is read as it is."""
        path = tmp_path / "in.dat"
        path.write_bytes(head + b"\x40" * 100)
        with open_input(path) as buffer:
            assert bytes(buffer[:len(head)]) == head
        assert _spools(spool_dir) == []

    def test_an_empty_bzip2_stream(self, tmp_path, spool_dir):
        """An empty bzip2 file (no block, only the end-of-stream magic) is an empty input."""
        path = tmp_path / "in.bz2"
        path.write_bytes(bz2.compress(b""))
        with open_input(path) as buffer:
            assert len(buffer) == 0


def test_byte_ranges_read_by_many_threads_at_once(tmp_path):
    """A worker's tasks in threads of their own read their ranges through one open input:
    each gets its own bytes, never another's (one file position, taken in turn)."""
    import random
    from concurrent.futures import ThreadPoolExecutor

    from mfpipe.pipeline.source import ByteRanges

    data = random.Random(1).randbytes(1 << 20)
    path = tmp_path / "in.dat"
    path.write_bytes(data)
    ranges = ByteRanges(str(path))
    spans = [(random.Random(n).randrange(len(data)), random.Random(-n).randrange(1, 65536))
             for n in range(2000)]
    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(lambda span: ranges.read(*span).tobytes(), spans))
    ranges.close()
    assert got == [data[offset:offset + length] for offset, length in spans]
