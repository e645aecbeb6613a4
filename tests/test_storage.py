"""Inputs in an object store: names, identity, local copies and errors, against a real
S3-compatible server (``object_store``)."""

from __future__ import annotations

import datetime as dt
import hashlib
import os
import socket
import threading

import pytest

from mfpipe import storage
from mfpipe.db.registry import FileFacts
from mfpipe.errors import ConfigError, InputError, StorageUnavailableError
from mfpipe.pipeline.source import ByteRanges, open_input, records_size, release_spool


@pytest.fixture(autouse=True)
def spool(tmp_path, monkeypatch):
    monkeypatch.setenv("MFPIPE_SPOOL", str(tmp_path))
    return tmp_path


def test_names_a_launch_records():
    assert storage.is_url("s3://bucket/a.dat") and storage.is_url("hdfs://nn:8020/x")
    assert not storage.is_url("/data/a.dat") and not storage.is_url("file:///data/a.dat")
    assert storage.absolute("file:///data/a.dat") == "/data/a.dat"
    assert storage.absolute("a.dat") == os.path.abspath("a.dat")
    assert storage.absolute("s3://bucket/a.dat") == "s3://bucket/a.dat"
    assert storage.has_magic("s3://bucket/day*.dat") and storage.has_magic("/data/day?.dat")
    assert not storage.has_magic("s3://bucket/day.dat?versionId=3")


def test_a_glob_keeps_the_urls_own_form():
    """fsspec's names drop what its store keeps apart from the path (memory://'s root
    here, an HDFS namenode or an Azure account elsewhere): the URLs found are rebuilt in
    the pattern's form, so they name the objects as the pattern does."""
    import fsspec

    memory = fsspec.filesystem("memory")
    for name in ("day1.dat", "day2.dat", "other.txt"):
        memory.pipe(f"/landing/{name}", b"x")
    found = storage.glob("memory://landing/day*.dat")
    assert found == ["memory://landing/day1.dat", "memory://landing/day2.dat"]
    assert [storage.stat(url).size for url in found] == [1, 1]


@pytest.mark.parametrize("url, says", [
    ("s3://key:hunter2@bucket/a.dat", "must not hold a password"),
    ("https://store.example/a.dat?X-Amz-Signature=hunter2&X-Amz-Expires=60",
     "a signature or a token"),
    ("nosuchstore://bucket/a.dat", "a storage fsspec knows"),
    ("gs://bucket/a.dat", "pip install 'mfpipe[gcs]'")])
def test_urls_that_cannot_be_read_are_refused_with_the_fix(url, says):
    with pytest.raises(ConfigError) as caught:
        storage.absolute(url)
    assert says in str(caught.value) and "hunter2" not in str(caught.value)
    assert caught.value.exit_code == 78


def test_an_object_is_copied_once_per_identity_and_checksummed(object_store, spool):
    """Stat, checksum and map an object: one local copy, reused while the object is the
    same; the object replaced (same size) is another identity, so a fresh copy, never the
    stale one; released, the copies are gone."""
    first = b"A" * 1000
    url = object_store.put("day1/accounts.dat", first)
    facts = FileFacts.of(url)
    assert (facts.path, facts.size, facts.sha256) == (url, 1000, hashlib.sha256(first).hexdigest())
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    assert facts.tag and abs(facts.mtime - now) < dt.timedelta(minutes=5)
    copies = list(spool.glob("*.copy"))
    with open_input(url) as view:
        assert bytes(view) == first
    assert list(spool.glob("*.copy")) == copies and len(copies) == 1
    assert records_size(url) == 1000 and facts.changed() == ""
    object_store.put("day1/accounts.dat", b"B" * 1000)
    assert facts.changed() == "changed"
    with open_input(url) as view:
        assert bytes(view) == b"B" * 1000
    assert len(list(spool.glob("*.copy"))) == 1  # the stale identity's went
    release_spool(url)
    assert not list(spool.glob("*.copy"))


def test_threads_fetching_one_object_share_one_whole_copy(object_store, spool):
    """Runs of one object in threads of one launch (segments, parallel files) fetch it
    once, whole, with no error (one temporary file each, one maker at a time)."""
    data = os.urandom(20 << 20)
    url = object_store.put("day1/shared.dat", data)
    copies: list = []
    errors: list = []

    def fetch() -> None:
        try:
            copies.append(storage.local_copy(url))
        except Exception as exc:  # the test reports any
            errors.append(exc)

    threads = [threading.Thread(target=fetch) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and len(set(copies)) == 1
    assert copies[0].read_bytes() == data
    assert [p.suffix for p in spool.iterdir()] == [".copy"]


def test_a_copy_of_another_size_is_fetched_again(object_store, spool):
    url = object_store.put("day1/cut.dat", b"C" * 500)
    copy = storage.local_copy(url)
    copy.write_bytes(b"C" * 100)  # cut short (a disk full, a planted file)
    assert storage.local_copy(url).read_bytes() == b"C" * 500


def test_the_default_spool_folder_is_private(monkeypatch, tmp_path):
    monkeypatch.delenv("MFPIPE_SPOOL")
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr("tempfile.tempdir", None)
    folder = storage.spool_folder()
    assert folder.parent == tmp_path and folder.stat().st_mode & 0o777 == 0o700
    folder.chmod(0o777)
    with pytest.raises(ConfigError, match="not this user's own private folder"):
        storage.spool_folder()


@pytest.mark.parametrize("make, says", [(lambda p: None, "no such file"),
                                        (lambda p: p.mkdir(), "is a directory")])
def test_a_local_file_that_cannot_be_read_is_an_input_error(tmp_path, make, says):
    make(tmp_path / "x.dat")
    with pytest.raises(InputError, match=says):
        storage.stat(str(tmp_path / "x.dat"))


def test_a_compressed_object_is_read_decompressed(object_store, spool):
    import gzip

    url = object_store.put("day1/accounts.dat.gz", gzip.compress(b"0123456789" * 500))
    with open_input(url) as view:
        assert bytes(view) == b"0123456789" * 500
    ranges = ByteRanges(url)
    assert bytes(ranges.read(4995, 10)) == b"56789"
    ranges.close()
    assert records_size(url) == 5000
    release_spool(url)
    assert not list(spool.iterdir())


def test_a_task_reads_its_byte_ranges_from_the_store(object_store, spool):
    url = object_store.put("day1/ranges.dat", bytes(range(256)) * 40)
    ranges = ByteRanges(url)
    assert ranges._file.cache.name == "none"  # no read-ahead: a task reads its bytes only
    assert bytes(ranges.read(300, 4)) == bytes([44, 45, 46, 47])
    assert bytes(ranges.read(10_230, 100)) == bytes(range(246, 256))
    ranges.close()
    assert not list(spool.iterdir())  # no copy: only the ranges were read


def test_a_glob_over_objects(object_store):
    for day in (1, 2):
        object_store.put(f"glob/day{day}.dat", b"x")
    object_store.put("glob/other.txt", b"x")
    assert storage.glob(object_store.url("glob/day*.dat")) == [
        object_store.url("glob/day1.dat"), object_store.url("glob/day2.dat")]


def test_a_missing_object_is_an_input_error(object_store):
    with pytest.raises(InputError) as caught:
        FileFacts.of(object_store.url("nowhere/none.dat"))
    assert "no such file" in str(caught.value) and caught.value.exit_code == 66


def test_a_store_that_cannot_be_reached_is_temporary(object_store, monkeypatch):
    """No server at the endpoint: 75 (run it again later), naming the object, also when a
    run checks its object has not changed (never taken for a change)."""
    s3fs = pytest.importorskip("s3fs")
    facts = FileFacts.of(object_store.put("day1/away.dat", b"A" * 10))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "k")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    s3fs.S3FileSystem.clear_instance_cache()  # one made for the server's address
    try:
        with pytest.raises(StorageUnavailableError) as caught:
            storage.stat("s3://unreachable-bucket/a.dat")
        with pytest.raises(StorageUnavailableError):
            facts.changed()
    finally:
        s3fs.S3FileSystem.clear_instance_cache()
    assert caught.value.exit_code == 75 and "s3://unreachable-bucket/a.dat" in str(caught.value)
