"""Multi-turn conversations: time to first token turn by turn, kaiyuan with and without its
prefix cache (and with greedy requests, which reuse only exact cells), and
llama-cpp-python's server.

Run by hand, never in CI (`make bench-conversation`):

    python bench/conversation.py [--model ALIAS_OR_PATH] [--threads N] [--turns N]
                                 [--conversations 1,4] [--max-tokens N]

Each conversation opens with a long system message (numbered, so conversations share
nothing with each other) and asks `--turns` questions, sending the whole history each
time, the previous replies included, as a chat client does. With 4 conversations they
run at once, each its own turns in order. Requests sample as a chat client does
(temperature 0.7, top_p 0.8, no seed) with a fixed `max_tokens`, streamed through the
official `openai` client; TTFT is measured on the client. One more kaiyuan run sends
greedy requests, whose text must not depend on what ran before, so they reuse only whole
prefill chunks and never the previous reply. kaiyuan's reuse shows in
`usage.prompt_tokens_details.cached_tokens`. llama_cpp.server keeps one sequence and
reuses the longest common prefix with the tokens it last evaluated, so it reuses within a
single conversation but not when conversations interleave. Servers run one at a time as
subprocesses and are always killed. Results go to `bench/results/conversation.json` and
the `conversation` section of `bench/README.md`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from openai import AsyncOpenAI
from readme import write_section
from serve import (
    BENCH_DIR,
    KAIYUAN,
    LLAMA_SERVER,
    REQUEST_TIMEOUT_S,
    ForeignCpu,
    ServerSpec,
    _exit_on_sigterm,
    check_llama_server_installed,
    free_port,
    machine_info,
    ratio,
    running_server,
    warn_if_busy,
)

from kaiyuan.engine.embedded import DEFAULT_MODEL, resolve_model

RESULTS_PATH = BENCH_DIR / "results" / "conversation.json"
KAIYUAN_GREEDY = "kaiyuan, greedy requests"
KAIYUAN_NO_CACHE = "kaiyuan --no-prefix-cache"
# An unseeded draw at settings a chat client commonly sends.
CHAT_SAMPLING = {"temperature": 0.7, "top_p": 0.8}
CTX_SIZE = 4096
# About 400 prompt tokens: on 2 cores a cold prefill of it takes ~13 s, so the whole
# benchmark stays near ten minutes.
NOTE_ITEMS = 12

QUESTIONS = (
    "Summarise the decisions above in two sentences.",
    "Which of the items above is the riskiest, and why?",
    "Who owns the item about the database migration?",
    "List the deadlines that fall in March.",
    "Which items depend on another item?",
    "What should the team do first next week?",
    "Draft a one-line status update for the whole team.",
    "Which item would you drop if time ran short?",
)
TEAMS = ("platform", "payments", "search", "mobile", "data", "security")
TASKS = ("database migration", "API rate limits", "on-call rota", "load tests",
         "log retention", "key rotation", "release train", "cost review")


def system_message(conversation: int) -> dict[str, str]:
    """A long, numbered system message: meeting notes the questions are about."""
    items = [
        f"Item {i + 1}: the {TEAMS[i % len(TEAMS)]} team owns the "
        f"{TASKS[(i * 3 + conversation) % len(TASKS)]}, due {3 + i % 4} March, "
        f"estimated at {2 + (i * 5) % 9} days, blocked by item {max(1, i - 2)}."
        for i in range(NOTE_ITEMS)
    ]
    return {"role": "system",
            "content": f"Conversation {conversation}. You are a project assistant. These are "
                       "the notes of this week's planning meeting:\n" + "\n".join(items)}


@dataclass
class TurnResult:
    conversation: int
    turn: int
    prompt_tokens: int | None
    cached_tokens: int | None
    completion_tokens: int | None
    ttft_s: float | None
    latency_s: float


@dataclass
class Wave:
    """`conversations` conversations at once on one backend."""

    backend: str
    conversations: int
    wall_s: float
    other_cpu_share: float | None
    turns: list[TurnResult]


async def converse(client: AsyncOpenAI, model_id: str, conversation: int, turns: int,
                   max_tokens: int, extra_body: dict[str, Any]) -> list[TurnResult]:
    """One conversation, turn by turn, each reply added to the history."""
    messages: list[dict[str, str]] = [system_message(conversation)]
    results = []
    for turn, question in enumerate(QUESTIONS[:turns], start=1):
        messages.append({"role": "user", "content": question})
        started = time.perf_counter()
        first: float | None = None
        parts: list[str] = []
        usage = None
        stream = await client.chat.completions.create(
            model=model_id, messages=messages, max_tokens=max_tokens,
            stream=True, stream_options={"include_usage": True}, extra_body=extra_body)
        async for chunk in stream:
            if chunk.usage is not None:
                usage = chunk.usage
            for choice in chunk.choices:
                if choice.delta.content:
                    first = first or time.perf_counter()
                    parts.append(choice.delta.content)
        details = usage.prompt_tokens_details if usage else None
        results.append(TurnResult(
            conversation=conversation, turn=turn,
            prompt_tokens=usage.prompt_tokens if usage else None,
            cached_tokens=details.cached_tokens if details else None,
            completion_tokens=usage.completion_tokens if usage else None,
            ttft_s=None if first is None else first - started,
            latency_s=time.perf_counter() - started))
        messages.append({"role": "assistant", "content": "".join(parts)})
    return results


async def wave(spec: ServerSpec, model_id: str, pid: int, conversations: int, turns: int,
               max_tokens: int, first_index: int) -> Wave:
    client = AsyncOpenAI(base_url=spec.base_url, api_key="none", timeout=REQUEST_TIMEOUT_S,
                         max_retries=0)
    cpu = ForeignCpu([pid])
    started = time.perf_counter()
    try:
        done = await asyncio.gather(*(
            converse(client, model_id, first_index + c, turns, max_tokens, spec.extra_body)
            for c in range(conversations)))
    finally:
        await client.close()
    share = cpu.share()
    warn_if_busy(spec.backend, share)
    return Wave(spec.backend, conversations, time.perf_counter() - started, share,
                [turn for conversation in done for turn in conversation])


def specs(model: Path, threads: int) -> list[ServerSpec]:
    kaiyuan = [str(Path(sys.executable).with_name("kaiyuan")), "serve", "--model", str(model),
               "--threads", str(threads), "--parallel", "8", "--ctx-size", str(CTX_SIZE)]
    llama = [sys.executable, "-m", "llama_cpp.server", "--model", str(model),
             "--n_threads", str(threads), "--n_threads_batch", str(threads),
             "--n_ctx", str(CTX_SIZE), "--interrupt_requests", "False"]
    ports = [free_port() for _ in range(4)]
    return [
        ServerSpec(KAIYUAN, [*kaiyuan, "--port", str(ports[0])], ports[0], CHAT_SAMPLING),
        ServerSpec(KAIYUAN_GREEDY, [*kaiyuan, "--port", str(ports[1])], ports[1],
                   {"temperature": 0.0}),
        ServerSpec(KAIYUAN_NO_CACHE, [*kaiyuan, "--no-prefix-cache", "--port", str(ports[2])],
                   ports[2], CHAT_SAMPLING),
        # Its default repeat_penalty is 1.1; 1.0 samples the way the others do.
        ServerSpec(LLAMA_SERVER, [*llama, "--host", "127.0.0.1", "--port", str(ports[3])],
                   ports[3], {**CHAT_SAMPLING, "repeat_penalty": 1.0}),
    ]


def measure(model: Path, threads: int, levels: Sequence[int], turns: int,
            max_tokens: int) -> list[Wave]:
    waves = []
    with tempfile.TemporaryDirectory() as logs:
        for spec in specs(model, threads):
            print(f"{spec.backend} ...", flush=True)
            with running_server(spec, Path(logs)) as (model_id, _startup, pid):
                # Numbered conversations differ from wave to wave, so no wave finds
                # another's prefix in the cache.
                first = 0
                for level in levels:
                    waves.append(asyncio.run(
                        wave(spec, model_id, pid, level, turns, max_tokens, first)))
                    first += level
    return waves


def _mean(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.fmean(present) if present else None


def summary_rows(waves: Sequence[Wave]) -> list[dict[str, Any]]:
    """Per backend and number of conversations: TTFT of the first turn and of the rest."""
    rows = []
    for w in waves:
        later = [t for t in w.turns if t.turn > 1]
        rows.append({
            "backend": w.backend,
            "conversations": w.conversations,
            "first_turn_ttft_s": _mean([t.ttft_s for t in w.turns if t.turn == 1]),
            "later_turns_ttft_s": _mean([t.ttft_s for t in later]),
            "later_turns_prompt_tokens": _mean([t.prompt_tokens for t in later]),
            "later_turns_cached_tokens": _mean([t.cached_tokens for t in later]),
            "wall_s": w.wall_s,
            "other_cpu_share": w.other_cpu_share,
        })
    return rows


def markdown(rows: Sequence[dict[str, Any]], info: dict[str, Any]) -> str:
    def cell(value: float | None, fmt: str) -> str:
        return "-" if value is None else format(value, fmt)

    lines = [
        "## `conversation.py`: multi-turn conversations and the prefix cache",
        "",
        f"{info['model']} · threads {info['threads']} · {info['turns']} turns of at most "
        f"{info['max_tokens']} tokens · {info['machine']['cpu_model']} "
        f"({info['machine']['cpu_cores']} cores) · {info['machine']['date']}",
        "",
        "Each conversation opens with a long system message (planning notes) and sends its "
        "whole history every turn. Requests sample as a chat client does (temperature 0.7, "
        "top_p 0.8, no seed), except on the greedy row, whose requests reuse only exact "
        "whole prefill chunks. TTFT is measured on the client; \"later turns\" are "
        "turns 2 onwards. Cached tokens are kaiyuan's "
        "`usage.prompt_tokens_details.cached_tokens`.",
        "",
        "| backend | conversations at once | turn 1 TTFT (s) | later turns TTFT (s) "
        "| later turns prompt tokens | later turns cached tokens | wall time (s) "
        "| other CPU load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        lines.append(
            f"| {r['backend']} | {r['conversations']} | {cell(r['first_turn_ttft_s'], '.2f')} "
            f"| {cell(r['later_turns_ttft_s'], '.2f')} "
            f"| {cell(r['later_turns_prompt_tokens'], '.0f')} "
            f"| {cell(r['later_turns_cached_tokens'], '.0f')} | {r['wall_s']:.1f} "
            f"| {cell(r['other_cpu_share'], '.0%')} |")
    lines += ["", "Ratios of later-turn TTFT (lower is better for kaiyuan):", ""]
    by_key = {(r["backend"], r["conversations"]): r for r in rows}
    for level in info["conversations"]:
        ours = by_key[(KAIYUAN, level)]["later_turns_ttft_s"]
        for peer in (KAIYUAN_GREEDY, KAIYUAN_NO_CACHE, LLAMA_SERVER):
            value = ratio(ours, by_key[(peer, level)]["later_turns_ttft_s"])
            lines.append(f"- {level} conversation(s): kaiyuan ÷ {peer}: "
                         f"**{cell(value, '.2f')}**")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--turns", type=int, default=4, choices=range(2, len(QUESTIONS) + 1))
    parser.add_argument("--conversations", default="1,4",
                        help="Comma-separated numbers of conversations run at once.")
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args(argv)
    try:
        levels = [int(v) for v in args.conversations.split(",")]
    except ValueError:
        parser.error("--conversations takes comma-separated integers, e.g. 1,4")
    if any(level < 1 for level in levels):
        parser.error("--conversations must be at least 1")
    check_llama_server_installed()
    model = resolve_model(args.model).path
    waves = measure(model, args.threads, levels, args.turns, args.max_tokens)
    rows = summary_rows(waves)
    info = {"model": model.name, "threads": args.threads, "turns": args.turns,
            "max_tokens": args.max_tokens, "conversations": levels,
            "machine": machine_info()}
    RESULTS_PATH.write_text(json.dumps(
        {**info, "summary": rows, "waves": [asdict(w) for w in waves]}, indent=2) + "\n")
    table = markdown(rows, info)
    write_section("conversation", table)
    print(f"\n{table}\n\nWrote {RESULTS_PATH} and bench/README.md")


if __name__ == "__main__":
    main()
