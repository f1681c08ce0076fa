"""The one normal form agrees with GPULab's own model (the test-only oracle) on how a job is read and stored."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from gpulab_apply.jobmodel.normal_form import canonical_job, normal_request
from gpulab_apply.reconcile.diff import normal_request as normalise_request

job2 = pytest.importorskip("imecilabt.gpulab.schemas.job2", reason="the test extra installs imecilabt-gpulab-common")

BASE: dict[str, Any] = {"name": "n", "owner": {"projectUrn": "urn:publicid:IDN+ilabt.imec.be+project+p"},
                        "request": {"resources": {"cpus": 1, "gpus": 0, "cpuMemoryGb": 2},
                                    "docker": {"image": "debian:stable"}}}

LAX_JOBS: list[dict[str, Any]] = [
    {"resources": {"cpus": "4", "gpus": True, "cpu_memory_gb": 4.0, "gpuModel": "V100", "features": ["SSH_ACCESS"]}},
    {"docker": {"image": "x", "storage": [".ssh", {"containerPath": "/root/.ssh"}, "PROJECT_SHARE_AUTO", "",
                                          {"hostPath": "tmpfs", "containerPath": "/r", "size_gb": "2"},
                                          {"host_path": "tmpfs", "containerPath": "/t"}],
                "portMappings": [8888, True, {"containerPort": "80", "hostPort": 8080}],
                "environment": {"A": 1.0, "B": "x", "C": False}, "groupAdd": None, "command": "echo hi"}},
    {"scheduling": {"interactive": "no", "killableAfter": "1 h", "reservationId": "123e4567-e89b-12d3-a456-"
                    "426614174000", "notBefore": "2026-01-10T08:00+0200", "notAfter": 1797000000000,
                    "max_duration": "3 DAYS", "restartable": 1, "allowHaltWithoutSignal": "off"}},
    {"scheduling": {"notBefore": "2026-01-10t08:00:00.5z", "notAfter": "2026-01-12 08:00:00+01:00"},
     "extra": {"emailOnEnd": ["Jo <Jo@Example.COM>", " me@example.com "], "ssh_pub_keys": ["ssh-rsa AAA x"]}},
]


def _job(request_part: dict[str, Any]) -> dict[str, Any]:
    job = copy.deepcopy(BASE)
    job["request"].update(copy.deepcopy(request_part))
    return job


@pytest.mark.parametrize("part", LAX_JOBS, ids=range(len(LAX_JOBS)))
def test_normal_form_is_what_gpulab_stores(part: dict[str, Any]) -> None:
    job = _job(part)
    expected = job2.NewJobV4.model_validate(job).model_dump(mode="json", by_alias=True)
    assert normal_request(job["request"], fill_defaults=True) == expected["request"]
    canonical = canonical_job(job)
    assert canonical.rewrites  # each of these jobs has a non-canonical form
    assert job2.NewJobV4.model_validate(canonical.job).model_dump(mode="json", by_alias=True) == expected
    again = canonical_job(canonical.job)
    assert again.job == canonical.job and again.rewrites == []  # canonical is a fixed point


def test_normal_form_is_idempotent_and_keeps_absent_fields_absent() -> None:
    once = normal_request(_job(LAX_JOBS[1])["request"])
    assert normal_request(once) == once
    assert "scheduling" not in once and "gpuMemoryGb" not in once["resources"]


def test_rewrites_point_at_what_was_written() -> None:
    canonical = canonical_job(_job(LAX_JOBS[0]))
    assert canonical.source_path(("request", "resources", "cpuMemoryGb")) == ("request", "resources", "cpu_memory_gb")
    assert canonical.source_path(("request", "resources", "gpuModel", 0)) == ("request", "resources", "gpuModel")
    assert canonical.source_path(("request", "resources", "cpus")) == ("request", "resources", "cpus")


@pytest.mark.parametrize("path", sorted(Path("jobs.d").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_examples_have_no_phantom_differences(path: Path) -> None:
    job = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
    job.pop("x-gpulab-apply", None)
    job.setdefault("owner", BASE["owner"])
    stored = job2.NewJobV4.model_validate(job).model_dump(mode="json", by_alias=True)["request"]
    # what the planner compares: each field the file sets against the one GPULab serves back
    desired = normalise_request(job["request"])
    for section, fields in desired.items():
        for name, value in fields.items():
            assert stored[section][name] == value, f"{section}.{name}"


def test_a_non_canonical_spelling_is_never_a_change(tmp_path: Path) -> None:
    from gpulab_apply.jobfiles.validation import validate_paths
    from gpulab_apply.reconcile.marker import spec_hash

    text = "name: a\nrequest:\n  resources: {{cpus: {cpus}, gpus: 0, {memory}: 2}}\n  docker: {{image: debian}}\n" \
           "  scheduling: {{interactive: {interactive}}}\n"
    (tmp_path / "canonical.yaml").write_text(text.format(cpus=4, memory="cpuMemoryGb", interactive="false"))
    (tmp_path / "lax.yaml").write_text(text.format(cpus='"4"', memory="cpu_memory_gb", interactive="no"))
    canonical, lax = (validate_paths([tmp_path / name]) for name in ("canonical.yaml", "lax.yaml"))
    assert canonical.ok and lax.ok and len(lax.problems) == 3  # three warnings
    assert lax.jobs[0].job == canonical.jobs[0].job  # submitted as written canonically
    assert spec_hash(lax.jobs[0].job) == spec_hash(canonical.jobs[0].job)
