"""What one run needs to know, frozen and picklable: it is sent once to every process."""

from __future__ import annotations

import functools
import hashlib
import json
import os
import secrets
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from mfpipe.codec import Branch, DecodeOptions
from mfpipe.db.rules import Rule
from mfpipe.errors import ConfigError, InputError, OutputError
from mfpipe.framing import FramingOptions
from mfpipe.layout import Layout, RecordLayout, load_layout, parse_layout, read_copybook
from mfpipe.pipeline.selection import Condition, Window


def new_run_id() -> str:
    """Sorts by start time: UTC timestamp plus a short random suffix."""
    from mfpipe.db.runs import utcnow

    return f"{utcnow():%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


@dataclass(frozen=True)
class RunConfig:
    """One load of one file into one database."""

    layout_path: str
    input_path: str
    db_url: str
    framing: FramingOptions
    decode: DecodeOptions = field(default_factory=DecodeOptions)
    record_name: str | None = None
    job: str = ""
    processors: int = 2
    writers: int = 2
    chunk_records: int = 50_000
    max_errors: int = 50  # 0: no limit (SQL*Loader's ERRORS=)
    # record selection (SQL*Loader's SKIP, LOAD, WHEN): see mfpipe.pipeline.selection
    skip_records: int = 0
    load_records: int = 0  # 0: to the end of the file
    when: str | None = None  # discards the records that do not meet it
    discard_file: str | None = None  # original bytes of discarded records: a file or folder
    empty_file: str = "load"  # no records: load (a zero-record run), skip (99) or fail (65)
    bad_file: str | None = None  # original bytes of rejected records: a file, or a folder
    run_id: str = field(default_factory=new_run_id)
    loader: str | None = None  # a non-default bulk loader, e.g. "postgresql-adbc"
    file_sha256: str | None = None  # the content being loaded, as the registry saw it
    layout_sha256: str | None = None  # the copybook's, when the run began: a resume checks it
    layout_text: str = ""  # the copybook itself, stored with the run: every later attempt,
    # reconciliation and process decodes with this text, whatever the file says that day
    direct_path: bool = False  # Oracle Direct Path Load (opt-in)
    heartbeat_s: float = 5.0
    retry_s: float = 60.0  # how long transient database errors are retried
    # promotion and reconciliation
    final_table: str | None = None  # default: the record's table name
    staging_table: str | None = None  # default: stg_<the record's table name>
    key: tuple[str, ...] = ()  # merge key of the final table; none: append
    duplicate_keys: str = "fail"  # a key twice in one file: "fail", or "warn" (the last wins)
    replaces: tuple[str, ...] = ()  # a reprocess: the earlier loads promotion removes
    money_columns: tuple[str, ...] | None = None  # None: every decimal column with decimals
    hash_columns: tuple[str, ...] | None = None  # None: every column all databases hash alike
    rules: tuple[Rule, ...] = ()
    # the trailer: the file's last skip_trailer_bytes, decoded with another 01 record
    trailer_record: str | None = None
    trailer_count: str | None = None  # trailer column holding the number of detail records
    trailer_totals: tuple[tuple[str, str], ...] = ()  # (trailer column, detail column)
    condition_rules: bool = True  # 88-level VALUEs as allowed-value rules (severity warn)
    # after a launch that loaded files: purge the staging rows of finished runs older than this
    keep_staging_days: float | None = None

    def __post_init__(self) -> None:
        if self.processors < 1 or self.writers < 1:
            raise ConfigError("--processors and --writers must be at least 1")
        if self.chunk_records < 1:
            raise ConfigError("--chunk-records must be at least 1")
        if self.max_errors < 0:
            raise ConfigError("--max-errors must be 0 (no limit) or more")
        if self.skip_records < 0 or self.load_records < 0:
            raise ConfigError("--skip-records and --load-records must be 0 or more")
        if self.keep_staging_days is not None and self.keep_staging_days < 0:
            raise ConfigError("--keep-staging-days must be 0 or more")
        if self.empty_file not in ("load", "skip", "fail"):
            raise ConfigError("--empty-file must be load, skip or fail")
        if self.duplicate_keys not in ("fail", "warn"):
            raise ConfigError("--duplicate-keys must be fail or warn")
        if self.trailer_record and not self.framing.skip_trailer_bytes:
            raise ConfigError("a trailer record needs --skip-trailer-bytes (the trailer's size)")

    @property
    def record_decode(self) -> DecodeOptions:
        """How the loaded record decodes: a key column must have a value, so a record
        without one is a reject with its reason, never a row the final table cannot hold
        (promotion would have to drop it)."""
        return replace(self.decode, required=self.key) if self.key else self.decode

    def layout(self) -> Layout:
        """The run's copybook: the text stored with it, or (a config not yet started, or a
        run stored before the text was kept) the file at ``layout_path``."""
        if self.layout_text:
            return _parsed(self.layout_text, self.layout_path)
        return load_layout(self.layout_path)

    def record(self, name: str | None = None) -> RecordLayout:
        """A record of the run's copybook: the loaded one by default."""
        return self.layout().record(name or self.record_name)

    def with_layout(self) -> RunConfig:
        """This config with the copybook file's text and SHA-256 kept in it (at launch)."""
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

    def condition(self, record: RecordLayout) -> Condition | None:
        """The parsed ``--when`` for the run's record (None without one)."""
        return Condition.parse(self.when, record, self.decode) if self.when else None

    @property
    def window(self) -> Window:
        """The records the run reads (``--skip-records``, ``--load-records``)."""
        return Window(self.skip_records, self.load_records)

    @property
    def bad_path(self) -> str:
        """Where the rejected records' original bytes go: ``bad_file``, or, when that is a
        folder or not given, ``<input name>.<run id>.bad`` in it or beside the input (one
        rule for every command; never the launcher's working directory)."""
        return self._output(self.bad_file, "bad")

    @property
    def discard_path(self) -> str:
        """Where the discarded records' (``--when``) original bytes go: as ``bad_path``,
        with ``.dsc``."""
        return self._output(self.discard_file, "dsc")

    def _output(self, given: str | None, suffix: str) -> str:
        if given and not os.path.isdir(given):
            return given
        name = f"{os.path.basename(self.input_path)}.{self.run_id}.{suffix}"
        return os.path.join(given or os.path.dirname(self.input_path), name)

    def check_outputs(self) -> None:
        """Refuse now (78, naming the path) a bad or discard file that could not be written
        when the first reject comes, hours into a run."""
        OutputError.check(self.bad_path, "bad file (--bad-file)")
        if self.when:
            OutputError.check(self.discard_path, "discard file (--discard-file)")


# What an attempt may change when it resumes a run: how fast, from which path (the content
# is the same) and with what error limit; never what is decoded, loaded or proved.
RESUMABLE = frozenset({"processors", "writers", "max_errors", "retry_s", "heartbeat_s",
                       "loader", "direct_path", "keep_staging_days", "bad_file", "input_path",
                       "db_url"})
_RUN_OWN = frozenset({"run_id", "file_sha256", "replaces"})  # the run's, kept on resume


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


def options_of(config: RunConfig) -> dict[str, Any]:
    """The run's options as stored with it (``mfp_run.options``: JSON, the database URL
    without its password)."""
    from mfpipe.db.urls import redact

    options = asdict(config)
    options["db_url"] = redact(config.db_url)
    return json.loads(json.dumps(options))


def changed_options(stored: Mapping[str, Any], config: RunConfig) -> list[str]:
    """The options of ``config`` that differ from a run's ``stored`` ones and may not
    change when the run resumes."""
    mine = options_of(config)
    return sorted(k for k, v in mine.items()
                  if k not in RESUMABLE | _RUN_OWN and stored.get(k) != v)


def resumed(stored: RunConfig, launch: RunConfig) -> RunConfig:
    """A resumed run's config: its own, with the launch's resumable options."""
    return replace(stored, **{k: getattr(launch, k) for k in RESUMABLE})


def config_from_options(options: dict[str, Any], db_url: str) -> RunConfig:
    """Rebuild a run's config from the options stored with it (``mfp_run.options``).

    The stored URL is redacted, so the caller passes the one it connected with.
    """
    values = {k: v for k, v in options.items() if k in _FIELDS}
    decode = dict(values.get("decode", {}))
    decode["dates"] = tuple(tuple(pair) for pair in decode.get("dates", ()))
    decode["required"] = tuple(decode.get("required", ()))
    decode["branches"] = tuple(Branch(b["branch"], b["column"], tuple(b["values"]))
                               for b in decode.get("branches", ()))
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
    return RunConfig(**values)


_FIELDS = {f.name for f in fields(RunConfig)}
