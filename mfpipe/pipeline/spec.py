"""The job spec: what one run loads, how, where to, and how it is proved.

A run's spec has four parts, each frozen and picklable (Spring Batch's job parameters, split
by who reads them):

- :class:`Source`: the file, its framing, the copybook (its text kept with the run) and the
  record selection: what is read and how it decodes;
- :class:`Execution`: the database and how fast and how patiently the load runs;
- :class:`Target`: the staging and final tables, the merge key, the runs a reprocess
  replaces;
- :class:`Proof`: the money and hash columns, rules, trailer and condition checks.

The spec is stored with the run (``mfp_run.options``, versioned: :data:`SPEC_VERSION`), so a
restart, a reconciliation or a report rebuilds it as the run began. Processes get only the
parts they use: processors a :class:`DecodeWork`, writers a :class:`WriteWork`.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import TYPE_CHECKING, Any

from mfpipe import storage
from mfpipe.codec import Branch, DecodeOptions, Parent
from mfpipe.codec.segments import segment_name
from mfpipe.db.loaders import loader_kind
from mfpipe.db.rules import Rule, date_columns, run_rules
from mfpipe.errors import ConfigError, InputError
from mfpipe.framing import FramingOptions
from mfpipe.layout import Layout, RecordLayout, load_layout, parse_layout, read_copybook
from mfpipe.pipeline.kept import Outputs
from mfpipe.pipeline.selection import Condition, Window

if TYPE_CHECKING:  # processors import this module, and no SQLAlchemy
    import pyarrow as pa

    from mfpipe.db.measure import Measured
    from mfpipe.db.probe import ChunkProbe

EXECUTORS = ("local", "dask")
SPEC_VERSION = 2  # 1: the options stored flat, before the spec had parts


def new_run_id() -> str:
    """Sorts by start time: UTC timestamp plus a short random suffix."""
    from mfpipe.db.runs import time_ordered_id

    return time_ordered_id()


@dataclass(frozen=True)
class Source:
    """What is read, and how it decodes."""

    layout_path: str
    input_path: str
    framing: FramingOptions
    decode: DecodeOptions = field(default_factory=DecodeOptions)
    record_name: str | None = None
    layout_text: str = ""  # the copybook itself, stored with the run: every later attempt,
    # reconciliation and process decodes with this text, whatever the file says that day
    layout_sha256: str | None = None  # the copybook's, when the run began: a resume checks it
    file_sha256: str | None = None  # the content being loaded, as the registry saw it
    # record selection (SQL*Loader's SKIP, LOAD, WHEN): see mfpipe.pipeline.selection
    skip_records: int = 0
    load_records: int = 0  # 0: to the end of the file
    when: str | None = None  # discards the records that do not meet it
    empty_file: str = "load"  # no records: load (a zero-record run), skip (99) or fail (65)

    def __post_init__(self) -> None:
        if self.skip_records < 0 or self.load_records < 0:
            raise ConfigError("--skip-records and --load-records must be 0 or more")
        if self.empty_file not in ("load", "skip", "fail"):
            raise ConfigError("--empty-file must be load, skip or fail")
        if self.skip_records and self.decode.parent is not None:
            raise ConfigError("--skip-records leaves out records that may be the parents of "
                              "the records read (--parent): load the whole file")

    def layout(self) -> Layout:
        """The run's copybook: the text stored with it, or (a spec not yet started, or a
        run stored before the text was kept) the file at ``layout_path``."""
        if self.layout_text:
            return _parsed(self.layout_text, self.layout_path)
        return load_layout(self.layout_path)

    def record(self, name: str | None = None) -> RecordLayout:
        """A record of the run's copybook: the loaded one by default."""
        return self.layout().record(name or self.record_name)

    def with_layout(self) -> Source:
        """This source with the copybook file's text and SHA-256 kept in it (at launch)."""
        text = read_copybook(self.layout_path)
        digest = hashlib.sha256(text.encode("latin-1")).hexdigest()
        return replace(self, layout_text=text, layout_sha256=digest)

    def copybook_drift(self) -> str:
        """What to tell the operator when the copybook file no longer matches the text the
        run decoded with ("" when it does, or when the run predates stored copybooks)."""
        if not self.layout_text or not self.layout_sha256:
            return ""
        try:
            same = file_sha256(self.layout_path) == self.layout_sha256
        except InputError:
            return (f"copybook {self.layout_path} is gone; the run uses the copybook stored "
                    f"with it (sha256 {self.layout_sha256[:12]})")
        return "" if same else (
            f"copybook {self.layout_path} has changed since the run began; the run uses the "
            f"copybook stored with it (sha256 {self.layout_sha256[:12]})")

    def table(self, record: RecordLayout) -> str:
        """The name the run's tables are named after: the record's table, and in a segment
        load its segment's (``company_contacts`` for segment CONTACTS of COMPANY)."""
        segment = self.decode.segment
        if segment is None:
            return record.table
        return f"{record.table}_{segment_name(segment)}"

    def condition(self, record: RecordLayout) -> Condition | None:
        """The parsed ``--when`` for the run's record (None without one)."""
        return Condition.parse(self.when, record, self.decode) if self.when else None

    @property
    def window(self) -> Window:
        """The records the run reads (``--skip-records``, ``--load-records``)."""
        return Window(self.skip_records, self.load_records)


@dataclass(frozen=True)
class Execution:
    """Where and how the load runs: none of it changes what is loaded, so a resumed run may
    change most of it (:data:`RESUMABLE`)."""

    db_url: str
    processors: int = 2
    writers: int = 2
    chunk_records: int = 50_000
    max_errors: int = 50  # 0: no limit (SQL*Loader's ERRORS=)
    loader: str | None = None  # a non-default bulk loader, e.g. "postgresql-adbc"
    direct_path: bool = False  # Oracle Direct Path Load (opt-in)
    heartbeat_s: float = 5.0
    retry_s: float = 60.0  # how long transient database errors are retried
    bad_file: str | None = None  # original bytes of rejected records: a file, or a folder
    discard_file: str | None = None  # original bytes of discarded records: a file or folder
    # after a launch that loaded files: purge the staging rows of finished runs older than this
    keep_staging_days: float | None = None
    executor: str = "local"  # "dask": the chunks run on a Dask cluster (pipeline/cluster.py)
    scheduler: str | None = None  # the Dask scheduler's address; none: a local cluster

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise ConfigError(f"executor {self.executor!r} is not one of {', '.join(EXECUTORS)}")
        if self.scheduler and self.executor != "dask":
            raise ConfigError("--scheduler names a Dask scheduler: give --executor dask too")
        if self.direct_path and self.executor == "dask":  # its rows commit apart from the
            # ledger: a task run twice would leave them twice
            raise ConfigError("--direct-path cannot run with --executor dask")
        if self.processors < 1 or self.writers < 1:
            raise ConfigError("--processors and --writers must be at least 1")
        if self.chunk_records < 1:
            raise ConfigError("--chunk-records must be at least 1")
        if self.max_errors < 0:
            raise ConfigError("--max-errors must be 0 (no limit) or more")
        if self.keep_staging_days is not None and self.keep_staging_days < 0:
            raise ConfigError("--keep-staging-days must be 0 or more")


@dataclass(frozen=True)
class Target:
    """Where the rows go."""

    final_table: str | None = None  # default: the record's table name
    staging_table: str | None = None  # default: stg_<the record's table name>
    key: tuple[str, ...] = ()  # merge key of the final table; none: append
    duplicate_keys: str = "fail"  # a key twice in one file: "fail", or "warn" (the last wins)
    replaces: tuple[str, ...] = ()  # a reprocess: the earlier loads promotion removes

    def __post_init__(self) -> None:
        if self.duplicate_keys not in ("fail", "warn"):
            raise ConfigError("--duplicate-keys must be fail or warn")


@dataclass(frozen=True)
class Proof:
    """What the reconciliation checks beyond counts and content."""

    money_columns: tuple[str, ...] | None = None  # None: every decimal column with decimals
    hash_columns: tuple[str, ...] | None = None  # None: every column all databases hash alike
    rules: tuple[Rule, ...] = ()
    # the trailer: the file's last skip_trailer_bytes, decoded with another 01 record
    trailer_record: str | None = None
    trailer_count: str | None = None  # trailer column holding the number of detail records
    trailer_totals: tuple[tuple[str, str], ...] = ()  # (trailer column, detail column)
    condition_rules: bool = True  # 88-level VALUEs as allowed-value rules (severity warn)


_PARTS: dict[str, type] = {"source": Source, "execution": Execution, "target": Target,
                           "proof": Proof}
# which part holds each option, by its flat name (the CLI's, the job file's, version 1's)
PART_OF = {f.name: part for part, kind in _PARTS.items() for f in fields(kind)}


@dataclass(frozen=True)
class JobSpec:
    """One load of one file into one database: the run's four parts."""

    source: Source
    execution: Execution
    target: Target = field(default_factory=Target)
    proof: Proof = field(default_factory=Proof)
    job: str = ""
    run_id: str = field(default_factory=new_run_id)

    def __post_init__(self) -> None:
        if self.proof.trailer_record and not self.source.framing.skip_trailer_bytes:
            raise ConfigError("a trailer record needs --skip-trailer-bytes (the trailer's size)")

    @classmethod
    def of(cls, layout_path: str, input_path: str, db_url: str, framing: FramingOptions,
           decode: DecodeOptions | None = None, **options: Any) -> JobSpec:
        """A spec from options by their flat names (as the CLI and job files give them)."""
        own = {k: options.pop(k) for k in ("job", "run_id") if k in options}
        flat = {"layout_path": layout_path, "input_path": input_path, "db_url": db_url,
                "framing": framing, "decode": decode or DecodeOptions(), **options}
        return cls(**_parts(flat), **own)

    def changed(self, **options: Any) -> JobSpec:
        """This spec with options (by their flat names, ``job`` and ``run_id`` too)
        changed."""
        own = {k: options.pop(k) for k in ("job", "run_id") if k in options}
        parts = {part: replace(getattr(self, part), **values)
                 for part, values in _grouped(options).items()}
        return replace(self, **parts, **own)

    def flat(self) -> dict[str, Any]:
        """Every option by its flat name, with ``job`` and ``run_id``."""
        return {"job": self.job, "run_id": self.run_id,
                **{f.name: getattr(getattr(self, part), f.name)
                   for part, kind in _PARTS.items() for f in fields(kind)}}

    def with_layout(self) -> JobSpec:
        """This spec with the copybook file's text and SHA-256 kept in it (at launch)."""
        return replace(self, source=self.source.with_layout())

    @property
    def record_decode(self) -> DecodeOptions:
        """How the loaded record decodes: a key column must have a value, so a record
        without one is a reject with its reason, never a row the final table cannot hold
        (promotion would have to drop it)."""
        decode, key = self.source.decode, self.target.key
        return replace(decode, required=key) if key else decode

    @property
    def bad_path(self) -> str:
        """Where the rejected records' original bytes go: ``bad_file``, or, when that is a
        folder or not given, ``<input name>.<run id>.bad`` in it or beside the input (one
        rule for every command; never the launcher's working directory: an object in a store
        needs ``bad_file``, and its discard file goes beside its bad file)."""
        return self._output(self.execution.bad_file, "bad")

    @property
    def discard_path(self) -> str:
        """Where the discarded records' (``--when``) original bytes go: as ``bad_path``,
        with ``.dsc``."""
        return self._output(self.execution.discard_file, "dsc")

    def _output(self, given: str | None, suffix: str) -> str:
        if given and not os.path.isdir(given):
            return given
        input_path = self.source.input_path
        folder = given or os.path.dirname(input_path)
        if not given and storage.is_url(input_path):
            if suffix == "bad":
                raise ConfigError(f"input {input_path} is an object in a store, with no "
                                  "folder beside it for its bad file: name a local folder "
                                  "or file with --bad-file (a job file's bad_file)")
            folder = os.path.dirname(self.bad_path)
        name = f"{os.path.basename(input_path)}.{self.run_id}.{suffix}"
        return os.path.join(folder, name)

    def check_outputs(self) -> None:
        """Refuse now (78, naming the path) a bad or discard file that could not be written
        when the first reject comes, hours into a run."""
        self.outputs.check()

    def rules(self, record: RecordLayout, schema: pa.Schema) -> list[Rule]:
        """The run's business rules (:func:`mfpipe.db.rules.run_rules`), as both the
        writers' chunk probes and the reconciliation count them."""
        return run_rules(self.proof.rules, self.target.key, self.target.duplicate_keys,
                         record if self.proof.condition_rules else None, date_columns(schema))

    def measured(self, record: RecordLayout, schema: pa.Schema) -> Measured:
        """What the run's measures add up (its hashed and money columns), as both the
        writers' chunk probes and the reconciliation take them."""
        from mfpipe.db.measure import Measured

        return Measured.of(schema, record, self.proof.hash_columns or (),
                           self.proof.money_columns or (), self.source.decode.low_values)

    def decode_work(self) -> DecodeWork:
        """What a processor needs."""
        return DecodeWork(self.run_id, self.source, self.record_decode,
                          loader_kind(self.execution.db_url, self.execution.loader),
                          self.proof.hash_columns or (), self.proof.money_columns or ())

    def write_work(self, probe: ChunkProbe | None = None) -> WriteWork:
        """What a writer needs (``probe``: how it measures a chunk before committing it)."""
        e = self.execution
        return WriteWork(self.run_id, e.db_url, e.loader, e.direct_path, e.writers, e.retry_s,
                         self.outputs, probe)

    @property
    def outputs(self) -> Outputs:
        """Where the run's rejected (and, with ``--when``, discarded) records' bytes go."""
        return Outputs(self.run_id, self.bad_path,
                       self.discard_path if self.source.when else None)


@dataclass(frozen=True)
class DecodeWork:
    """A processor's part of the spec: decode the run's chunks, measure what was decoded."""

    run_id: str
    source: Source
    decode: DecodeOptions  # the source's, with the key columns required
    loader_kind: str  # the loader that prepares the batches (e.g. encoded for COPY)
    hash_columns: tuple[str, ...]
    money_columns: tuple[str, ...]
    local_path: str = ""  # the launcher's local copy of an object, which its processors map

    @property
    def readable_path(self) -> str:
        """What a processor maps: the input, or the launcher's local copy of an object (so
        processors do not ask the store again); the input itself (fetched again, and the
        run fails if it changed) when another run of the object has released that copy."""
        if self.local_path and os.path.exists(self.local_path):
            return self.local_path
        return self.source.input_path


@dataclass(frozen=True)
class WriteWork:
    """A writer's part of the spec: load chunks into staging with their ledger rows."""

    run_id: str
    db_url: str
    loader: str | None
    direct_path: bool
    writers: int
    retry_s: float
    outputs: Outputs  # the bad and discard files
    probe: ChunkProbe | None = None


# What an attempt may change when it resumes a run: how fast, from which path (the content
# is the same) and with what error limit; never what is decoded, loaded or proved.
RESUMABLE = frozenset({"processors", "writers", "max_errors", "retry_s", "heartbeat_s",
                       "loader", "direct_path", "keep_staging_days", "bad_file", "input_path",
                       "db_url", "executor", "scheduler"})
_RUN_OWN = frozenset({"run_id", "file_sha256", "replaces"})  # the run's, kept on resume


def _grouped(options: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Options by their flat names, grouped by the part that holds them."""
    unknown = set(options) - set(PART_OF)
    if unknown:
        raise TypeError(f"no such option: {', '.join(sorted(unknown))}")
    grouped: dict[str, dict[str, Any]] = {}
    for name, value in options.items():
        grouped.setdefault(PART_OF[name], {})[name] = value
    return grouped


def _parts(flat: Mapping[str, Any]) -> dict[str, Any]:
    grouped = _grouped(flat)
    return {part: kind(**grouped.get(part, {})) for part, kind in _PARTS.items()}


@functools.lru_cache(maxsize=8)
def _parsed(text: str, path: str) -> Layout:
    return parse_layout(text, path)


def file_sha256(path: str) -> str:
    """The SHA-256 of a (small) file's bytes, such as a copybook's."""
    try:
        with open(path, "rb") as handle:
            return hashlib.sha256(handle.read()).hexdigest()
    except OSError as exc:
        raise InputError(path, f"cannot read it: {exc.strerror or exc}") from None


def options_of(spec: JobSpec) -> dict[str, Any]:
    """The run's spec as stored with it (``mfp_run.options``: JSON by part, with its
    version, the database URL without its password)."""
    from mfpipe.db.urls import redact

    parts = {part: asdict(getattr(spec, part)) for part in _PARTS}
    parts["execution"]["db_url"] = redact(spec.execution.db_url)
    return json.loads(json.dumps({"spec_version": SPEC_VERSION, "job": spec.job,
                                  "run_id": spec.run_id, **parts}))


def _flat_options(stored: Mapping[str, Any]) -> dict[str, Any]:
    """Stored options by their flat names, whatever version stored them."""
    if stored.get("spec_version", 1) == 1:
        return dict(stored)
    return {k: v for k, v in stored.items() if k in ("job", "run_id")} | {
        name: value for part in _PARTS for name, value in stored.get(part, {}).items()}


def changed_options(stored: Mapping[str, Any], spec: JobSpec) -> list[str]:
    """The options of ``spec`` that differ from a run's ``stored`` ones and may not
    change when the run resumes."""
    mine, theirs = _flat_options(options_of(spec)), _flat_options(stored)
    return sorted(k for k, v in mine.items()
                  if k not in RESUMABLE | _RUN_OWN and theirs.get(k) != v)


def resumed(stored: JobSpec, launch: JobSpec) -> JobSpec:
    """A resumed run's spec: its own, with the launch's resumable options."""
    flat = launch.flat()
    return stored.changed(**{k: flat[k] for k in RESUMABLE})


def spec_from_options(options: Mapping[str, Any], db_url: str) -> JobSpec:
    """Rebuild a run's spec from the options stored with it (``mfp_run.options``, any
    version).

    The stored URL is redacted, so the caller passes the one it connected with.
    """
    flat = _flat_options(options)
    values = {k: v for k, v in flat.items() if k in PART_OF}
    decode = dict(values.get("decode", {}))
    decode["dates"] = tuple(tuple(pair) for pair in decode.get("dates", ()))
    decode["required"] = tuple(decode.get("required", ()))
    decode["branches"] = tuple(Branch(b["branch"], b["column"], tuple(b["values"]))
                               for b in decode.get("branches", ()))
    decode["parents"] = tuple(Parent(p["child"], p["parent"], tuple(p["key"]))
                              for p in decode.get("parents", ()))
    values.update(
        db_url=db_url, framing=FramingOptions(**values["framing"]),
        decode=DecodeOptions(**decode), key=tuple(values.get("key", ())),
        replaces=tuple(values.get("replaces", ())),
        trailer_totals=tuple(tuple(p) for p in values.get("trailer_totals", ())),
        rules=tuple(Rule(r["kind"], tuple(r["columns"]), tuple(r["values"]), r["severity"],
                         r["fmt"], tuple(tuple(p) for p in r.get("ranges", ())))
                    for r in values.get("rules", ())))
    for name in ("money_columns", "hash_columns"):
        if values.get(name) is not None:
            values[name] = tuple(values[name])
    own = {k: flat[k] for k in ("job", "run_id") if k in flat}
    return JobSpec(**_parts(values), **own)
