"""The job model states each fact once (gpulab_apply/jobmodel/): one duration grammar, one list of unsafe
characters, one status grouping, used alike by validate, the command line, the cost estimate and the emulator."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpulab_apply.cli.shared import parse_duration as wait_timeout
from gpulab_apply.emulator.submission import duration_seconds
from gpulab_apply.jobmodel.durations import _UNIT_SECONDS, parse_duration
from gpulab_apply.jobmodel.rules import job_violations
from gpulab_apply.masking import safe

numbers = st.one_of(st.integers(0, 10**6).map(str), st.decimals(0, 10**4, places=2).map(str))
durations = st.tuples(numbers, st.sampled_from(["", " "]), st.sampled_from(sorted(_UNIT_SECONDS)))


@given(durations)
def test_every_gpulab_duration_means_the_same_to_the_emulator_and_to_wait_timeout(parts: tuple[str, str, str]) -> None:
    text = "".join(parts)
    seconds = parse_duration(text)
    assert seconds is not None
    assert duration_seconds(text) == seconds
    assert wait_timeout(None, None, text) == seconds  # type: ignore[arg-type]  # click passes them; unused


@given(numbers)
def test_a_bare_number_is_seconds_on_the_command_line_and_no_gpulab_duration(number: str) -> None:
    assert wait_timeout(None, None, f" {number} ") == float(number)  # type: ignore[arg-type]
    assert parse_duration(number) is None


@given(st.characters())
def test_a_job_name_is_warned_of_exactly_for_the_characters_every_output_escapes(char: str) -> None:
    warned = [v for v in job_violations({"name": f"a{char}b"}) if v.path == ("name",)]
    assert bool(warned) == (safe(char) != char)


@pytest.mark.parametrize("char", ["\u200e", "\u200f", "\u061c"])
def test_bidirectional_marks_are_warned_of_as_every_output_escapes_them(char: str) -> None:
    assert [v.warning for v in job_violations({"name": f"a{char}b"})] == [True]



def test_gpulabs_field_table_names_exactly_the_schemas_fields() -> None:
    """normal_form.OBJECTS adds only what the schema cannot say (GPULab's field order and how its model coerces
    each value); the fields themselves are the schema's, plus the two GPULab sets itself and drops when null."""
    from gpulab_apply.jobmodel.normal_form import OBJECTS
    from gpulab_apply.jobmodel.schema import TOOL_KEY, job_file_schema

    document = job_file_schema()
    definitions = {**document["$defs"], "job": document,
                   "bucket": document["$defs"]["scheduling"]["properties"]["maxSimultaneousJobs"]}
    for kind, fields in OBJECTS.items():
        extra = {"state", "restartInfo"} if kind == "job" else set()
        assert set(fields) - extra == set(definitions[kind]["properties"]) - {TOOL_KEY}, kind
