"""BFCL v4 single-turn test cases, read from the data files the `bfcl-eval` wheel ships.

Only the files under `bfcl_eval/data/` and `bfcl_eval/data/possible_answer/` are read; no
module of `bfcl_eval` is imported (its import pulls in every model handler and writes
result folders as a side effect). Install it with `pip install --no-deps bfcl-eval`.

Source of the file layout, the category names and the aggregation rules: bfcl-eval
2026.3.23 (gorilla `berkeley-function-call-leaderboard`, Apache-2.0).
"""

from __future__ import annotations

import copy
import importlib.util
import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

CATEGORIES: tuple[str, ...] = (
    "simple",
    "multiple",
    "parallel",
    "parallel_multiple",
    "irrelevance",
    "live_simple",
    "live_multiple",
    "live_parallel",
    "live_parallel_multiple",
    "live_irrelevance",
    "live_relevance",
)
NON_LIVE_AST: tuple[str, ...] = ("simple", "multiple", "parallel", "parallel_multiple")
LIVE_AST: tuple[str, ...] = ("live_simple", "live_multiple", "live_parallel",
                             "live_parallel_multiple")
# Categories whose cases have no possible answers: only call / no call is judged.
NO_GROUND_TRUTH: frozenset[str] = frozenset({"irrelevance", "live_irrelevance", "live_relevance"})

# Our `simple` is BFCL's `simple_python`; Java and JavaScript need BFCL's string-typed
# argument conventions and are out of scope.
_FILE_STEM = {category: category for category in CATEGORIES} | {"simple": "simple_python"}

# BFCL appends this to every Python function description before showing it to a model
# (`bfcl_eval/utils.py`, `_func_doc_language_specific_pre_processing`).
PYTHON_HINT = " Note that the provided function is in Python 3 syntax."


class Case(BaseModel):
    """One BFCL test case: the conversation, the functions on offer and, for the AST
    categories, the accepted calls as `[{function_name: {param: [possible values]}}]`
    where `""` among the possible values marks a parameter that may be omitted."""

    model_config = ConfigDict(frozen=True)

    id: str
    category: str
    messages: list[dict[str, str]]
    functions: list[dict[str, Any]]
    ground_truth: list[dict[str, dict[str, list[Any]]]] | None


def data_dir() -> Path:
    """The `bfcl_eval/data` folder of the installed `bfcl-eval` wheel."""
    spec = importlib.util.find_spec("bfcl_eval")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the BFCL data is not installed; run `pip install --no-deps bfcl-eval`")
    folder = Path(next(iter(spec.submodule_search_locations))) / "data"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is missing; reinstall `bfcl-eval` (--no-deps)")
    return folder


def _check_category(category: str) -> None:
    if category not in CATEGORIES:
        raise ValueError(f"unknown BFCL category {category!r}; choose one of "
                         f"{', '.join(CATEGORIES)}")


def question_file(category: str) -> Path:
    """The file holding the questions and function docs of `category`."""
    _check_category(category)
    return data_dir() / f"BFCL_v4_{_FILE_STEM[category]}.json"


def answer_file(category: str) -> Path:
    """The file holding the possible answers of an AST `category`."""
    _check_category(category)
    if category in NO_GROUND_TRUTH:
        raise ValueError(f"{category} has no possible answers; it is judged on call/no call")
    return data_dir() / "possible_answer" / f"BFCL_v4_{_FILE_STEM[category]}.json"


def _read_lines(path: Path) -> list[dict[str, Any]]:
    # BFCL's ".json" files hold one JSON object per line.
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _with_python_hint(functions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    hinted = copy.deepcopy(functions)
    for function in hinted:
        function["description"] = function.get("description", "") + PYTHON_HINT
    return hinted


def load(category: str, limit: int | None = None) -> list[Case]:
    """The cases of `category` in file order, the first `limit` of them if given.

    Function descriptions carry BFCL's Python-syntax hint, as BFCL shows them to models."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be at least 0, got {limit}")
    rows = _read_lines(question_file(category))[:limit]
    answers: dict[str, list[Any]] = {}
    if category not in NO_GROUND_TRUTH:
        answers = {row["id"]: row["ground_truth"] for row in _read_lines(answer_file(category))}
    cases = []
    for row in rows:
        if category not in NO_GROUND_TRUTH and row["id"] not in answers:
            raise ValueError(f"{answer_file(category)} has no answer for {row['id']}; "
                             "the bfcl-eval install is inconsistent, reinstall it")
        cases.append(Case(
            id=row["id"],
            category=category,
            messages=[dict(message) for turn in row["question"] for message in turn],
            functions=_with_python_hint(row["function"]),
            ground_truth=answers.get(row["id"]),
        ))
    return cases


def case_count(category: str) -> int:
    """How many cases `category` has, counted from its file."""
    with question_file(category).open(encoding="utf-8") as handle:
        return sum(1 for line in handle if line.strip())


# BFCL's `GORILLA_TO_OPENAPI` (bfcl_eval/constants/type_mappings.py) restricted to the
# Python types; anything else, or a missing type, becomes "string" as BFCL does.
_JSON_SCHEMA_TYPE = {
    "integer": "integer",
    "number": "number",
    "float": "number",
    "string": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "tuple": "array",
    "dict": "object",
    "object": "object",
    "any": "string",
}


def _json_schema(node: Mapping[str, Any], *, is_property: bool) -> dict[str, Any]:
    schema = {key: value for key, value in node.items() if key not in ("properties", "items")}
    bfcl_type = node.get("type")
    schema["type"] = _JSON_SCHEMA_TYPE.get(bfcl_type, "string")
    if is_property and bfcl_type == "float":
        # JSON Schema has no float; BFCL's OpenAI handler says so in words instead.
        schema["format"] = "float"
        schema["description"] = node.get("description", "") + " This is a float type value."
    if "properties" in node:
        schema["properties"] = {name: _json_schema(child, is_property=True)
                                for name, child in node["properties"].items()}
    if "items" in node:
        schema["items"] = _json_schema(node["items"], is_property=False)
    return schema


def openai_name(name: str) -> str:
    """The name a BFCL function gets in an OpenAI `tools` list, where names must match
    `^[a-zA-Z0-9_-]{1,64}$`: BFCL replaces every "." with "_"."""
    return name.replace(".", "_")


@dataclass(frozen=True)
class ToolNames:
    """Maps the function names a model calls through OpenAI `tools` back to BFCL's."""

    bfcl_by_openai: dict[str, str]

    @classmethod
    def of(cls, functions: list[dict[str, Any]]) -> ToolNames:
        """The mapping for one case's functions."""
        mapping: dict[str, str] = {}
        for function in functions:
            renamed = openai_name(function["name"])
            if mapping.get(renamed, function["name"]) != function["name"]:
                raise ValueError(f"{mapping[renamed]!r} and {function['name']!r} both become "
                                 f"{renamed!r} as OpenAI tool names")
            mapping[renamed] = function["name"]
        return cls(mapping)

    def bfcl_name(self, called: str) -> str:
        """The BFCL name behind `called`; a name not on offer comes back unchanged so the
        checker reports it as a wrong function."""
        return self.bfcl_by_openai.get(called, called)


def openai_tools(functions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """BFCL function docs as an OpenAI `tools` list, converted as BFCL's OpenAI handler
    does (`convert_to_tool` with `GORILLA_TO_OPENAPI`): "dict" -> "object", "float" ->
    "number" (with `format: float`), "tuple" -> "array", "any" -> "string", dots in names
    -> underscores (map calls back with `ToolNames.of(functions)`)."""
    ToolNames.of(functions)  # refuse functions whose OpenAI names would collide
    tools = []
    for function in functions:
        parameters = _json_schema(function["parameters"], is_property=False)
        parameters["type"] = "object"
        parameters.setdefault("properties", {})
        tools.append({"type": "function", "function": {
            "name": openai_name(function["name"]),
            "description": function.get("description", ""),
            "parameters": parameters,
        }})
    return tools


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def summarise(scores: Mapping[str, float],
              counts: Mapping[str, int] | None = None) -> dict[str, float | None]:
    """BFCL's single-turn summary columns from per-category accuracies (0..1).

    As computed by bfcl-eval 2026.3.23, `bfcl_eval/eval_checker/eval_runner_helper.py`
    (`generate_leaderboard_csv`, with `calculate_unweighted_accuracy` and
    `calculate_weighted_accuracy`), which writes the leaderboard's `data_non_live.csv`,
    `data_live.csv` and `data_overall.csv`:

    - `non_live_ast` ("Non-Live AST Acc"): unweighted mean of simple, multiple, parallel
      and parallel_multiple. BFCL's simple is itself the unweighted mean of its Python,
      Java and JavaScript parts; here it is the Python part only, so this number is not
      the leaderboard's unless Java and JavaScript score the same as Python.
    - `live_ast` ("Live Acc"): mean of live_simple, live_multiple, live_parallel and
      live_parallel_multiple weighted by case count (`counts`, default: every case).
    - `irrelevance` ("Irrelevance Detection", part of "Hallucination Measurement"):
      unweighted mean of irrelevance and live_irrelevance.
    - `relevance` ("Relevance Detection"): live_relevance.

    A column whose categories were not all scored is None (BFCL prints "N/A", and per its
    README counts the missing category as 0 in the summary)."""
    for category, accuracy in scores.items():
        _check_category(category)
        if not 0.0 <= accuracy <= 1.0:
            raise ValueError(f"accuracy of {category} must be in [0, 1], got {accuracy}")

    def complete(categories: tuple[str, ...]) -> bool:
        return all(category in scores for category in categories)

    def weight(category: str) -> int:
        return counts[category] if counts and category in counts else case_count(category)

    live_ast = None
    if complete(LIVE_AST):
        total = sum(weight(category) for category in LIVE_AST)
        live_ast = sum(scores[c] * weight(c) for c in LIVE_AST) / total
    hallucination = ("irrelevance", "live_irrelevance")
    return {
        "non_live_ast": _mean([scores[c] for c in NON_LIVE_AST]) if complete(NON_LIVE_AST)
        else None,
        "live_ast": live_ast,
        "irrelevance": _mean([scores[c] for c in hallucination]) if complete(hallucination)
        else None,
        "relevance": scores.get("live_relevance"),
    }
