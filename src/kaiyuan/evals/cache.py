"""Every evaluation result in SQLite, keyed so that a killed run resumes where it stopped
and a finished one is not asked again.

The key is (endpoint, model, suite, case, parameters): the same case asked of the same
model with different sampling settings or thinking budget is a different result.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS results (
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    suite TEXT NOT NULL,
    case_id TEXT NOT NULL,
    params_key TEXT NOT NULL,
    params TEXT NOT NULL,
    response TEXT,
    error TEXT,
    latency_s REAL,
    first_token_s REAL,
    prompt_tokens INTEGER,
    completion_tokens INTEGER,
    reasoning_tokens INTEGER,
    attempts INTEGER NOT NULL,
    created REAL NOT NULL,
    PRIMARY KEY (endpoint, model, suite, case_id, params_key)
);
CREATE TABLE IF NOT EXISTS scores (
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    suite TEXT NOT NULL,
    case_id TEXT NOT NULL,
    params_key TEXT NOT NULL,
    category TEXT NOT NULL,
    correct INTEGER,
    detail TEXT NOT NULL,
    PRIMARY KEY (endpoint, model, suite, case_id, params_key)
);
CREATE TABLE IF NOT EXISTS runs (
    endpoint TEXT NOT NULL,
    model TEXT NOT NULL,
    suite TEXT NOT NULL,
    params_key TEXT NOT NULL,
    started REAL NOT NULL,
    wall_s REAL NOT NULL,
    asked INTEGER NOT NULL,
    cached INTEGER NOT NULL,
    errors INTEGER NOT NULL
);
"""


@dataclass(frozen=True)
class RunTime:
    """What a run has cost in time so far, summed over the invocations that made it."""

    wall_s: float
    invocations: int


def params_key(params: dict[str, Any]) -> str:
    """A stable digest of request parameters (key order does not matter)."""
    text = json.dumps(params, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass(frozen=True)
class RunKey:
    """What identifies a run: where, which model, which suite, with which parameters."""

    endpoint: str
    model: str
    suite: str
    params: tuple[tuple[str, Any], ...]

    @classmethod
    def of(cls, endpoint: str, model: str, suite: str, params: dict[str, Any]) -> RunKey:
        return cls(endpoint, model, suite, tuple(sorted(params.items())))

    @property
    def params_dict(self) -> dict[str, Any]:
        return dict(self.params)

    @property
    def params_key(self) -> str:
        return params_key(self.params_dict)


@dataclass(frozen=True)
class Result:
    """One case's answer (or the error that ended its attempts) and what it cost."""

    case_id: str
    response: dict[str, Any] | None
    error: str | None
    latency_s: float | None
    first_token_s: float | None
    prompt_tokens: int | None
    completion_tokens: int | None
    reasoning_tokens: int | None
    attempts: int


class ResultCache:
    """The SQLite store. One connection per process; writes commit at once, so a kill
    loses at most the requests in flight."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._db = sqlite3.connect(path)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)
        self._db.commit()

    def close(self) -> None:
        self._db.close()

    def done(self, run: RunKey, *, include_errors: bool = True) -> set[str]:
        """Case ids of `run` already stored (with or without those that ended in error)."""
        query = ("SELECT case_id FROM results WHERE endpoint=? AND model=? AND suite=? "
                 "AND params_key=?")
        if not include_errors:
            query += " AND error IS NULL"
        rows = self._db.execute(query, (run.endpoint, run.model, run.suite, run.params_key))
        return {row[0] for row in rows}

    def store(self, run: RunKey, result: Result) -> None:
        self._db.execute(
            "INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (run.endpoint, run.model, run.suite, result.case_id, run.params_key,
             json.dumps(run.params_dict, sort_keys=True),
             json.dumps(result.response) if result.response is not None else None,
             result.error, result.latency_s, result.first_token_s, result.prompt_tokens,
             result.completion_tokens, result.reasoning_tokens, result.attempts, time.time()),
        )
        self._db.commit()

    def store_scores(self, run: RunKey, scores: Iterable[tuple[str, str, bool | None, str]]
                     ) -> None:
        """Keep each case's verdict (case id, category, correct or None for an error,
        detail), so that reports need neither the suite nor a second scoring pass."""
        self._db.executemany(
            "INSERT OR REPLACE INTO scores VALUES (?,?,?,?,?,?,?,?)",
            [(run.endpoint, run.model, run.suite, case_id, run.params_key, category,
              None if correct is None else int(correct), detail)
             for case_id, category, correct, detail in scores],
        )
        self._db.commit()

    def begin_run(self, run: RunKey, cached: int) -> int:
        """Record that an invocation of `run` has started and return its id.

        `record_progress` keeps its row current as results arrive, so the time of an
        invocation that is killed still counts in `run_time`."""
        row = self._db.execute("INSERT INTO runs VALUES (?,?,?,?,?,0,0,?,0)",
                               (run.endpoint, run.model, run.suite, run.params_key,
                                time.time(), cached))
        self._db.commit()
        assert row.lastrowid is not None
        return row.lastrowid

    def record_progress(self, invocation: int, wall_s: float, asked: int, errors: int) -> None:
        """Bring an invocation's row up to date: seconds so far, cases asked, errors."""
        self._db.execute("UPDATE runs SET wall_s=?, asked=?, errors=? WHERE rowid=?",
                         (wall_s, asked, errors, invocation))
        self._db.commit()

    def run_time(self, run: RunKey) -> RunTime:
        """Seconds spent asking and the number of invocations, over every invocation of
        `run` in this database (resumes included)."""
        row = self._db.execute(
            "SELECT COALESCE(SUM(wall_s), 0), COUNT(*) FROM runs WHERE endpoint=? AND "
            "model=? AND suite=? AND params_key=?",
            (run.endpoint, run.model, run.suite, run.params_key)).fetchone()
        return RunTime(wall_s=float(row[0]), invocations=int(row[1]))

    def results(self, run: RunKey, case_ids: Iterable[str] | None = None) -> list[Result]:
        """Stored results of `run`, limited to `case_ids` when given."""
        rows = self._db.execute(
            "SELECT case_id, response, error, latency_s, first_token_s, prompt_tokens, "
            "completion_tokens, reasoning_tokens, attempts FROM results WHERE endpoint=? "
            "AND model=? AND suite=? AND params_key=? ORDER BY case_id",
            (run.endpoint, run.model, run.suite, run.params_key),
        )
        wanted = set(case_ids) if case_ids is not None else None
        return [
            Result(row[0], json.loads(row[1]) if row[1] else None, *row[2:])
            for row in rows
            if wanted is None or row[0] in wanted
        ]
