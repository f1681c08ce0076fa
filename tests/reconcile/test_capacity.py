"""Capacity in the plan (docs/capacity.md): the inventory the emulator serves, the check's verdicts, and the
emulator's scheduler agreeing with them, through HTTP and the real CLI."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from imecilabt.gpulab.schemas import slave_info2

from gpulab_apply.emulator import EmulatorConfig, NodeConfig, RunningEmulator, serve_in_thread
from gpulab_apply.emulator.cluster import new_record
from gpulab_apply.emulator.config import default_cluster
from gpulab_apply.emulator.scheduler import NO_MATCHING_NODE, NodeUse
from gpulab_apply.emulator.submission import normalise
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.gpulab.inventory import Inventory, read_inventory
from gpulab_apply.model import JobSpec
from gpulab_apply.problems import Location
from gpulab_apply.reconcile.capacity import Verdict, check_capacity
from tests.conftest import RunCli

LOCAL = "urn:publicid:IDN+ilabt.imec.be+project+local"
OTHER = "urn:publicid:IDN+ilabt.imec.be+project+other"
#: the default GPULab-like mix plus a private cluster 12 open only to project ``other``, with its own storage
NODES = (*default_cluster(), NodeConfig(name="p100-1", cluster_id=12, allowed_projects=(OTHER,),
                                        storage_paths=("/project_other/",)))
CONFIG = EmulatorConfig(clock="manual", nodes=NODES)
TIMEOUT = 10
#: queued -> assigned -> starting -> running in the emulator's default timing, with room to spare
TO_RUNNING = 20


@pytest.fixture
def lab() -> Iterator[RunningEmulator]:
    with serve_in_thread(config=CONFIG, fault_seed=0) as running:
        yield running


def inventory_of(emulator: RunningEmulator) -> Inventory:
    with GpulabClient(emulator.api_root("4.0"), api_version="4.0") as client:
        return read_inventory(client)


def request(*, storage: list[Any] | None = None, **resources: Any) -> dict[str, Any]:
    return {"resources": {"cpus": 1, "gpus": 1, "cpuMemoryGb": 4, **resources},
            "docker": {"image": "debian:stable", "command": "train.sh", "storage": storage or []}}


def spec(name: str, body: Mapping[str, Any], project: str = LOCAL) -> JobSpec:
    job = {"name": name, "request": dict(body), "owner": {"projectUrn": project}}
    return JobSpec(name=name, job=job, location=Location(f"jobs.d/{name}.yaml", 1, 1))


@pytest.mark.parametrize("version", ["3.1", "4.0"])
def test_clusters_and_slaves_parse_with_gpulabs_own_models(lab: RunningEmulator, version: str) -> None:
    root = lab.api_root(version)
    slaves = [slave_info2.SlaveInfo2.model_validate(s) for s in requests.get(root + "slaves", timeout=TIMEOUT).json()]
    clusters = {c.cluster_id: c for c in (slave_info2.ClusterInfo.model_validate(c)
                                          for c in requests.get(root + "clusters", timeout=TIMEOUT).json())}
    assert sorted(clusters) == [1, 4, 7, 9, 12]
    assert clusters[12].is_private and clusters[12].allowed_projects == [OTHER]
    assert clusters[7].allowed_projects is None and not clusters[7].is_private
    by_name = {slave.name: slave for slave in slaves}
    assert by_name["p100-1"].storage_paths_available == ["/project_other/"]
    assert by_name["a100-2"].gpu_model[0].memory_mb == 80 * 1024 and by_name["a100-2"].cuda_version_major == 12


#: one impossible request of each kind, and the words the error must hold (the nearest node, what it lacks)
IMPOSSIBLE = {
    "gpus": (request(gpus=8, gpuModel=["A100"]), ("needs 8 \N{MULTIPLICATION SIGN} A100 on one node; the nearest node, "
             "a100-2 (cluster 7), offers 4")),
    "gpu-memory": (request(gpuMemoryGb=100), "needs 100 GB per GPU; the nearest node, h100-1 (cluster 9), offers 80 GB"),
    "cpu-memory": (request(cpuMemoryGb=2000), ("needs 2000 GB of CPU memory; the nearest node, h100-1 (cluster 9), "
                   "offers 1024 GB")),
    "tmpfs": (request(cpuMemoryGb=1000, storage=[{"hostPath": "tmpfs", "containerPath": "/scratch", "sizeGb": 100}]),
              "needs 1100 GB of CPU memory"),
    "cpus": (request(cpus=200), "needs 200 CPUs; the nearest node, h100-1 (cluster 9), offers 96"),
    "cuda": (request(minCudaVersion=13), "needs CUDA 13 or later; the nearest node, h100-1 (cluster 9), has CUDA 12"),
    "host-path": (request(storage=["/project_mars"]), "needs host path /project_mars/; the nearest node, h100-1"),
    "no-such-cluster": (request(clusterId=99), "needs cluster 99, which does not exist (clusters: 1, 4, 7, 9, 12)"),
    "cluster-not-allowed": (request(clusterId=12), ("needs project local; the nearest node, p100-1 (cluster 12), is "
                            "open only to project(s) other")),
    "gpu-model": (request(gpuModel=["B200"]), "needs a GPU model matching B200; the nearest node"),
    "node": (request(slaveName="gpu99"), "needs node gpu99, which GPULab does not list"),
}


@pytest.mark.parametrize("kind", sorted(IMPOSSIBLE))
def test_an_impossible_request_is_an_error_naming_the_nearest_node_and_never_starts(lab: RunningEmulator,
                                                                                    kind: str) -> None:
    body, words = IMPOSSIBLE[kind]
    [finding] = check_capacity([spec("big", body)], inventory_of(lab), project_urn=None)
    assert finding.verdict is Verdict.IMPOSSIBLE and finding.is_error
    assert words in finding.message, finding.message
    # the emulator agrees: submitted anyway, it waits forever, saying no node matches
    response = requests.post(lab.api_root("4.0") + "jobs", timeout=TIMEOUT,
                             json={"name": "big", "request": body, "owner": {"projectUrn": LOCAL}})
    assert response.status_code == 200, response.text
    lab.advance(3600)
    job = requests.get(lab.api_root("4.0") + f"jobs/{response.text}", timeout=TIMEOUT).json()
    assert job["state"]["status"] == "QUEUED"
    assert job["state"]["scheduling"]["queuedExplanations"] == [NO_MATCHING_NODE]


def test_the_same_request_in_the_allowed_project_is_possible(lab: RunningEmulator) -> None:
    inventory = inventory_of(lab)
    assert check_capacity([spec("mine", request(clusterId=12, storage=["/project_other/data"]), OTHER)],
                          inventory, project_urn=None) == ()


def test_a_feasible_request_on_a_busy_cluster_gets_a_note_with_what_is_free(lab: RunningEmulator) -> None:
    for index in range(2):  # fill v100-1 (4 GPUs) with two jobs of 2 GPUs
        requests.post(lab.api_root("4.0") + "jobs", timeout=TIMEOUT, json={
            "name": f"busy{index}", "request": request(gpus=2, gpuModel=["V100"]), "owner": {"projectUrn": LOCAL}})
    lab.advance(TO_RUNNING)
    [note] = check_capacity([spec("later", request(gpus=2, gpuModel=["V100"]))], inventory_of(lab), project_urn=None)
    assert note.verdict is Verdict.WAITS and not note.is_error
    assert note.message == "needs 2 \N{MULTIPLICATION SIGN} V100 on one node; 0 GPUs free now on cluster 4, 4 in use"


def test_jobs_of_one_plan_take_the_room_in_turn(lab: RunningEmulator) -> None:
    """Two jobs that each fit alone but not together: the second gets the note."""
    jobs = [spec(f"v{index}", request(gpus=3, gpuModel=["V100"])) for index in range(2)]
    [note] = check_capacity(jobs, inventory_of(lab), project_urn=None)
    assert note.name == "v1" and note.verdict is Verdict.WAITS
    assert "1 GPUs free now on cluster 4, 3 in use" in note.message


# --- plan and emulator agree (docs/capacity.md#the-rule) -----------------------------------------------------

PATHS = ("/project_ghent", "/project_scratch/run", "/project_antwerp/x", "/project_other", "/project_mars",
         "PROJECT_SHARE_AUTO", ".ssh")


def sometimes(values: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """A constraint set in about a third of the requests (None: not set), so both verdicts are common."""
    return st.one_of(st.none(), st.none(), values)


@st.composite
def jobs_strategy(draw: st.DrawFn) -> tuple[dict[str, Any], list[str], str]:
    """A request (mostly sizes some node has, sometimes more), its host paths and its project."""
    resources = {"cpus": draw(st.one_of(st.integers(1, 32), st.integers(1, 128))),
                 "gpus": draw(st.one_of(st.integers(0, 4), st.integers(0, 9))),
                 "cpuMemoryGb": draw(st.one_of(st.integers(1, 128), st.integers(1, 1200)))}
    optional = {"gpuModel": sometimes(st.lists(st.sampled_from(["V100", "A100", "a100-sxm4-80", "H100", "1080",
                                                                 "B200"]), min_size=1, max_size=2)),
                "gpuMemoryGb": sometimes(st.integers(2, 100)), "minCudaVersion": sometimes(st.integers(10, 13)),
                "clusterId": sometimes(st.sampled_from([1, 4, 7, 9, 12, 99])),
                "slaveName": sometimes(st.sampled_from(["a100-1", "gpu2", "gpu9"]))}
    for key, values in optional.items():
        if (value := draw(values)) is not None:
            resources[key] = value
    paths = draw(st.lists(st.sampled_from(PATHS), max_size=2, unique=True))
    return resources, paths, draw(st.sampled_from([LOCAL, LOCAL, OTHER]))


@pytest.fixture(scope="module")
def inventory() -> Iterator[Inventory]:
    with serve_in_thread(config=CONFIG) as running:
        yield inventory_of(running)


def starts_on_an_empty_cluster(body: Mapping[str, Any], project: str) -> bool:
    """Whether the emulator's scheduler places the job (its own code: normalise, record, place)."""
    from gpulab_apply.emulator.cluster import Cluster

    submission = normalise({"name": "j", "request": body, "owner": {"projectUrn": project}}, default_project_urn=None,
                           default_runtime="1 min", default_min_duration="1 hour", default_max_duration="1 day")
    record = new_record(name="j", description=None, request=submission.request, project_urn=project,
                        user_urn="urn:publicid:IDN+ilabt.imec.be+user+me", user_email="me@example.org",
                        simulation=submission.simulation, now=0.0)
    cluster = Cluster(CONFIG)
    use = {name: NodeUse(node) for name, node in cluster.nodes.items()}
    return cluster._place(record, use, {}) is not None and cluster._could_ever_fit(record)


@pytest.mark.slow
@settings(max_examples=200)
@given(job=jobs_strategy())
def test_plan_and_emulator_agree_on_generated_requests(inventory: Inventory,
                                                       job: tuple[dict[str, Any], list[str], str]) -> None:
    resources, paths, project = job
    body = request(storage=list(paths), **resources)
    findings = check_capacity([spec("j", body, project)], inventory, project_urn=None)
    impossible = any(finding.is_error for finding in findings)
    assert starts_on_an_empty_cluster(body, project) is not impossible, findings


# ``cli`` is a stateless function, so sharing it between examples is safe
@pytest.mark.slow
@settings(max_examples=6, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(job=jobs_strategy())
def test_plan_and_emulator_agree_through_the_cli(tmp_path_factory: pytest.TempPathFactory, cli: RunCli,
                                                 job: tuple[dict[str, Any], list[str], str]) -> None:
    """The verdict ``plan --format json`` gives, and what the emulator does with the job ``apply`` submits."""
    resources, paths, project = job
    root = tmp_path_factory.mktemp("cli")
    (root / "jobs.d").mkdir()
    body = {"name": "j", "request": request(storage=list(paths), **resources), "owner": {"projectUrn": project}}
    (root / "jobs.d" / "j.json").write_text(json.dumps(body))
    with serve_in_thread(config=CONFIG) as emulator:
        connection = ["--endpoint", emulator.api_root("4.0"), "--set", "lab"]
        planned = cli("plan", str(root / "jobs.d"), "--format", "json", *connection)
        assert planned.exit_code == 0, planned
        [finding] = json.loads(planned.stdout)["capacity"] or [{"verdict": "possible"}]
        applied = cli("apply", str(root / "jobs.d"), "--yes", *connection)
        assert applied.exit_code == (3 if finding["verdict"] == "impossible" else 0), applied
        if finding["verdict"] == "impossible":
            return  # refused: nothing was submitted (the property test above runs the scheduler on it)
        emulator.advance(TO_RUNNING)
        with GpulabClient(emulator.api_root("4.0"), api_version="4.0") as client:
            [remote] = client.list_jobs()
        assert remote.status.name == "RUNNING", remote.raw["state"]


# --- the CLI: every format, the guard, --skip-impossible, --no-capacity, validate offline ----------------------

def write_jobs(root: Path) -> Path:
    jobs = root / "jobs.d"
    jobs.mkdir()
    (jobs / "small.json").write_text(json.dumps({"name": "small", "request": request()}))
    (jobs / "big.json").write_text(json.dumps({"name": "big", "request": request(gpus=8, gpuModel=["A100"])}))
    return jobs


@pytest.mark.parametrize(("fmt", "expected"), [
    ("text", ("Can never start: big (jobs.d/big.json:1:1): needs 8 \N{MULTIPLICATION SIGN} A100 on one node; the "
             "nearest node, a100-2 (cluster 7), offers 4")),
    ("markdown", "> **Can never start:** big: needs 8 \N{MULTIPLICATION SIGN} A100 on one node"),
    ("github", "::error file=jobs.d/big.json,line=1,col=1,title=gpulab-apply capacity::Can never start: big: needs"),
    ("json", '"verdict": "impossible"'),
])
def test_plan_shows_capacity_errors_in_every_format(lab: RunningEmulator, cli: RunCli, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch, fmt: str, expected: str) -> None:
    monkeypatch.chdir(tmp_path)
    write_jobs(tmp_path)
    planned = cli("plan", "jobs.d", "--format", fmt, "--endpoint", lab.api_root("3.1"), "--set", "lab",
                  "--project", "local")
    assert planned.exit_code == 0, planned
    assert expected in planned.stdout, planned.stdout
    assert "job(s) can never start on a node this project may use: big" in planned.stdout


def test_apply_refuses_impossible_jobs_unless_told_to_skip_them(lab: RunningEmulator, cli: RunCli, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_jobs(tmp_path)
    connection = ["--endpoint", lab.api_root("3.1"), "--set", "lab", "--project", "local"]
    refused = cli("apply", "jobs.d", "--yes", *connection)
    assert refused.exit_code == 3, refused
    assert "1 job(s) can never start" in refused.stderr and "--skip-impossible" in refused.stderr
    with GpulabClient(lab.api_root("3.1"), api_version="3.1") as client:
        assert list(client.list_jobs()) == []
    applied = cli("apply", "jobs.d", "--yes", "--skip-impossible", *connection)
    assert applied.exit_code == 0, applied
    assert "Apply complete: 1 created" in applied.stdout
    with GpulabClient(lab.api_root("3.1"), api_version="3.1") as client:
        assert [job.name for job in client.list_jobs()] == ["small"]


def test_the_inventory_is_read_once_per_plan_and_not_with_no_capacity(lab: RunningEmulator, cli: RunCli,
                                                                      tmp_path: Path,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    for index in range(20):
        (jobs / f"j{index}.json").write_text(json.dumps({"name": f"j{index}", "request": request()}))
    reads: list[str] = []
    real = GpulabClient.read_json

    def counted(self: GpulabClient, path: str, *, what: str) -> Any:
        reads.append(path)
        return real(self, path, what=what)

    monkeypatch.setattr(GpulabClient, "read_json", counted)
    connection = ["--endpoint", lab.api_root("3.1"), "--set", "lab", "--project", "local"]
    assert cli("plan", "jobs.d", *connection).exit_code == 0
    assert reads == ["clusters", "slaves"]
    reads.clear()
    assert cli("plan", "jobs.d", "--no-capacity", *connection).exit_code == 0
    assert reads == []
    assert cli("validate", "jobs.d").exit_code == 0 and reads == []


def test_a_saved_plan_with_an_impossible_job_applies_the_rest_with_skip_impossible(
        lab: RunningEmulator, cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_jobs(tmp_path)
    connection = ["--endpoint", lab.api_root("3.1"), "--set", "lab", "--project", "local"]
    assert cli("plan", "jobs.d", "--out", "plan.json", *connection).exit_code == 0
    assert cli("apply", "plan.json", *connection).exit_code == 3
    applied = cli("apply", "plan.json", "--skip-impossible", *connection)
    assert applied.exit_code == 0, applied
    with GpulabClient(lab.api_root("3.1"), api_version="3.1") as client:
        assert [job.name for job in client.list_jobs()] == ["small"]


def test_an_unreadable_inventory_leaves_the_plan_standing_with_a_warning(
        lab: RunningEmulator, cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_jobs(tmp_path)
    (tmp_path / "gpulab-apply.yaml").write_text("retries: 0\n")
    lab.faults.set("GET slaves", error_rate=1.0, error_statuses=(500,))
    planned = cli("plan", "jobs.d", "--endpoint", lab.api_root("3.1"), "--set", "lab", "--project", "local")
    assert planned.exit_code == 0, planned
    assert "Warning: capacity not checked:" in planned.stdout and "Can never start" not in planned.stdout


def test_a_markdown_comment_shows_the_first_20_distinct_findings(lab: RunningEmulator, cli: RunCli, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    for gpus in range(5, 35):  # 30 requests no node can meet, each with its own message
        (jobs / f"g{gpus}.json").write_text(json.dumps({"name": f"g{gpus}", "request": request(gpus=gpus)}))
    planned = cli("plan", "jobs.d", "--format", "markdown", "--endpoint", lab.api_root("3.1"), "--set", "lab",
                  "--project", "local")
    assert planned.stdout.count("> **Can never start:**") == 20, planned.stdout
    assert "> … 10 more capacity findings; see the CI log or `--format json`." in planned.stdout


def test_the_emulator_config_file_takes_storage_paths_and_allowed_projects(tmp_path: Path) -> None:
    from gpulab_apply.errors import ConfigError

    path = tmp_path / "emulator.json"
    node = {"name": "p1", "cluster_id": 12, "storage_paths": ["/project_other/"], "allowed_projects": [OTHER]}
    path.write_text(json.dumps({"nodes": [node]}))
    [loaded] = EmulatorConfig.from_file(path).nodes
    assert loaded.as_node().storage_paths == ("/project_other/",) and loaded.as_node().projects == (OTHER,)
    path.write_text(json.dumps({"nodes": [node, {"name": "p2", "cluster_id": 12}]}))
    with pytest.raises(ConfigError, match="the nodes of cluster 12 disagree on allowed_projects"):
        EmulatorConfig.from_file(path)
