"""Serving benchmark: kaiyuan vs llama-cpp-python's server vs raw llama.cpp decode.

Run by hand, never in CI; it takes several minutes on the default model:

    python bench/serve.py [--model ALIAS_OR_PATH] [--threads N] [--max-tokens N]
                          [--concurrency 1,2,4,8] [--quick] [--repeats N]
                          [--requests-per-client N] [--llama-server-args '...']

On one GGUF and one thread count it measures

* single stream: time to first token (TTFT) and decode tokens/s of `kaiyuan serve`, of
  `python -m llama_cpp.server`, and of a raw in-process llama.cpp loop (`llama_decode` plus
  a greedy `llama_sampler_sample` on one sequence, no server);
* concurrency: aggregate completion tokens/s and p50/p95 TTFT of both servers with 1, 2, 4
  and 8 streaming clients.

Every request is greedy with a fixed `max_tokens` and its own prompt (a numbered system
message first, so no server can reuse another request's KV cache). Servers run one at a
time as subprocesses on free loopback ports and are always killed at the end. Results go to
`bench/results/serve.json` and `bench/README.md`; the Markdown table is also printed.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import json
import math
import os
import platform
import shlex
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import llama_cpp
from llama_cpp import _logger as llama_logger
from openai import AsyncOpenAI
from readme import README_PATH, write_section

from kaiyuan.engine.embedded import DEFAULT_MODEL, resolve_model
from kaiyuan.engine.template import ChatTemplate

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_PATH = BENCH_DIR / "results" / "serve.json"

CTX_SIZE = 4096
PARALLEL = 8
N_BATCH = 512
READY_TIMEOUT_S = 300.0
REQUEST_TIMEOUT_S = 1800.0
WARMUP_MAX_TOKENS = 8

KAIYUAN = "kaiyuan"
LLAMA_SERVER = "llama_cpp.server"
RAW = "raw llama.cpp"
RAW_SAME_LAYOUT = "raw llama.cpp, kaiyuan's weight layout"

TOPICS = (
    "a lighthouse keeper who finds a map hidden in the wall",
    "two rival bakers in a small mountain town",
    "a robot that learns to paint",
    "a sailor lost in a storm who reaches an unknown island",
    "a girl who can talk to the wind",
    "an old clockmaker and his last commission",
    "a detective solving a mystery on a night train",
    "a family moving to a colony on Mars",
    "a musician who hears a melody nobody else can",
    "a dragon who is afraid of heights",
    "a librarian guarding a book that rewrites itself",
    "a village that wakes up one day without colours",
    "an astronaut repairing a satellite alone",
    "a chess prodigy and her grandfather",
    "a thief who steals only memories",
    "a beekeeper during the longest summer on record",
)


# ---- results ---------------------------------------------------------------------------


@dataclass
class RequestResult:
    """One generation, timed from sending it (or starting the prefill) to its last token."""

    prompt_index: int
    prompt_tokens: int
    completion_tokens: int
    tokens_from_usage: bool
    """True when `completion_tokens` is the server's usage figure, False when counted."""
    content_chunks: int
    ttft_s: float | None
    decode_s: float | None
    """Time from the first to the last token."""
    latency_s: float
    finish_reason: str | None
    text: str
    decode_tok_s: float | None = field(init=False)

    def __post_init__(self) -> None:
        self.decode_tok_s = decode_rate(self.completion_tokens, self.decode_s)


@dataclass
class WaveResult:
    """Several clients streaming at once; `wall_s` spans the whole wave."""

    clients: int
    requests_per_client: int
    wall_s: float
    requests: list[RequestResult]
    total_completion_tokens: int = field(init=False)
    aggregate_tok_s: float = field(init=False)
    ttft_p50_s: float | None = field(init=False)
    ttft_p95_s: float | None = field(init=False)

    def __post_init__(self) -> None:
        self.total_completion_tokens = sum(r.completion_tokens for r in self.requests)
        self.aggregate_tok_s = self.total_completion_tokens / self.wall_s
        ttfts = [r.ttft_s for r in self.requests if r.ttft_s is not None]
        self.ttft_p50_s = percentile(ttfts, 50)
        self.ttft_p95_s = percentile(ttfts, 95)


@dataclass
class ServerRun:
    """Everything measured on one server, in the order it was measured."""

    backend: str
    command: list[str]
    model_id: str
    startup_s: float
    warmup_prompt_tokens: int | None
    """The server's own count of the warm-up prompt, to compare with ours."""
    other_cpu_share: float | None
    """Share of all cores used by processes outside the benchmark while it measured."""
    single: list[RequestResult]
    waves: list[WaveResult]


@dataclass
class RawRun:
    """The in-process llama.cpp loop on one weight layout."""

    backend: str
    use_extra_bufts: bool
    load_s: float
    other_cpu_share: float | None
    single: list[RequestResult]


@dataclass
class BatchedDecode:
    """Raw llama.cpp decode with `sequences` tokens per step: the hardware's batching headroom."""

    sequences: int
    tok_s: float


@dataclass
class SingleRow:
    backend: str
    runs: int
    ttft_ms: float | None
    decode_tok_s: float | None
    completion_tokens: int
    other_cpu_share: float | None


@dataclass
class ConcurrencyRow:
    clients: int
    kaiyuan_tok_s: float
    llama_tok_s: float
    ratio: float
    kaiyuan_ttft_p50_ms: float | None
    kaiyuan_ttft_p95_ms: float | None
    llama_ttft_p50_ms: float | None
    llama_ttft_p95_ms: float | None


@dataclass
class Summary:
    single: list[SingleRow]
    concurrency: list[ConcurrencyRow]
    decode_ratio_vs_raw: float | None
    """kaiyuan single-stream decode ÷ raw llama.cpp with its default (repacked) weights."""
    decode_ratio_vs_raw_same_layout: float | None
    """kaiyuan single-stream decode ÷ raw llama.cpp loaded the way kaiyuan loads weights."""
    batched: list[BatchedDecode]


@dataclass(frozen=True)
class Prompt:
    index: int
    text: str
    tokens: tuple[int, ...]


@dataclass(frozen=True)
class PromptPlan:
    """Distinct prompts for every request of the run; both servers get the same ones."""

    warmup: Prompt
    single: tuple[Prompt, ...]
    waves: dict[int, tuple[tuple[Prompt, ...], ...]]
    """Clients in the wave -> the prompts each client sends, in order."""

    def all(self) -> list[Prompt]:
        prompts = [self.warmup, *self.single]
        for clients in self.waves.values():
            for client in clients:
                prompts.extend(client)
        return prompts


@dataclass(frozen=True)
class BenchConfig:
    model_spec: str
    model_path: Path
    threads: int
    max_tokens: int
    concurrency: tuple[int, ...]
    repeats: int
    requests_per_client: int
    quick: bool
    llama_server_args: tuple[str, ...] = ()
    """Extra `llama_cpp.server` options, e.g. ("--flash_attn", "True")."""


# ---- small helpers ---------------------------------------------------------------------


def decode_rate(tokens: int, decode_s: float | None) -> float | None:
    """(tokens - 1) / (last token time - first token time): the first token is the prefill's."""
    if decode_s is None or decode_s <= 0 or tokens < 2:
        return None
    return (tokens - 1) / decode_s


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linearly interpolated percentile (numpy's default method); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: Sequence[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return statistics.median(present) if present else None


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return numerator / denominator


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class ForeignCpu:
    """Measures how much CPU other processes take while a backend is measured (Linux only).

    llama.cpp's threads meet at a barrier after every operation, so with `--threads` equal to
    the core count one busy neighbour can slow decoding by orders of magnitude; a share above
    a few percent means the figures of that phase are not comparable with the others.
    """

    def __init__(self, pids: Sequence[int] = ()):
        self.pids = [os.getpid(), *pids]
        self._start = self._sample()
        self._wall = time.monotonic()

    @staticmethod
    def _busy_ticks() -> int:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        return sum(fields) - fields[3] - fields[4]  # all but idle and iowait

    @staticmethod
    def _process_ticks(pid: int) -> int:
        stat = Path(f"/proc/{pid}/stat").read_text()
        fields = stat.rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])  # utime + stime, all threads

    def _sample(self) -> tuple[int, int] | None:
        try:
            return self._busy_ticks(), sum(self._process_ticks(pid) for pid in self.pids)
        except (OSError, ValueError, IndexError):
            return None

    def share(self) -> float | None:
        end, wall = self._sample(), time.monotonic() - self._wall
        if self._start is None or end is None or wall <= 0:
            return None
        foreign = (end[0] - self._start[0]) - (end[1] - self._start[1])
        ticks = os.sysconf("SC_CLK_TCK") * wall * (os.cpu_count() or 1)
        return max(foreign, 0) / ticks


def warn_if_busy(backend: str, share: float | None) -> None:
    if share is not None and share > 0.05:
        print(f"  WARNING: other processes used {share:.0%} of the CPU while {backend} was "
              "measured; its figures are not comparable", flush=True)


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    """Turn SIGTERM into SystemExit so `finally` blocks still stop the servers."""
    raise SystemExit(128 + signum)


# ---- machine and model facts -----------------------------------------------------------


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def package_version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_revision() -> str | None:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=BENCH_DIR, capture_output=True, text=True,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain"], cwd=BENCH_DIR, capture_output=True, text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return head + ("-dirty" if dirty else "")


def machine_info() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "load_average_at_start": list(os.getloadavg()),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "llama_cpp_python": llama_cpp.__version__,
        "llama_cpp_system_info": llama_cpp.llama_print_system_info().decode().strip(),
        "packages": {
            name: package_version(name)
            for name in ("kaiyuan", "openai", "fastapi", "uvicorn", "sse-starlette")
        },
        "kaiyuan_git": git_revision(),
    }


# ---- raw llama.cpp ---------------------------------------------------------------------


def _init_llama() -> None:
    llama_logger.set_verbose(False)  # llama.cpp logs every tensor at load time
    llama_cpp.llama_backend_init()


def load_model(path: Path, *, vocab_only: bool = False, use_extra_bufts: bool = True) -> Any:
    """A `llama_model*`; `use_extra_bufts` is llama.cpp's default (repacked CPU weights)."""
    params = llama_cpp.llama_model_default_params()
    params.vocab_only = vocab_only
    params.use_extra_bufts = use_extra_bufts
    model = llama_cpp.llama_model_load_from_file(str(path).encode(), params)
    if not model:
        raise RuntimeError(f"llama.cpp could not load {path}")
    return model


def tokenize(vocab: Any, text: str) -> tuple[int, ...]:
    """As both servers tokenize a text completion prompt: BOS if the model wants it,
    special tokens parsed."""
    data = text.encode()
    capacity = len(data) + 8
    buf = (llama_cpp.llama_token * capacity)()
    n = llama_cpp.llama_tokenize(vocab, data, len(data), buf, capacity, True, True)
    if n < 0:
        raise RuntimeError(f"prompt needs {-n} tokens, more than {capacity}")
    return tuple(buf[:n])


def token_text(vocab: Any, token: int) -> str:
    if token < 0:
        return ""
    buf = ctypes.create_string_buffer(128)
    n = llama_cpp.llama_token_to_piece(vocab, token, buf, 128, 0, True)
    return buf.raw[: max(n, 0)].decode(errors="replace")


def detokenize(vocab: Any, tokens: Sequence[int]) -> str:
    pieces = []
    for token in tokens:
        buf = ctypes.create_string_buffer(256)
        n = llama_cpp.llama_token_to_piece(vocab, token, buf, 256, 0, False)
        pieces.append(buf.raw[: max(n, 0)])
    return b"".join(pieces).decode(errors="replace")


def model_info(path: Path) -> dict[str, Any]:
    model = load_model(path)  # weights are mmapped: cheap, and needed for the description
    try:
        desc = ctypes.create_string_buffer(256)
        llama_cpp.llama_model_desc(model, desc, 256)
        name = ctypes.create_string_buffer(256)
        found = llama_cpp.llama_model_meta_val_str(model, b"general.name", name, 256)
        return {
            "path": str(path),
            "file_bytes": path.stat().st_size,
            "name": name.value.decode() if found >= 0 else path.stem,
            "description": desc.value.decode(),
            "n_params": llama_cpp.llama_model_n_params(model),
            "n_vocab": llama_cpp.llama_vocab_n_tokens(llama_cpp.llama_model_get_vocab(model)),
        }
    finally:
        llama_cpp.llama_model_free(model)


def story_messages(index: int) -> list[dict[str, str]]:
    """A numbered system message first, so two prompts share at most a few template tokens."""
    topic = TOPICS[index % len(TOPICS)]
    return [
        {
            "role": "system",
            "content": f"Request {index}. You are a novelist who writes long, vivid stories.",
        },
        {
            "role": "user",
            "content": f"Write a long story about {topic}. Give every character a name and "
            "describe each scene in detail.",
        },
    ]


def build_prompts(path: Path, cfg: BenchConfig) -> PromptPlan:
    """Render every prompt with the GGUF's own chat template and tokenize it."""
    model = load_model(path, vocab_only=True)
    try:
        vocab = llama_cpp.llama_model_get_vocab(model)
        source = llama_cpp.llama_model_chat_template(model, None)
        template = (
            ChatTemplate(
                source.decode(),
                bos_token=token_text(vocab, llama_cpp.llama_vocab_bos(vocab)),
                eos_token=token_text(vocab, llama_cpp.llama_vocab_eos(vocab)),
            )
            if source
            else None
        )
        counter = iter(range(1_000_000))

        def prompt() -> Prompt:
            index = next(counter)
            messages = story_messages(index)
            if template is not None:
                text = template.render(messages)
            else:  # no chat template: plain text that asks for the same thing
                text = f"{messages[0]['content']}\n\n{messages[1]['content']}\n\n"
            return Prompt(index, text, tokenize(vocab, text))

        warmup = prompt()
        single = tuple(prompt() for _ in range(cfg.repeats))
        waves = {
            clients: tuple(
                tuple(prompt() for _ in range(cfg.requests_per_client)) for _ in range(clients)
            )
            for clients in cfg.concurrency
        }
        return PromptPlan(warmup, single, waves)
    finally:
        llama_cpp.llama_model_free(model)


class RawDecoder:
    """One llama.cpp context decoding one sequence: the ceiling a server can approach."""

    def __init__(self, path: Path, threads: int, *, use_extra_bufts: bool):
        self.model = load_model(path, use_extra_bufts=use_extra_bufts)
        self.vocab = llama_cpp.llama_model_get_vocab(self.model)
        params = llama_cpp.llama_context_default_params()
        params.n_ctx = CTX_SIZE
        params.n_batch = params.n_ubatch = N_BATCH
        params.n_seq_max = 1
        params.n_threads = params.n_threads_batch = threads
        params.no_perf = True
        self.ctx = llama_cpp.llama_init_from_model(self.model, params)
        if not self.ctx:
            llama_cpp.llama_model_free(self.model)
            raise RuntimeError("llama.cpp could not create a context")
        self.memory = llama_cpp.llama_get_memory(self.ctx)
        self.batch = llama_cpp.llama_batch_init(N_BATCH, 0, 1)

    def close(self) -> None:
        llama_cpp.llama_batch_free(self.batch)
        llama_cpp.llama_free(self.ctx)
        llama_cpp.llama_model_free(self.model)

    def _decode(self, tokens: Sequence[int], pos: int, *, logits_last: bool) -> None:
        batch = self.batch
        for i, token in enumerate(tokens):
            batch.token[i] = token
            batch.pos[i] = pos + i
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = 0
            batch.logits[i] = logits_last and i == len(tokens) - 1
        batch.n_tokens = len(tokens)
        status = llama_cpp.llama_decode(self.ctx, batch)
        if status != 0:
            raise RuntimeError(f"llama_decode failed with status {status}")

    def generate(self, prompt: Prompt, max_tokens: int) -> RequestResult:
        """Prefill, then exactly `max_tokens` greedy tokens (end-of-generation ignored)."""
        llama_cpp.llama_memory_clear(self.memory, True)
        sampler = llama_cpp.llama_sampler_init_greedy()
        tokens = prompt.tokens
        try:
            started = time.perf_counter()
            for start in range(0, len(tokens), N_BATCH):
                chunk = tokens[start : start + N_BATCH]
                self._decode(chunk, start, logits_last=start + len(chunk) == len(tokens))
            token = llama_cpp.llama_sampler_sample(sampler, self.ctx, -1)
            first = time.perf_counter()
            generated = [token]
            pos = len(tokens)
            for _ in range(max_tokens - 1):
                self._decode((token,), pos, logits_last=True)
                pos += 1
                token = llama_cpp.llama_sampler_sample(sampler, self.ctx, -1)
                generated.append(token)
            last = time.perf_counter()
        finally:
            llama_cpp.llama_sampler_free(sampler)
        return RequestResult(
            prompt_index=prompt.index,
            prompt_tokens=len(tokens),
            completion_tokens=len(generated),
            tokens_from_usage=True,
            content_chunks=len(generated),
            ttft_s=first - started,
            decode_s=last - first,
            latency_s=last - started,
            finish_reason="length",
            text=detokenize(self.vocab, generated),
        )


def bench_raw(cfg: BenchConfig, plan: PromptPlan, *, use_extra_bufts: bool) -> RawRun:
    backend = RAW if use_extra_bufts else RAW_SAME_LAYOUT
    print(f"- {backend}: loading", flush=True)
    started = time.perf_counter()
    decoder = RawDecoder(cfg.model_path, cfg.threads, use_extra_bufts=use_extra_bufts)
    load_s = time.perf_counter() - started
    try:
        decoder.generate(plan.warmup, WARMUP_MAX_TOKENS)
        monitor = ForeignCpu()
        runs = [decoder.generate(p, cfg.max_tokens) for p in plan.single]
        share = monitor.share()
    finally:
        decoder.close()
    print(f"  single stream: decode {fmt(median([r.decode_tok_s for r in runs]))} tok/s, "
          f"TTFT {fmt(ms(median([r.ttft_s for r in runs])))} ms", flush=True)
    warn_if_busy(backend, share)
    return RawRun(backend, use_extra_bufts, load_s, share, runs)


BATCHED_STEPS = 24


def bench_raw_batched(cfg: BenchConfig, plan: PromptPlan) -> list[BatchedDecode]:
    """Decode-only tok/s of raw llama.cpp with 1..N sequences per step (kaiyuan's layout).

    A batching server cannot beat this curve: it says how much one step with N tokens costs
    against one with a single token on this machine.
    """
    width = max(cfg.concurrency)
    print(f"- raw llama.cpp, batched decode: 1..{width} sequences", flush=True)
    model = load_model(cfg.model_path, use_extra_bufts=False)
    params = llama_cpp.llama_context_default_params()
    params.n_ctx = CTX_SIZE * width
    params.n_batch = params.n_ubatch = N_BATCH
    params.n_seq_max = width
    params.n_threads = params.n_threads_batch = cfg.threads
    params.kv_unified = False
    ctx = llama_cpp.llama_init_from_model(model, params)
    batch = llama_cpp.llama_batch_init(N_BATCH, 0, 1)
    prompts = [p.tokens[:64] for p in plan.all()[:width]]
    results = []
    try:
        for sequences in cfg.concurrency:
            llama_cpp.llama_memory_clear(llama_cpp.llama_get_memory(ctx), True)
            entries = [(tok, pos, seq) for seq in range(sequences)
                       for pos, tok in enumerate(prompts[seq])]
            _fill(batch, entries)
            llama_cpp.llama_decode(ctx, batch)
            started = time.perf_counter()
            for step in range(BATCHED_STEPS):
                _fill(batch, [(100 + seq, len(prompts[seq]) + step, seq)
                              for seq in range(sequences)])
                if llama_cpp.llama_decode(ctx, batch) != 0:
                    raise RuntimeError("llama_decode failed in the batched run")
            rate = sequences * BATCHED_STEPS / (time.perf_counter() - started)
            print(f"  {sequences} sequences: {rate:.1f} tok/s", flush=True)
            results.append(BatchedDecode(sequences, rate))
    finally:
        llama_cpp.llama_batch_free(batch)
        llama_cpp.llama_free(ctx)
        llama_cpp.llama_model_free(model)
    return results


def _fill(batch: Any, entries: Sequence[tuple[int, int, int]]) -> None:
    """Put (token, position, sequence) entries into `batch`, logits on every token."""
    for i, (token, pos, seq) in enumerate(entries):
        batch.token[i] = token
        batch.pos[i] = pos
        batch.n_seq_id[i] = 1
        batch.seq_id[i][0] = seq
        batch.logits[i] = True
    batch.n_tokens = len(entries)


# ---- servers ---------------------------------------------------------------------------


@dataclass(frozen=True)
class ServerSpec:
    backend: str
    command: list[str]
    port: int
    extra_body: dict[str, Any]
    """Request fields added to every request to this server: how it samples."""

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"


def kaiyuan_spec(cfg: BenchConfig) -> ServerSpec:
    script = Path(sys.executable).with_name("kaiyuan")
    port = free_port()
    command = [
        str(script), "serve", "--model", str(cfg.model_path), "--host", "127.0.0.1",
        "--port", str(port), "--threads", str(cfg.threads), "--parallel", str(PARALLEL),
        "--ctx-size", str(CTX_SIZE),
    ]  # fmt: skip
    return ServerSpec(KAIYUAN, command, port, {})


def llama_server_spec(cfg: BenchConfig) -> ServerSpec:
    port = free_port()
    command = [
        sys.executable, "-m", "llama_cpp.server", "--model", str(cfg.model_path),
        "--host", "127.0.0.1", "--port", str(port), "--n_threads", str(cfg.threads),
        "--n_threads_batch", str(cfg.threads), "--n_ctx", str(CTX_SIZE),
        "--interrupt_requests", "False", *cfg.llama_server_args,
    ]  # fmt: skip
    # Its completions default to repeat_penalty=1.1; 1.0 leaves greedy decoding pure.
    return ServerSpec(LLAMA_SERVER, command, port, {"repeat_penalty": 1.0})


def check_llama_server_installed() -> None:
    missing = [
        name
        for name in ("sse_starlette", "starlette_context", "pydantic_settings")
        if not package_version(name.replace("_", "-"))
    ]
    if missing:
        raise SystemExit(
            f"llama_cpp.server needs {', '.join(missing)}: run "
            f"`{sys.executable} -m pip install 'llama-cpp-python[server]=="
            f"{llama_cpp.__version__}'` (or `make bench`)."
        )


def log_tail(path: Path, lines: int = 30) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def wait_ready(proc: subprocess.Popen[bytes], spec: ServerSpec, log_path: Path) -> str:
    """Poll GET /v1/models until it answers; returns the first model id."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"{spec.backend} exited with status {proc.returncode}:\n{log_tail(log_path)}"
            )
        with contextlib.suppress(httpx.HTTPError):
            response = httpx.get(f"{spec.base_url}/models", timeout=2.0)
            if response.status_code == 200:
                return str(response.json()["data"][0]["id"])
        time.sleep(0.25)
    raise RuntimeError(f"{spec.backend} not ready after {READY_TIMEOUT_S:.0f}s:\n"
                       f"{log_tail(log_path)}")


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the server's process group, SIGKILL it if it lingers."""
    if proc.poll() is not None:
        return
    for sig, grace in ((signal.SIGTERM, 15.0), (signal.SIGKILL, 5.0)):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(grace)
            return
        except subprocess.TimeoutExpired:
            continue


@contextlib.contextmanager
def running_server(spec: ServerSpec, log_dir: Path) -> Iterator[tuple[str, float, int]]:
    """Start the server, yield (model id, startup seconds, pid) once it answers; always stop
    it."""
    log_path = log_dir / f"{spec.backend}.log"
    with log_path.open("wb") as log:
        started = time.perf_counter()
        proc = subprocess.Popen(
            spec.command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            model_id = wait_ready(proc, spec, log_path)
            yield model_id, time.perf_counter() - started, proc.pid
        except BaseException:
            print(f"  {spec.backend} log tail:\n{log_tail(log_path)}", file=sys.stderr)
            raise
        finally:
            stop_process(proc)


async def stream_one(
    client: AsyncOpenAI, spec: ServerSpec, model_id: str, prompt: Prompt, max_tokens: int
) -> RequestResult:
    """One streaming completion, timed on the client as each chunk arrives."""
    started = time.perf_counter()
    first: float | None = None
    last: float | None = None
    chunks = 0
    usage_tokens: int | None = None
    finish_reason: str | None = None
    parts: list[str] = []
    stream = await client.completions.create(
        model=model_id,
        prompt=prompt.text,
        max_tokens=max_tokens,
        temperature=0.0,
        stream=True,
        stream_options={"include_usage": True},
        extra_body=spec.extra_body,
    )
    async for chunk in stream:
        now = time.perf_counter()
        if chunk.usage is not None:
            usage_tokens = chunk.usage.completion_tokens
        for choice in chunk.choices:
            if choice.text:
                chunks += 1
                parts.append(choice.text)
                first = now if first is None else first
                last = now
            if choice.finish_reason:
                finish_reason = choice.finish_reason
    ended = time.perf_counter()
    return RequestResult(
        prompt_index=prompt.index,
        prompt_tokens=len(prompt.tokens),
        completion_tokens=usage_tokens if usage_tokens is not None else chunks,
        tokens_from_usage=usage_tokens is not None,
        content_chunks=chunks,
        ttft_s=None if first is None else first - started,
        decode_s=None if first is None or last is None else last - first,
        latency_s=ended - started,
        finish_reason=finish_reason,
        text="".join(parts),
    )


async def warm_up(client: AsyncOpenAI, spec: ServerSpec, model_id: str, prompt: Prompt) -> int:
    """One untimed request; returns the server's prompt token count."""
    response = await client.completions.create(
        model=model_id,
        prompt=prompt.text,
        max_tokens=WARMUP_MAX_TOKENS,
        temperature=0.0,
        extra_body=spec.extra_body,
    )
    return response.usage.prompt_tokens if response.usage else -1


async def run_wave(
    client: AsyncOpenAI,
    spec: ServerSpec,
    model_id: str,
    clients: tuple[tuple[Prompt, ...], ...],
    max_tokens: int,
) -> WaveResult:
    """All clients start together; each sends its prompts one after another."""
    results: list[RequestResult] = []

    async def one_client(prompts: tuple[Prompt, ...]) -> None:
        for prompt in prompts:
            results.append(await stream_one(client, spec, model_id, prompt, max_tokens))

    started = time.perf_counter()
    await asyncio.gather(*(one_client(prompts) for prompts in clients))
    wall = time.perf_counter() - started
    results.sort(key=lambda r: r.prompt_index)
    return WaveResult(len(clients), len(clients[0]), wall, results)


async def measure_server(
    spec: ServerSpec, model_id: str, plan: PromptPlan, cfg: BenchConfig
) -> tuple[int, list[RequestResult], list[WaveResult]]:
    client = AsyncOpenAI(
        base_url=spec.base_url, api_key="bench", max_retries=0, timeout=REQUEST_TIMEOUT_S
    )
    try:
        warm_tokens = await warm_up(client, spec, model_id, plan.warmup)
        single = [
            await stream_one(client, spec, model_id, p, cfg.max_tokens) for p in plan.single
        ]
        print(f"  single stream: decode {fmt(median([r.decode_tok_s for r in single]))} tok/s, "
              f"TTFT {fmt(ms(median([r.ttft_s for r in single])))} ms", flush=True)
        waves = []
        for clients in cfg.concurrency:
            wave = await run_wave(client, spec, model_id, plan.waves[clients], cfg.max_tokens)
            print(f"  {clients} clients: {wave.aggregate_tok_s:.1f} tok/s aggregate, "
                  f"TTFT p50 {fmt(ms(wave.ttft_p50_s))} ms", flush=True)
            waves.append(wave)
        return warm_tokens, single, waves
    finally:
        await client.close()


def bench_server(spec: ServerSpec, plan: PromptPlan, cfg: BenchConfig, log_dir: Path) -> ServerRun:
    print(f"- {spec.backend}: starting on port {spec.port}", flush=True)
    with running_server(spec, log_dir) as (model_id, startup_s, pid):
        monitor = ForeignCpu([pid])
        warm_tokens, single, waves = asyncio.run(measure_server(spec, model_id, plan, cfg))
        share = monitor.share()
    warn_if_busy(spec.backend, share)
    return ServerRun(
        spec.backend, spec.command, model_id, startup_s, warm_tokens, share, single, waves
    )


# ---- summary and report ----------------------------------------------------------------


def single_row(run: RawRun | ServerRun) -> SingleRow:
    runs = run.single
    return SingleRow(
        backend=run.backend,
        runs=len(runs),
        ttft_ms=ms(median([r.ttft_s for r in runs])),
        decode_tok_s=median([r.decode_tok_s for r in runs]),
        completion_tokens=int(statistics.median(r.completion_tokens for r in runs)),
        other_cpu_share=run.other_cpu_share,
    )


def summarise(
    raws: list[RawRun], servers: dict[str, ServerRun], batched: list[BatchedDecode]
) -> Summary:
    rows = [single_row(run) for run in [*servers.values(), *raws]]
    by_backend = {row.backend: row for row in rows}
    kai, llama = servers[KAIYUAN], servers[LLAMA_SERVER]
    concurrency = [
        ConcurrencyRow(
            clients=k.clients,
            kaiyuan_tok_s=k.aggregate_tok_s,
            llama_tok_s=lw.aggregate_tok_s,
            ratio=k.aggregate_tok_s / lw.aggregate_tok_s,
            kaiyuan_ttft_p50_ms=ms(k.ttft_p50_s),
            kaiyuan_ttft_p95_ms=ms(k.ttft_p95_s),
            llama_ttft_p50_ms=ms(lw.ttft_p50_s),
            llama_ttft_p95_ms=ms(lw.ttft_p95_s),
        )
        for k, lw in zip(kai.waves, llama.waves, strict=True)
    ]
    kai_decode = by_backend[KAIYUAN].decode_tok_s
    return Summary(
        single=rows,
        concurrency=concurrency,
        decode_ratio_vs_raw=ratio(kai_decode, by_backend[RAW].decode_tok_s),
        decode_ratio_vs_raw_same_layout=ratio(kai_decode, by_backend[RAW_SAME_LAYOUT].decode_tok_s),
        batched=batched,
    )


def fmt(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def percent(share: float | None) -> str:
    return "n/a" if share is None else f"{share:.0%}"


def markdown(summary: Summary) -> str:
    lines = [
        "Single stream (median of runs):",
        "",
        "| Backend | Runs | TTFT (ms) | Decode (tok/s) | Completion tokens | Other CPU load |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.backend} | {r.runs} | {fmt(r.ttft_ms)} | {fmt(r.decode_tok_s)} "
        f"| {r.completion_tokens} | {percent(r.other_cpu_share)} |"
        for r in summary.single
    ]
    lines += [
        "",
        "Concurrent streaming clients (aggregate = all completion tokens ÷ wall time of the "
        "wave):",
        "",
        "| Clients | kaiyuan tok/s | llama_cpp.server tok/s | Ratio | kaiyuan TTFT p50 / p95 "
        "(ms) | llama_cpp.server TTFT p50 / p95 (ms) |",
        "|---:|---:|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {r.clients} | {r.kaiyuan_tok_s:.1f} | {r.llama_tok_s:.1f} | {r.ratio:.2f} "
        f"| {fmt(r.kaiyuan_ttft_p50_ms, 0)} / {fmt(r.kaiyuan_ttft_p95_ms, 0)} "
        f"| {fmt(r.llama_ttft_p50_ms, 0)} / {fmt(r.llama_ttft_p95_ms, 0)} |"
        for r in summary.concurrency
    ]
    lines += [
        "",
        "Ratios (targets: ≥ 0.9 single-stream, ≥ 1.5 aggregate at 8 clients):",
        "",
        f"- kaiyuan single-stream decode ÷ raw llama.cpp decode: "
        f"**{fmt(summary.decode_ratio_vs_raw, 2)}** "
        f"(÷ raw llama.cpp with kaiyuan's weight layout: "
        f"{fmt(summary.decode_ratio_vs_raw_same_layout, 2)})",
    ]
    lines += [
        f"- kaiyuan ÷ llama_cpp.server aggregate tok/s at {r.clients} client"
        f"{'s' if r.clients > 1 else ''}: **{r.ratio:.2f}**"
        for r in summary.concurrency
    ]
    single = summary.batched[0].tok_s
    lines += [
        "",
        "Batching headroom of this machine (raw llama.cpp, decode only, N sequences per step: "
        "the most that batching itself can add here; the rest of a server's lead over a "
        "serial one is overhead that the serial one has):",
        "",
        "| Sequences per step | tok/s | ratio to one sequence |",
        "|---:|---:|---:|",
    ]
    lines += [f"| {b.sequences} | {b.tok_s:.1f} | {b.tok_s / single:.2f} |"
              for b in summary.batched]
    return "\n".join(lines)


README_METHOD = """\
## `serve.py`: kaiyuan vs llama-cpp-python's server vs raw llama.cpp

Run by hand (never in CI); one run measures everything on the same GGUF and thread count:

```sh
make bench                      # installs llama-cpp-python[server], then runs the benchmark
.venv/bin/python bench/serve.py [--model ALIAS_OR_PATH] [--threads N] [--max-tokens N] \\
    [--concurrency 1,2,4,8] [--repeats N] [--requests-per-client N] [--quick] \\
    [--llama-server-args '--flash_attn True']
```

`--quick` (max_tokens 16, 1 and 2 clients, one single-stream run) is a smoke check only.
Raw figures, machine and versions go to `results/serve.json`; this section of the file is
rewritten.

Method:

- **Backends.** `kaiyuan serve --parallel 8 --ctx-size 4096 --threads T`;
  `python -m llama_cpp.server --n_threads T --n_threads_batch T --n_ctx 4096
  --interrupt_requests False` (its other settings are its defaults unless
  `--llama-server-args` adds some); and a raw in-process loop
  on llama.cpp's C API (`llama_decode` + greedy `llama_sampler_sample`, one sequence, no
  server), once with llama.cpp's default weight loading (repacked CPU layouts) and once with
  `use_extra_bufts=False` as kaiyuan loads weights. The servers are subprocesses on free
  loopback ports, started one at a time, warmed up with one request, and always killed.
- **Defaults that differ.** llama_cpp.server turns flash attention off (`--flash_attn False`)
  where llama.cpp, the raw loop and kaiyuan use its automatic choice (on for CPU), so its
  greedy text can differ after a few tokens; it also keeps the logits of every prompt token
  (`--logits_all True`), which adds to its prefill. Both are its out-of-the-box behaviour;
  `--llama-server-args '--flash_attn True --logits_all False'` measures it tuned.
- **Requests.** `/v1/completions`, streamed through the official `openai` client, greedy
  (`temperature=0`; llama_cpp.server also gets `repeat_penalty=1.0`, its default being 1.1),
  fixed `max_tokens`, and a prompt asking for a long story, rendered with the GGUF's chat
  template. Each request has its own numbered system message at the start, so no server can
  reuse another request's KV cache; both servers get the same prompts in the same order.
- **Figures.** TTFT = send → first non-empty text chunk. Decode tok/s = (completion tokens -
  1) ÷ (last token time - first token time); completion tokens come from the stream's usage
  (`stream_options.include_usage`) or, where a server sends none, from counting text chunks.
  The raw loop always generates exactly `max_tokens` tokens and its TTFT is the prefill.
  Aggregate tok/s = all completion tokens of a wave ÷ the wave's wall time; TTFT percentiles
  are over every request of the wave. Clients are asyncio tasks in the benchmark process,
  which shares the CPU with the server.
- **Quiet machine needed.** llama.cpp's threads meet at a barrier after every operation, so
  with threads = cores a single busy neighbour process can slow decoding a hundredfold.
  "Other CPU load" is the share of all cores that processes outside the benchmark used while
  each backend was measured (for a server: its single-stream runs and all its waves); above
  a few percent, that backend's figures are not comparable with the others'.
"""


def readme(cfg: BenchConfig, info: dict[str, Any], model: dict[str, Any], table: str) -> str:
    quick = (
        "\n> **`--quick` smoke run**: far too short to measure anything; run without `--quick` "
        "for real figures.\n"
        if cfg.quick
        else ""
    )
    header = (
        f"### Latest run\n{quick}\n"
        f"{info['date']} · {info['cpu_model']} ({info['cpu_cores']} logical cores, "
        f"load average {info['load_average_at_start'][0]:.2f} at start) · Python "
        f"{info['python']} · llama-cpp-python {info['llama_cpp_python']}\n\n"
        f"Model `{Path(model['path']).name}` ({model['description']}, "
        f"{model['file_bytes'] / 1e6:.0f} MB) · threads {cfg.threads} · max_tokens "
        f"{cfg.max_tokens} · single-stream runs {cfg.repeats} · requests per client "
        f"{cfg.requests_per_client}\n"
    )
    return f"{README_METHOD}\n{header}\n{table}\n"


def write_outputs(report: dict[str, Any], cfg: BenchConfig, table: str) -> None:
    RESULTS_PATH.parent.mkdir(parents=True, exist_ok=True)
    RESULTS_PATH.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n")
    write_section("serve", readme(cfg, report["machine"], report["model"], table))


# ---- main ------------------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None = None) -> BenchConfig:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="embedded alias or GGUF path")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--max-tokens", type=int, help="per request (default 128; quick 16)")
    parser.add_argument(
        "--concurrency", help="comma-separated client counts (default 1,2,4,8; quick 1,2)"
    )
    parser.add_argument("--repeats", type=int, help="single-stream runs (default 3; quick 1)")
    parser.add_argument("--requests-per-client", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="short smoke check")
    parser.add_argument(
        "--llama-server-args",
        default="",
        help="extra llama_cpp.server options, e.g. '--flash_attn True --logits_all False'",
    )
    args = parser.parse_args(argv)
    concurrency = args.concurrency or ("1,2" if args.quick else "1,2,4,8")
    clients = tuple(int(c) for c in concurrency.split(",") if c.strip())
    if any(c < 1 for c in clients) or args.threads < 1 or args.requests_per_client < 1:
        parser.error("client counts, threads and requests per client must be positive")
    max_tokens = args.max_tokens or (16 if args.quick else 128)
    if not 2 <= max_tokens < CTX_SIZE // 2:
        parser.error(f"--max-tokens must be between 2 and {CTX_SIZE // 2 - 1}")
    return BenchConfig(
        model_spec=args.model,
        model_path=resolve_model(args.model).path.resolve(),
        threads=args.threads,
        max_tokens=max_tokens,
        concurrency=clients,
        repeats=args.repeats or (1 if args.quick else 3),
        requests_per_client=args.requests_per_client,
        quick=args.quick,
        llama_server_args=tuple(shlex.split(args.llama_server_args)),
    )


def run(cfg: BenchConfig) -> tuple[dict[str, Any], Summary]:
    """Measure every backend; returns the JSON report and its summary."""
    _init_llama()
    info = machine_info()
    model = model_info(cfg.model_path)
    plan = build_prompts(cfg.model_path, cfg)
    print(f"Benchmarking {cfg.model_path.name} with {cfg.threads} threads, max_tokens "
          f"{cfg.max_tokens}, clients {list(cfg.concurrency)}", flush=True)
    raws = [bench_raw(cfg, plan, use_extra_bufts=flag) for flag in (True, False)]
    batched = bench_raw_batched(cfg, plan)
    servers: dict[str, ServerRun] = {}
    with tempfile.TemporaryDirectory(prefix="kaiyuan-bench-") as log_dir:
        for spec in (kaiyuan_spec(cfg), llama_server_spec(cfg)):
            servers[spec.backend] = bench_server(spec, plan, cfg, Path(log_dir))
    summary = summarise(raws, servers, batched)
    info["load_average_at_end"] = list(os.getloadavg())
    report = {
        "machine": info,
        "model": model,
        "parameters": {
            "model_spec": cfg.model_spec,
            "threads": cfg.threads,
            "max_tokens": cfg.max_tokens,
            "concurrency": list(cfg.concurrency),
            "single_stream_runs": cfg.repeats,
            "requests_per_client": cfg.requests_per_client,
            "quick": cfg.quick,
            "llama_server_args": list(cfg.llama_server_args),
            "ctx_size": CTX_SIZE,
            "kaiyuan_parallel": PARALLEL,
            "raw_n_batch": N_BATCH,
            "temperature": 0.0,
            "warmup_max_tokens": WARMUP_MAX_TOKENS,
        },
        "prompts": [
            {"index": p.index, "tokens": len(p.tokens), "text": p.text} for p in plan.all()
        ],
        "raw": [asdict(r) for r in raws],
        "servers": [asdict(s) for s in servers.values()],
        "summary": asdict(summary),
    }
    return report, summary


def main(argv: Sequence[str] | None = None) -> None:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    cfg = parse_args(argv)
    check_llama_server_installed()
    report, summary = run(cfg)
    table = markdown(summary)
    write_outputs(report, cfg, table)
    print(f"\n{table}\n\nWrote {RESULTS_PATH} and {README_PATH}")


if __name__ == "__main__":
    main()
