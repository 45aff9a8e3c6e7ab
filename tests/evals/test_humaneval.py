"""HumanEval: the data, turning replies into programs, scoring them, and pass@k."""

from __future__ import annotations

import math

import pytest

from kaiyuan.evals.humaneval import Problem, extract_completion, load_problems, program, score
from kaiyuan.evals.pass_at_k import mean_pass_at_k, pass_at_k
from kaiyuan.evals.sandbox import Limits


@pytest.fixture(scope="module")
def problems() -> dict[str, Problem]:
    return {problem.task_id: problem for problem in load_problems()}


@pytest.fixture(scope="module")
def close_elements(problems: dict[str, Problem]) -> Problem:
    return problems["HumanEval/0"]


SOLUTION = """\
    for i, first in enumerate(numbers):
        for second in numbers[i + 1:]:
            if abs(first - second) < threshold:
                return True
    return False
"""


def test_loading_gives_all_164_problems_in_order(problems: dict[str, Problem]) -> None:
    assert [problem.task_id for problem in load_problems()] == [
        f"HumanEval/{number}" for number in range(164)]
    first = problems["HumanEval/0"]
    assert first.entry_point == "has_close_elements"
    assert first.prompt.rstrip().endswith('"""')
    assert "def check(candidate)" in first.test


def test_the_program_is_prompt_completion_test_and_check(close_elements: Problem) -> None:
    text = program(close_elements, SOLUTION)
    assert text == (close_elements.prompt + SOLUTION + "\n" + close_elements.test
                    + "\ncheck(has_close_elements)\n")


@pytest.mark.parametrize("task_id", ["HumanEval/0", "HumanEval/10", "HumanEval/32",
                                     "HumanEval/38", "HumanEval/162"])
def test_canonical_solutions_pass(problems: dict[str, Problem], task_id: str) -> None:
    problem = problems[task_id]
    execution = score(problem, problem.canonical_solution)
    assert execution.passed, execution.stderr_tail


def test_a_wrong_completion_fails(close_elements: Problem) -> None:
    execution = score(close_elements, "    return False\n")
    assert execution.outcome == "failed"
    assert "AssertionError" in execution.stderr_tail


@pytest.mark.parametrize("completion", [
    "    import sys\n    sys.exit(0)\n",
    "    import os\n    os._exit(0)\n",
], ids=["sys.exit", "os._exit"])
def test_exiting_before_the_tests_finish_fails(close_elements: Problem, completion: str) -> None:
    execution = score(close_elements, completion)
    assert execution.outcome == "failed"
    assert "exited before its tests finished" in execution.stderr_tail


def test_a_completion_that_never_returns_times_out(close_elements: Problem) -> None:
    execution = score(close_elements, "    while True:\n        pass\n",
                      Limits(wall_s=20, cpu_s=1))
    assert execution.outcome == "timeout"


CHAT_FULL_FUNCTION = '''\
Sure! Here is the implementation:

```python
from typing import List


def has_close_elements(numbers: List[float], threshold: float) -> bool:
    """Return True if two numbers are closer than threshold."""
    ordered = sorted(numbers)
    return any(b - a < threshold for a, b in zip(ordered, ordered[1:]))


# Example usage
print(has_close_elements([1.0, 2.0, 3.0], 0.5))
assert has_close_elements([1.0, 2.0], 5.0) is False
```

It sorts the numbers first, so only neighbours need comparing.
'''


def test_a_fenced_chat_answer_with_the_whole_function_is_extracted(
        close_elements: Problem) -> None:
    completion = extract_completion(close_elements, CHAT_FULL_FUNCTION)
    assert "def has_close_elements(" in completion
    assert "from typing import List" in completion
    # The answer's own demo (print, and a wrong assert) is not part of the program.
    assert "print(" not in completion
    assert "assert" not in completion
    assert "Sure!" not in completion
    assert score(close_elements, completion).passed


@pytest.mark.parametrize("reply", [
    "Here you go:\n```python\n" + SOLUTION + "```\n",
    "```\n" + "\n".join(line[4:] for line in SOLUTION.splitlines()) + "\n```",
    "<think>\nCompare every pair.\n</think>\n\n```py\n" + SOLUTION + "```",
], ids=["indented-body", "unindented-body", "after-reasoning"])
def test_a_fenced_body_is_extracted(close_elements: Problem, reply: str) -> None:
    completion = extract_completion(close_elements, reply)
    assert score(close_elements, completion).passed, completion


def test_the_block_that_defines_the_entry_point_is_chosen(close_elements: Problem) -> None:
    reply = ("First a helper:\n```python\ndef unused():\n    return 1\n```\n"
             "Then the function:\n```python\ndef has_close_elements(numbers, threshold):\n"
             + SOLUTION + "```\n")
    completion = extract_completion(close_elements, reply)
    assert "def has_close_elements" in completion
    assert score(close_elements, completion).passed


def test_an_unfenced_chat_answer_is_extracted(close_elements: Problem) -> None:
    reply = ("The function is below.\n\nfrom typing import List\n\n"
             "def has_close_elements(numbers: List[float], threshold: float) -> bool:\n"
             + SOLUTION + "\nThis runs in quadratic time.\n")
    completion = extract_completion(close_elements, reply)
    assert "quadratic" not in completion
    assert "The function is below" not in completion
    assert score(close_elements, completion).passed


def test_a_plain_continuation_is_cut_at_the_stop_sequences(close_elements: Problem) -> None:
    reply = SOLUTION + "\n\ndef main():\n    pass\n\n\nif __name__ == '__main__':\n    main()\n"
    assert extract_completion(close_elements, reply) == SOLUTION + "\n"


def test_a_continuation_that_repeats_the_prompt_is_extracted(close_elements: Problem) -> None:
    completion = extract_completion(close_elements, close_elements.prompt + SOLUTION)
    assert completion == SOLUTION
    assert score(close_elements, completion).passed


def test_a_reply_still_reasoning_gives_an_empty_completion(close_elements: Problem) -> None:
    assert extract_completion(close_elements, "<think>\nLet me compare each pair") == ""


def test_pass_at_k_matches_hand_values() -> None:
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    assert pass_at_k(5, 2, 2) == pytest.approx(1 - 3 / 10)  # 1 - C(3,2)/C(5,2)
    assert pass_at_k(200, 1, 100) == pytest.approx(0.5)  # 1 - C(199,100)/C(200,100)
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 0, 10) == 0.0
    assert pass_at_k(10, 1, 10) == 1.0
    assert pass_at_k(10, 10, 10) == 1.0
    assert pass_at_k(1, 1, 1) == 1.0


def test_pass_at_k_equals_the_binomial_formula() -> None:
    for n in range(1, 25):
        for c in range(n + 1):
            for k in range(1, n + 1):
                exact = 1 - math.comb(n - c, k) / math.comb(n, k)
                assert pass_at_k(n, c, k) == pytest.approx(exact, abs=1e-12)


def test_pass_at_k_is_stable_where_the_binomials_overflow() -> None:
    value = pass_at_k(2000, 7, 1000)
    exact = 1 - math.comb(1993, 1000) / math.comb(2000, 1000)  # exact integers, then divided
    assert value == pytest.approx(exact, rel=1e-12)


@pytest.mark.parametrize(("n", "c", "k"), [(0, 0, 1), (10, 11, 1), (10, -1, 1), (10, 3, 0),
                                           (10, 3, 11)])
def test_pass_at_k_rejects_impossible_arguments(n: int, c: int, k: int) -> None:
    with pytest.raises(ValueError):
        pass_at_k(n, c, k)


def test_mean_pass_at_k_averages_problems() -> None:
    assert mean_pass_at_k([(10, 3), (10, 0), (10, 10)], 1) == pytest.approx((0.3 + 0 + 1) / 3)
    with pytest.raises(ValueError, match="zero problems"):
        mean_pass_at_k([], 1)
