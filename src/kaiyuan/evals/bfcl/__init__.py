"""The Berkeley Function Calling Leaderboard (BFCL v4), single-turn categories: its data
(read from the `bfcl-eval` wheel's data files), its AST checker, and its prompt mode."""

from __future__ import annotations

from kaiyuan.evals.bfcl.checker import Call, ErrorType, Verdict, check
from kaiyuan.evals.bfcl.data import (
    CATEGORIES,
    Case,
    ToolNames,
    case_count,
    load,
    openai_tools,
    summarise,
)
from kaiyuan.evals.bfcl.prompt_mode import ParsedCalls, parse_calls, prompt_messages, system_prompt

__all__ = [
    "CATEGORIES",
    "Call",
    "Case",
    "ErrorType",
    "ParsedCalls",
    "ToolNames",
    "Verdict",
    "case_count",
    "check",
    "load",
    "openai_tools",
    "parse_calls",
    "prompt_messages",
    "summarise",
    "system_prompt",
]
