"""Fidelity: what the emulator serves under /v4.0/ parses with GPULab's own (GPL, test-only) schema package."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from gpulab_apply.emulator import RunningEmulator
from tests.emulator.test_api import TIMEOUT, put_status, submit
from tests.fixtures.jobs import PROJECT_URN, make_job

job2 = pytest.importorskip("imecilabt.gpulab.schemas.job2", reason="the test extra installs imecilabt-gpulab-common")
job_event = pytest.importorskip("imecilabt.gpulab.schemas.job_event")
slave_info2 = pytest.importorskip("imecilabt.gpulab.schemas.slave_info2")

FULL_JOB = {
    "name": "train-resnet",
    "description": "seed 1",
    "owner": {"projectUrn": PROJECT_URN},
    "deploymentEnvironment": "production",
    "request": {
        "resources": {"cpus": 4, "gpus": 1, "cpuMemoryGb": 16, "gpuMemoryGb": 8, "gpuModel": ["1080"],
                      "minCudaVersion": 11, "clusterId": 1, "features": ["SHARED_PROJECT_STORAGE"]},
        "docker": {
            "image": "gitlab.ilabt.imec.be:4567/myproj/img:1.0",
            "command": ["/project/run.sh", "--seed", "1"],
            "environment": {"PYTHONUNBUFFERED": "1", "SEED": 1, "DEBUG": False, "GPULAB_EMULATOR_RUNTIME": "1 min"},
            "storage": [{"hostPath": "/project_ghent", "containerPath": "/project"}, "/project_scratch",
                        {"hostPath": "tmpfs", "containerPath": "/ramdisk", "sizeGb": 4}],
            "portMappings": [8888, {"containerPort": 6006}],
            "projectGidVariableName": "NB_GID", "workingDir": "/project/", "user": "root", "groupAdd": ["users"],
        },
        "scheduling": {"interactive": False, "restartable": True, "allowHaltWithoutSignal": False,
                       "minDuration": "1 day", "maxDuration": "3 days",
                       "reservationIds": ["123e4567-e89b-12d3-a456-426614174000"],
                       "maxSimultaneousJobs": {"bucketName": "sweep1", "bucketMax": 3},
                       "notBefore": "2026-01-05T08:00:00Z", "notAfter": "2026-01-12T08:00:00Z"},
        "extra": {"sshPubKeys": ["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx0dGVzdGtleWZvcnRoZWVtdWxhdG9yMTIzNDU2 me@x"],
                  "emailOnEnd": ["me@example.com"], "emailOnHalt": ["me@example.com"]},
    },
}


def parse_all(emulator: RunningEmulator) -> set[str]:
    """Parse every job the emulator has (listing, then one by one); return the statuses seen."""
    response = requests.get(emulator.api_root("4.0") + "jobs", timeout=TIMEOUT, params={
        "page_size": 1000, "allowed_states": ",".join(status.name for status in job2.JobStatus)})
    seen = set()
    for item in response.json()["items"]:
        seen.add(job2.Job.model_validate(item).state.status.name)
        text = requests.get(emulator.api_root("4.0") + f"jobs/{item['uuid']}", timeout=TIMEOUT).text
        assert job2.Job.model_validate_json(text).id == item["uuid"]  # as `gpulab-cli jobs <uuid>` reads it
    return seen


@pytest.mark.slow
def test_every_v4_job_parses_with_the_official_job_model(emulator: RunningEmulator) -> None:
    seen: set[str] = set()
    submit(emulator, make_job("held", project_urn=PROJECT_URN), version="4.0", hold=True)
    submit(emulator, make_job("never", gpus=5, project_urn=PROJECT_URN), version="4.0")
    submit(emulator, FULL_JOB, version="4.0")
    halted = submit(emulator, make_job("halt", runtime="1 hour", restartable=True, project_urn=PROJECT_URN),
                    version="4.0")
    submit(emulator, make_job("fail", runtime="10 s", exit_code=1, project_urn=PROJECT_URN), version="4.0")
    submit(emulator, make_job("quick", runtime="5 s", project_urn=PROJECT_URN), version="4.0")
    cancelled = submit(emulator, make_job("cancel", project_urn=PROJECT_URN), version="4.0")
    put_status(emulator, cancelled, "CANCELLED")
    for _ in range(40):  # one listing per simulated second: every status passes by
        emulator.advance(1)
        if emulator.clock.now() % 60 == 30:
            put_status(emulator, halted, "MUSTHALT")
        seen |= parse_all(emulator)
    finished = [job["uuid"] for job in requests.get(emulator.api_root() + "jobs", params={"finished": "true"},
                                                    timeout=TIMEOUT).json()]
    requests.delete(emulator.api_root() + f"jobs/{finished[0]}", params={"finished": "true"}, timeout=TIMEOUT)
    seen |= parse_all(emulator)
    assert seen == {status.name for status in job2.JobStatus} - {"CANCELLING"}


def test_full_job_round_trips_through_the_official_model(emulator: RunningEmulator) -> None:
    uuid = submit(emulator, FULL_JOB, version="4.0")
    emulator.advance(20)
    served = requests.get(emulator.api_root("4.0") + f"jobs/{uuid}", timeout=TIMEOUT).json()
    expected = job2.NewJobV4.model_validate(FULL_JOB).model_dump(mode="json", by_alias=True)
    assert served["request"] == expected["request"]
    parsed = job2.Job.model_validate(served)
    assert parsed.state.status.name == "RUNNING"
    assert [m.host_port for m in parsed.state.resources.port_mappings] == [32000, 32001]


def test_cancelling_parses_too(tmp_path: object) -> None:
    from gpulab_apply.emulator import EmulatorConfig, serve_in_thread

    with serve_in_thread(config=EmulatorConfig(clock="manual", cancel_seconds=5)) as emulator:
        uuid = submit(emulator, make_job(project_urn=PROJECT_URN), version="4.0")
        emulator.advance(20)
        put_status(emulator, uuid, "CANCELLED")
        job = job2.Job.model_validate_json(
            requests.get(emulator.api_root("4.0") + f"jobs/{uuid}", timeout=TIMEOUT).text)
        assert job.state.status.name == "CANCELLING"
        emulator.advance(5)
        assert requests.get(emulator.api_root("4.0") + f"jobs/{uuid}",
                            timeout=TIMEOUT).json()["state"]["status"] == "CANCELLED"


def test_debug_slaves_and_clusters_parse(emulator: RunningEmulator) -> None:
    uuid = submit(emulator, FULL_JOB, version="4.0")
    emulator.advance(20)
    root = emulator.api_root("4.0")
    events = [job_event.JobEvent.model_validate(e)
              for e in requests.get(root + f"jobs/{uuid}/debug", timeout=TIMEOUT).json()]
    assert [e.new_state.name for e in events] == ["QUEUED", "ASSIGNED", "STARTING", "RUNNING"]
    slaves = [slave_info2.SlaveInfo2.model_validate(s) for s in requests.get(root + "slaves", timeout=TIMEOUT).json()]
    assert [s.name for s in slaves] == ["gpu1", "gpu2"]
    clusters = [slave_info2.ClusterInfo.model_validate(c)
                for c in requests.get(root + "clusters", timeout=TIMEOUT).json()]
    assert clusters[0].gpu.used == 1


@pytest.mark.slow
def test_emulator_gives_gpulabs_verdict_and_serves_only_jobs_gpulab_can_parse(emulator: RunningEmulator) -> None:
    from tests.fidelity_corpus import cases, oracle_verdict, postable
    from tests.jobmodel.test_schema_corpus import KNOWN_DIFFERENCES

    differences = []
    accepted: dict[str, dict[str, object]] = {}
    with requests.Session() as session:
        for case in filter(postable, cases()):
            response = session.post(emulator.api_root("4.0") + "jobs", json=case.job, timeout=TIMEOUT)
            assert response.status_code in (200, 400), (case.id, response.text)
            if response.status_code == 200:
                accepted[response.text] = case.job
            if (response.status_code == 200) is not oracle_verdict(case.job, owner_required=True):
                differences.append(case.id)
    assert set(differences) == KNOWN_DIFFERENCES
    emulator.advance(30)
    items = requests.get(emulator.api_root("4.0") + "jobs", timeout=TIMEOUT, params={
        "page_size": 2000, "allowed_states": ",".join(status.name for status in job2.JobStatus)}).json()["items"]
    assert len(items) == len(accepted)
    for item in items:  # what `gpulab-cli jobs` parses: one bad job fails the whole listing
        job2.Job.model_validate(item)
        # stored as GPULab stores it; only the server's duration defaults (and a duration's final newline,
        # which the emulator drops as the canonical form does) come on top
        expected = job2.NewJobV4.model_validate(accepted[item["uuid"]]).model_dump(mode="json", by_alias=True)
        scheduling = expected["request"]["scheduling"]
        for key in ("minDuration", "maxDuration"):
            scheduling[key] = (scheduling[key] or item["request"]["scheduling"][key]).removesuffix("\n")
        assert item["request"] == expected["request"], item["name"]


def test_every_shipped_example_runs_on_the_default_cluster(tmp_path: object) -> None:
    from pathlib import Path

    from ruamel.yaml import YAML

    from gpulab_apply.emulator import EmulatorConfig, serve_in_thread

    examples = sorted(Path(__file__).resolve().parents[2].joinpath("jobs.d").glob("*.yaml"))
    assert len(examples) >= 3
    with serve_in_thread(config=EmulatorConfig(clock="manual")) as emulator:  # the default cluster
        clusters = {c["clusterId"] for c in requests.get(emulator.api_root("4.0") + "clusters", timeout=TIMEOUT).json()}
        assert len(clusters) >= 3
        uuids = {}
        for path in examples:
            job = YAML(typ="safe", pure=True).load(path.read_text(encoding="utf-8"))
            job.pop("x-gpulab-apply", None)
            job.setdefault("owner", {"projectUrn": PROJECT_URN})
            uuids[path.name] = submit(emulator, job, version="4.0")
        emulator.advance(30)
        for name, uuid in uuids.items():
            served = requests.get(emulator.api_root("4.0") + f"jobs/{uuid}", timeout=TIMEOUT).json()
            assert served["state"]["status"] == "RUNNING", (name, served["state"]["scheduling"]["queuedExplanations"])
            job2.Job.model_validate(served)


@pytest.mark.slow
def test_the_official_cli_lists_every_job_the_emulator_accepted(tls_emulator: RunningEmulator, login_pem: object,
                                                                 ca_file: object, tmp_path: object) -> None:
    # GPULab's own CLI parses the whole listing with its Job model: one job it cannot parse fails it all
    from tests.emulator.test_official_cli import GPULAB_CLI
    from tests.fidelity_corpus import cases, oracle_verdict, postable

    if not GPULAB_CLI.exists():
        pytest.skip(f"the official GPULab CLI is not installed at {GPULAB_CLI}")
    import os
    import subprocess

    accepted = [case for case in cases() if postable(case) and oracle_verdict(case.job, owner_required=True)]
    with requests.Session() as session:
        session.cert = str(login_pem)
        for case in accepted[::5]:  # a fifth of them: every field still appears, at a fifth of the cost
            # verify= on each call: REQUESTS_CA_BUNDLE would override a Session's (psf/requests#3829)
            response = session.post(tls_emulator.api_root("4.0") + "jobs", json=case.job, verify=str(ca_file),
                                    timeout=TIMEOUT)
            assert response.status_code == 200, (case.id, response.text)
    tls_emulator.advance(30)
    home = Path(str(tmp_path)) / "home"
    home.mkdir()
    result = subprocess.run(
        [str(GPULAB_CLI), "--cert", str(login_pem), "--custom-master-url", tls_emulator.base_url, "jobs", "-c", "200"],
        capture_output=True, text=True, timeout=120, check=False,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "REQUESTS_CA_BUNDLE": str(ca_file)})
    assert result.returncode == 0 and "Could not parse" not in result.stdout + result.stderr, result.stderr
    assert result.stdout.count("\n") > len(accepted[::5])  # a header line and one line per job
