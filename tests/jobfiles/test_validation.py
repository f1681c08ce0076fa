"""validate_paths and the loader: discovery, defensive YAML reading, set-wide checks, locations, JobSpecs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gpulab_apply.jobfiles import loader
from gpulab_apply.jobfiles.validation import ValidationResult, validate_paths
from gpulab_apply.problems import Location
from gpulab_apply.sourcemap import JsonPath, PositionSourceMap
from tests.job_texts import MINIMAL_JOB_YAML

JOB = MINIMAL_JOB_YAML


@pytest.fixture
def jobs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty jobs.d in the working directory, so paths print as jobs.d/..."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.d").mkdir()
    return tmp_path / "jobs.d"


def problems(result: ValidationResult) -> list[str]:
    return [str(problem) for problem in result.problems]


def write(path: Path, text: str | bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


# --- discovery -------------------------------------------------------------------------------------


def test_discovery_is_recursive_sorted_and_skips_dot_and_underscore_names(jobs: Path) -> None:
    for name in ["b.yaml", "a.yml", "sub/c.yaml", ".hidden.yaml", "_template.yaml", ".git/x.yaml",
                 "_drafts/y.yaml", "notes.txt", "sub/deeper/d.YML.bak"]:
        write(jobs / name, JOB.format(name=name.replace("/", "-").replace(".", "-")))
    result = validate_paths(["jobs.d"])
    assert problems(result) == []
    assert [job.location.path for job in result.jobs] == ["jobs.d/a.yml", "jobs.d/b.yaml", "jobs.d/sub/c.yaml"]
    assert result.files == 3


def test_a_file_named_explicitly_is_read_even_with_a_reserved_name(jobs: Path) -> None:
    write(jobs / "_one.yaml", JOB.format(name="one"))
    result = validate_paths(["jobs.d/_one.yaml", "jobs.d"])
    assert [job.name for job in result.jobs] == ["one"]


def test_the_same_file_twice_is_read_once(jobs: Path) -> None:
    write(jobs / "a.yaml", JOB.format(name="a"))
    result = validate_paths(["jobs.d", "jobs.d/a.yaml", "./jobs.d/"])
    assert (result.files, problems(result)) == (1, [])


# --- documents and jobs ----------------------------------------------------------------------------


def test_job_spec_is_the_submitted_body_with_tool_options_moved_out(jobs: Path) -> None:
    write(jobs / "a.yaml", JOB.format(name="a") + "x-gpulab-apply: {rerun: 3, protect: true}\n"
          "---\n" + JOB.format(name="b") + "  scheduling:\n    notBefore: 2026-01-10T08:00:00Z\n")
    result = validate_paths(["jobs.d"])
    assert problems(result) == []
    first, second = result.jobs
    assert (first.name, first.rerun, first.protect, first.location) == ("a", 3, True, Location("jobs.d/a.yaml", 1, 1))
    assert "x-gpulab-apply" not in first.job
    assert first.job == {"name": "a", "request": {"resources": {"cpus": 1, "gpus": 0, "cpuMemoryGb": 2},
                                                  "docker": {"image": "debian:stable"}}}
    assert (second.rerun, second.protect, second.location) == (None, False, Location("jobs.d/a.yaml", 8, 1))
    # an unquoted YAML timestamp stays the text the user wrote, and the job is plain JSON
    assert second.job["request"]["scheduling"]["notBefore"] == "2026-01-10T08:00:00Z"
    assert json.loads(json.dumps(second.job)) == second.job


def test_merge_keys_work(jobs: Path) -> None:
    write(jobs / "a.yaml", """\
name: merged
request:
  resources:
    <<: &small {cpus: 1, gpus: 0}
    cpuMemoryGb: 4
  docker: {image: "debian:stable"}
""")
    result = validate_paths(["jobs.d"])
    assert problems(result) == []
    assert result.jobs[0].job["request"]["resources"] == {"cpus": 1, "gpus": 0, "cpuMemoryGb": 4}


def test_only_valid_documents_become_jobs(jobs: Path) -> None:
    write(jobs / "a.yaml", JOB.format(name="good") + "---\n" + JOB.format(name="bad").replace("gpus: 0", "gpus: -1"))
    result = validate_paths(["jobs.d"])
    assert [job.name for job in result.jobs] == ["good"]
    assert problems(result) == ["jobs.d/a.yaml:9:30: error: request.resources.gpus: -1 is less than the minimum of 0"]
    assert not result.ok


def test_empty_documents_between_jobs_are_ignored(jobs: Path) -> None:
    write(jobs / "a.yaml", "---\n" + JOB.format(name="a") + "---\n---\n# trailing comment\n")
    result = validate_paths(["jobs.d"])
    assert (problems(result), [job.name for job in result.jobs]) == ([], ["a"])


# --- set-wide checks -------------------------------------------------------------------------------


def test_duplicate_names_name_both_locations_and_neither_job_is_kept(jobs: Path) -> None:
    write(jobs / "a.yaml", JOB.format(name="train"))
    write(jobs / "b.yaml", "# the same job again\n" + JOB.format(name="train") + "---\n" + JOB.format(name="other"))
    result = validate_paths(["jobs.d"])
    assert problems(result) == [
        ("jobs.d/a.yaml:1:7: error: name: duplicate job name 'train', also at jobs.d/b.yaml:2:7 "
        "(names identify jobs: give each job its own name)"),
        ("jobs.d/b.yaml:2:7: error: name: duplicate job name 'train', also at jobs.d/a.yaml:1:7 "
        "(names identify jobs: give each job its own name)"),
    ]
    assert [job.name for job in result.jobs] == ["other"]


def test_require_project_flags_jobs_without_a_project(jobs: Path) -> None:
    write(jobs / "a.yaml", JOB.format(name="no-project") + "---\n" + JOB.format(name="with-project")
          + "owner: {projectUrn: 'urn:publicid:IDN+ilabt.imec.be+project+myproj'}\n")
    assert validate_paths(["jobs.d"]).ok
    result = validate_paths(["jobs.d"], require_project=True)
    assert problems(result) == [
        ("jobs.d/a.yaml:1:1: error: owner: missing: API v4.0 needs owner.projectUrn for every job "
        "(set owner.projectUrn in the job, or pass --project / GPULAB_PROJECT)")]
    assert [job.name for job in result.jobs] == ["with-project"]


# --- cross-field checks, located -------------------------------------------------------------------


def test_cross_field_checks_point_at_the_offending_value(jobs: Path) -> None:
    write(jobs / "a.yaml", JOB.format(name="a") + """\
  scheduling:
    interactive: true
    notBefore: 2026-01-12T08:00:00Z
    notAfter: 2026-01-10T08:00:00Z
    minDuration: 2 weeks
    maxDuration: 1 week
""")
    assert problems(validate_paths(["jobs.d"])) == [
        ("jobs.d/a.yaml:8:16: error: request.scheduling.notBefore: cannot be combined with interactive: true "
        "(an interactive job starts at once or fails)"),
        ("jobs.d/a.yaml:9:15: error: request.scheduling.notAfter: cannot be combined with interactive: true "
        "(an interactive job starts at once or fails)"),
        ("jobs.d/a.yaml:9:15: error: request.scheduling.notAfter: must be after notBefore (2026-01-12T08:00:00Z), "
        "not 2026-01-10T08:00:00Z"),
        ("jobs.d/a.yaml:10:18: warning: request.scheduling.minDuration: '2 weeks' is longer than maxDuration "
         "'1 week'; GPULab accepts it, but the job can never use its minimum"),
    ]


def test_unknown_keys_get_did_you_mean_hints(jobs: Path) -> None:
    write(jobs / "a.yaml", """\
name: a
extra: {emailOnEnd: [me@example.com]}
request:
  resources: {cpus: 1, gpus: 0, cpuMemoryGb: 2, gpu_model: [A100]}
  docker: {image: "debian:stable", workdir: /x/, Environment: {}}
  scheduling: {maxduration: 1 day}
""")
    assert problems(validate_paths(["jobs.d"])) == [
        "jobs.d/a.yaml:2:1: error: extra: unknown key (extra belongs under request:)",
        # GPULab reads snake_case names too: only a warning, with the canonical name
        "jobs.d/a.yaml:4:49: warning: request.resources.gpu_model: GPULab reads gpu_model as gpuModel (write gpuModel)",
        "jobs.d/a.yaml:5:36: error: request.docker.workdir: unknown key (did you mean `workingDir`?)",
        "jobs.d/a.yaml:5:50: error: request.docker.Environment: unknown key (did you mean `environment`?)",
        "jobs.d/a.yaml:6:16: error: request.scheduling.maxduration: unknown key (did you mean `maxDuration`?)",
    ]


def test_errors_inside_nested_lists_are_located(jobs: Path) -> None:
    write(jobs / "a.yaml", JOB.format(name="a") + """\
    storage:
      - /project_ghent
      - hostPath: tmpfs
        containerPath: /ramdisk
    portMappings: [8888, {containerPort: 0}]
""")
    assert problems(validate_paths(["jobs.d"])) == [
        "jobs.d/a.yaml:8:9: error: request.docker.storage[1]: 'sizeGb' is a required property",
        ("jobs.d/a.yaml:10:42: warning: request.docker.portMappings[1].containerPort: 0 is not a TCP port (1-65535); "
         "GPULab accepts it, but the container cannot use it"),
    ]


# --- defensive reading ----------------------------------------------------------------------------


@pytest.mark.parametrize(("content", "expected"), [
    ("name: a\nname: b\n",
     ('jobs.d/a.yaml:2:1: error: YAML: found duplicate key "name" with value "b" (original value: "a") '
     "(while constructing a mapping at line 1)")),
    ("request:\n  resources: {cpus: 1, cpus: 2}\n",
     ('jobs.d/a.yaml:2:24: error: YAML: found duplicate key "cpus" with value "2" (original value: "1") '
     "(while constructing a mapping at line 2)")),
    ("name: [a\n", ("jobs.d/a.yaml:2:1: error: YAML: expected ',' or ']', but got '<stream end>' "
                   "(while parsing a flow sequence at line 1)")),
    ("", ("jobs.d/a.yaml: error: no job in this file (it is empty or only has comments) "
         "(remove the file, or prefix its name with _ to keep it out of the set)")),
    ("# just a comment\n", ("jobs.d/a.yaml: error: no job in this file (it is empty or only has comments) "
                           "(remove the file, or prefix its name with _ to keep it out of the set)")),
    ("- name: a\n", "jobs.d/a.yaml:1:1: error: document is a list, not a job (a mapping with name and request)"),
    ("just text\n", "jobs.d/a.yaml:1:1: error: document is a str value, not a job (a mapping with name and request)"),
    ("name: !!python/object:os.system echo\n",
     ("jobs.d/a.yaml:1:7: error: YAML: could not determine a constructor for the tag "
     "'tag:yaml.org,2002:python/object:os.system'")),
    ("a: &a [*a]\n", ("jobs.d/a.yaml:1:1: error: document refers to itself through an alias; "
                     "a job cannot be recursive")),
    ("name: a\n" + "x:\n" + "".join(f"  - &a{i} [*a{i - 1}, *a{i - 1}]\n" if i else "  - &a0 [x]\n"
                                      for i in range(20)),
     "jobs.d/a.yaml:1:1: error: document expands to more than 100,000 values through aliases (alias bomb?)"),
    (b"name: caf\xe9\n", ("jobs.d/a.yaml:1:10: error: not UTF-8: byte 0xe9 at offset 9 cannot be decoded "
                         "(save the file as UTF-8)")),
])
def test_unreadable_files_get_one_clear_problem(jobs: Path, content: str | bytes, expected: str) -> None:
    write(jobs / "a.yaml", content)
    result = validate_paths(["jobs.d"])
    assert problems(result) == [expected]
    assert result.jobs == ()


def test_a_byte_order_mark_is_fine(jobs: Path) -> None:
    write(jobs / "a.yaml", b"\xef\xbb\xbf" + JOB.format(name="a").encode())
    assert problems(validate_paths(["jobs.d"])) == []


def test_oversized_file(jobs: Path) -> None:
    write(jobs / "big.yaml", "# " + "x" * loader.MAX_FILE_BYTES + "\n")
    assert problems(validate_paths(["jobs.d"])) == [
        ("jobs.d/big.yaml: error: file is 1,048,579 bytes, over the 1024 KiB limit for a job file "
        "(is this really a job file?)")]


def test_a_deeply_nested_document_is_a_problem_not_a_crash(jobs: Path) -> None:
    write(jobs / "a.yaml", "name: " + "[" * 5000 + "]" * 5000 + "\n")
    assert problems(validate_paths(["jobs.d"])) == [
        "jobs.d/a.yaml:1:106: error: values nest more than 100 levels deep here; a job is a few levels deep"]


# --- source maps: where a value was written --------------------------------------------------------


def locate(path: str | Path, index: int, json_path: JsonPath) -> Location:
    """Through the map the reader built, checked against the same map sent to another process."""
    import pickle

    name = Path(path).as_posix()
    documents = loader.read(name).documents
    if not 0 <= index < len(documents):
        return Location(name)
    here = documents[index].source.locate(json_path)
    assert pickle.loads(pickle.dumps(documents[index].source)).locate(json_path) == here
    return here


def test_locate_points_at_values_keys_and_list_items(jobs: Path) -> None:
    path = write(jobs / "a.yaml", JOB.format(name="a") + "---\n" + JOB.format(name="b") + """\
    storage:
      - /project_ghent
      - {hostPath: tmpfs, containerPath: /r, sizeGb: 1}
""")
    assert locate(path, 0, ["request", "resources", "gpus"]) == Location(path.as_posix(), 3, 30)
    assert locate("jobs.d/a.yaml", 1, ["name"]) == Location("jobs.d/a.yaml", 7, 7)
    assert locate("jobs.d/a.yaml", 1, ["request", "docker"]) == Location("jobs.d/a.yaml", 10, 3)
    assert locate("jobs.d/a.yaml", 1, ["request", "docker", "storage", 1, "sizeGb"]) == \
        Location("jobs.d/a.yaml", 14, 54)
    assert locate("jobs.d/a.yaml", 1, ["request", "docker", "storage", 1]) == Location("jobs.d/a.yaml", 14, 9)
    # a path that does not exist stops at its deepest existing part
    assert locate("jobs.d/a.yaml", 1, ["request", "scheduling", "maxDuration"]) == Location("jobs.d/a.yaml", 8, 1)
    assert locate("jobs.d/a.yaml", 5, ["name"]) == Location("jobs.d/a.yaml")


def test_a_map_keeps_the_positions_it_was_read_with(jobs: Path) -> None:
    """Positions are recorded while reading: a report made later never reads (or misreads) the file again."""
    import pickle

    path = write(jobs / "a.yaml", "# moved down\n\n" + JOB.format(name="a"))
    source = loader.read("jobs.d/a.yaml").documents[0].source
    travelled = pickle.loads(pickle.dumps(source))
    write(path, JOB.format(name="a"))
    assert source.locate(["name"]).line == travelled.locate(["name"]).line == 3
    path.unlink()
    assert travelled.locate(["request", "resources", "gpus"]) == Location("jobs.d/a.yaml", 5, 30)


def test_a_map_sent_to_another_process_travels_as_positions_without_the_text(jobs: Path) -> None:
    import pickle

    write(jobs / "a.yaml", JOB.format(name="a") + "---\n" + JOB.format(name="b"))
    source = loader.read("jobs.d/a.yaml").documents[1].source
    travelled = pickle.loads(pickle.dumps(source))
    assert isinstance(travelled, PositionSourceMap)
    assert travelled == source and "debian" not in repr(travelled)
    assert travelled.locate(["request", "resources", "gpus"]) == Location("jobs.d/a.yaml", 9, 30)


def test_keys_yaml_reads_as_numbers_must_be_quoted(jobs: Path) -> None:
    write(jobs / "a.yaml", JOB.format(name="a") + "    environment:\n      1: x\n      yes: y\n")
    assert problems(validate_paths(["jobs.d"])) == [
        "jobs.d/a.yaml:7:7: error: request.docker.environment.1: 1 is not a text key; quote it"]


def test_a_problem_in_a_merged_mapping_points_where_the_value_is_written(jobs: Path) -> None:
    write(jobs / "a.yaml", """\
name: a
request:
  resources:
    <<: &base {cpus: 1, gpus: -2}
    cpuMemoryGb: 4
  docker: {image: "debian:stable"}
""")
    assert problems(validate_paths(["jobs.d"])) == [
        "jobs.d/a.yaml:4:31: error: request.resources.gpus: -2 is less than the minimum of 0"]


_checked_by: Path | None = None  # where each process that checks files leaves its pid (set by the test)


def _recording_check_files(files: list[str], *, require_project: bool, strict: bool = False,
                           **options: object) -> object:
    # module level: the worker pool sends the function to its processes by reference
    import os

    from gpulab_apply.jobfiles.validation import _check_file

    assert _checked_by is not None
    (_checked_by / str(os.getpid())).touch()
    return [_check_file(path, require_project=require_project, strict=strict, **options)  # type: ignore[arg-type]
            for path in files]


def test_a_large_set_checked_by_worker_processes_gives_the_same_result(jobs: Path, tmp_path: Path,
                                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    import os
    import sys

    from gpulab_apply.jobfiles import validation
    from gpulab_apply.jobfiles.validation import PARALLEL_MIN_FILES, _check_all

    checked_by = tmp_path / "checked-by"
    checked_by.mkdir()
    monkeypatch.setattr(sys.modules[__name__], "_checked_by", checked_by)
    monkeypatch.setattr(validation, "_check_files", _recording_check_files)

    count = PARALLEL_MIN_FILES + 40
    for index in range(count):
        text = JOB.format(name=f"job-{index:03d}")
        if index % 50 == 7:
            text = text.replace("gpus: 0", "gpus: two")
        if index == count - 1:
            text = JOB.format(name="job-000")  # a duplicate of the first file: the two land in different slices
        write(jobs / f"job-{index:03d}.yaml", text)
    files, _ = loader.discover(["jobs.d"])
    assert len(files) == count
    in_process = _check_all(files, require_project=False, workers=1)
    forked = _check_all(files, require_project=False, workers=2)
    assert forked == in_process
    assert len({int(p.name) for p in checked_by.iterdir()} - {os.getpid()}) == 2  # two workers did the work

    result = validate_paths(["jobs.d"])
    assert len(result.jobs) == count - 5 - 2  # 5 invalid documents, and both uses of the duplicated name
    advice = "(names identify jobs: give each job its own name)"
    assert [p.split(": error: ")[1] for p in problems(result) if "duplicate" in p] == [
        f"name: duplicate job name 'job-000', also at jobs.d/job-239.yaml:1:7 {advice}",
        f"name: duplicate job name 'job-000', also at jobs.d/job-000.yaml:1:7 {advice}",
    ]
    assert sum("'two' is not of type 'integer'" in p for p in problems(result)) == 5


def test_problems_never_show_secret_values(jobs: Path) -> None:
    # docs/plan-apply.md#secrets: secrets are masked in every output, validation messages included
    write(jobs / "a.yaml", """\
name: leak
request:
  resources: {cpus: 1, gpus: 0, cpuMemoryGb: 2}
  docker:
    image: "bob:hunter2@registry.example.com/Upper/x:1"
    environment: {API_TOKEN: 3.14159, DB_PASSWORD: [s3cret], PLAIN: 2.5}
""")
    found = problems(validate_paths(["jobs.d"]))
    assert not any(secret in line for line in found for secret in ("hunter2", "3.14159", "s3cret")), found
    assert any("request.docker.environment.API_TOKEN: '***' is not of type" in line for line in found), found
    assert any("request.docker.image: 'bob:***@registry.example.com/Upper/x:1'" in line for line in found), found
    assert any("request.docker.environment.PLAIN: 2.5 is not of type" in line for line in found), found
