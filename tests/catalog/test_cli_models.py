"""`kaiyuan models list | show | compare | devices | fit | cost | recommend`, run as the
real command: people get tables, scripts get JSON, mistakes get one clear line and exit 2."""

from __future__ import annotations

import json
import os
import subprocess
import sys

KAIYUAN = [sys.executable, "-m", "kaiyuan.cli.main", "models"]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*KAIYUAN, *args], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "COLUMNS": "160"})


def ok_json(*args: str):
    result = run(*args, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_list_and_show() -> None:
    ids = {m["id"] for m in ok_json("list")}
    assert {"qwen3-8b", "deepseek-v3", "smollm2-135m"} <= ids
    shown = ok_json("show", "deepseek-v3")
    assert shown["model"]["architecture"]["kind"] == "mla"
    assert all(s["url"].startswith("https://") for s in shown["sources"].values())
    table = run("show", "qwen3-8b")
    assert table.returncode == 0
    assert "Published scores" in table.stdout and "https://" in table.stdout


def test_compare_puts_models_side_by_side() -> None:
    result = run("compare", "qwen3-8b", "llama-3.1-8b")
    assert result.returncode == 0, result.stderr
    assert "qwen3-8b" in result.stdout and "llama-3.1-8b" in result.stdout


def test_kimi_k2_does_not_fit_a_4090_by_hundreds_of_gib() -> None:
    report = ok_json("fit", "kimi-k2-instruct", "--quant", "Q4_K_M", "--device", "rtx-4090")
    assert report["fits"] is False
    assert report["margin_bytes"] < -500 * 1024**3
    assert report["suggestions"]
    text = run("fit", "kimi-k2-instruct", "--quant", "Q4_K_M", "--device", "rtx-4090")
    assert "does not fit" in text.stdout and "GiB short" in text.stdout


def test_qwen3_30b_a3b_on_a_4090_gets_a_verdict_with_numbers() -> None:
    report = ok_json("fit", "qwen3-30b-a3b", "--quant", "Q4_K_M", "--device", "rtx-4090")
    memory = report["memory"]
    assert memory["weights"] > 15 * 1024**3
    assert report["fits"] == (report["margin_bytes"] >= 0)
    text = run("fit", "qwen3-30b-a3b", "--quant", "Q4_K_M", "--device", "rtx-4090")
    assert "weights" in text.stdout and "KV cache" in text.stdout and "tokens/s" in text.stdout


def test_fit_by_hand_given_memory_and_bandwidth() -> None:
    report = ok_json("fit", "smollm2-135m", "--memory", "2", "--bandwidth", "50")
    assert report["fits"] is True
    assert report["speed"]["tokens_per_second"] > 0


def test_cost_compares_providers_and_self_hosting() -> None:
    report = ok_json("cost", "qwen3-32b", "--device", "rtx-4090", "--hourly", "0.7",
                     "--requests", "100000")
    assert report["api"] and report["hosted"]["devices"] >= 1
    assert report["assumptions"]


def test_recommend_ranks_with_reasons_and_lists_exclusions() -> None:
    result = ok_json("recommend", "--use-case", "coding", "--device", "rtx-4090",
                     "--licence", "permissive")
    assert result["ranked"] and all(r["reasons"] for r in result["ranked"])
    assert any(e["model"] == "kimi-k2-instruct" for e in result["excluded"])


def test_an_unknown_model_gets_suggestions_and_exit_2() -> None:
    result = run("fit", "qwen3-8", "--device", "rtx-4090")
    assert result.returncode == 2
    assert "Did you mean" in result.stderr and "qwen3-8b" in result.stderr


def test_impossible_arguments_get_a_clear_message_and_exit_2() -> None:
    cases = [
        (("fit", "qwen3-8b", "--memory", "-4"), "--memory must be a positive"),
        (("fit", "qwen3-8b", "--device", "rtx-4090", "--quant", "Q7_X"),
         "Unknown quantization"),
        (("fit", "qwen3-8b", "--device", "rtx-4091"), "Did you mean rtx-4090"),
        (("fit", "qwen3-8b"), "--device"),
        (("fit", "qwen3-8b", "--device", "rtx-4090", "--context", "0"), "context"),
        (("recommend", "--use-case", "poetry"), "unknown use case"),
        (("cost", "qwen3-8b", "--device", "rtx-4090"), "--hourly"),
    ]
    for args, message in cases:
        result = run(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert message in result.stderr, (args, result.stderr)
        assert "Traceback" not in result.stderr
