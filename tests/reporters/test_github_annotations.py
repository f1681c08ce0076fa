from __future__ import annotations

from gpulab_apply.problems import Location
from gpulab_apply.reporters.github import annotation


def test_annotation_with_full_location() -> None:
    line = annotation("error", "gpus: 'two' is not of type 'integer'", location=Location("jobs.d/a.yaml", 12, 7))
    assert line == "::error file=jobs.d/a.yaml,line=12,col=7::gpus: 'two' is not of type 'integer'"


def test_annotation_escapes_newlines_percent_and_property_separators() -> None:
    line = annotation("warning", "50% done\nnext", location=Location("a,b:c.yaml"), title="x: y")
    assert line == "::warning file=a%2Cb%3Ac.yaml,title=x%3A y::50%25 done%0Anext"


def test_annotation_without_location() -> None:
    assert annotation("notice", "hello") == "::notice::hello"
