"""The arena: verdict parsing, the position-swap rule, the built-in prompts, ratings from
votes, and the whole pipeline against a real `kaiyuan serve`, answers and judgements cached."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path

import httpx
import pytest
from conftest import SMOL, RunningServer

from kaiyuan.evals.arena import (
    ANSWER_SUITE,
    JUDGE_SUITE,
    ArenaPrompt,
    Contestant,
    answer_all,
    arena,
    arena_from_votes,
    combine,
    judge_all,
    judge_messages,
    load_prompts,
    parse_verdict,
)
from kaiyuan.evals.cache import ResultCache
from kaiyuan.evals.runner import Endpoint


@pytest.mark.parametrize(("text", "verdict"), [
    ("[[A]]", "a"),
    ("[[B]]", "b"),
    ("[[C]]", "tie"),
    ("Assistant A explains the cause and gives a fix; B does not.\n\n[[A]]", "a"),
    ("Final verdict: **[[B]]**.", "b"),
    ("[[ c ]]", "tie"),
    ("[[b]]", "b"),
    # The format echoed back first, the verdict last: the last one counts.
    ('Output "[[A]]" if A is better, "[[B]]" if B is better. Verdict: [[B]]', "b"),
    ("At first glance [[A]], but B is correct and A is not. [[B]]", "b"),
    ("[[A]] [[B]] [[C]]", "tie"),
    ("", None),
    ("A", None),
    ("Assistant A is better.", None),
    ("[A]", None),
    ("[[A]", None),
    ("[[D]]", None),
    ("[[AB]]", None),
    ("[[tie]]", None),
    ("verdict: A > B", None),
])
def test_parse_verdict(text: str, verdict: str | None) -> None:
    assert parse_verdict(text) == verdict


@pytest.mark.parametrize(("first", "second", "outcome"), [
    # Same model preferred in both orders: it wins.
    ("a", "b", "a"),
    ("b", "a", "b"),
    # Same position preferred in both orders: the orders disagree on the model.
    ("a", "a", "tie"),
    ("b", "b", "tie"),
    # A tie on either side.
    ("a", "tie", "tie"),
    ("tie", "b", "tie"),
    ("b", "tie", "tie"),
    ("tie", "a", "tie"),
    ("tie", "tie", "tie"),
])
def test_combine_truth_table(first: str, second: str, outcome: str) -> None:
    assert combine(first, second) == outcome


def test_built_in_prompts_load_with_unique_ids() -> None:
    prompts = load_prompts()
    ids = [p.id for p in prompts]
    assert 20 <= len(prompts) <= 30
    assert len(set(ids)) == len(ids)
    assert all(p.prompt.strip() for p in prompts)
    assert any(re.search(r"[\u4e00-\u9fff]", p.prompt) for p in prompts)
    assert {i.split("-")[0] for i in ids} == {"coding", "reasoning", "writing", "zh",
                                              "instruct"}


def test_a_prompt_file_is_read_and_its_mistakes_named(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_text('{"id": "a", "prompt": "Hi", "category": "x"}\n\n'
                    '{"id": "b", "prompt": "Bye"}\n', encoding="utf-8")
    assert [(p.id, p.prompt) for p in load_prompts(good)] == [("a", "Hi"), ("b", "Bye")]

    repeated = tmp_path / "repeated.jsonl"
    repeated.write_text('{"id": "a", "prompt": "Hi"}\n{"id": "a", "prompt": "Bye"}\n')
    with pytest.raises(ValueError, match=r"line 2: prompt id 'a' is already used on line 1"):
        load_prompts(repeated)

    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"id": "a", "prompt": "Hi"}\n{"id": "b"}\n')
    with pytest.raises(ValueError, match=r"broken.jsonl, line 2: prompt: Field required"):
        load_prompts(broken)

    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    with pytest.raises(ValueError, match="holds no prompts"):
        load_prompts(empty)


def test_the_judge_sees_the_question_and_both_answers_in_order() -> None:
    [message] = judge_messages(ArenaPrompt(id="q", prompt="What is 2 + 2?"), "It is {4}.",
                               "Five.")
    text = message["content"]
    assert message["role"] == "user"
    assert text.index("What is 2 + 2?") < text.index("It is {4}.") < text.index("Five.")
    assert text.rstrip().endswith("on the last line.")
    # The instructions name all three verdicts.
    assert all(v in text for v in ("[[A]]", "[[B]]", "[[C]]"))


def test_ratings_from_recorded_votes(tmp_path: Path) -> None:
    votes = tmp_path / "votes.jsonl"
    records = ([{"model_a": "strong", "model_b": "weak", "winner": "model_a"}] * 8
               + [{"model_a": "weak", "model_b": "strong", "winner": "model_a"}] * 2
               + [{"model_a": "weak", "model_b": "middling", "winner": "tie"}] * 4
               + [{"model_a": "middling", "model_b": "strong", "winner": "model_b"}] * 3)
    votes.write_text("\n".join(json.dumps(r) for r in records) + "\n")
    ratings = arena_from_votes(votes, rounds=200)
    strong = ratings[0]
    assert strong.model == "strong"
    assert (strong.battles, strong.wins, strong.losses, strong.ties) == (13, 11, 2, 0)
    assert strong.lower <= strong.rating <= strong.upper


def test_contestants_need_distinct_labels(tmp_path: Path) -> None:
    endpoint = Endpoint("http://127.0.0.1:9/v1", "m")
    cache = ResultCache(tmp_path / "evals.sqlite")
    with pytest.raises(ValueError, match="labels must be unique; repeated: same"):
        arena([Contestant("same", endpoint), Contestant("same", endpoint)], endpoint, cache,
              prompts=load_prompts()[:1])
    with pytest.raises(ValueError, match="at least two contestants"):
        arena([Contestant("alone", endpoint)], endpoint, cache, prompts=load_prompts()[:1])


def chat_requests(server: RunningServer) -> int:
    """Chat requests the server has answered so far, from its Prometheus counter."""
    text = httpx.get(f"{server.url}/metrics").text
    pattern = r'kaiyuan_requests_total\{[^}]*route="/v1/chat/completions"[^}]*\} (\d+\.?\d*)'
    return int(sum(float(v) for v in re.findall(pattern, text)))


def rows(cache_path: Path, suite: str) -> list[str]:
    """The stored replies of one suite, read straight from the cache's table."""
    with sqlite3.connect(cache_path) as db:
        return [row[0] for row in db.execute(
            "SELECT response FROM results WHERE suite=? AND error IS NULL", (suite,))]


def recount(cache_path: Path) -> tuple[int, int]:
    """(judgements, replies without a verdict) among the stored judgements."""
    verdicts = [parse_verdict(json.loads(r)["choices"][0]["message"]["content"] or "")
                for r in rows(cache_path, JUDGE_SUITE)]
    return len(verdicts), verdicts.count(None)


# SmolLM2's token ids of "[[", "A", "B", "C" and "]]" (from its GGUF vocabulary). Biased
# towards them, the 135M judge writes verdict-shaped replies, arbitrary but parseable, so
# that the pipeline reaches the ratings; without the bias it writes no verdict at all.
VERDICT_TOKENS = {"32803": 100, "49": 100, "50": 100, "51": 100, "7896": 100}


def test_arena_end_to_end_on_a_real_server(smol: RunningServer, tmp_path: Path) -> None:
    prompt_file = tmp_path / "prompts.jsonl"
    prompt_file.write_text(
        '{"id": "capital", "prompt": "What is the capital of France?"}\n'
        '{"id": "add", "prompt": "What is 12 + 30?"}\n'
        '{"id": "greet", "prompt": "Say hello in Spanish."}\n', encoding="utf-8")
    prompts = load_prompts(prompt_file)
    endpoint = Endpoint(smol.base_url, SMOL)
    answer_params = {"max_tokens": 24, "temperature": 0}
    # One model entered twice under the same parameters: only the labels tell them apart.
    contestants = [Contestant("smol-a", endpoint, answer_params),
                   Contestant("smol-b", endpoint, answer_params)]
    cache_path = tmp_path / "evals.sqlite"
    cache = ResultCache(cache_path)
    judge_params = {"max_tokens": 8, "temperature": 0, "logit_bias": VERDICT_TOKENS}

    before = chat_requests(smol)
    result = arena(contestants, endpoint, cache, prompts=prompts, judge_params=judge_params,
                   concurrency=8, rounds=50)
    # 2 contestants x 3 prompts answers (the labels keep the two apart in the cache);
    # 3 prompts x 1 pair x 2 orders judgements.
    assert len(rows(cache_path, ANSWER_SUITE)) == 6
    assert recount(cache_path)[0] == 6
    assert chat_requests(smol) - before == 12
    judged = result.judged
    assert (judged.total, judged.errors, judged.skipped) == (6, 0, 0)
    assert judged.unparseable == recount(cache_path)[1]
    assert 1 <= len(judged.battles) <= 3
    assert all({b.model_a, b.model_b} == {"smol-a", "smol-b"} for b in judged.battles)
    assert 0 <= judged.inconsistent <= len(judged.battles)
    assert judged.position_bias_rate == judged.inconsistent / len(judged.battles)
    assert {r.model for r in result.ratings} == {"smol-a", "smol-b"}
    assert all(r.battles == len(judged.battles) for r in result.ratings)

    # A second call finds everything in the cache and asks nothing.
    again = arena(contestants, endpoint, cache, prompts=prompts, judge_params=judge_params,
                  concurrency=8, rounds=50)
    assert chat_requests(smol) - before == 12
    assert len(rows(cache_path, ANSWER_SUITE)) == 6 and recount(cache_path)[0] == 6
    assert again == result

    # The unbiased judge on one prompt: cached answers, two new judgements, replies
    # without a verdict counted rather than crashed on.
    plain = judge_all(endpoint, ["smol-a", "smol-b"], prompts[:1],
                      answer_all(contestants, prompts[:1], cache), cache,
                      params={"max_tokens": 8, "temperature": 0})
    assert chat_requests(smol) - before == 14
    judgements, unparsed = recount(cache_path)
    assert (judgements, plain.total) == (8, 2)
    assert plain.unparseable == unparsed - judged.unparseable
