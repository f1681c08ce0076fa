"""``gpulab-apply schema``: the schemas editors check job files with, and the set-up in docs/editors.md."""

from __future__ import annotations

import json
import re
import tempfile
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped]
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from gpulab_apply import __version__
from gpulab_apply.jobfiles.editor_schema import editor_schema
from gpulab_apply.jobfiles.validation import validate_paths
from tests.conftest import RunCli
from tests.job_texts import MINIMAL_JOB_YAML

ROOT = Path(__file__).resolve().parents[2]
EDITORS = (ROOT / "docs" / "editors.md").read_text(encoding="utf-8")
BASE = "https://raw.githubusercontent.com/gpulab-apply/gpulab-apply/main/schemas/"
RAW = re.compile(r"https://raw\.githubusercontent\.com/gpulab-apply/gpulab-apply/(?P<ref>[^/]+)/(?P<path>[\w./-]+)")
SWEEP = """\
name: train-${{ matrix.gpus }}gpu-lr${{ matrix.lr }}
request:
  resources: {cpus: 2, gpus: "${{ matrix.gpus }}", cpuMemoryGb: 8}
  docker:
    image: pytorch/pytorch:2.4.0
    command: python train.py --lr ${{ matrix.lr }}
    environment: {WANDB_API_KEY: "${WANDB_API_KEY:-none}"}
  scheduling: {maxDuration: "${{ matrix.hours }}", restartable: "${{ matrix.restartable }}"}
x-gpulab-apply:
  protect: true
  matrix:
    gpus: [1, 2]
    lr: [1e-4, 3e-4]
    hours: [1 hour]
    restartable: [true]
    exclude: [{gpus: 2, lr: 3e-4}]
"""
DEFAULTS = """\
request:
  resources: {cpus: 4, cpuMemoryGb: 16}
  docker: {image: "pytorch/pytorch:2.4.0"}
  scheduling: {maxDuration: 2 hours}
"""


def printed(cli: RunCli, *args: str) -> dict[str, Any]:
    result = cli("schema", *args)
    assert result.exit_code == 0, result
    schema = json.loads(result.stdout)
    assert isinstance(schema, dict)
    return schema


def errors(schema: dict[str, Any], text: str) -> list[str]:
    return [error.message for error in jsonschema.Draft202012Validator(schema).iter_errors(YAML(typ="safe").load(text))]


@pytest.mark.parametrize(("args", "file"), [((), "job-file.schema.json"), (("defaults",), "defaults.schema.json")])
def test_schema_prints_the_committed_schemas_with_their_stable_ids(cli: RunCli, args: tuple[str, ...],
                                                                  file: str) -> None:
    schema = printed(cli, *args)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert schema["$id"] == BASE + file
    # schemas/ holds the same text, for editors that fetch it by URL; regenerate it with this command
    assert cli("schema", *args).stdout == (ROOT / "schemas" / file).read_text(encoding="utf-8"), \
        f"run: gpulab-apply schema {' '.join(args)} > schemas/{file}"
    refs = re.findall(r'"\$ref":\s*"([^"]+)"', json.dumps(schema))
    assert refs and all(ref.startswith("#") for ref in refs)  # self-contained: a saved copy works offline


def test_what_validate_accepts_as_written_the_editor_accepts(cli: RunCli, tmp_path: Path,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "sweep.yaml").write_text(SWEEP)
    (jobs / "_defaults.yaml").write_text(DEFAULTS)
    (jobs / "small.yaml").write_text("name: small\nrequest:\n  resources: {gpus: 1}\n")  # the rest from defaults
    result = validate_paths(["jobs.d"])
    assert not [p for p in result.problems if p.severity == "error"], result.problems
    assert sorted(spec.name for spec in result.jobs) == [
        "small", "train-1gpu-lr1e-4", "train-1gpu-lr3e-4", "train-2gpu-lr1e-4"]
    job, defaults = printed(cli), printed(cli, "defaults")
    assert errors(job, SWEEP) == []
    assert errors(defaults, DEFAULTS) == []
    for path in sorted((ROOT / "jobs.d").glob("*.yaml")):
        assert errors(job, path.read_text()) == [], path


def test_the_editor_still_flags_real_mistakes(cli: RunCli) -> None:
    job, defaults = printed(cli), printed(cli, "defaults")
    assert errors(job, MINIMAL_JOB_YAML.format(name="x").replace("gpus: 0", "gpus: two"))
    assert errors(job, MINIMAL_JOB_YAML.format(name="x").replace("gpus: 0", "gpus: '${{ matrix.gpus }} GPUs'"))
    assert errors(job, MINIMAL_JOB_YAML.format(name="x") + "x-gpulab-apply: {matrix: {lr: []}}\n")
    assert errors(job, MINIMAL_JOB_YAML.format(name="x").replace("request:", "reqest:"))
    assert errors(defaults, "name: shared\n")  # every job needs its own name
    assert errors(defaults, "x-gpulab-apply: {matrix: {lr: [1]}}\n")  # a matrix belongs in a job file


def test_the_documented_urls_name_this_release_and_files_that_exist() -> None:
    found = {(m["ref"], m["path"]) for m in RAW.finditer(EDITORS)}
    assert ("main", "schemas/job-file.schema.json") in found  # the $id
    for file in ("schemas/job-file.schema.json", "schemas/defaults.schema.json"):
        assert ("v" + __version__, file) in found
    for _, path in found:
        assert (ROOT / path).is_file(), path


def test_the_documented_vs_code_setting_is_json_and_maps_the_job_files() -> None:
    blocks = [json.loads(block) for block in re.findall(r"^```json\n(.*?)^```", EDITORS, flags=re.DOTALL | re.MULTILINE)]
    mappings = [block["yaml.schemas"] for block in blocks]
    assert mappings and all("jobs.d/**/*.yaml" in globs for mapping in mappings for globs in mapping.values())


def test_job_files_with_the_documented_modelines_still_validate(tmp_path: Path, cli: RunCli,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    modelines = re.findall(r"^# yaml-language-server: \$schema=(\S+)$", EDITORS, flags=re.MULTILINE)
    local = [target for target in modelines if not target.startswith("https://")]
    assert len(modelines) >= 3 and local
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    for index, target in enumerate(modelines):
        (jobs / f"job{index}.yaml").write_text(f"# yaml-language-server: $schema={target}\n"
                                               + MINIMAL_JOB_YAML.format(name=f"job{index}"))
    result = cli("validate", "jobs.d")
    assert result.exit_code == 0, result
    # a relative modeline resolves, from jobs.d/, to where the documented commands save the schemas
    for target in local:
        saved = (jobs / target).resolve().relative_to(tmp_path.resolve()).as_posix()
        assert f"> {saved}" in EDITORS, saved


def test_an_adopting_job_file_as_import_writes_it_passes_the_editor(cli: RunCli) -> None:
    adopting = MINIMAL_JOB_YAML.format(name="x") + (
        "x-gpulab-apply:\n  adopt: {uuid: 0b5e0c1a-1d2e-4f3a-8b9c-0d1e2f3a4b5c, spec: 0123456789abcdef}\n")
    assert errors(printed(cli), adopting) == []
    assert errors(printed(cli), adopting.replace("0123456789abcdef", "nothex")) != []


# --- what validate accepts, the editor accepts: defaults, the shipped jobs, the corpora --------------------------

def check_jsonschema(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    """The validator check-jsonschema builds from a schema: Draft 2020-12, formats checked."""
    return jsonschema.Draft202012Validator(schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def file_errors(job: dict[str, Any], defaults: dict[str, Any], path: Path) -> list[str]:
    """Every problem check-jsonschema would report in one file, every YAML document of it."""
    validator = check_jsonschema(defaults if path.name.startswith("_defaults") else job)
    return [f"{path}: {error.message}" for document in YAML(typ="safe").load_all(path.read_text(encoding="utf-8"))
            for error in validator.iter_errors(document)]


def test_the_shipped_job_files_pass_the_editor_schemas(cli: RunCli) -> None:
    # jobs.d/sweep/cifar-resnet18.yaml takes cpus and image from its _defaults.yaml
    job, defaults = printed(cli), printed(cli, "defaults")
    paths = sorted((ROOT / "jobs.d").rglob("*.y*ml"))
    assert ROOT / "jobs.d" / "sweep" / "cifar-resnet18.yaml" in paths and len(paths) >= 5
    assert validate_paths([ROOT / "jobs.d"], job_root=ROOT / "jobs.d").ok
    assert [error for path in paths for error in file_errors(job, defaults, path)] == []


@pytest.mark.slow  # over a second on 2 cores (docs: README, Development)
def test_every_canonical_job_validate_accepts_in_the_corpus_passes_the_editor(cli: RunCli) -> None:
    # a form validate only warns about (cpus: "4") is underlined in the editor as validate --strict refuses it;
    # `gpulab-apply fmt` rewrites it (docs/editors.md#what-the-schema-cannot-see)
    from gpulab_apply.jobmodel.rules import judge
    from tests.fidelity_corpus import cases

    validator = check_jsonschema(printed(cli))
    checked = [case for case in cases() if not (verdict := judge(case.job)).errors and not verdict.warnings]
    assert len(checked) > 200
    assert [(case.id, error.message) for case in checked for error in validator.iter_errors(case.job)] == []


def _leaves(value: Any, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """The paths of a job's values reached through mappings only (a list is one value: defaults replace it)."""
    if isinstance(value, dict) and value:
        return [leaf for key, item in value.items() for leaf in _leaves(item, (*path, key))]
    return [path]


def _put(target: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for key in path[:-1]:
        target = target.setdefault(key, {})
    target[path[-1]] = value


def _get(source: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        source = source[key]
    return source


@settings(max_examples=25)
@given(data=st.data())
def test_any_split_between_a_job_file_and_its_defaults_passes_both_editor_schemas(data: st.DataObject) -> None:
    """Property: a valid job whose values are split in any way between the job file and a _defaults.yaml is
    valid to validate, and each half passes its editor schema (the required keys may be in either)."""
    from tests.fidelity_corpus import BASE

    leaves = [leaf for leaf in _leaves(BASE) if leaf != ("name",)]
    moved = data.draw(st.sets(st.sampled_from(leaves)), label="moved to defaults")
    job: dict[str, Any] = {}
    defaults: dict[str, Any] = {}
    for leaf in [("name",), *leaves]:
        _put(defaults if leaf in moved else job, leaf, _get(BASE, leaf))
    with tempfile.TemporaryDirectory() as directory:
        jobs = Path(directory) / "jobs.d"
        jobs.mkdir()
        (jobs / "job.yaml").write_text(json.dumps(job), encoding="utf-8")  # JSON is YAML
        if defaults:
            (jobs / "_defaults.yaml").write_text(json.dumps(defaults), encoding="utf-8")
        result = validate_paths([jobs], job_root=jobs)
        assert result.ok and len(result.jobs) == 1, result.problems
    assert list(check_jsonschema(editor_schema("job")).iter_errors(job)) == []
    assert list(check_jsonschema(editor_schema("defaults")).iter_errors(defaults)) == []


def test_the_editor_still_requires_what_no_defaults_file_can_give(cli: RunCli) -> None:
    job = printed(cli)
    assert errors(job, "request: {docker: {image: x}}\n") == ["'name' is a required property"]
    # a list from a defaults file replaces the job's whole: its items keep their required keys
    assert errors(job, "name: x\nrequest:\n  docker:\n    storage: [{hostPath: tmpfs, containerPath: /r}]\n")
