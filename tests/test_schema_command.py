"""``gpulab-apply schema`` and the editor set-up in docs/editors.md that relies on it."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema  # type: ignore[import-untyped]
import pytest
from ruamel.yaml import YAML

from gpulab_apply import __version__
from tests.conftest import RunCli
from tests.job_texts import MINIMAL_JOB_YAML

ROOT = Path(__file__).resolve().parent.parent
EDITORS = (ROOT / "docs" / "editors.md").read_text(encoding="utf-8")
STABLE_ID = "https://raw.githubusercontent.com/gpulab-apply/gpulab-apply/main/schemas/job2.schema.json"
RAW = re.compile(r"https://raw\.githubusercontent\.com/gpulab-apply/gpulab-apply/(?P<ref>[^/]+)/(?P<path>[\w./-]+)")


@pytest.fixture
def printed(cli: RunCli) -> dict[str, object]:
    result = cli("schema")
    assert result.exit_code == 0, result
    schema = json.loads(result.stdout)
    assert isinstance(schema, dict)
    return schema


def test_schema_prints_the_shipped_schema_with_its_stable_id(printed: dict[str, object]) -> None:
    assert printed == json.loads((ROOT / "schemas" / "job2.schema.json").read_text(encoding="utf-8"))
    assert printed["$id"] == STABLE_ID
    jsonschema.Draft202012Validator.check_schema(printed)


def test_a_saved_copy_works_on_its_own_as_editors_use_it(printed: dict[str, object]) -> None:
    """No references outside the document: a copy in .gpulab/ checks job files offline."""
    refs = re.findall(r'"\$ref":\s*"([^"]+)"', json.dumps(printed))
    assert refs and all(ref.startswith("#") for ref in refs)
    validator = jsonschema.Draft202012Validator(printed)
    for path in sorted((ROOT / "jobs.d").glob("*.yaml")):
        assert not list(validator.iter_errors(YAML(typ="safe").load(path.read_text()))), path
    assert list(validator.iter_errors({"name": "x", "request": {"resources": {"gpus": "two"}}}))


def test_the_documented_urls_name_this_release_and_a_file_that_exists() -> None:
    found = {(m["ref"], m["path"]) for m in RAW.finditer(EDITORS)}
    assert ("main", "schemas/job2.schema.json") in found  # the $id
    assert ("v" + __version__, "schemas/job2.schema.json") in found
    for _, path in found:
        assert (ROOT / path).is_file(), path


def test_the_documented_vs_code_setting_is_json_and_maps_the_job_files() -> None:
    (block,) = re.findall(r"^```json\n(.*?)^```", EDITORS, flags=re.DOTALL | re.MULTILINE)
    settings = json.loads(block)
    (globs,) = settings["yaml.schemas"].values()
    assert "jobs.d/**/*.yaml" in globs


def test_a_job_file_with_the_documented_modeline_still_validates(tmp_path: Path, cli: RunCli) -> None:
    modelines = re.findall(r"^# yaml-language-server: \$schema=\S+$", EDITORS, flags=re.MULTILINE)
    assert len(modelines) == 2
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    for index, modeline in enumerate(modelines):
        (jobs / f"job{index}.yaml").write_text(modeline + "\n" + MINIMAL_JOB_YAML.format(name=f"job{index}"))
    result = cli("validate", str(jobs))
    assert result.exit_code == 0, result
    # the relative modeline resolves, from jobs.d/, to where the documented command saves the schema
    relative = modelines[1].split("=", 1)[1]
    assert (jobs / relative).resolve() == (tmp_path / ".gpulab" / "job2.schema.json").resolve()
    assert "gpulab-apply schema > .gpulab/job2.schema.json" in EDITORS
