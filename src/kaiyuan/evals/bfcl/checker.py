"""BFCL's AST checker for single-turn cases, reimplemented from its rules.

Source of the rules: the behaviour of bfcl-eval 2026.3.23 (gorilla
`berkeley-function-call-leaderboard`, Apache-2.0), `bfcl_eval/eval_checker/ast_eval/
ast_checker.py`, `eval_checker/eval_runner.py` and `utils.py` (`is_empty_output`):

- simple: exactly one call; multiple: exactly one call, of the one expected function;
  parallel / parallel_multiple: as many calls as expected entries, matched one-to-one in
  any order.
- A call must name the expected function, give every required parameter, give no
  parameter that the function does not declare or the possible answer does not list, and
  give every listed parameter whose possible values do not include `""`.
- Types: an int is accepted where a float is expected; a bool is not an int. When a
  possible answer has another type than declared (BFCL writes a variable reference such
  as `"data['sales']"` as a string, and None as None), a value of that type is judged by
  value alone; likewise for list elements one level down.
- Values must equal one of the possible values. Strings compare after BFCL's
  `standardize_string`: remove the characters `` ,./-_*^`` (the space, not other
  whitespace), lower-case, and turn `'` into `"`. Lists compare element by element, in
  order. A dict parameter, and each item of a list-of-dicts parameter, is written as
  {key: [possible values]}; dicts below that are written literally.
- irrelevance / live_irrelevance: correct iff no call; live_relevance: correct iff at
  least one call (its arguments are not judged).

Deliberate differences from BFCL's code, each of which can only turn a BFCL failure into
a pass: a tuple is accepted wherever a list is (BFCL: only for "tuple" parameters); int
for float, and string standardisation, apply at every depth (BFCL: one level); "any"
accepts every type (BFCL checks it as a string); parallel calls are matched by a maximum
bipartite matching, where BFCL's greedy match fails a correct answer when an early call
fits two expected entries (e.g. parallel_178 with its calls reversed). Error types keep
BFCL's names so that error breakdowns stay comparable.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from kaiyuan.evals.bfcl.data import Case


class ErrorType(StrEnum):
    """Why a case failed, named as BFCL's score files name it."""

    WRONG_COUNT = "simple_function_checker:wrong_count"
    WRONG_COUNT_MULTIPLE = "multiple_function_checker:wrong_count"
    WRONG_COUNT_PARALLEL = "parallel_function_checker_no_order:wrong_count"
    NO_MATCH_PARALLEL = "parallel_function_checker_no_order:cannot_find_match"
    WRONG_FUNC_NAME = "simple_function_checker:wrong_func_name"
    MISSING_REQUIRED = "simple_function_checker:missing_required"
    UNEXPECTED_PARAM = "simple_function_checker:unexpected_param"
    MISSING_OPTIONAL = "simple_function_checker:missing_optional"
    TYPE = "type_error:simple"
    TYPE_NESTED = "type_error:nested"
    VALUE_STRING = "value_error:string"
    VALUE_LIST = "value_error:list/tuple"
    VALUE_DICT_KEY = "value_error:dict_key"
    VALUE_DICT_VALUE = "value_error:dict_value"
    VALUE_LIST_DICT_COUNT = "value_error:list_dict_count"
    VALUE_OTHER = "value_error:others"
    CALLED_WHEN_IRRELEVANT = "irrelevance_error:decoder_success"
    NO_CALL_WHEN_RELEVANT = "relevance_error:decoder_failed"


@dataclass(frozen=True)
class Call:
    """One function call by the model, with BFCL's function name (see `ToolNames`)."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Verdict:
    """The checker's judgement of one case; `error_type` is "" when correct."""

    correct: bool
    error_type: str = ""
    message: str = ""


_CORRECT = Verdict(True)
_PARALLEL = frozenset({"parallel", "parallel_multiple", "live_parallel",
                       "live_parallel_multiple"})
_MULTIPLE = frozenset({"multiple", "live_multiple"})
_SIMPLE = frozenset({"simple", "live_simple"})
_IRRELEVANCE = frozenset({"irrelevance", "live_irrelevance"})

# BFCL type names -> the kinds checked here; an unknown type is not type-checked.
_KIND = {
    "integer": "integer",
    "int": "integer",
    "float": "float",
    "number": "float",
    "string": "string",
    "boolean": "boolean",
    "bool": "boolean",
    "array": "array",
    "list": "array",
    "tuple": "array",
    "dict": "dict",
    "object": "dict",
}
_STANDARDISE = re.compile(r"[ ,./\-_*^]")


def standardise(text: str) -> str:
    """BFCL's `standardize_string`, so that "April 1, 2024" matches "april 1 2024"."""
    return _STANDARDISE.sub("", text).lower().replace("'", '"')


def _fail(error_type: ErrorType, message: str) -> Verdict:
    return Verdict(False, str(error_type), message)


def _kind(schema: dict[str, Any] | None) -> str:
    return _KIND.get(schema.get("type", ""), "any") if schema else "any"


def _has_kind(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "dict":
        return isinstance(value, dict)
    return True


def _nested_type_problem(value: Any, schema: dict[str, Any]) -> str | None:
    """Where inside `value` (already of the right outer kind) an element has a wrong type."""
    kind = _kind(schema)
    if kind == "array" and "items" in schema:
        items = schema["items"]
        for index, item in enumerate(value):
            if not _has_kind(item, _kind(items)):
                return f"item {index} should be {items.get('type')}, got {type(item).__name__}"
            inner = _nested_type_problem(item, items)
            if inner:
                return f"item {index}: {inner}"
    if kind == "dict":
        properties = schema.get("properties", {})
        for key, item in value.items():
            if key not in properties:
                continue
            if not _has_kind(item, _kind(properties[key])):
                return (f"key {key!r} should be {properties[key].get('type')}, "
                        f"got {type(item).__name__}")
            inner = _nested_type_problem(item, properties[key])
            if inner:
                return f"key {key!r}: {inner}"
    return None


def _as_plain(value: Any) -> Any:
    # Tuples become lists: JSON (and so every possible answer) has no tuples.
    if isinstance(value, list | tuple):
        return [_as_plain(item) for item in value]
    if isinstance(value, dict):
        return {key: _as_plain(item) for key, item in value.items()}
    return value


def _mismatch(value: Any, answer: Any, schema: dict[str, Any] | None, *,
              answer_form: bool = False) -> ErrorType | None:
    """Why `value` differs from one possible `answer`, or None when it matches.

    With `answer_form`, a dict answer maps each key to a list of possible values; BFCL
    writes dicts that way for a dict parameter and for the items of a list-of-dicts
    parameter, and literally below that."""
    kind = _kind(schema)
    if isinstance(value, dict) and isinstance(answer, dict):
        if answer_form:
            return _dict_mismatch(value, answer, schema or {})
        properties = (schema or {}).get("properties", {})
        if value.keys() != answer.keys():
            return ErrorType.VALUE_DICT_KEY
        if any(_mismatch(value[key], answer[key], properties.get(key)) for key in value):
            return ErrorType.VALUE_DICT_VALUE
        return None
    if isinstance(value, list) and isinstance(answer, list):
        items = schema.get("items") if schema and kind == "array" else None
        of_dicts = _kind(items) == "dict"
        if len(value) != len(answer):
            return ErrorType.VALUE_LIST_DICT_COUNT if of_dicts else ErrorType.VALUE_LIST
        for item, expected in zip(value, answer, strict=True):
            problem = _mismatch(item, expected, items, answer_form=answer_form and of_dicts)
            if problem in (ErrorType.VALUE_DICT_KEY, ErrorType.VALUE_DICT_VALUE):
                return problem
            if problem:
                return ErrorType.VALUE_LIST
        return None
    if isinstance(value, str) and isinstance(answer, str):
        return None if standardise(value) == standardise(answer) else ErrorType.VALUE_STRING
    # Python has True == 1; BFCL compares types exactly, so a bool never equals a number.
    if isinstance(value, bool) != isinstance(answer, bool) or value != answer:
        return ErrorType.VALUE_OTHER
    return None


def _dict_mismatch(value: dict[str, Any], answer: dict[str, Any],
                   schema: dict[str, Any]) -> ErrorType | None:
    properties = schema.get("properties", {})
    if any(key not in answer for key in value):
        return ErrorType.VALUE_DICT_KEY
    if any(key not in value and "" not in _options(options)
           for key, options in answer.items()):
        return ErrorType.VALUE_DICT_KEY
    for key, item in value.items():
        if all(_mismatch(item, option, properties.get(key)) for option in _options(answer[key])):
            return ErrorType.VALUE_DICT_VALUE
    return None


def _options(possible: Any) -> list[Any]:
    return possible if isinstance(possible, list) else [possible]


def _is_variable(value: Any, possible: list[Any], schema: dict[str, Any]) -> bool:
    """Whether the possible answers explain `value`'s unexpected type.

    BFCL writes a variable reference (or None) into a possible answer as a value of another
    type than declared, e.g. `"data['sales']"` for an array, and at one level down as list
    elements of another type; a value of that same type is then judged by value alone."""
    kind = _kind(schema)
    answers = [option for option in possible if option != ""]
    if any(type(option) is type(value) and not _has_kind(option, kind) for option in answers):
        return True
    if kind != "array" or not isinstance(value, list):
        return False
    item_kind = _kind(schema.get("items"))
    return any(
        isinstance(option, list) and all(
            _has_kind(item, item_kind) or any(type(item) is type(x) for x in option)
            for item in value)
        for option in answers)


def _check_argument(param: str, value: Any, schema: dict[str, Any],
                    possible: list[Any]) -> Verdict | None:
    value = _as_plain(value)
    type_problem = None
    if not _has_kind(value, _kind(schema)):
        type_problem = (ErrorType.TYPE, f"Incorrect type for parameter {param!r}: expected "
                        f"{schema.get('type')}, got {type(value).__name__} ({value!r}).")
    else:
        nested = _nested_type_problem(value, schema)
        if nested:
            type_problem = (ErrorType.TYPE_NESTED,
                            f"Incorrect nested type in parameter {param!r}: {nested}.")
    if type_problem and not _is_variable(value, possible, schema):
        return _fail(*type_problem)
    compare_as = None if type_problem else schema
    problems = [_mismatch(value, option, compare_as, answer_form=True) for option in possible]
    if None in problems:
        return None
    # Report the comparison with a real answer rather than with the "may omit" marker.
    reasons = [p for p, option in zip(problems, possible, strict=True) if option != ""]
    return _fail((reasons or problems or [ErrorType.VALUE_OTHER])[0],
                 f"Invalid value for parameter {param!r}: {value!r}. "
                 f"Expected one of {possible}.")


def _check_call(functions: dict[str, dict[str, Any]], expected: dict[str, Any],
                call: Call) -> Verdict:
    """One call against one expected entry `{function_name: {param: [possible values]}}`."""
    (name, answers), = expected.items()
    if name not in functions:
        raise ValueError(f"the possible answer names {name!r}, which the case does not offer")
    if call.name != name:
        return _fail(ErrorType.WRONG_FUNC_NAME,
                     f"Expected a call of {name!r}, got {call.name!r}.")
    parameters = functions[name].get("parameters", {})
    properties = parameters.get("properties", {})
    for param in parameters.get("required", []):
        if param not in call.arguments:
            return _fail(ErrorType.MISSING_REQUIRED, f"Missing required parameter {param!r}.")
    for param, value in call.arguments.items():
        if param not in properties or param not in answers:
            return _fail(ErrorType.UNEXPECTED_PARAM, f"Unexpected parameter {param!r}.")
        problem = _check_argument(param, value, properties[param], answers[param])
        if problem:
            return problem
    for param, possible in answers.items():
        if param not in call.arguments and "" not in possible:
            return _fail(ErrorType.MISSING_OPTIONAL,
                         f"Parameter {param!r} is expected here but was not given.")
    return _CORRECT


def _maximum_matching(fits: list[list[bool]]) -> list[int | None]:
    """For each expected entry, the call matched to it (Kuhn's augmenting paths)."""
    owner: dict[int, int] = {}

    def augment(entry: int, seen: set[int]) -> bool:
        for call, fit in enumerate(fits[entry]):
            if fit and call not in seen:
                seen.add(call)
                if call not in owner or augment(owner[call], seen):
                    owner[call] = entry
                    return True
        return False

    for entry in range(len(fits)):
        augment(entry, set())
    matched: list[int | None] = [None] * len(fits)
    for call, entry in owner.items():
        matched[entry] = call
    return matched


def _check_parallel(functions: dict[str, dict[str, Any]], expected: list[dict[str, Any]],
                    calls: list[Call]) -> Verdict:
    if len(calls) != len(expected):
        return _fail(ErrorType.WRONG_COUNT_PARALLEL,
                     f"Expected {len(expected)} calls, got {len(calls)}.")
    verdicts = [[_check_call(functions, entry, call) for call in calls] for entry in expected]
    matched = _maximum_matching([[v.correct for v in row] for row in verdicts])
    if None not in matched:
        return _CORRECT
    stranded = [i for i, call in enumerate(matched) if call is None]
    leftover = [j for j in range(len(calls)) if j not in matched]
    # Which leftover call belongs to which stranded entry is ambiguous, so each leftover
    # call is shown against every entry of its function (or every entry, if none).
    reports = []
    for j in leftover:
        same_name = [i for i, entry in enumerate(expected) if calls[j].name in entry]
        against = "; ".join(f"entry {i}: {verdicts[i][j].error_type}: {verdicts[i][j].message}"
                            for i in same_name or range(len(expected)))
        reports.append(f"Call {j} ({calls[j].name}) vs {against}")
    return _fail(ErrorType.NO_MATCH_PARALLEL,
                 f"No one-to-one match: expected entries {stranded} have no call. "
                 + " | ".join(reports))


def check(case: Case, calls: list[Call]) -> Verdict:
    """Judge the calls a model made for `case` by BFCL's single-turn rules."""
    if case.category in _IRRELEVANCE:
        if calls:
            return _fail(ErrorType.CALLED_WHEN_IRRELEVANT,
                         f"No function fits, but {len(calls)} call(s) were made.")
        return _CORRECT
    if case.category == "live_relevance":
        if not calls:
            return _fail(ErrorType.NO_CALL_WHEN_RELEVANT,
                         "A function fits, but no call was made.")
        return _CORRECT
    if case.ground_truth is None:
        raise ValueError(f"case {case.id} ({case.category}) has no possible answers to check")
    functions = {function["name"]: function for function in case.functions}
    if case.category in _PARALLEL:
        return _check_parallel(functions, case.ground_truth, calls)
    if case.category not in _SIMPLE | _MULTIPLE:
        raise ValueError(f"no checking rule for category {case.category!r}")
    if len(calls) != 1:
        error = (ErrorType.WRONG_COUNT_MULTIPLE if case.category in _MULTIPLE
                 else ErrorType.WRONG_COUNT)
        return _fail(error, f"Expected 1 call, got {len(calls)}.")
    return _check_call(functions, case.ground_truth[0], calls[0])
