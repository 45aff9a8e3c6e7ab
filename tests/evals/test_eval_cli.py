"""`kaiyuan eval` end to end against a real `kaiyuan serve` on the embedded 135M model:
every BFCL category and HumanEval, and a run killed midway that resumes without asking
its cached cases again."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from conftest import SMOL, RunningServer
from test_runner import chat_requests

from kaiyuan.evals.bfcl.data import CATEGORIES

KAIYUAN = [sys.executable, "-m", "kaiyuan.cli.main", "eval"]


def eval_args(server: RunningServer, db: Path, *args: str) -> list[str]:
    return [*KAIYUAN, "run", *args, "--base-url", server.base_url, "--model", SMOL,
            "--db", str(db), "--max-tokens", "64", "--json"]


def run_eval(server: RunningServer, db: Path, *args: str) -> dict:
    done = subprocess.run(eval_args(server, db, *args), capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def stored(db: Path) -> int:
    if not db.exists():
        return 0
    with sqlite3.connect(db) as connection:
        try:
            return connection.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def test_bfcl_runs_every_category(smol: RunningServer, tmp_path: Path) -> None:
    report = run_eval(smol, tmp_path / "e.sqlite", "bfcl", "--limit", "1", "--concurrency", "4")
    assert set(report["summary"]["by_category"]) == set(CATEGORIES)
    assert report["summary"]["cases"] == len(CATEGORIES)
    assert all(score["correct"] is not None or score["detail"] for score in report["scores"])
    assert set(report["bfcl_summary"]) >= {"non_live_ast", "live_ast", "irrelevance"}


def test_humaneval_and_bfcl_runs_make_a_report(smol: RunningServer, tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite"
    report = run_eval(smol, db, "humaneval", "--limit", "2")
    assert report["summary"]["cases"] == 2
    assert report["summary"]["errors"] == 0
    assert set(report["pass_at_k"]) == {"1"}
    run_eval(smol, db, "bfcl", "--category", "simple", "--category", "irrelevance",
             "--limit", "2")

    html, markdown = tmp_path / "report.html", tmp_path / "report.md"
    done = subprocess.run([*KAIYUAN, "report", "--db", str(db), "--html", str(html),
                           "--markdown", str(markdown), "--price", f"{SMOL}=0.1,0.4"],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    page = html.read_text()
    assert "data:image/png;base64," in page and "https://" not in page
    summary = markdown.read_text()
    assert "humaneval" in summary and "bfcl-native" in summary and SMOL in summary


def test_a_killed_run_resumes_without_asking_cached_cases(smol: RunningServer,
                                                          tmp_path: Path) -> None:
    db = tmp_path / "e.sqlite"
    args = ("bfcl", "--category", "simple", "--limit", "8", "--concurrency", "1")
    process = subprocess.Popen(eval_args(smol, db, *args), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 300
    while stored(db) < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.2)
    process.send_signal(signal.SIGKILL)
    process.wait()
    kept = stored(db)
    assert 3 <= kept < 8

    before = chat_requests(smol)
    report = run_eval(smol, db, *args)
    assert report["stats"]["cached"] == kept
    assert report["stats"]["asked"] == 8 - kept
    assert chat_requests(smol) - before == 8 - kept
    assert report["summary"]["cases"] == 8
    # The killed invocation's time was recorded as its results arrived, so it counts.
    assert report["run_time"]["invocations"] == 2
    assert report["run_time"]["wall_s"] > report["stats"]["wall_s"]

    again = run_eval(smol, db, *args)
    assert again["stats"]["asked"] == 0
    assert chat_requests(smol) - before == 8 - kept


def test_perf_measures_each_concurrency_level(smol: RunningServer) -> None:
    done = subprocess.run([*KAIYUAN, "perf", "--base-url", smol.base_url, "--model", SMOL,
                           "--levels", "1,2", "--rounds", "1", "--max-tokens", "16",
                           "--json"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    levels = json.loads(done.stdout)
    assert [level["clients"] for level in levels] == [1, 2]
    for level in levels:
        assert level["errors"] == 0
        assert level["completion_tokens"] > 0
        assert 0 < level["ttft_p50_s"] <= level["ttft_p95_s"]
        assert level["aggregate_tokens_per_s"] > 0


def test_bad_arguments_get_one_line_and_exit_2(tmp_path: Path) -> None:
    for args in (["run", "nosuch"], ["run", "bfcl", "--category", "nosuch"],
                 ["run", "bfcl", "--mode", "telepathy"], ["sweep", "humaneval", "--budgets",
                                                          "-1"], ["perf", "--levels", "0"]):
        done = subprocess.run([*KAIYUAN, *args, "--db", str(tmp_path / "x.sqlite")]
                              if args[0] != "perf" else [*KAIYUAN, *args],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 2, (args, done.stderr)
        assert done.stderr.startswith("error:") and "Traceback" not in done.stderr


def test_arena_rates_recorded_votes(tmp_path: Path) -> None:
    votes = tmp_path / "votes.jsonl"
    lines = [{"model_a": "big", "model_b": "small", "winner": "model_a"}] * 6 + [
        {"model_a": "small", "model_b": "big", "winner": "model_a"},
        {"model_a": "small", "model_b": "big", "winner": "tie"}]
    votes.write_text("\n".join(json.dumps(line) for line in lines))
    done = subprocess.run([*KAIYUAN, "arena", "--votes", str(votes), "--rounds", "100",
                           "--json"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    ratings = json.loads(done.stdout)["ratings"]
    assert [r["model"] for r in ratings] == ["big", "small"]
    assert ratings[0]["wins"] == 6 and ratings[0]["ties"] == 1
