"""The BFCL AST checker against BFCL's own possible answers, and against systematically
corrupted versions of them that must fail for the right reason."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from kaiyuan.evals.bfcl.checker import Call, ErrorType, check, standardise
from kaiyuan.evals.bfcl.data import LIVE_AST, NO_GROUND_TRUTH, NON_LIVE_AST, Case, load

PARALLEL = {"parallel", "parallel_multiple", "live_parallel", "live_parallel_multiple"}
MULTIPLE = {"multiple", "live_multiple"}

# Cases that BFCL's own possible answers cannot pass under BFCL's rules: a required
# parameter with no possible value, an answer using an undeclared parameter, an answer
# omitting a required one. BFCL's checker fails them too.
UNSATISFIABLE = {
    "live_simple_106-63-0": ErrorType.MISSING_REQUIRED,
    "live_simple_112-68-0": ErrorType.MISSING_REQUIRED,
    "live_multiple_862-181-3": ErrorType.UNEXPECTED_PARAM,
    "live_multiple_964-207-0": ErrorType.MISSING_REQUIRED,
}
LIVE_SAMPLE = 100


def _sample(category: str) -> list[Case]:
    cases = load(category)
    if category in NON_LIVE_AST:
        return cases
    step = max(1, len(cases) // LIVE_SAMPLE)
    return [case for index, case in enumerate(cases)
            if index % step == 0 or case.id in UNSATISFIABLE]


CASES: dict[str, list[Case]] = {category: _sample(category)
                                for category in (*NON_LIVE_AST, *LIVE_AST)}


def _real_options(possible: Any) -> list[Any]:
    options = possible if isinstance(possible, list) else [possible]
    return [option for option in options if option != ""]


def _instantiate(answer: Any, schema: dict[str, Any] | None) -> Any:
    """A concrete value from a possible answer: BFCL writes a dict parameter (and each
    item of a list-of-dicts parameter) as {key: [possible values]}."""
    kind = (schema or {}).get("type")
    if kind == "dict" and isinstance(answer, dict):
        return {key: options[0] for key, possible in answer.items()
                if (options := _real_options(possible))}
    items = (schema or {}).get("items") or {}
    if kind in ("array", "tuple") and isinstance(answer, list) and items.get("type") == "dict":
        return [_instantiate(item, items) for item in answer]
    return answer


def _declaration(case: Case, name: str) -> dict[str, Any]:
    return next(f for f in case.functions if f["name"] == name)["parameters"]


def _first_value_calls(case: Case, *, with_optional: bool = False) -> list[Call]:
    """One call per expected entry, each parameter at its first possible value; parameters
    that may be omitted ("" among the values) are left out unless `with_optional`."""
    assert case.ground_truth is not None
    calls = []
    for entry in case.ground_truth:
        (name, answers), = entry.items()
        declared = _declaration(case, name)
        required, properties = declared.get("required", []), declared["properties"]
        arguments = {}
        for param, possible in answers.items():
            options = _real_options(possible)
            optional = "" in possible and param not in required
            if optional and not (with_optional and options and param in properties):
                continue
            if options:
                arguments[param] = _instantiate(options[0], properties.get(param))
            elif "" in possible:
                arguments[param] = ""  # a required parameter BFCL accepts as empty
        calls.append(Call(name, arguments))
    return calls


def _satisfiable() -> Iterator[tuple[Case, list[Call]]]:
    """Every sampled case that BFCL's answers can pass, with its first-value calls."""
    for cases in CASES.values():
        for case in cases:
            if case.id not in UNSATISFIABLE:
                yield case, _first_value_calls(case)


def _failures(judge: Callable[[Case, list[Call]], str | None]) -> list[str]:
    return [f"{case.id}: {problem}" for case, calls in _satisfiable()
            if (problem := judge(case, calls))]


@pytest.mark.parametrize("category", [*NON_LIVE_AST, *LIVE_AST])
@pytest.mark.parametrize("with_optional", [False, True])
def test_bfcls_own_answers_pass(category: str, with_optional: bool) -> None:
    wrong = []
    for case in CASES[category]:
        verdict = check(case, _first_value_calls(case, with_optional=with_optional))
        expected = UNSATISFIABLE.get(case.id)
        if expected is None and not verdict.correct:
            wrong.append(f"{case.id}: {verdict.error_type} {verdict.message}")
        if expected is not None and verdict.error_type != expected:
            wrong.append(f"{case.id} should fail with {expected}, got {verdict}")
    assert not wrong, "\n".join(wrong[:10])
    assert len(CASES[category]) >= min(LIVE_SAMPLE, len(load(category)))


def _expect(case: Case, calls: list[Call], error: ErrorType) -> str | None:
    """None when `calls` fail with `error` (inside a parallel no-match for parallel cases)."""
    verdict = check(case, calls)
    if case.category in PARALLEL and error != ErrorType.WRONG_COUNT_PARALLEL:
        if verdict.error_type == ErrorType.NO_MATCH_PARALLEL and error in verdict.message:
            return None
    elif verdict.error_type == error:
        return None
    return f"expected {error}, got {verdict.error_type or 'correct'}: {verdict.message}"


def _error(case: Case, calls: list[Call]) -> str:
    return check(case, calls).error_type


def _replace(calls: list[Call], index: int, **arguments: Any) -> list[Call]:
    changed = list(calls)
    changed[index] = Call(calls[index].name, {**calls[index].arguments, **arguments})
    return changed


def test_wrong_function_name_fails() -> None:
    def judge(case: Case, calls: list[Call]) -> str | None:
        renamed = [Call(calls[0].name + "_v2", calls[0].arguments), *calls[1:]]
        return _expect(case, renamed, ErrorType.WRONG_FUNC_NAME)

    assert not _failures(judge)


def test_calling_another_offered_function_fails_in_multiple() -> None:
    tried = 0
    for category in MULTIPLE:
        for case in CASES[category]:
            calls = _first_value_calls(case)
            other = next(f["name"] for f in case.functions if f["name"] != calls[0].name)
            assert _expect(case, [Call(other, calls[0].arguments)],
                           ErrorType.WRONG_FUNC_NAME) is None, case.id
            tried += 1
    assert tried > 250


def test_missing_required_parameter_fails() -> None:
    tried = 0

    def judge(case: Case, calls: list[Call]) -> str | None:
        nonlocal tried
        for index, call in enumerate(calls):
            required = _declaration(case, call.name).get("required", [])
            present = [param for param in required if param in call.arguments]
            if present:
                tried += 1
                kept = {k: v for k, v in call.arguments.items() if k != present[0]}
                changed = [*calls[:index], Call(call.name, kept), *calls[index + 1:]]
                return _expect(case, changed, ErrorType.MISSING_REQUIRED)
        return None

    assert not _failures(judge)
    assert tried > 1000


def test_wrong_type_fails() -> None:
    tried = 0
    # For each declared type, a value of another type; skipped where BFCL's possible
    # answers themselves hold that other type (a variable reference).
    wrong_values = {"integer": "12", "float": "3.5", "boolean": "true", "string": 12345,
                    "array": "[1, 2]", "dict": "{}"}

    def judge(case: Case, calls: list[Call]) -> str | None:
        nonlocal tried
        for index, call in enumerate(calls):
            properties = _declaration(case, call.name)["properties"]
            for param in call.arguments:
                declared = properties[param]["type"]
                wrong = wrong_values.get(declared)
                if wrong is None:
                    continue
                possible = _answers_for(case, call, param)
                if any(type(option) is type(wrong) for option in possible):
                    continue
                tried += 1
                return _expect(case, _replace(calls, index, **{param: wrong}), ErrorType.TYPE)
        return None

    assert not _failures(judge)
    assert tried > 1000


def test_wrong_item_type_fails() -> None:
    tried = 0
    wrong_items = {"integer": "7", "float": "2.5", "string": 7}

    def judge(case: Case, calls: list[Call]) -> str | None:
        nonlocal tried
        for index, call in enumerate(calls):
            properties = _declaration(case, call.name)["properties"]
            for param, value in call.arguments.items():
                item_type = (properties[param].get("items") or {}).get("type")
                wrong = wrong_items.get(item_type)
                if not isinstance(value, list) or not value or wrong is None:
                    continue
                possible = _answers_for(case, call, param)
                if any(type(item) is type(wrong) for option in possible
                       if isinstance(option, list) for item in option):
                    continue
                tried += 1
                changed = _replace(calls, index, **{param: [wrong, *value[1:]]})
                return _expect(case, changed, ErrorType.TYPE_NESTED)
        return None

    assert not _failures(judge)
    assert tried > 100


def _answers_for(case: Case, call: Call, param: str) -> list[Any]:
    """Every possible value of `param` in any expected entry for `call`'s function."""
    assert case.ground_truth is not None
    return [option for entry in case.ground_truth for name, answers in entry.items()
            if name == call.name for option in answers.get(param, [])]


def test_bool_is_not_an_integer() -> None:
    case = CASES["simple"][0]
    (name, answers), = case.ground_truth[0].items()
    declared = _declaration(case, name)["properties"]
    param = next(p for p in answers if declared[p]["type"] == "integer")
    verdict = check(case, _replace(_first_value_calls(case), 0, **{param: True}))
    assert verdict.error_type == ErrorType.TYPE


def test_bool_never_equals_a_number() -> None:
    # Python has True == 1; BFCL does not. An "any" parameter is not type-checked, so only
    # the value comparison can tell them apart.
    function = {"name": "set_flag", "description": "",
                "parameters": {"type": "dict", "required": ["value"],
                               "properties": {"value": {"type": "any", "description": ""}}}}
    case = Case(id="synthetic_0", category="simple", messages=[], functions=[function],
                ground_truth=[{"set_flag": {"value": [1]}}])
    assert check(case, [Call("set_flag", {"value": 1})]).correct
    assert check(case, [Call("set_flag", {"value": True})]).error_type == ErrorType.VALUE_OTHER


def test_wrong_value_fails() -> None:
    tried: dict[str, int] = {"string": 0, "integer": 0}

    def judge(case: Case, calls: list[Call]) -> str | None:
        for index, call in enumerate(calls):
            properties = _declaration(case, call.name)["properties"]
            for param, value in call.arguments.items():
                declared = properties[param]["type"]
                if declared == "string" and isinstance(value, str):
                    tried["string"] += 1
                    changed = _replace(calls, index, **{param: "Zanzibar quux 9137"})
                    return _expect(case, changed, ErrorType.VALUE_STRING)
                if declared == "integer" and type(value) is int:
                    tried["integer"] += 1
                    numbers = [o for o in _answers_for(case, call, param) if type(o) is int]
                    changed = _replace(calls, index, **{param: max(numbers) + 7919})
                    return _expect(case, changed, ErrorType.VALUE_OTHER)
        return None

    assert not _failures(judge)
    assert tried["string"] > 500 and tried["integer"] > 50


def test_unexpected_parameter_fails() -> None:
    def judge(case: Case, calls: list[Call]) -> str | None:
        return _expect(case, _replace(calls, 0, not_a_parameter=1), ErrorType.UNEXPECTED_PARAM)

    assert not _failures(judge)


def test_declared_parameter_absent_from_the_answer_fails() -> None:
    tried = 0

    def judge(case: Case, calls: list[Call]) -> str | None:
        nonlocal tried
        (name, answers), = case.ground_truth[0].items()
        unlisted = [p for p in _declaration(case, name)["properties"] if p not in answers]
        if not unlisted:
            return None
        tried += 1
        return _expect(case, _replace(calls, 0, **{unlisted[0]: "x"}),
                       ErrorType.UNEXPECTED_PARAM)

    assert not _failures(judge)
    assert tried >= 3  # BFCL's answers list nearly every declared parameter


def test_leaving_out_a_listed_non_optional_parameter_fails() -> None:
    tried = 0
    for case, calls in _satisfiable():
        (name, answers), = case.ground_truth[0].items()
        required = _declaration(case, name).get("required", [])
        param = next((p for p, possible in answers.items()
                      if "" not in possible and p not in required and p in calls[0].arguments),
                     None)
        if param is None or case.category in PARALLEL:
            continue
        tried += 1
        kept = {k: v for k, v in calls[0].arguments.items() if k != param}
        assert _expect(case, [Call(name, kept)], ErrorType.MISSING_OPTIONAL) is None, case.id
    assert tried > 20


def test_extra_or_missing_call_fails() -> None:
    def judge(case: Case, calls: list[Call]) -> str | None:
        error = (ErrorType.WRONG_COUNT_PARALLEL if case.category in PARALLEL
                 else ErrorType.WRONG_COUNT_MULTIPLE if case.category in MULTIPLE
                 else ErrorType.WRONG_COUNT)
        return (_expect(case, [*calls, calls[0]], error)
                or _expect(case, calls[:-1], error))

    assert not _failures(judge)


def test_int_accepted_for_float() -> None:
    tried = 0
    for case, calls in _satisfiable():
        for index, call in enumerate(calls):
            properties = _declaration(case, call.name)["properties"]
            for param, value in call.arguments.items():
                whole = isinstance(value, float) and value.is_integer()
                if properties[param]["type"] == "float" and whole:
                    tried += 1
                    verdict = check(case, _replace(calls, index, **{param: int(value)}))
                    assert verdict.correct, (case.id, verdict)
    assert tried > 100


def test_tuple_and_list_are_interchangeable() -> None:
    tried = 0
    for case, calls in _satisfiable():
        for index, call in enumerate(calls):
            properties = _declaration(case, call.name)["properties"]
            for param, value in call.arguments.items():
                if properties[param]["type"] in ("tuple", "array") and isinstance(value, list):
                    tried += 1
                    as_tuple = check(case, _replace(calls, index, **{param: tuple(value)}))
                    assert as_tuple.correct, (case.id, as_tuple)
    assert tried > 200


def test_strings_compare_after_bfcl_standardisation() -> None:
    assert standardise("April 1, 2024") == standardise("april 1 2024") == "april12024"
    assert standardise("San_Francisco-CA/US.") == "sanfranciscocaus"
    assert standardise("it's") == 'it"s'
    assert standardise("a\tb") != standardise("ab")  # only the space character is removed
    tried = 0
    for case, calls in _satisfiable():
        for index, call in enumerate(calls):
            for param, value in call.arguments.items():
                if isinstance(value, str) and value:
                    tried += 1
                    loose = " " + value.upper().replace(" ", " _ ") + "."
                    verdict = check(case, _replace(calls, index, **{param: loose}))
                    assert verdict.correct, (case.id, param, loose, verdict)
    assert tried > 1000


def test_nested_dicts_and_lists_of_dicts() -> None:
    case = next(c for c in CASES["simple"] if c.id == "simple_python_96")
    calls = _first_value_calls(case)
    conditions = calls[0].arguments["conditions"]
    assert isinstance(conditions, list) and isinstance(conditions[0], dict)
    assert check(case, calls).correct

    wrong_value = [dict(conditions[0], value="99"), *conditions[1:]]
    assert _error(case, _replace(calls, 0, conditions=wrong_value)) == ErrorType.VALUE_DICT_VALUE
    missing_key = [{k: v for k, v in conditions[0].items() if k != "operation"},
                   *conditions[1:]]
    assert _error(case, _replace(calls, 0, conditions=missing_key)) == ErrorType.VALUE_DICT_KEY
    too_few = _replace(calls, 0, conditions=conditions[:1])
    assert _error(case, too_few) == ErrorType.VALUE_LIST_DICT_COUNT
    assert not check(case, _replace(calls, 0, conditions=conditions[::-1])).correct

    # A dict inside a dict parameter is written literally, not as lists of options.
    live = next(c for c in load("live_multiple") if c.id == "live_multiple_121-46-0")
    live_calls = _first_value_calls(live)
    assert check(live, live_calls).correct
    ego = live_calls[0].arguments["ego_info"]
    as_floats = dict(ego, position={"lateral": 10.5, "longitudinal": 50.0})
    assert check(live, _replace(live_calls, 0, ego_info=as_floats)).correct
    moved = dict(ego, position={"lateral": 11.5, "longitudinal": 50})
    assert _error(live, _replace(live_calls, 0, ego_info=moved)) == ErrorType.VALUE_DICT_VALUE
    worded = dict(ego, orientation="thirty")
    assert _error(live, _replace(live_calls, 0, ego_info=worded)) == ErrorType.TYPE_NESTED


def test_parallel_calls_match_in_any_order() -> None:
    tried = 0
    for category in PARALLEL:
        for case in CASES[category]:
            if case.id in UNSATISFIABLE:
                continue
            calls = _first_value_calls(case)
            for order in (calls[::-1], calls[1:] + calls[:1]):
                verdict = check(case, order)
                assert verdict.correct, (case.id, verdict)
            tried += 1
    assert tried > 400


def test_parallel_matching_is_one_to_one_and_not_greedy() -> None:
    # Entry 0 accepts Microsoft or Apple on 2022-01-01; entry 2 only Apple on that date.
    # Taking calls greedily in this order pairs Apple with entry 0 and strands entry 2.
    case = next(c for c in CASES["parallel"] if c.id == "parallel_178")
    calls = _first_value_calls(case)
    assert check(case, calls[::-1]).correct

    duplicated = [calls[0], calls[0], *calls[2:]]
    verdict = check(case, duplicated)
    assert verdict.error_type == ErrorType.NO_MATCH_PARALLEL


@pytest.mark.parametrize("category", ["irrelevance", "live_irrelevance"])
def test_irrelevance_is_correct_only_without_calls(category: str) -> None:
    cases = load(category, limit=50)
    for case in cases:
        assert case.ground_truth is None
        assert check(case, []).correct
        any_call = [Call(case.functions[0]["name"], {})]
        assert check(case, any_call).error_type == ErrorType.CALLED_WHEN_IRRELEVANT


def test_relevance_needs_a_call_whatever_its_arguments() -> None:
    for case in load("live_relevance"):
        assert check(case, []).error_type == ErrorType.NO_CALL_WHEN_RELEVANT
        assert check(case, [Call(case.functions[0]["name"], {"anything": 1})]).correct


def test_ast_case_without_answers_is_refused() -> None:
    case = load("simple", limit=1)[0].model_copy(update={"ground_truth": None})
    with pytest.raises(ValueError, match="no possible answers"):
        check(case, [])
    assert set(NO_GROUND_TRUTH) == {"irrelevance", "live_irrelevance", "live_relevance"}
