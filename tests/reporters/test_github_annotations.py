from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from gpulab_apply.problems import Location, Problem, Severity
from gpulab_apply.reporters.github import LIMIT_PER_LEVEL, annotation
from gpulab_apply.reporters.problems import problem_annotations


def test_annotation_with_full_location() -> None:
    line = annotation("error", "gpus: 'two' is not of type 'integer'", location=Location("jobs.d/a.yaml", 12, 7))
    assert line == "::error file=jobs.d/a.yaml,line=12,col=7::gpus: 'two' is not of type 'integer'"


def test_annotation_escapes_newlines_percent_and_property_separators() -> None:
    line = annotation("warning", "50% done\nnext", location=Location("a,b:c.yaml"), title="x: y")
    assert line == "::warning file=a%2Cb%3Ac.yaml,title=x%3A y::50%25 done%0Anext"


def test_annotation_without_location() -> None:
    assert annotation("notice", "hello") == "::notice::hello"


@given(errors=st.integers(0, 25), warnings=st.integers(0, 25))
def test_validation_problems_stay_within_githubs_limits_and_none_is_lost(errors: int, warnings: int) -> None:
    """Property: at most 10 annotations per level (GitHub drops the rest silently), the last of an overflowing level
    says how many more there are, and every problem is in an annotation or in a plain log line after them."""
    problems = [Problem(Location(f"jobs.d/e{index}.yaml", 1, 1), f"error number {index}") for index in range(errors)]
    problems += [Problem(Location(f"jobs.d/w{index}.yaml", 2, 1), f"warning number {index}", severity=Severity.WARNING)
                 for index in range(warnings)]
    lines = "".join(problem_annotations(problems, title="gpulab-apply validate")).splitlines()
    commands = [line for line in lines if line.startswith("::")]
    assert not any(line.startswith("::") for line in lines[len(commands):]), "plain lines come after the annotations"
    for level, count in (("error", errors), ("warning", warnings)):
        shown = [line for line in commands if line.startswith(f"::{level} ")]
        assert len(shown) == min(count, LIMIT_PER_LEVEL)
        if count > LIMIT_PER_LEVEL:
            assert shown[-1].endswith(f"::{count - LIMIT_PER_LEVEL + 1} more {level}s than GitHub shows per step: "
                                      "see the log of this step")
    text = "\n".join(lines)
    for problem in problems:
        assert re.search(rf"{re.escape(str(problem.location))}.*\b{problem.message}\b|"
                         rf"file={re.escape(problem.location.path)},.*\b{problem.message}\b", text), problem
