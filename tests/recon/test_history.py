"""History: tonight's run against the last runs of the same job."""

from __future__ import annotations

from types import SimpleNamespace

from mfpipe.recon.history import history, history_check, history_stats
from mfpipe.recon.model import HistoryEntry
from mfpipe.recon.subject import RunSubject
from tests.recon.conftest import load


def entries(*loaded: int) -> list[HistoryEntry]:
    return [HistoryEntry(f"r{i}", "2026-11-0{i}T01:00:00", "COMPLETED", n, n, 0, 10.0 + i)
            for i, n in enumerate(loaded, 1)]


def tonight(read: int, elapsed: float = 11.0) -> SimpleNamespace:
    return SimpleNamespace(run=SimpleNamespace(records_read=read, records_loaded=read,
                                               records_rejected=0, elapsed_s=elapsed))


class TestHistoryStats:
    def test_usual_night_is_not_flagged(self):
        """Counts and durations inside the job's range raise nothing."""
        stats = history_stats(tonight(1_050), entries(1_000, 1_100, 980))
        assert not any(s.flagged for s in stats)
        assert history_check(stats)[0].passed

    def test_half_empty_file_is_a_warning(self):
        """A file with a third of the usual records is flagged, as a warning."""
        stats = history_stats(tonight(350), entries(1_000, 1_100, 980))
        flagged = {s.metric for s in stats if s.flagged}
        assert flagged == {"read", "loaded"}
        (check,) = history_check(stats)
        assert (check.passed, check.severity) == (False, "warn")
        assert any(line.startswith("read: 350 against 980-1100") for line in check.details)

    def test_too_few_runs_flag_nothing(self):
        """With fewer than three earlier runs there is no usual range yet."""
        stats = history_stats(tonight(1), entries(1_000, 1_000))
        assert stats and not any(s.flagged for s in stats)

    def test_no_history_no_check(self):
        """A job's first run has no history check at all."""
        assert history_stats(tonight(5), []) == [] and history_check([]) == []


class TestHistoryQuery:
    def test_earlier_completed_runs_of_the_job(self, tmp_path):
        """The history holds the job's earlier completed runs, newest first, not the run."""
        db = f"sqlite:///{tmp_path / 'h.db'}"
        first = load(tmp_path, db, n=1_000, job="nightly")
        second = load(tmp_path, db, n=1_000, seed=6, job="nightly")
        found = history(RunSubject.load(second.store, second.config.run_id))
        assert [e.run_id for e in found] == [first.config.run_id]
        assert found[0].loaded == 1_000 and found[0].elapsed_s > 0
        first.store.close()
        second.store.close()
