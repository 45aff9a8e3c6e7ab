"""BFCL as a runnable suite: native tool calls (`tools` in the request) or prompt mode
(functions described in the system prompt, calls read from the text)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from kaiyuan.evals.bfcl import checker, data, prompt_mode
from kaiyuan.evals.bfcl.checker import Call
from kaiyuan.evals.cache import Result
from kaiyuan.evals.runner import Task
from kaiyuan.evals.suite import CaseScore

Mode = Literal["native", "prompt"]


@dataclass
class BfclSuite:
    """BFCL's single-turn categories, `mode` deciding how functions reach the model."""

    categories: Sequence[str] = data.CATEGORIES
    mode: Mode = "native"
    name: str = "bfcl"
    _cases: dict[str, data.Case] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        if self.mode not in ("native", "prompt"):
            raise ValueError(f"BFCL mode is 'native' or 'prompt', not {self.mode!r}")
        for category in self.categories:
            for case in data.load(category):
                self._cases[case.id] = case
        self.name = f"bfcl-{self.mode}"

    def case_ids(self) -> list[str]:
        return list(self._cases)

    def category(self, case_id: str) -> str:
        return self._cases[case_id].category

    def task(self, case_id: str, params: dict[str, Any]) -> Task:
        case = self._cases[case_id]
        if self.mode == "native":
            body = {"messages": case.messages, "tools": data.openai_tools(case.functions)}
        else:
            body = {"messages": prompt_mode.prompt_messages(case.messages, case.functions)}
        return Task(case_id, {**body, **params})

    def score(self, result: Result) -> CaseScore:
        case = self._cases[result.case_id]
        if result.response is None:
            return CaseScore(case.id, case.category, None, result.error or "no response")
        calls, problem = self.calls(case, result.response)
        verdict = checker.check(case, calls)
        detail = verdict.message or problem
        return CaseScore(case.id, case.category, verdict.correct,
                         f"{verdict.error_type}: {detail}" if verdict.error_type else "")

    def calls(self, case: data.Case, response: dict[str, Any]) -> tuple[list[Call], str]:
        """The calls in a chat-completion response, with BFCL's function names, and why
        some could not be read."""
        message = response["choices"][0]["message"]
        if self.mode == "prompt":
            parsed = prompt_mode.parse_calls(message.get("content") or "")
            return parsed.calls, parsed.reason
        names = data.ToolNames.of(case.functions)
        calls, problems = [], []
        for tool_call in message.get("tool_calls") or []:
            function = tool_call["function"]
            try:
                arguments = json.loads(function.get("arguments") or "{}")
            except json.JSONDecodeError as exc:
                problems.append(f"arguments of {function['name']} are not JSON: {exc}")
                continue
            calls.append(Call(names.bfcl_name(function["name"]), arguments))
        # kaiyuan reports calls that broke their schema apart. BFCL counts a call as made
        # when it decodes, whatever its arguments, and as not made when it does not.
        for invalid in message.get("invalid_tool_calls") or []:
            problems.append(f"invalid call: {invalid.get('error', '')}")
            decoded = _decode_raw_call(invalid.get("raw", ""))
            if decoded is not None:
                calls.append(Call(names.bfcl_name(decoded[0]), decoded[1]))
        return calls, "; ".join(problems)


def _decode_raw_call(raw: str) -> tuple[str, dict[str, Any]] | None:
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        return None
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        return None
    arguments = value.get("arguments", value.get("parameters", {}))
    return value["name"], arguments if isinstance(arguments, dict) else {}
