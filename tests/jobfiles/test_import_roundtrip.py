"""Import is lossless and adoption is truthful, as properties over generated job shapes.

For every job GPULab serves: ``import`` then ``render`` gives the request GPULab stores (judged by GPULab's
own model, ``imecilabt-gpulab-common``, the test-only oracle, with the server's duration defaults), the
file holds no secret value, and the first ``plan`` after the import shows the job in sync once the
variables the import names are set. Real CLI, emulator over HTTP on loopback.
"""

from __future__ import annotations

import copy
import json
import os
import re
import string
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings
from hypothesis import strategies as st

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.emulator.config import EmulatorConfig
from gpulab_apply.errors import GpulabApplyError
from gpulab_apply.jobfiles.loader import read
from gpulab_apply.masking import MIN_TEXT_SECRET, Secrets, is_secret_name, mask_value
from gpulab_apply.reconcile.importing import SERVER_DURATIONS
from tests.conftest import RunCli
from tests.fidelity_corpus import SSH_KEY, UUID, cases, oracle_verdict, postable
from tests.fixtures.jobs import PROJECT_URN
from tests.harness import Repo

job2 = pytest.importorskip("imecilabt.gpulab.schemas.job2", reason="the test extra installs imecilabt-gpulab-common")



def test_the_server_duration_defaults_are_the_emulators() -> None:
    config = EmulatorConfig()
    assert {"minDuration": config.default_min_duration, "maxDuration": config.default_max_duration} == SERVER_DURATIONS


def gpulab_stores(job: Mapping[str, Any]) -> dict[str, Any]:
    """The request GPULab stores for ``job``: its model's reading, then the server's duration defaults."""
    body = {**copy.deepcopy(dict(job)), "owner": job.get("owner") or {"projectUrn": PROJECT_URN}}
    request: dict[str, Any] = job2.NewJobV4.model_validate(body).model_dump(mode="json", by_alias=True)["request"]
    for key, default in SERVER_DURATIONS.items():
        request["scheduling"][key] = request["scheduling"][key] or default
    return request


# --- generated job shapes ------------------------------------------------------------------------------

#: strings YAML, the variable syntax or a terminal could read as something else
TRICKY = ["", " ", "yes", "no", "null", "~", "1e3", "0x10", "0777", "2026-01-10", "- x", ": x", "#x", "&a", "*a",
          "!t", "%x", "@x", "`x", "|", ">", "{", "[", "'", '"', "a\tb", "x\n", "\nx", "a\n\nb\n", "\u2028",
          "\x85", "\ufeff", "é€𝄞", "${HOME}", "$${X}", "${{ matrix.a }}", "$", "${", "\x1b[31m", "bell\x07"]
TEXT = st.one_of(st.sampled_from(TRICKY), st.text(max_size=12),
                 st.lists(st.sampled_from(TRICKY), min_size=2, max_size=4).map("".join))
ENV_NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True).filter(
    lambda name: not is_secret_name(name) and not name.startswith("GPULAB_"))
SECRET_NAMES = st.sampled_from(["WANDB_API_KEY", "SECRET_TOKEN", "HF_TOKEN", "DB_PASSWORD", "api_key"])
SECRET_VALUES = st.text(alphabet=string.ascii_letters + string.digits + "!#%&()*+,-./:;<=>?@[]^_{|}~ \"'\\é",
                        min_size=6, max_size=20).map(lambda text: "s3cr" + text)
DURATIONS = st.sampled_from(["1 hour", "90 min", "2 days", "1 week", "2 weeks", "3 days", "10 weeks"])
EMAILS = st.lists(st.sampled_from(["me@example.com", "Jo <Jo@Example.COM>", "a.b@ugent.be"]), max_size=2)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(st.just(None), strategy)


@st.composite
def job_shapes(draw: st.DrawFn) -> dict[str, Any]:
    """A job GPULab's model accepts, each field present or not, in many forms."""

    def pick(**fields: st.SearchStrategy[Any]) -> dict[str, Any]:
        chosen = {key: draw(optional(strategy)) for key, strategy in fields.items()}
        return {key: value for key, value in chosen.items() if value is not None}

    resources = {"cpus": draw(st.integers(1, 64)), "gpus": draw(st.integers(0, 8)),
                 "cpuMemoryGb": draw(st.integers(1, 512)),
                 **pick(gpuMemoryGb=st.integers(2, 80), features=st.lists(st.sampled_from(["SSH_ACCESS", "PUBLIC_IPV4"]),
                                                                          max_size=2),
                        gpuModel=st.lists(st.sampled_from(["V100", "A100"]), max_size=2),
                        minCudaVersion=st.integers(0, 12), clusterId=st.integers(0, 9))}
    environment = draw(st.dictionaries(ENV_NAMES, st.one_of(TEXT, st.booleans(), st.integers(-5, 10**6)), max_size=5))
    environment.update(draw(st.dictionaries(SECRET_NAMES, SECRET_VALUES, max_size=2)))
    docker = {"image": draw(st.sampled_from(["debian:stable", "pytorch/pytorch:2.4.0", "gitlab.ilabt.imec.be:4567/p/i:1",
                                             "bot:s3cr-registry-pw@registry.example.com/team/img:2"])),
              **pick(command=st.one_of(TEXT, st.lists(TEXT, max_size=3),
                                       st.just("python train.py --token s3cr-cmd-token --lr 0.1")),
                     storage=st.lists(st.sampled_from(["/project_scratch", {"hostPath": "/project_ghent",
                                                                             "containerPath": "/project"},
                                                       {"hostPath": "tmpfs", "containerPath": "/r", "sizeGb": 2},
                                                       ".ssh"]), max_size=2, unique_by=json.dumps),
                     portMappings=st.lists(st.one_of(st.integers(1, 65535),
                                                     st.fixed_dictionaries({"containerPort": st.integers(1, 65535)})),
                                           max_size=2),
                     workingDir=st.sampled_from(["/project/", "/"]), groupAdd=st.just(["users"]),
                     user=st.sampled_from(["root", "jdoe"]), projectGidVariableName=st.just("NB_GID"))}
    if environment:
        docker["environment"] = environment
    interactive = draw(optional(st.booleans()))
    scheduling = pick(minDuration=DURATIONS, maxDuration=DURATIONS, restartable=st.booleans(),
                      allowHaltWithoutSignal=st.booleans(), reservationIds=st.just([UUID]),
                      maxSimultaneousJobs=st.just({"bucketName": "sweep1", "bucketMax": 3}))
    if interactive is not None:
        scheduling["interactive"] = interactive
    if not interactive and draw(st.booleans()):
        scheduling["notBefore"], scheduling["notAfter"] = "2027-01-10T08:00:00Z", "2027-01-12T08:00:00Z"
    extra = pick(emailOnEnd=EMAILS, emailOnRun=EMAILS, sshPubKeys=st.just([SSH_KEY]))
    request: dict[str, Any] = {"resources": resources, "docker": docker}
    for part, value in (("scheduling", scheduling), ("extra", extra)):
        if value or draw(st.booleans()):
            request[part] = value
    name = draw(st.one_of(TEXT, st.text(min_size=1, max_size=30), st.just("n" * 2000), st.just("train/a"),
                          st.just("_defaults"), st.just(".hidden"), st.just("../../PWNED")).filter(bool))
    job: dict[str, Any] = {"name": name, "owner": {"projectUrn": PROJECT_URN}, "request": request}
    description = draw(optional(TEXT))
    if description is not None:
        job["description"] = description
    assume(oracle_verdict(job, owner_required=True))
    return job


# --- the round trip ------------------------------------------------------------------------------------


def accepted(repo: Repo, jobs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The jobs the emulator accepts (it refuses a few forms GPULab's model reads, e.g. ``restartInfo``)."""
    kept = []
    with repo.client() as client:
        for job in jobs:
            try:
                client.submit({**job, "name": "probe"})
            except GpulabApplyError:
                continue
            kept.append(job)
    return kept


@pytest.fixture
def repo_in(emulator: RunningEmulator, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> Callable[[Path], Repo]:
    """A fresh job repository in a directory, entered, for one example (the working directory is restored after
    the test)."""
    monkeypatch.chdir(tempfile.gettempdir())

    def enter(directory: Path) -> Repo:
        os.chdir(directory)
        return Repo(directory, emulator, cli, version="4.0")

    return enter


def variables_of(written: Mapping[str, Any], job: Mapping[str, Any]) -> dict[str, str]:
    """The ``${VAR}`` references an imported file makes for ``job``'s secrets, with the values they stand for."""
    found: dict[str, str] = {}
    docker, wrote = job["request"]["docker"], written["request"]["docker"]
    for key, value in (wrote.get("environment") or {}).items():
        if isinstance(value, str) and (reference := re.fullmatch(r"\$\{(\w+)\}", value)):
            found[reference[1]] = docker["environment"][key]
    if (reference := re.match(r"[^:]+:\$\{(\w+)\}@", wrote["image"])):
        found[reference[1]] = docker["image"].split(":", 1)[1].split("@", 1)[0]
    if isinstance(wrote.get("command"), str) and (reference := re.search(r"--token \$\{(\w+)\}", wrote["command"])):
        found[reference[1]] = "s3cr-cmd-token"
    return found


def round_trip(repo: Repo, jobs: list[dict[str, Any]]) -> None:
    """Submit ``jobs`` by hand, import them, and check render, the files and the first plan."""
    with repo.client() as client:
        uuids = [client.submit(job) for job in jobs]
    imported = repo("import", *uuids) if len(uuids) < 50 else repo("import", "c*")
    assert imported.exit_code == 0, imported
    assert f"Imported {len(jobs)} job(s) into {len(jobs)} file(s)" in imported.stdout
    files = sorted((repo.jobs / "imported").iterdir())
    assert len(files) == len(jobs) and all(path.suffix == ".yaml" for path in files)
    written = {data["x-gpulab-apply"]["adopt"]["uuid"]: (data, path.read_text(encoding="utf-8"))
               for path in files for data in [read(path.as_posix()).documents[0].data]}
    environment: dict[str, str] = {}
    texts = {uuid: text for uuid, (_, text) in written.items()}
    for job, uuid in zip(jobs, uuids, strict=True):
        found = variables_of(written[uuid][0], job)
        for value in found.values():  # a secret never reaches a file meant for git (a 2-letter one may as text)
            assert len(value) < MIN_TEXT_SECRET or value not in texts[uuid]
        assert all(environment.get(name, value) == value for name, value in found.items())
        environment.update(found)
    rendered = repo.cli("render", "--format", "json", env=environment)
    assert rendered.exit_code == 0, rendered
    by_name = {item["name"]: item["job"] for item in json.loads(rendered.stdout)["jobs"]}
    rendered_secrets = Secrets(environment.values())
    with repo.client() as client:
        stored_jobs = {uuid: client.get_job(uuid).raw for uuid in uuids}
    for job, uuid in zip(jobs, uuids, strict=True):
        stored = stored_jobs[uuid]
        got = by_name[job["name"]]
        # render masks what the files take from the environment, as every output does: so is GPULab's copy here
        expected = json.loads(rendered_secrets.mask(json.dumps(mask_value(dict(stored["request"]), ("request",)),
                                                                indent=2)))
        assert gpulab_stores(got) == expected
        assert got.get("description") == stored.get("description")
        assert got["name"] == stored["name"]
    planned = repo("plan", "jobs.d", "--detailed-exitcode", env=environment)
    assert planned.exit_code == 0, planned
    assert f"Unchanged: {len(jobs)} in sync or done." in planned.stdout


#: each example runs the CLI four times: 25 in CI, a quarter of the profile's count in a long campaign
EXAMPLES = 25 if settings().max_examples <= 40 else settings().max_examples // 4


# no shrinking: shrinking a batch took minutes
@pytest.mark.slow
@settings(max_examples=EXAMPLES, phases=(Phase.explicit, Phase.generate), suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(st.lists(job_shapes(), min_size=1, max_size=4, unique_by=lambda job: job["name"]))
def test_import_then_render_gives_the_request_gpulab_stores(repo_in: Callable[[Path], Repo],
                                                            jobs: list[dict[str, Any]]) -> None:
    with tempfile.TemporaryDirectory() as scratch:
        round_trip(repo_in(Path(scratch)), jobs)


def _huge_integer(value: object) -> bool:
    if isinstance(value, dict):
        return any(_huge_integer(item) for item in value.values())
    if isinstance(value, list):
        return any(_huge_integer(item) for item in value)
    return isinstance(value, int) and not isinstance(value, bool) and not -(2**63) <= value < 2**64


@pytest.mark.slow
def test_every_job_of_the_fidelity_corpus_round_trips(repo_in: Callable[[Path], Repo], tmp_path: Path) -> None:
    """Every form of every field GPULab's model accepts (the corpus of tests/fidelity_corpus.py), at once."""
    jobs = []
    for index, case in enumerate(cases()):
        # job files hold integers of at most 64 bits (docs/validate.md#limits): an import of a larger one is refused
        if (postable(case) and oracle_verdict(case.job, owner_required=True) and isinstance(case.job.get("name"), str)
                and not _huge_integer(case.job)):
            # in the configured project: which projects import lists is the workspace's business, not this test's
            jobs.append({**copy.deepcopy(case.job), "name": f"c{index}-{case.job['name']}"[:80],
                         "owner": {"projectUrn": PROJECT_URN}})
    repo = repo_in(tmp_path)
    jobs = accepted(repo, jobs)
    assert len(jobs) > 500  # README, Reliability
    round_trip(repo, jobs)
