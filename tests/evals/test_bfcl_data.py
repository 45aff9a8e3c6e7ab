"""BFCL data loading, the OpenAI `tools` conversion, BFCL's summary columns, and the
prompt-mode parser, all on the real files of the installed `bfcl-eval` wheel."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from kaiyuan.evals.bfcl.checker import Call, check
from kaiyuan.evals.bfcl.data import (
    CATEGORIES,
    LIVE_AST,
    NO_GROUND_TRUTH,
    PYTHON_HINT,
    ToolNames,
    answer_file,
    case_count,
    load,
    openai_name,
    openai_tools,
    question_file,
    summarise,
)
from kaiyuan.evals.bfcl.prompt_mode import parse_calls, prompt_messages, system_prompt

ALL = {category: load(category) for category in CATEGORIES}
OPENAI_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
JSON_SCHEMA_TYPES = {"object", "array", "string", "integer", "number", "boolean", "null"}


def _lines(path: Any) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


@pytest.mark.parametrize("category", CATEGORIES)
def test_each_category_loads_every_case_of_its_file(category: str) -> None:
    rows = _lines(question_file(category))
    cases = ALL[category]
    assert len(rows) > 0
    assert len(cases) == len(rows) == case_count(category)
    assert [case.id for case in cases] == [row["id"] for row in rows]
    assert len({case.id for case in cases}) == len(cases)
    if category in NO_GROUND_TRUTH:
        assert all(case.ground_truth is None for case in cases)
    else:
        answers = _lines(answer_file(category))
        assert [row["id"] for row in answers] == [case.id for case in cases]
        assert [case.ground_truth for case in cases] == [row["ground_truth"] for row in answers]
    for case, row in zip(cases, rows, strict=True):
        assert case.category == category
        assert case.messages and case.messages[-1]["role"] == "user"
        assert {m["role"] for m in case.messages} <= {"system", "user", "assistant"}
        assert [f["name"] for f in case.functions] == [f["name"] for f in row["function"]]
        for function, raw in zip(case.functions, row["function"], strict=True):
            assert function["description"] == raw["description"] + PYTHON_HINT


def test_simple_is_bfcls_python_file() -> None:
    assert question_file("simple").name == "BFCL_v4_simple_python.json"
    assert answer_file("simple").parent.name == "possible_answer"


def test_limit_and_bad_arguments() -> None:
    first_seven = [case.id for case in ALL["live_multiple"][:7]]
    assert [case.id for case in load("live_multiple", limit=7)] == first_seven
    assert load("parallel", limit=0) == []
    with pytest.raises(ValueError, match="at least 0"):
        load("parallel", limit=-1)
    with pytest.raises(ValueError, match="live_relevance"):
        load("simple_python")
    with pytest.raises(ValueError, match="no possible answers"):
        answer_file("irrelevance")


def test_data_is_read_without_importing_bfcl_eval() -> None:
    assert not any(name == "bfcl_eval" or name.startswith("bfcl_eval.")
                   for name in sys.modules)


def _schema_parts(schema: dict[str, Any], parts: set[str]) -> None:
    """Every schema node with its children emptied, descriptions and names checked here
    and left out so that identical shapes dedupe: the metaschema check of all 3,000
    distinct tools whole takes ten seconds, of their distinct parts one."""
    if "description" in schema:
        assert isinstance(schema["description"], str)
    shell = {k: v for k, v in schema.items()
             if k not in ("description", "properties", "items", "required")}
    if "required" in schema:
        required = schema["required"]
        assert all(isinstance(name, str) for name in required)
        assert len(set(required)) == len(required)
        shell["required"] = ["name"] if required else []
    if "properties" in schema:
        assert all(isinstance(name, str) for name in schema["properties"])
        shell["properties"] = {"name": {}} if schema["properties"] else {}
        for child in schema["properties"].values():
            _schema_parts(child, parts)
    if "items" in schema:
        shell["items"] = {}
        _schema_parts(schema["items"], parts)
    parts.add(json.dumps(shell, sort_keys=True))


def _types(schema: dict[str, Any]) -> set[str]:
    found = {schema["type"]}
    for child in schema.get("properties", {}).values():
        found |= _types(child)
    if "items" in schema:
        found |= _types(schema["items"])
    return found


def test_openai_tools_are_valid_json_schema() -> None:
    parts: set[str] = set()
    types: set[str] = set()
    for cases in ALL.values():
        for case in cases:
            tools = openai_tools(case.functions)
            assert len(tools) == len(case.functions)
            for tool in tools:
                assert tool["type"] == "function"
                assert OPENAI_NAME.match(tool["function"]["name"])
                parameters = tool["function"]["parameters"]
                assert parameters["type"] == "object"
                types |= _types(parameters)
                _schema_parts(parameters, parts)
    assert types <= JSON_SCHEMA_TYPES
    Draft202012Validator.check_schema({"$defs": {str(i): json.loads(part)
                                                 for i, part in enumerate(parts)}})


def test_openai_tools_convert_bfcl_types_as_bfcl_does() -> None:
    function = {
        "name": "geometry.area",
        "description": "Area.",
        "parameters": {"type": "dict", "required": ["sides"], "properties": {
            "sides": {"type": "tuple", "items": {"type": "float"}, "description": "Sides."},
            "scale": {"type": "float", "description": "Scale."},
            "meta": {"type": "dict", "description": "Meta.",
                     "properties": {"unit": {"type": "any", "description": "Unit."}}},
            "note": {"description": "No type given."},
        }},
    }
    (tool,) = openai_tools([function])
    assert tool["function"]["name"] == "geometry_area"
    properties = tool["function"]["parameters"]["properties"]
    assert properties["sides"] == {"type": "array", "items": {"type": "number"},
                                   "description": "Sides."}
    assert properties["scale"] == {"type": "number", "format": "float",
                                   "description": "Scale. This is a float type value."}
    assert properties["meta"]["type"] == "object"
    assert properties["meta"]["properties"]["unit"]["type"] == "string"
    assert properties["note"]["type"] == "string"
    assert function["parameters"]["type"] == "dict"  # the case's own docs are untouched


def test_dotted_names_round_trip() -> None:
    dotted = 0
    for cases in ALL.values():
        for case in cases:
            names = ToolNames.of(case.functions)
            for tool, function in zip(openai_tools(case.functions), case.functions,
                                      strict=True):
                assert names.bfcl_name(tool["function"]["name"]) == function["name"]
                dotted += "." in function["name"]
    assert dotted > 300
    names = ToolNames.of([{"name": "math.factorial"}])
    assert openai_name("math.factorial") == "math_factorial"
    assert names.bfcl_name("math_factorial") == "math.factorial"
    assert names.bfcl_name("made_up") == "made_up"
    with pytest.raises(ValueError, match="both become"):
        ToolNames.of([{"name": "a.b"}, {"name": "a_b"}])


def test_summary_follows_bfcls_aggregation() -> None:
    scores = {"simple": 0.8, "multiple": 0.6, "parallel": 0.4, "parallel_multiple": 0.2,
              "live_simple": 0.9, "live_multiple": 0.5, "live_parallel": 0.1,
              "live_parallel_multiple": 0.3, "irrelevance": 0.7, "live_irrelevance": 0.5,
              "live_relevance": 0.25}
    summary = summarise(scores)
    assert summary["non_live_ast"] == pytest.approx(0.5)
    sizes = {category: case_count(category) for category in LIVE_AST}
    weighted = sum(scores[c] * sizes[c] for c in LIVE_AST) / sum(sizes.values())
    assert summary["live_ast"] == pytest.approx(weighted)
    assert summary["live_ast"] != pytest.approx(sum(scores[c] for c in LIVE_AST) / 4)
    assert summary["irrelevance"] == pytest.approx(0.6)
    assert summary["relevance"] == 0.25

    even = summarise(scores, counts={category: 10 for category in LIVE_AST})
    assert even["live_ast"] == pytest.approx(0.45)

    partial = summarise({"simple": 1.0, "live_relevance": 1.0})
    assert partial == {"non_live_ast": None, "live_ast": None, "irrelevance": None,
                       "relevance": 1.0}
    with pytest.raises(ValueError, match="unknown BFCL category"):
        summarise({"simple_python": 0.5})
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        summarise({"simple": 75.0})


def test_system_prompt_lists_the_functions_and_the_call_format() -> None:
    case = ALL["multiple"][0]
    prompt = system_prompt(case.functions)
    assert json.dumps(case.functions, indent=4) in prompt
    assert "[func_name1(params_name1=params_value1" in prompt
    assert "You SHOULD NOT include any other text in the response." in prompt

    plain = prompt_messages(case.messages, case.functions)
    assert plain[0] == {"role": "system", "content": prompt}
    assert plain[1:] == case.messages

    with_system = next(c for c in ALL["live_simple"] if c.messages[0]["role"] == "system")
    merged = prompt_messages(with_system.messages, with_system.functions)
    assert len(merged) == len(with_system.messages)
    assert merged[0]["content"] == (system_prompt(with_system.functions) + "\n\n"
                                    + with_system.messages[0]["content"])
    assert with_system.messages[0]["content"] != merged[0]["content"]  # not mutated


@pytest.mark.parametrize(("text", "expected"), [
    ('[get_weather(city="Paris", days=3)]',
     [Call("get_weather", {"city": "Paris", "days": 3})]),
    ("get_weather(city='Paris')", [Call("get_weather", {"city": "Paris"})]),
    ('```python\n[math.factorial(number=5), stats.mean(values=[1, 2.5, -3])]\n```',
     [Call("math.factorial", {"number": 5}), Call("stats.mean", {"values": [1, 2.5, -3]})]),
    ("```\n[f(point=(1, 2), opts={'a': None, 'b': True}, area=2*3.5, data=my_data)]\n```",
     [Call("f", {"point": (1, 2), "opts": {"a": None, "b": True}, "area": 7.0,
                 "data": "my_data"})]),
    ("[f(big=2**10**10, inner=g(x=1), bare=h(2))]",
     [Call("f", {"big": "2 ** 10 ** 10", "inner": {"g": {"x": 1}}, "bare": "h(2)"})]),
    ("[f(1, a=2)]", [Call("f", {"a": 2})]),
    ("[]", []),
])
def test_parse_calls_reads_python_call_syntax(text: str, expected: list[Call]) -> None:
    parsed = parse_calls(text)
    assert parsed.reason == ""
    assert parsed.calls == expected


@pytest.mark.parametrize(("text", "reason"), [
    ("", "empty"),
    ("I cannot answer that with these functions.", "not Python call syntax"),
    ("[1, 2]", "not a function call"),
    ("[f(**kwargs)]", "unpacking"),
    ("[obj[0](a=1)]", "not a function name"),
])
def test_parse_calls_explains_unreadable_replies(text: str, reason: str) -> None:
    parsed = parse_calls(text)
    assert parsed.calls == []
    assert reason in parsed.reason


def test_prompt_mode_round_trip_through_the_checker() -> None:
    """BFCL's possible answers, written as a prompt-mode reply, parse back to calls that
    the checker accepts."""
    checked = 0
    for case in ALL["simple"] + ALL["parallel"]:
        assert case.ground_truth is not None
        declared = {f["name"]: f["parameters"] for f in case.functions}
        rendered, usable = [], True
        for entry in case.ground_truth:
            (name, answers), = entry.items()
            required = declared[name].get("required", [])
            arguments = {param: next(v for v in possible if v != "")
                         for param, possible in answers.items()
                         if "" not in possible or param in required}
            usable &= all(declared[name]["properties"][p]["type"] != "dict" for p in arguments)
            rendered.append(f"{name}(" + ", ".join(f"{k}={v!r}" for k, v in arguments.items())
                            + ")")
        if not usable:
            continue
        parsed = parse_calls("[" + ", ".join(rendered) + "]")
        verdict = check(case, parsed.calls)
        assert verdict.correct, (case.id, rendered, verdict)
        checked += 1
    assert checked > 550
