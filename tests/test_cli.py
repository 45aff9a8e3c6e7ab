"""The `kaiyuan` command: models, serve errors and the terminal chat."""

from __future__ import annotations

import json
import subprocess
import sys

from conftest import SMOL, RunningServer

KAIYUAN = [sys.executable, "-m", "kaiyuan.cli.main"]


def run(*args: str, stdin: str = "", timeout: int = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KAIYUAN, *args], input=stdin, capture_output=True, text=True,
                          timeout=timeout)


def test_models_local_json() -> None:
    result = run("models", "local", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["alias"]: row for row in json.loads(result.stdout)}
    assert rows["qwen2.5-coder-0.5b"]["status"] == "ready"
    assert rows["qwen2.5-coder-0.5b"]["size_bytes"] == 491_400_064
    assert rows["smollm2-135m"]["status"] == "ready"


def test_serve_with_an_unknown_model_says_what_to_do() -> None:
    result = run("serve", "--model", "no-such-model")
    assert result.returncode == 1
    assert "neither an embedded model" in result.stderr


def test_serve_with_impossible_limits_is_refused() -> None:
    result = run("serve", "--model", SMOL, "--parallel", "64", "--batch-tokens", "16")
    assert result.returncode == 2
    assert "batch_tokens" in result.stderr


def test_chat_against_a_url_streams_replies(smol: RunningServer) -> None:
    result = run("chat", "--base-url", smol.base_url, "--temperature", "0",
                 stdin="Say hello.\n/reset\nName a colour.\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("model>") == 2
    replies = [line.split("model>", 1)[1].strip() for line in result.stdout.splitlines()
               if "model>" in line]
    assert all(replies)


def test_chat_on_the_local_model() -> None:
    result = run("chat", "--model", SMOL, "--temperature", "0", stdin="Say hello.\n")
    assert result.returncode == 0, result.stderr
    reply = [line for line in result.stdout.splitlines() if "model>" in line]
    assert reply and reply[0].split("model>", 1)[1].strip()


def test_chat_reports_an_unreachable_server() -> None:
    result = run("chat", "--base-url", "http://127.0.0.1:9/v1", stdin="hi\n")
    assert result.returncode == 1
    assert "cannot list models" in result.stdout
