"""Every valid YAML 1.2 document is read (the C parser's refusals fall back to the pure 1.2 parser),
``%YAML 1.1`` is honoured, tabs get a message that says so, and GPULab's JSON jobs are job files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from gpulab_apply.jobfiles import loader
from gpulab_apply.jobfiles.validation import validate_paths
from gpulab_apply.problems import Location
from tests.job_texts import MINIMAL_JOB_YAML


@pytest.fixture
def jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.d").mkdir()
    return tmp_path / "jobs.d"


def problems_of(paths: list[str]) -> list[str]:
    return [str(problem) for problem in validate_paths(paths).problems]


@pytest.mark.parametrize(("text", "path", "value"), [
    ("name: a\nrequest:\n  docker: {image: debian:stable, command: echo hi}\n",
     ("request", "docker"), {"image": "debian:stable", "command": "echo hi"}),
    ("name: a\nx: [a:b]\n", ("x",), ["a:b"]),
    ("name: a\nx: [http://example.com/x]\n", ("x",), ["http://example.com/x"]),
    ("name: a\nx: one\x85two\n", ("x",), "one two"),
])
def test_yaml_1_2_that_the_c_parser_refuses_is_read(jobs: Path, text: str, path: tuple[str, ...],
                                                    value: object) -> None:
    (jobs / "a.yaml").write_text(text, encoding="utf-8")
    job_file = loader.read("jobs.d/a.yaml")
    assert job_file.problems == ()
    data = job_file.documents[0].data
    for part in path:
        data = data[part]
    assert data == value


def test_a_file_read_by_the_fallback_parser_keeps_positions(jobs: Path) -> None:
    (jobs / "a.yaml").write_text("name: a\nrequest:\n  resources: {cpus: 1, gpus: -1, cpuMemoryGb: 2}\n"
                                 "  docker: {image: debian:stable, command: echo hi}\n", encoding="utf-8")
    assert problems_of(["jobs.d"]) == [
        "jobs.d/a.yaml:3:30: error: request.resources.gpus: -1 is less than the minimum of 0"]


def test_what_both_parsers_refuse_is_one_located_error(jobs: Path) -> None:
    (jobs / "a.yaml").write_text("name: a\nrequest: {docker: [}\n", encoding="utf-8")
    [problem] = problems_of(["jobs.d"])
    assert problem.startswith("jobs.d/a.yaml:2:")
    assert "YAML:" in problem


def test_a_yaml_1_1_directive_is_honoured(jobs: Path) -> None:
    (jobs / "a.yaml").write_text("%YAML 1.1\n---\nname: a\nx: yes\nmode: 0777\nz: off\n", encoding="utf-8")
    [document] = loader.read("jobs.d/a.yaml").documents
    assert document.data == {"name": "a", "x": True, "mode": 511, "z": False}
    assert document.source.locate(["mode"]) == Location("jobs.d/a.yaml", 5, 7)


def test_without_a_directive_yaml_1_2_rules_apply(jobs: Path) -> None:
    (jobs / "a.yaml").write_text("name: a\nx: yes\nmode: 0777\n", encoding="utf-8")
    assert loader.read("jobs.d/a.yaml").documents[0].data == {"name": "a", "x": "yes", "mode": 777}


def test_a_tab_used_for_indentation_says_so(jobs: Path) -> None:
    (jobs / "a.yaml").write_text("name: a\nrequest:\n\tresources: {cpus: 1}\n", encoding="utf-8")
    assert problems_of(["jobs.d"]) == [("jobs.d/a.yaml:3:1: error: YAML: a tab indents this line; YAML indents "
                                        "with spaces only (replace the tab with spaces)")]


def test_json_job_files_are_job_files_with_positions(jobs: Path) -> None:
    job = {"name": "from-json", "request": {"resources": {"cpus": 1, "gpus": 0, "cpuMemoryGb": 2},
                                            "docker": {"image": "debian:stable"}}}
    (jobs / "good.json").write_text(json.dumps(job, indent="\t"), encoding="utf-8")
    job["name"] = "bad"
    job["request"]["resources"]["gpus"] = "two"  # type: ignore[index]
    (jobs / "bad.JSON").write_text(json.dumps(job, indent=2), encoding="utf-8")
    result = validate_paths(["jobs.d"])
    assert [str(p) for p in result.problems] == [
        "jobs.d/bad.JSON:6:15: error: request.resources.gpus: 'two' is not of type 'integer'"]
    assert [spec.name for spec in result.jobs] == ["from-json"]
    assert result.files == 2


def test_extensions_are_matched_in_any_case(jobs: Path) -> None:
    for name in ["FT.YAML", "b.Yml", "c.yaml.bak", "d.JSONL"]:
        (jobs / name).write_text(MINIMAL_JOB_YAML.format(name=name.split(".")[0].lower()), encoding="utf-8")
    assert loader.discover(["jobs.d"])[0] == ["jobs.d/FT.YAML", "jobs.d/b.Yml"]


# --- hostile input: special files, huge integers, deep nesting ------------------------------------


def test_a_fifo_named_like_a_job_file_is_refused_without_waiting(jobs: Path) -> None:
    import os

    os.mkfifo(jobs / "x.yaml")  # nobody ever writes to it: reading it would wait forever
    (jobs / "ok.yaml").write_text(MINIMAL_JOB_YAML.format(name="ok"), encoding="utf-8")
    for paths in (["jobs.d"], ["jobs.d/x.yaml"]):
        result = validate_paths(paths)
        assert [str(p) for p in result.problems] == [
            ("jobs.d/x.yaml: error: not a regular file but a FIFO (named pipe); a job file is a regular file "
            "(remove it, or rename it so it does not end in .yaml, .yml or .json)")]


def test_an_integer_too_long_for_python_is_a_located_problem(jobs: Path) -> None:
    (jobs / "a.yaml").write_text("name: a\nrequest:\n  resources:\n    gpus: " + "9" * 5000 + "\n",
                                 encoding="utf-8")
    [problem] = problems_of(["jobs.d"])
    assert problem == ("jobs.d/a.yaml:4:11: error: YAML: integer of 5,000 characters is too large: a value is at most "
                       "64 bits")


@pytest.mark.parametrize("text", [
    "name: a\nowner:\n  userDetails: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n",
    '{"name": "a", "owner": {"userDetails": ' + '{"a": ' * 3000 + "1" + "}" * 3000 + "}}",
    "name: a\nowner:\n  userDetails:\n" + "".join("  " * i + "- \n" for i in range(2, 200)),
])
def test_values_nested_thousands_deep_are_a_located_problem(jobs: Path, text: str) -> None:
    (jobs / "a.yaml").write_text(text, encoding="utf-8")
    [problem] = problems_of(["jobs.d"])
    assert problem.startswith("jobs.d/a.yaml:")
    assert problem.split(":")[1].isdigit()  # a line
    assert "values nest more than 100 levels deep here" in problem


def test_a_job_a_few_levels_deep_is_not_walked_for_depth(jobs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object) -> None:
        raise AssertionError("walked")

    monkeypatch.setattr(loader, "_depth_problem", fail)
    (jobs / "a.yaml").write_text(MINIMAL_JOB_YAML.format(name="a"), encoding="utf-8")
    assert problems_of(["jobs.d"]) == []


@pytest.mark.parametrize(("name", "code"), [
    ('"x\\n::error file=README.md::INJECTED"', "U+000A"),
    ('"x\\ty"', "U+0009"),
    ('"x\\e[31my"', "U+001B"),
    ('"evil\\u202egnp.exe"', "U+202E"),
])
def test_job_names_with_control_characters_are_flagged(jobs: Path, name: str, code: str) -> None:
    # GPULab accepts them: a warning, an error under --strict; every output escapes them
    (jobs / "a.yaml").write_text(MINIMAL_JOB_YAML.format(name=name), encoding="utf-8")
    message = (f"jobs.d/a.yaml:1:7: {{}}: name: contains the control character {code}; GPULab accepts it, but it "
               "garbles every listing and could forge lines in a log (use printable characters only)")
    result = validate_paths(["jobs.d"])
    assert [str(p) for p in result.problems] == [message.format("warning")]
    assert len(result.jobs) == 1
    strict = validate_paths(["jobs.d"], strict=True)
    assert [str(p) for p in strict.problems] == [message.format("error")]
    assert strict.jobs == ()


def test_names_in_any_script_with_spaces_are_fine(jobs: Path) -> None:
    (jobs / "a.yaml").write_text(MINIMAL_JOB_YAML.format(name="'résumé 训练 run'"), encoding="utf-8")
    assert problems_of(["jobs.d"]) == []


def test_the_pure_parser_reads_only_what_the_c_parser_refuses(jobs: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    used: list[str] = []
    pure = loader._PureLoader

    class Recording(pure):  # type: ignore[misc,valid-type]
        def __init__(self, text: str) -> None:
            used.append(text)
            super().__init__(text)

    monkeypatch.setattr(loader, "_PureLoader", Recording)
    (jobs / "plain.yaml").write_text(MINIMAL_JOB_YAML.format(name="plain"), encoding="utf-8")
    (jobs / "flow.yaml").write_text("name: flow\nrequest:\n  resources: {cpus: 1, gpus: 0, cpuMemoryGb: 2}\n"
                                    "  docker: {image: debian:stable}\n", encoding="utf-8")
    result = validate_paths(["jobs.d"])
    assert [spec.name for spec in result.jobs] == ["flow", "plain"]
    assert len(used) == 1 and used[0].startswith("name: flow")


# --- the nesting bound: counted on the text, before any parser -------------------------------------------

def _depth(value: object) -> int:
    if isinstance(value, dict):
        return 1 + max((max(_depth(k), _depth(v)) for k, v in value.items()), default=0)
    if isinstance(value, list):
        return 1 + max((_depth(item) for item in value), default=0)
    return 1


_SCALARS = st.one_of(st.integers(-5, 5), st.sampled_from(["a", "b c", "x-y", "[z]", "{w}", "#", ""]))
_VALUES = st.recursive(_SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=3),
                                                         st.dictionaries(st.sampled_from(["a", "b", "c-d"]), inner,
                                                                         max_size=3)), max_leaves=40)


@settings(max_examples=200)
@given(value=_VALUES, flow=st.sampled_from([None, True, False]), mapping=st.integers(1, 4),
       sequence=st.integers(2, 4), offset=st.integers(0, 3), compact=st.booleans())
def test_the_nesting_bound_is_never_below_the_real_depth(value: object, flow: bool | None, mapping: int,
                                                         sequence: int, offset: int, compact: bool) -> None:
    """Whatever style a document is written in (block or flow, any indentation, compact lists), the text's
    bound is at least its depth, so a file under the bound is safe to give the C parser unchecked."""
    import io

    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = flow
    yaml.indent(mapping=mapping, sequence=max(sequence, offset + 2) if compact else sequence,
                offset=offset if compact else 0)
    stream = io.StringIO()
    yaml.dump(value, stream)
    text = stream.getvalue()
    read = loader.parse("a.yaml", text)
    assume(not read.problems)  # the emitter writes some styles it cannot read back (a list indented by 1)
    assert loader._nesting_bound(text) >= max(_depth(document.data) for document in read.documents), text


@pytest.mark.parametrize("text", ["[" * 30000, "- " * 30000 + "a\n", "{a: " * 30000, "? " * 30000 + "a\n",
                                  "".join(" " * i + "k:\n" for i in range(300)), "a: &x [1]\nb: " + "[" * 5000 + "*x"])
def test_a_deep_text_is_stopped_before_any_parser_builds_it(jobs: Path, text: str) -> None:
    (jobs / "a.yaml").write_text(text, encoding="utf-8")
    [problem] = problems_of(["jobs.d"])
    assert "nest more than 100 levels deep here" in problem
