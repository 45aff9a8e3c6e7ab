"""The arena: rate models against each other from pairwise judgements or recorded votes.

Every contestant answers every prompt; a judge model then compares, prompt by prompt, the
answers of every pair of contestants. This is the pairwise "LLM-as-a-judge" of Zheng et al.
(2023), "Judging LLM-as-a-Judge with MT-Bench and Chatbot Arena", arXiv:2306.05685: the judge
sees the user's question and two answers labelled A and B, explains its comparison, and ends
with "[[A]]", "[[B]]" or "[[C]]" for a tie (the verdict format of their pairwise prompt,
lm-sys/FastChat `fastchat/llm_judge/data/judge_prompts.jsonl`). Judges favour a position
(their section 3.3), so every pair is judged twice with the answers swapped, and a model wins
only when it is preferred in both orders (their section 3.4, the conservative rule). The
battles become Bradley-Terry ratings through `kaiyuan.evals.ratings`; recorded human votes
take that last step alone.

Answers and judgements go through `kaiyuan.evals.runner` into the result cache under the
suites "arena-answer" and "arena-judge", so a rerun asks only what the cache lacks: a new
contestant, a new prompt, or a judgement of answers that changed.
"""

from __future__ import annotations

import asyncio
import hashlib
import importlib.resources
import itertools
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from rich.progress import Progress

from kaiyuan.evals.cache import Result, ResultCache, RunKey
from kaiyuan.evals.ratings import Battle, Rating, Winner, bootstrap_ratings, read_votes
from kaiyuan.evals.runner import Endpoint, Retry, Task, run

ANSWER_SUITE = "arena-answer"
JUDGE_SUITE = "arena-judge"
# Greedy, as Zheng et al. ran their judges, and room for the explanation before the verdict.
_DEFAULT_JUDGE_PARAMS: Mapping[str, Any] = {"temperature": 0.0, "max_tokens": 1024}
_BUILT_IN_PROMPTS = ("data", "arena_prompts.jsonl")
_VERDICT = re.compile(r"\[\[\s*([ABCabc])\s*\]\]")
_WINNER_OF_LETTER: dict[str, Winner] = {"a": "a", "b": "b", "c": "tie"}
_SWAPPED: dict[Winner, Winner] = {"a": "b", "b": "a", "tie": "tie"}
_JUDGE_TEMPLATE = """\
You are an impartial judge. Two AI assistants, A and B, have answered the same user \
question. Decide which answer serves the user better: correct, helpful and relevant, \
following every instruction in the question, with as much detail as the question calls \
for. Do not let the order of the answers, their length or the assistants' names sway you.

First compare the two answers in a few sentences. Then end your reply with a line that \
holds only your verdict: [[A]] if A's answer is better, [[B]] if B's answer is better, \
[[C]] if they are equally good.

[User question]
{question}

[Answer of assistant A]
{answer_a}
[End of answer A]

[Answer of assistant B]
{answer_b}
[End of answer B]

Compare the answers, then give your verdict, [[A]], [[B]] or [[C]], on the last line."""


class ArenaPrompt(BaseModel):
    """One prompt put to every contestant, as a line of a prompt file has it."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    id: str = Field(min_length=1)
    prompt: str = Field(min_length=1)


@dataclass(frozen=True)
class Contestant:
    """A model under test: the name it is rated under, where it is served, and the request
    parameters sent with each of its answers (sampling, max_tokens, thinking ...).

    The label, not the endpoint's model id, names it in battles and ratings, so one model
    can enter twice, say with and without thinking. The label is also part of the cache
    key of its answers: two contestants never share answers, even when they are the same
    model under the same parameters."""

    label: str
    endpoint: Endpoint
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.label.strip():
            raise ValueError("a contestant needs a non-empty label to be rated under")

    def run_key(self) -> RunKey:
        """The cache key of this contestant's answers."""
        return RunKey.of(self.endpoint.base_url, self.endpoint.model, ANSWER_SUITE,
                         {**self.params, "arena_label": self.label})


@dataclass(frozen=True)
class JudgeOutcome:
    """What the judge said, counted.

    `total` is the number of judgements asked for: two per prompt and pair of contestants
    (minus the `skipped` comparisons, where a contestant has no answer to show). A reply
    without a verdict line counts in `unparseable`, a request that ended in an error in
    `errors`; a comparison with either of its two judgements in those gives no battle.
    `battles` holds one battle per comparison with a verdict in both orders, and
    `inconsistent` how many of those changed their preferred model when the answers
    were swapped."""

    battles: list[Battle]
    unparseable: int
    inconsistent: int
    total: int
    errors: int
    skipped: int

    @property
    def position_bias_rate(self) -> float | None:
        """The share of comparisons whose two orders disagree, among those with a verdict
        in both (one minus the "consistency" Zheng et al. report of their judges); None
        when there is none."""
        return self.inconsistent / len(self.battles) if self.battles else None


@dataclass(frozen=True)
class ArenaResult:
    """Ratings, best first, and the judge's record they rest on."""

    ratings: list[Rating]
    judged: JudgeOutcome


def load_prompts(path: str | PathLike[str] | None = None) -> list[ArenaPrompt]:
    """Read prompts from a JSONL file, one {"id": ..., "prompt": ...} object per line
    (blank lines skipped, other keys ignored); without a path, the built-in set of coding,
    reasoning, writing, Chinese and instruction-following prompts.

    Raises ValueError naming the line of a bad record, or the repeated id."""
    if path is None:
        resource = importlib.resources.files("kaiyuan.evals").joinpath(*_BUILT_IN_PROMPTS)
        return _parse_prompts(resource.read_text(encoding="utf-8"), "built-in arena prompts")
    with open(path, encoding="utf-8") as handle:
        return _parse_prompts(handle.read(), str(path))


def parse_verdict(text: str) -> Winner | None:
    """The verdict a judge's reply ends with: "a" for [[A]], "b" for [[B]], "tie" for [[C]];
    None when the reply has none.

    When several verdicts appear, the last one counts: the judge is told to end with its
    verdict, and what comes earlier is often the format repeated back or a verdict the
    judge goes on to revise. Brackets may hold spaces and a lower-case letter, since weak
    judges write "[[ a ]]"; anything else, such as "[A]" or "Assistant A is better", is
    no verdict."""
    found = _VERDICT.findall(text)
    return _WINNER_OF_LETTER[found[-1].lower()] if found else None


def combine(first: Winner, second: Winner) -> Winner:
    """Merge the two judgements of one comparison into a battle outcome.

    `first` is the verdict with model m1 shown as A and m2 as B, `second` the verdict with
    the answers swapped (m2 as A); the result names m1 "a" and m2 "b". A model wins only
    when both orders prefer it; when the orders disagree, or either is a tie, the outcome is
    a tie. This is the conservative rule of Zheng et al. (2023), section 3.4: a preference
    that flips with the order says more about the judge's position bias than the answers."""
    return first if first != "tie" and _SWAPPED[second] == first else "tie"


def judge_messages(prompt: ArenaPrompt, answer_a: str, answer_b: str) -> list[dict[str, str]]:
    """The chat messages that ask the judge to compare two answers to `prompt`.

    One user message: it carries the instructions itself, since some chat templates have
    no system role."""
    content = _JUDGE_TEMPLATE.format(question=prompt.prompt, answer_a=answer_a,
                                     answer_b=answer_b)
    return [{"role": "user", "content": content}]


def answer_all(contestants: Sequence[Contestant], prompts: Sequence[ArenaPrompt],
               cache: ResultCache, *, concurrency: int = 4, retry: Retry | None = None,
               retry_errors: bool = False, progress: Progress | None = None
               ) -> dict[tuple[str, str], str]:
    """Every contestant's answer to every prompt, keyed by (label, prompt id).

    Contestants are asked one after another, `concurrency` requests at a time, so that two
    contestants on one server do not double its load. An answer that ended in an error is
    left out (`judge_all` then skips the comparisons that need it); `retry_errors` asks
    for it again. The answer is the reply's content, without any separate reasoning."""
    _check_labels([c.label for c in contestants])
    _check_prompt_ids(prompts)
    runs = [(c.endpoint, c.run_key(), [_answer_task(c, p) for p in prompts])
            for c in contestants]
    asyncio.run(_ask(runs, cache, concurrency, retry, retry_errors, progress))
    answers = {}
    for contestant in contestants:
        replies = {r.case_id: r for r in cache.results(contestant.run_key())}
        for prompt in prompts:
            text = _reply_text(replies.get(_answer_case_id(prompt)))
            if text is not None:
                answers[(contestant.label, prompt.id)] = text
    return answers


def judge_all(judge: Endpoint, labels: Sequence[str], prompts: Sequence[ArenaPrompt],
              answers: Mapping[tuple[str, str], str], cache: ResultCache, *,
              params: Mapping[str, Any] | None = None, concurrency: int = 4,
              retry: Retry | None = None, retry_errors: bool = False,
              progress: Progress | None = None) -> JudgeOutcome:
    """Have `judge` compare, on every prompt, the answers of every pair of `labels`, in
    both orders, and turn each pair of verdicts into a battle with `combine`.

    `answers` is what `answer_all` returns; `params` are the judge's request parameters
    (greedy, 1,024 tokens unless given). A judgement is cached under the labels and the
    exact text it judged, so changed answers are judged afresh."""
    _check_labels(labels)
    _check_prompt_ids(prompts)
    body_params = dict(_DEFAULT_JUDGE_PARAMS if params is None else params)
    key = RunKey.of(judge.base_url, judge.model, JUDGE_SUITE, body_params)
    comparisons: list[tuple[str, str, str, str]] = []
    tasks: list[Task] = []
    skipped = 0
    for prompt in prompts:
        for m1, m2 in itertools.combinations(labels, 2):
            if (m1, prompt.id) not in answers or (m2, prompt.id) not in answers:
                skipped += 1
                continue
            first = _judge_task(prompt, m1, m2, answers, body_params)
            second = _judge_task(prompt, m2, m1, answers, body_params)
            tasks += [first, second]
            comparisons.append((m1, m2, first.case_id, second.case_id))
    if tasks:
        asyncio.run(_ask([(judge, key, tasks)], cache, concurrency, retry, retry_errors,
                         progress))
    replies = {r.case_id: r for r in cache.results(key, [t.case_id for t in tasks])}
    return _tally(comparisons, replies, total=len(tasks), skipped=skipped)


def arena(contestants: Sequence[Contestant], judge: Endpoint, cache: ResultCache, *,
          prompts: Sequence[ArenaPrompt] | None = None,
          judge_params: Mapping[str, Any] | None = None, concurrency: int = 4,
          retry: Retry | None = None, retry_errors: bool = False,
          progress: Progress | None = None, rounds: int = 1000, confidence: float = 0.95,
          seed: int = 0) -> ArenaResult:
    """Answer, judge in both orders, and rate: Bradley-Terry ratings with bootstrap
    intervals (`rounds`, `confidence`, `seed`, as in `bootstrap_ratings`), best first.

    `prompts` defaults to the built-in set. Raises ValueError when the judge gave no
    usable verdict at all, saying how its replies failed."""
    chosen = load_prompts() if prompts is None else list(prompts)
    answers = answer_all(contestants, chosen, cache, concurrency=concurrency, retry=retry,
                         retry_errors=retry_errors, progress=progress)
    judged = judge_all(judge, [c.label for c in contestants], chosen, answers, cache,
                       params=judge_params, concurrency=concurrency, retry=retry,
                       retry_errors=retry_errors, progress=progress)
    if not judged.battles:
        raise ValueError(
            f"the judge gave no comparison a verdict in both orders: of {judged.total} "
            f"judgements, {judged.unparseable} had no [[A]], [[B]] or [[C]] and "
            f"{judged.errors} ended in an error ({judged.skipped} comparisons lacked an "
            "answer); use a stronger judge model, give it more max_tokens, or rerun with "
            "retry_errors"
        )
    ratings = bootstrap_ratings(judged.battles, rounds=rounds, confidence=confidence,
                                seed=seed)
    return ArenaResult(ratings, judged)


def arena_from_votes(path: str | PathLike[str], *, rounds: int = 1000,
                     confidence: float = 0.95, seed: int = 0) -> list[Rating]:
    """Ratings, best first, from recorded votes: a JSONL file in LMArena's format, as
    `kaiyuan.evals.ratings.read_votes` reads it."""
    return bootstrap_ratings(read_votes(path), rounds=rounds, confidence=confidence,
                             seed=seed)


def _parse_prompts(text: str, source: str) -> list[ArenaPrompt]:
    prompts: list[ArenaPrompt] = []
    first_line: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        prompt = _parse_prompt(line, f"{source}, line {number}")
        if prompt.id in first_line:
            raise ValueError(f"{source}, line {number}: prompt id {prompt.id!r} is already "
                             f"used on line {first_line[prompt.id]}; ids must be unique")
        first_line[prompt.id] = number
        prompts.append(prompt)
    if not prompts:
        raise ValueError(f"{source} holds no prompts; write one JSON object a line, "
                         'e.g. {"id": "greeting", "prompt": "Say hello."}')
    return prompts


def _parse_prompt(line: str, where: str) -> ArenaPrompt:
    hint = 'each line must be one JSON object with a string "id" and a string "prompt"'
    try:
        return ArenaPrompt.model_validate_json(line)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in error['loc']) or 'the line'}: {error['msg']}"
            for error in exc.errors()
        )
        raise ValueError(f"{where}: {problems}; {hint}") from None


def _check_labels(labels: Sequence[str]) -> None:
    if len(labels) < 2:
        raise ValueError(f"an arena needs at least two contestants, got {len(labels)}")
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ValueError(f"contestant labels must be unique; repeated: {', '.join(repeated)}")


def _check_prompt_ids(prompts: Sequence[ArenaPrompt]) -> None:
    if not prompts:
        raise ValueError("no prompts to ask; pass some or use the built-in set")
    ids = [p.id for p in prompts]
    repeated = sorted({i for i in ids if ids.count(i) > 1})
    if repeated:
        raise ValueError(f"prompt ids must be unique; repeated: {', '.join(repeated)}")


def _digest(*parts: Any) -> str:
    return hashlib.sha256(json.dumps(parts, ensure_ascii=False).encode()).hexdigest()[:12]


def _answer_case_id(prompt: ArenaPrompt) -> str:
    # The text's digest keeps an edited prompt that kept its id from reusing old answers.
    return f"{prompt.id}#{_digest(prompt.prompt)}"


def _answer_task(contestant: Contestant, prompt: ArenaPrompt) -> Task:
    messages = [{"role": "user", "content": prompt.prompt}]
    return Task(_answer_case_id(prompt), {**contestant.params, "messages": messages})


def _judge_task(prompt: ArenaPrompt, label_a: str, label_b: str,
                answers: Mapping[tuple[str, str], str], params: Mapping[str, Any]) -> Task:
    messages = judge_messages(prompt, answers[(label_a, prompt.id)],
                              answers[(label_b, prompt.id)])
    case_id = f"{prompt.id}: {label_a} vs {label_b} #{_digest(label_a, label_b, messages)}"
    return Task(case_id, {**params, "messages": messages})


async def _ask(runs: Iterable[tuple[Endpoint, RunKey, list[Task]]], cache: ResultCache,
               concurrency: int, retry: Retry | None, retry_errors: bool,
               progress: Progress | None) -> None:
    for endpoint, key, tasks in runs:
        await run(endpoint, key, tasks, cache, concurrency=concurrency,
                  retry=retry or Retry(), retry_errors=retry_errors, progress=progress)


def _reply_text(result: Result | None) -> str | None:
    """A stored reply's content; None when there is no reply (an error, or no choice)."""
    if result is None or result.response is None:
        return None
    choices = result.response.get("choices") or []
    if not choices:
        return None
    return (choices[0].get("message") or {}).get("content") or ""


def _tally(comparisons: Sequence[tuple[str, str, str, str]], replies: Mapping[str, Result],
           *, total: int, skipped: int) -> JudgeOutcome:
    battles = []
    unparseable = errors = inconsistent = 0
    for m1, m2, first_case, second_case in comparisons:
        verdicts = []
        for case_id in (first_case, second_case):
            text = _reply_text(replies.get(case_id))
            verdict = None if text is None else parse_verdict(text)
            errors += text is None
            unparseable += text is not None and verdict is None
            verdicts.append(verdict)
        first, second = verdicts
        if first is None or second is None:
            continue
        inconsistent += first != _SWAPPED[second]
        battles.append(Battle(m1, m2, combine(first, second)))
    return JudgeOutcome(battles, unparseable=unparseable, inconsistent=inconsistent,
                        total=total, errors=errors, skipped=skipped)
