"""validate agrees with GPULab's own model on a generated corpus, and the compiled predicate with jsonschema.

The corpus (``tests/fidelity_corpus.py``) changes every field of GPULab's NewJobV4 in legal and illegal
ways; each case is labelled here by GPULab's official model (``imecilabt-gpulab-common``, GPL, used only
in tests). validate must never accept what GPULab refuses, and may refuse what GPULab accepts only in the
few cases listed in ``KNOWN_DIFFERENCES`` (each explained in docs/validate.md).
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from gpulab_apply.jobmodel import schema
from gpulab_apply.jobmodel.normal_form import canonical_job
from gpulab_apply.jobmodel.rules import judge, submission_problems
from tests.fidelity_corpus import BASE, Case, cases, oracle_verdict

FULL_JOB = BASE
CASES = cases()

#: cases GPULab's model accepts and validate refuses on purpose (docs/validate.md#remaining-differences)
KNOWN_DIFFERENCES = {
    "restartInfo={'initialJobUuid': '123e4567-e89b-12d3-a456-426614174000', 'restartCount': 0}",
}


def submission_errors(job: dict[str, Any]) -> list[str]:
    """The schema alone on a canonical POST body, one line per violation."""
    return [str(v) for v in schema.violations(job, submission=True)]


def oracle(job: dict[str, Any]) -> bool:
    return oracle_verdict(job)


def test_the_corpus_is_big_and_varied() -> None:
    assert len(CASES) >= 800
    assert len({case.id for case in CASES}) == len(CASES)
    labels = [oracle(case.job) for case in CASES]
    assert 250 < sum(labels) < len(CASES) - 250  # plenty of both verdicts
    assert {case.id for case in CASES} >= KNOWN_DIFFERENCES


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_validate_gives_gpulabs_verdict(case: Case) -> None:
    verdict = not judge(case.job).errors
    expected = oracle(case.job)
    if case.id in KNOWN_DIFFERENCES:
        assert (expected, verdict) == (True, False)
    else:
        assert verdict is expected, judge(case.job).errors


@pytest.mark.parametrize("case", [c for c in CASES if oracle(c.job)], ids=lambda case: case.id)
def test_accepted_jobs_are_canonical_after_rewriting(case: Case) -> None:
    canonical = canonical_job(case.job)
    assert canonical_job(canonical.job).rewrites == []  # a fixed point
    if case.id not in KNOWN_DIFFERENCES:
        assert oracle(canonical.job)  # the rewrite never changes GPULab's verdict
        assert not schema.violations(canonical.job)  # and the canonical form is what the schema describes


@pytest.mark.slow
def test_predicate_agrees_with_jsonschema_on_the_corpus() -> None:
    for submission in (False, True):
        reference = schema._validator(submission=submission)
        for case in CASES:
            for job in (case.job, canonical_job(case.job).job):
                assert schema._predicate(submission=submission)(job) is reference.is_valid(job), case.id


def test_patterns_end_at_the_end_of_the_text() -> None:
    # plain jsonschema reads $ as Python does (before a final newline); GPULab and ECMA 262 do not
    job = copy.deepcopy(FULL_JOB)
    job["request"]["docker"]["image"] = "debian\n"
    assert Draft202012Validator(schema.job_file_schema()).is_valid(job)
    assert not schema._validator(submission=False).is_valid(job)
    assert not schema._predicate(submission=False)(job)
    assert submission_problems(job) == [
        ("request.docker.image: 'debian\\n' is not a valid image: [user:pass@][registry[:port]/]path[:tag], "
        "with a lowercase path")]


def test_warnings_show_the_canonical_form() -> None:
    job = copy.deepcopy(FULL_JOB)
    job["request"]["scheduling"]["interactive"] = "yes"
    job["request"]["resources"]["cpu_memory_gb"] = job["request"]["resources"].pop("cpuMemoryGb")
    verdict = judge(job)
    assert verdict.errors == []
    assert [str(w) for w in verdict.warnings] == [
        "request.resources.cpu_memory_gb: GPULab reads cpu_memory_gb as cpuMemoryGb (write cpuMemoryGb)",
        "request.scheduling.interactive: 'yes' is read by GPULab as true (write true)",
    ]
    assert verdict.job["request"]["scheduling"]["interactive"] is True
    assert verdict.job["request"]["resources"]["cpuMemoryGb"] == 16


def test_schema_is_valid_2020_12_and_documents_every_property() -> None:
    document = schema.job_file_schema()
    Draft202012Validator.check_schema(document)
    assert document["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert document["$id"].endswith("/schemas/job2.schema.json")
    undocumented = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, dict):
            for key, sub in node.get("properties", {}).items():
                # editors show a referenced definition's description where the property has none
                target = document["$defs"][sub["$ref"].rsplit("/", 1)[1]] if "$ref" in sub else sub
                if "description" not in sub and "description" not in target:
                    undocumented.append(f"{where}.{key}")
            for key, sub in node.items():
                if key != "if":  # a condition, not a place where users write keys
                    walk(sub, f"{where}.{key}")
        elif isinstance(node, list):
            for index, sub in enumerate(node):
                walk(sub, f"{where}[{index}]")

    walk(document, "$")
    assert undocumented == []


def test_submission_errors_are_one_line_each() -> None:
    job = copy.deepcopy(FULL_JOB)
    job["request"]["resources"]["gpus"] = "two"
    job["request"]["resources"]["cpu_memory_gb"] = job["request"]["resources"].pop("cpuMemoryGb")
    job["x-gpulab-apply"] = {"rerun": 1}

    assert submission_errors(job) == [
        "request.resources: 'cpuMemoryGb' is a required property",
        "request.resources.cpu_memory_gb: unknown key (did you mean `cpuMemoryGb`?)",
        "request.resources.gpus: 'two' is not of type 'integer'",
        "x-gpulab-apply: unknown key (allowed here: name, description, request, owner, deploymentEnvironment)",
    ]
    assert submission_errors(FULL_JOB) == []


def test_submission_accepts_what_the_official_cli_sends() -> None:
    # reference §5.1: the body GPULab's own CLI 3.11 POSTs
    body = {
        "name": "hello",
        "request": {
            "resources": {"cpus": 1, "gpus": 0, "cpuMemoryGb": 2, "features": [], "gpuModel": []},
            "docker": {"image": "debian:stable", "command": "echo hi", "environment": {}, "storage": [],
                       "portMappings": [], "groupAdd": []},
            "scheduling": {"interactive": False, "restartable": False, "allowHaltWithoutSignal": False,
                           "reservationIds": []},
            "extra": {"sshPubKeys": ["ssh-rsa AAAAB3Nza... jdoe@cert"], "emailOnQueue": [], "emailOnRun": [],
                      "emailOnEnd": [], "emailOnHalt": [], "emailOnRestart": []},
        },
        "owner": {"projectUrn": "urn:publicid:IDN+ilabt.imec.be+project+myproj"},
        "deploymentEnvironment": "production",
    }
    assert submission_errors(body) == []
    assert oracle(body)


def test_the_users_api_doc_example_needs_only_extra_moved() -> None:
    # the curl example of the user's GPULab API page, with a real image for <MYIMAGE>
    body = {"name": "test", "request": {
        "resources": {"cpus": 1, "gpus": 1, "cpuMemoryGb": 1, "minCudaVersion": 10, "clusterId": 9},
        "docker": {"image": "debian:stable", "storage": [{"hostPath": "/project"}]},
        "scheduling": {"interactive": False, "restartable": False}},
        "description": "test", "extra": {"emailOnRun": ["me@example.com"], "emailOnEnd": ["me@example.com"]}}
    assert submission_errors(body) == ["extra: unknown key (extra belongs under request:)"]
    assert not oracle(body)

    body["request"]["extra"] = body.pop("extra")
    assert submission_errors(body) == []
    assert oracle(body)
