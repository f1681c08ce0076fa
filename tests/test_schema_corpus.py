"""The schema agrees with GPULab's own rules: a corpus of valid jobs and jobs that each break one rule.

Every case is judged three ways: by this tool (schema plus cross-field checks), by GPULab's own job
model from ``imecilabt-gpulab-common`` (the oracle, GPL, used here only), and, for the schema part,
by both jsonschema and the compiled predicate, which must never disagree.

Where the oracle does not model a rule (``minDuration`` <= ``maxDuration``), or the tool is
deliberately stricter (one spelling per field, no single values for lists, no strings for numbers:
the file is the exact JSON that is submitted and hashed, so there is one way to write each job),
the case says so and the test asserts that difference explicitly.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from imecilabt.gpulab.schemas.job2 import NewJobV4CLI
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from gpulab_apply.jobfiles import schema
from gpulab_apply.jobfiles.checks import job_violations

FULL_JOB: dict[str, Any] = {
    "name": "train-resnet",
    "description": "seed 1",
    "owner": {"projectUrn": "urn:publicid:IDN+ilabt.imec.be+project+myproj"},
    "request": {
        "resources": {
            "cpus": 4, "gpus": 1, "cpuMemoryGb": 16, "gpuMemoryGb": 16,
            "gpuModel": ["V100"], "minCudaVersion": 11, "clusterId": 7,
            "features": ["SHARED_PROJECT_STORAGE"],
        },
        "docker": {
            "image": "gitlab.ilabt.imec.be:4567/myproj/img:1.0",
            "command": ["/project/run.sh", "--seed", "1"],
            "environment": {"PYTHONUNBUFFERED": "1", "SEED": 1, "DEBUG": False},
            "storage": [
                {"hostPath": "/project_ghent", "containerPath": "/project"},
                "/project_scratch",
                {"hostPath": "tmpfs", "containerPath": "/ramdisk", "sizeGb": 4},
            ],
            "portMappings": [8888, {"containerPort": 6006}],
            "projectGidVariableName": "NB_GID",
            "workingDir": "/project/",
            "user": "root",
            "groupAdd": ["users"],
        },
        "scheduling": {
            "interactive": False, "restartable": True, "allowHaltWithoutSignal": False,
            "minDuration": "1 day", "maxDuration": "3 days",
            "reservationIds": ["123e4567-e89b-12d3-a456-426614174000"],
            "maxSimultaneousJobs": {"bucketName": "sweep1", "bucketMax": 3},
            "notBefore": "2026-01-10T08:00:00Z", "notAfter": "2026-01-12T08:00:00Z",
        },
        "extra": {
            "sshPubKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl me@laptop"],
            "emailOnEnd": ["me@example.com"], "emailOnHalt": ["me@example.com"],
        },
    },
}

MINIMAL_JOB: dict[str, Any] = {
    "name": "hello",
    "request": {"resources": {"cpus": 1, "gpus": 0, "cpuMemoryGb": 2}, "docker": {"image": "debian:stable"}},
}

Edit = Callable[[dict[str, Any]], None]

#: the oracle agrees with the expected verdict
AGREE = "agree"
#: the tool rejects on purpose what GPULab's model accepts (see the module docstring)
STRICTER = "stricter"


@dataclasses.dataclass(frozen=True)
class Case:
    id: str
    edit: Edit
    valid: bool
    oracle: str = AGREE
    base: dict[str, Any] = dataclasses.field(default_factory=lambda: FULL_JOB)


def put(path: str, value: Any) -> Edit:
    """Set a dotted path (``request.resources.gpus``), creating mappings on the way."""

    def edit(job: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = job
        for key in parents:
            target = target.setdefault(key, {})
        target[last] = value

    return edit


def drop(path: str) -> Edit:
    def edit(job: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = job
        for key in parents:
            target = target[key]
        del target[last]

    return edit


def rename(path: str, new_key: str) -> Edit:
    def edit(job: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target = job
        for key in parents:
            target = target[key]
        target[new_key] = target.pop(last)

    return edit


def keep(job: dict[str, Any]) -> None:
    """No change: the base job as it is."""


R, D, S, X = "request.resources", "request.docker", "request.scheduling", "request.extra"

CASES = [
    # --- valid jobs ------------------------------------------------------------------------------
    Case("full job from the reference", keep, True),
    Case("minimal job", keep, True, base=MINIMAL_JOB),
    Case("no owner (API v3.x)", drop("owner"), True),
    Case("deprecated owner fields", put("owner.userUrn", "urn:publicid:IDN+ilabt.imec.be+user+jdoe"), True),
    Case("deploymentEnvironment", put("deploymentEnvironment", "production"), True),
    Case("command as a string", put(f"{D}.command", "python train.py --seed 1"), True),
    Case("image with registry credentials", put(f"{D}.image", "me:s3cret@registry.example.com:5000/team/img:v2"), True),
    Case("image without tag", put(f"{D}.image", "ubuntu"), True),
    Case("storage shorthand ssh dir", put(f"{D}.storage", [".ssh", {"containerPath": "/data"}]), True),
    Case("port mapping with host port", put(f"{D}.portMappings", [{"containerPort": 80, "hostPort": 8080}]), True),
    Case("gpuMemoryGb null", put(f"{R}.gpuMemoryGb", None), True),
    Case("duration 0.5 hour", put(f"{S}.minDuration", "0.5 hour"), True),
    Case("duration unit without space, any case", put(f"{S}.maxDuration", "72Hours"), True),
    Case("timestamp with offset", put(f"{S}.notAfter", "2026-01-12T10:00:00+02:00"), True),
    Case("ssh-rsa key", put(f"{X}.sshPubKeys", ["ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 jdoe@cert"]), True),
    Case("gpus 0 and no gpuMemoryGb", lambda j: (put(f"{R}.gpus", 0)(j), drop(f"{R}.gpuMemoryGb")(j)), True),
    # --- top level -------------------------------------------------------------------------------
    Case("name missing", drop("name"), False),
    Case("name empty", put("name", ""), False),
    Case("request missing", drop("request"), False),
    Case("unknown top-level key", put("labels", {"team": "a"}), False),
    Case("restartInfo in a new job", put("restartInfo", {"initialJobUuid": "123e4567-e89b-12d3-a456-426614174000",
                                                         "restartCount": 0}), False, oracle=STRICTER),
    Case("extra at top level (the docs' curl example)", put("extra", {"emailOnEnd": ["me@example.com"]}), False),
    Case("project URN malformed", put("owner.projectUrn", "myproj"), False),
    Case("owner without projectUrn", put("owner", {"userEmail": "a@b.be"}), False),
    # --- resources -------------------------------------------------------------------------------
    Case("cpus missing", drop(f"{R}.cpus"), False),
    Case("gpus missing", drop(f"{R}.gpus"), False),
    Case("cpuMemoryGb missing", drop(f"{R}.cpuMemoryGb"), False),
    Case("cpus zero", put(f"{R}.cpus", 0), False),
    Case("gpus negative", put(f"{R}.gpus", -1), False),
    Case("gpus as a word", put(f"{R}.gpus", "two"), False),
    Case("gpuMemoryGb 1", put(f"{R}.gpuMemoryGb", 1), False),
    Case("cpuMemoryGb fractional", put(f"{R}.cpuMemoryGb", 1.5), False),
    Case("gpuModel entry too short", put(f"{R}.gpuModel", ["V"]), False),
    Case("clusterId negative", put(f"{R}.clusterId", -3), False),
    Case("unknown resource key", put(f"{R}.tpus", 1), False),
    Case("snake_case key", rename(f"{R}.cpuMemoryGb", "cpu_memory_gb"), False, oracle=STRICTER),
    Case("cpus as a numeric string", put(f"{R}.cpus", "4"), False, oracle=STRICTER),
    Case("gpuModel as a single string", put(f"{R}.gpuModel", "V100"), False, oracle=STRICTER),
    # --- docker ----------------------------------------------------------------------------------
    Case("image missing", drop(f"{D}.image"), False),
    Case("image uppercase", put(f"{D}.image", "PyTorch/PyTorch:latest"), False),
    Case("image with digest", put(f"{D}.image", "debian@sha256:" + "ab" * 32), False),
    Case("image tag too long", put(f"{D}.image", "debian:" + "x" * 128), False),
    Case("workingDir without trailing slash", put(f"{D}.workingDir", "/project"), False),
    Case("workingDir relative", put(f"{D}.workingDir", "project/"), False),
    Case("environment name with dash", put(f"{D}.environment", {"MY-VAR": "1"}), False),
    Case("environment name starting with digit", put(f"{D}.environment", {"1VAR": "1"}), False),
    Case("environment float value", put(f"{D}.environment", {"LR": 0.1}), False),
    Case("environment null value", put(f"{D}.environment", {"LR": None}), False),
    Case("command list with a number", put(f"{D}.command", ["sleep", 10]), False),
    Case("directory mount with sizeGb", put(f"{D}.storage", [{"hostPath": "/project_ghent", "sizeGb": 2}]), False),
    Case("directory mount with neither path", put(f"{D}.storage", [{}]), False),
    Case("tmpfs mount without sizeGb", put(f"{D}.storage", [{"hostPath": "tmpfs", "containerPath": "/r"}]), False),
    Case("tmpfs mount size zero", put(f"{D}.storage", [{"hostPath": "tmpfs", "containerPath": "/r", "sizeGb": 0}]),
         False),
    Case("storage entry a number", put(f"{D}.storage", [5]), False),
    Case("port number out of range", put(f"{D}.portMappings", [70000]), False, oracle=STRICTER),
    Case("tmpfs mount without containerPath", put(f"{D}.storage", [{"hostPath": "tmpfs", "sizeGb": 1}]), False),
    Case("port mapping without containerPort", put(f"{D}.portMappings", [{"hostPort": 8080}]), False),
    Case("port mapping as a string", put(f"{D}.portMappings", ["8888"]), False),
    Case("user with a dash", put(f"{D}.user", "my-user"), False),
    Case("groupAdd entry with a space", put(f"{D}.groupAdd", ["my group"]), False),
    Case("projectGidVariableName invalid", put(f"{D}.projectGidVariableName", "NB-GID"), False),
    # --- scheduling ------------------------------------------------------------------------------
    Case("duration with unit d", put(f"{S}.maxDuration", "2d"), False),
    Case("duration with unit w", put(f"{S}.maxDuration", "1w"), False),
    Case("duration in months", put(f"{S}.maxDuration", "1 month"), False),
    Case("duration without unit", put(f"{S}.minDuration", "3600"), False),
    Case("maxDuration under a minute", put(f"{S}.maxDuration", "30 seconds"), False),
    Case("notAfter before notBefore", put(f"{S}.notAfter", "2026-01-09T08:00:00Z"), False),
    Case("notAfter equal to notBefore", put(f"{S}.notAfter", "2026-01-10T08:00:00Z"), False),
    Case("interactive with notBefore", put(f"{S}.interactive", True), False),
    Case("timestamp without time zone", put(f"{S}.notBefore", "2026-01-10T08:00:00"), False),
    Case("timestamp as a date only", put(f"{S}.notBefore", "2026-01-10"), False),
    Case("timestamp month 13", put(f"{S}.notAfter", "2026-13-12T08:00:00Z"), False),
    Case("reservation id not a UUID", put(f"{S}.reservationIds", ["my-reservation"]), False),
    Case("reservation id in braces", put(f"{S}.reservationIds", ["{123e4567-e89b-12d3-a456-426614174000}"]), False),
    Case("timestamp as a Unix number", put(f"{S}.notBefore", 1767000000), False, oracle=STRICTER),
    Case("bucketMax zero", put(f"{S}.maxSimultaneousJobs", {"bucketName": "b", "bucketMax": 0}), False),
    Case("bucketName with a space", put(f"{S}.maxSimultaneousJobs", {"bucketName": "my bucket", "bucketMax": 1}),
         False),
    Case("restartable as a word", put(f"{S}.restartable", "maybe"), False),
    # YAML 1.2 reads an unquoted yes as the string "yes"; GPULab's model would coerce it to true
    Case("restartable as yes", put(f"{S}.restartable", "yes"), False, oracle=STRICTER),
    Case("minDuration longer than maxDuration", put(f"{S}.minDuration", "1 week"), False, oracle=STRICTER),
    Case("killableAfter (old name of minDuration)", rename(f"{S}.minDuration", "killableAfter"), False,
         oracle=STRICTER),
    # --- extra -----------------------------------------------------------------------------------
    Case("ecdsa ssh key", put(f"{X}.sshPubKeys", ["ecdsa-sha2-nistp256 AAAAE2VjZHNh me@laptop"]), False),
    Case("ssh key without key material", put(f"{X}.sshPubKeys", ["ssh-ed25519"]), False),
    Case("e-mail without @", put(f"{X}.emailOnEnd", ["me.example.com"]), False),
    Case("unknown notification", put(f"{X}.emailOnFailure", ["me@example.com"]), False),
]


def tool_verdict(job: dict[str, Any]) -> bool:
    return not schema.violations(job) and not list(job_violations(job))


def oracle_verdict(job: dict[str, Any]) -> bool:
    try:
        NewJobV4CLI.model_validate(job)
    except ValidationError:
        return False
    return True


def test_the_corpus_is_big_enough() -> None:
    assert len(CASES) >= 40
    assert len({case.id for case in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_verdict_matches_gpulab(case: Case) -> None:
    job = copy.deepcopy(case.base)
    case.edit(job)

    assert tool_verdict(job) is case.valid
    if case.oracle == AGREE:
        assert oracle_verdict(job) is case.valid
    else:
        assert oracle_verdict(job) is True, "GPULab accepts this; the tool is stricter on purpose"


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.id)
def test_compiled_predicate_agrees_with_jsonschema(case: Case) -> None:
    job = copy.deepcopy(case.base)
    case.edit(job)
    for submission in (False, True):
        reference = Draft202012Validator(schema._validator(submission=submission).schema).is_valid(job)
        assert schema.is_valid(job, submission=submission) is reference


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

    assert schema.submission_errors(job) == [
        "request.resources: 'cpuMemoryGb' is a required property",
        "request.resources.cpu_memory_gb: unknown key (did you mean `cpuMemoryGb`?)",
        "request.resources.gpus: 'two' is not of type 'integer'",
        "x-gpulab-apply: unknown key (allowed here: name, description, request, owner, deploymentEnvironment)",
    ]
    assert schema.submission_errors(FULL_JOB) == []


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
    assert schema.submission_errors(body) == []
    assert oracle_verdict(body)


def test_the_users_api_doc_example_needs_only_extra_moved() -> None:
    # the curl example of the user's GPULab API page, with a real image for <MYIMAGE>
    body = {"name": "test", "request": {
        "resources": {"cpus": 1, "gpus": 1, "cpuMemoryGb": 1, "minCudaVersion": 10, "clusterId": 9},
        "docker": {"image": "debian:stable", "storage": [{"hostPath": "/project"}]},
        "scheduling": {"interactive": False, "restartable": False}},
        "description": "test", "extra": {"emailOnRun": ["me@example.com"], "emailOnEnd": ["me@example.com"]}}
    assert schema.submission_errors(body) == ["extra: unknown key (extra belongs under request:)"]
    assert not oracle_verdict(body)

    body["request"]["extra"] = body.pop("extra")
    assert schema.submission_errors(body) == []
    assert oracle_verdict(body)
