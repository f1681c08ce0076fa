"""The results report (docs/results.md): how the jobs of an apply ended, in ``status --format markdown|json``,
against the emulator's manual clock; the commit apply records in its run id; old markers still read."""

from __future__ import annotations

import io
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.emulator.store import Store
from gpulab_apply.model import RemoteJob
from gpulab_apply.reconcile.marker import RunCommit, new_run_id, parse_marker, run_commit
from gpulab_apply.reconcile.results import (
    LOG_LINES,
    exit_code_in,
    failure_details,
    failures_to_read,
    results_of,
)
from gpulab_apply.reconcile.status import StatusRow
from gpulab_apply.reporters.markdown import results_sections, run_time
from tests.conftest import RunCli

SWEEP = """\
name: train-${{ matrix.lr }}-${{ matrix.exit }}
request:
  resources: {cpus: 1, gpus: 1, cpuMemoryGb: 4}
  docker:
    image: "debian:stable"
    command: train.sh
    environment:
      GPULAB_EMULATOR_RUNTIME: 1 hour
      GPULAB_EMULATOR_EXIT_CODE: ${{ matrix.exit }}
  scheduling: {maxDuration: 4 hours}
x-gpulab-apply:
  matrix:
    lr: ["0.1", "0.01"]
    exit: [0, 3]
    exclude: [{lr: "0.01", exit: 3}]
"""


def git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
                          check=True, capture_output=True, text=True).stdout.strip()


class Lab:
    def __init__(self, root: Path, emulator: RunningEmulator, cli: RunCli) -> None:
        self.root, self.emulator, self._cli = root, emulator, cli
        (root / "jobs.d").mkdir()
        git(root, "init", "-q")
        self.connection = ["--endpoint", emulator.api_root("4.0"), "--set", "lab", "--project", "local"]

    def __call__(self, command: str, *args: str) -> Any:
        return self._cli(command, "jobs.d", *args, *self.connection)

    def commit(self, message: str) -> str:
        git(self.root, "add", "-A")
        git(self.root, "commit", "-q", "-m", message)
        return git(self.root, "rev-parse", "HEAD")

    def status(self, fmt: str) -> Any:
        result = self("status", "--format", fmt)
        assert result.exit_code == 0, result
        return json.loads(result.stdout) if fmt == "json" else result.stdout


@pytest.fixture
def lab(tmp_path: Path, emulator: RunningEmulator, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> Lab:
    monkeypatch.chdir(tmp_path)
    return Lab(tmp_path, emulator, cli)


def test_results_of_a_finished_sweep_with_one_failure(lab: Lab) -> None:
    (lab.root / "jobs.d" / "train.yaml").write_text(SWEEP)
    sha = lab.commit("three members")
    assert lab("apply", "--yes").exit_code == 0
    early = lab.status("json")["results"]
    assert early["ended"] is False and {job["status"] for job in early["jobs"]} == {"QUEUED"}
    lab.emulator.advance(6 * 3600)  # each runs 1 hour; all have ended

    document = lab.status("json")
    results = document["results"]
    assert results["ended"] is True
    jobs = {job["name"]: job for job in results["jobs"]}
    assert set(jobs) == {"train-0.1-0", "train-0.1-3", "train-0.01-0"}
    failed = jobs["train-0.1-3"]
    assert failed["status"] == "FAILED" and failed["exitCode"] == 3
    assert failed["logTail"] and len(failed["logTail"]) <= LOG_LINES
    assert failed["logTail"][-1] == "[gpulab-emulator] exit code 3"
    for name in ("train-0.1-0", "train-0.01-0"):
        assert jobs[name]["status"] == "FINISHED" and jobs[name]["exitCode"] == 0 and jobs[name]["logTail"] is None
    for job in jobs.values():  # one GPU for the hour each ran, against 1 GPU x maxDuration 4 hours
        assert job["runSeconds"] == 3600 and job["gpuHoursUsed"] == 1 and job["gpuHoursRequested"] == 4
        assert job["commit"] == sha[:12] and job["dirty"] is False
    assert results["gpuHoursUsed"] == 3 and results["gpuHoursRequested"] == 12
    assert results["commits"] == [{"commit": sha[:12], "dirty": False, "jobs": 3}]
    assert results["submittedBy"] == f"Jobs submitted by merge {sha[:7]}."
    [grid] = results["sweeps"]
    assert grid["axes"] == ["lr", "exit"] and set(grid["rows"]) == {"0.1", "0.01"} and grid["columns"] == ["0", "3"]
    assert grid["members"] == {"train-0.01-0": "FINISHED", "train-0.1-0": "FINISHED", "train-0.1-3": "FAILED"}
    assert document["jobs"][0]["name"] == "train-0.01-0"  # the status document is unchanged around it

    markdown = lab.status("markdown")
    assert markdown.startswith("### gpulab-apply status of set `lab`")
    assert "**All 3 jobs ended: 2 FINISHED, 1 FAILED. GPU-hours: 3 used of 12 requested.**" in markdown
    assert f"Jobs submitted by merge `{sha[:7]}`." in markdown
    assert "| lr \\ exit | 0 | 3 |" in markdown
    assert "| **0.1** | ✅ | ❌ FAILED (exit 3) |" in markdown
    assert "| **0.01** | ✅ |   |" in markdown  # the excluded combination is an empty cell
    assert "| ❌ train-0.1-3 | FAILED | 3 | 1 h 00 min | 1 / 4 |" in markdown
    assert "<summary>❌ train-0.1-3: FAILED, exit code 3; the last" in markdown
    assert "```text\n" in markdown and "[gpulab-emulator] exit code 3\n```" in markdown
    assert "| job | status | age | GPUs | job id | file | waiting because |" in markdown  # the status table stays


def test_the_text_status_makes_no_extra_request(lab: Lab) -> None:
    (lab.root / "jobs.d" / "train.yaml").write_text(SWEEP)
    lab.commit("sweep")
    assert lab("apply", "--yes").exit_code == 0
    lab.emulator.advance(6 * 3600)
    text = lab.status("text")
    assert "Results" not in text and "exit code" not in text


def test_apply_records_the_commit_and_marks_uncommitted_job_files(lab: Lab) -> None:
    (lab.root / "jobs.d" / "a.yaml").write_text(SWEEP.replace("train-", "a-"))
    sha = lab.commit("a")
    (lab.root / "jobs.d" / "b.yaml").write_text(SWEEP.replace("train-", "b-"))  # not committed
    assert lab("apply", "--yes").exit_code == 0
    with lab.emulator.emulator.store.read() as conn:
        markers = [parse_marker(record.doc["description"]) for record in Store.load_where(conn, "1 = 1", ())]
    commits = {run_commit(marker.run_id) for marker in markers if marker is not None}
    assert commits == {RunCommit(sha=sha[:12], dirty=True)}
    markdown = lab.status("markdown")
    assert f"Jobs submitted by merge `{sha[:7]}` (with uncommitted changes)." in markdown


def test_jobs_submitted_by_an_older_version_still_read_and_named_as_without_commit(
        lab: Lab, emulator: RunningEmulator) -> None:
    """A job whose marker has the run id of earlier versions (no commit) stays in sync: nothing to do, and the
    report counts it apart from the merge that submitted the rest."""
    old: dict[str, Any] = {"name": "old", "description": "[gpulab-apply v2 set=lab spec=0000000000000000 run=20250101T000000Z-abcdef]",
           "request": {"resources": {"cpus": 1, "gpus": 1, "cpuMemoryGb": 4},
                       "docker": {"image": "debian:stable", "command": "train.sh"}},
           "owner": {"projectUrn": "urn:publicid:IDN+ilabt.imec.be+project+local"}}
    (lab.root / "jobs.d" / "old.yaml").write_text(json.dumps({k: v for k, v in old.items() if k != "description"}))
    from gpulab_apply.reconcile.marker import spec_hash
    old["description"] = old["description"].replace("0" * 16, spec_hash(old))
    emulator.emulator.seed([old], user_urn="urn:publicid:IDN+ilabt.imec.be+user+local")
    (lab.root / "jobs.d" / "train.yaml").write_text(SWEEP)
    sha = lab.commit("both")
    plan = json.loads(lab("plan", "--format", "json").stdout)
    assert {entry["name"]: entry["action"] for entry in plan["entries"]}["old"] == "none"  # an upgrade restarts nothing
    assert lab("apply", "--yes").exit_code == 0
    results = lab.status("json")["results"]
    assert results["commits"] == [{"commit": sha[:12], "dirty": False, "jobs": 3}] and results["jobsWithoutCommit"] == 1
    assert results["submittedBy"] == f"Jobs submitted by merges {sha[:7]} (3), no recorded commit (1)."


# --- the run id ---------------------------------------------------------------------------------------------------

NOW = datetime(2026, 12, 6, 23, 0, tzinfo=UTC)


@given(sha=st.text("0123456789abcdef", min_size=40, max_size=40), dirty=st.booleans())
def test_a_run_id_carries_its_commit_in_a_token_every_marker_version_reads(sha: str, dirty: bool) -> None:
    run_id = new_run_id(NOW, RunCommit(sha=sha, dirty=dirty))
    assert run_commit(run_id) == RunCommit(sha=sha[:12], dirty=dirty)
    line = f"[gpulab-apply v2 set=s spec={'0' * 16} run={run_id}]"
    marker = parse_marker(line)
    assert marker is not None and marker.run_id == run_id
    for old_line in (line.replace(" v2", ""), line + "\n"):  # read as before, in each marker version
        assert parse_marker(old_line) is not None


def test_old_run_ids_have_no_commit() -> None:
    for run_id in ("20261123T195600Z-1a2b3c", "adopted", "run1", new_run_id(NOW)):
        assert run_commit(run_id) is None
    assert run_commit(new_run_id(NOW, RunCommit(sha="not hex"))) is None


# --- the pure parts -----------------------------------------------------------------------------------------------


def test_exit_code_from_the_event_log_else_the_log() -> None:
    events = [{"msg": "Container started"}, {"msg": "Job failed (exit code 137)"}]
    assert failure_details(events, "x\n").exit_code == 137
    assert failure_details([{"msg": "no code"}], "work\nProcess exited with status 2\n").exit_code == 2
    assert failure_details([], "nothing to see\n").exit_code is None
    assert exit_code_in(["Exit code: 1"]) == 1 and exit_code_in(["exitcode"]) is None


@given(lines=st.lists(st.text(max_size=400), max_size=60))
def test_a_log_tail_is_bounded(lines: list[str]) -> None:
    tail = failure_details([], "\n".join(lines)).log_tail
    assert len(tail) <= LOG_LINES and all(len(line) <= 301 for line in tail)


def _failed(name: str, log: str) -> tuple[StatusRow, dict[str, Any]]:
    raw = {"uuid": f"u-{name}", "name": name, "description": None,
           "request": {"resources": {"gpus": 1}, "scheduling": {"maxDuration": "1 hour"}},
           "state": {"status": "FAILED", "eventTimes": {"created": "2026-12-06T20:00:00Z",
                                                       "RUNNING": "2026-12-06T20:00:00Z",
                                                       "FAILED": "2026-12-06T20:30:00Z"}}}
    row = StatusRow(name=name, job=RemoteJob.from_json(raw), source=None, in_sync=None, age_seconds=0, gpus=1)
    return row, raw


@given(log=st.text(max_size=300))
def test_a_failed_jobs_log_cannot_break_out_of_the_comment(log: str) -> None:
    hostile = log + "\n```\n@everyone <img src=x> \x1b]52;c;aGk=\x07 [x](https://evil) HF_TOKEN=hunter2\n````"
    row, _ = _failed("boom", hostile)
    results = results_of([row], {row.job.uuid: failure_details([], hostile)}, NOW)  # type: ignore[union-attr]
    text = "".join(heading + "".join(items) for heading, _, items in results_sections(results))
    block = text[text.index("<details>"):text.index("</details>")]
    fence = block.split("\n")[2].removesuffix("text")
    body = block.split(fence + "text\n", 1)[1].rsplit(fence, 1)[0]
    assert set(fence) == {"`"} and not any(line.startswith(fence) for line in body.splitlines())
    assert "\x1b" not in text and "\x07" not in text and "hunter2" not in text


def test_at_most_so_many_failed_logs_are_read_and_the_rest_counted() -> None:
    rows = [_failed(f"f{index}", "")[0] for index in range(25)]
    wanted = failures_to_read(rows)
    assert len(wanted) == 20
    results = results_of(rows, {uuid: failure_details([], "boom\n") for uuid in wanted}, NOW)
    assert results.details_left_out == 5 and results.ended
    assert results.jobs[0].run_seconds == 1800 and results.jobs[0].used_hours == 0.5
    text = "".join(heading + "".join(items) for heading, _, items in results_sections(results))
    assert "the logs of 5 more failed jobs were not read" in text


def test_no_jobs_is_said_so() -> None:
    results = results_of([], {}, NOW)
    assert results.summary() == "No jobs." and not results.ended and results.submitted_by() is None


def test_run_time_reads_as_people_say_it() -> None:
    assert [run_time(s) for s in (None, 5, 125, 3600 + 300, 2 * 86400 + 7200)] == \
        ["-", "5 s", "2 min", "1 h 05 min", "2 d 2 h"]


def test_a_sweep_without_two_axes_is_a_compact_list() -> None:
    rows = [StatusRow(name=f"s-{seed}", job=None, source=None, in_sync=None, age_seconds=None, gpus=1, sweep="s",
                      matrix=(("seed", str(seed)),)) for seed in range(8)]
    results = results_of(rows, {}, NOW)
    [grid] = results.sweeps
    assert grid.axes is None and len(grid.members) == 8 and not results.ended
    [section] = [s for s in results_sections(results) if s[1] == "members"]
    assert section[0].startswith("**Sweep `s`**: 8 members") and len(section[2]) == 2  # 6 members a line


@pytest.mark.slow  # over a second on 2 cores (docs: README, Development)
@settings(max_examples=10, deadline=None)
@given(rows=st.integers(1, 200), columns=st.integers(1, 20), log_lines=st.integers(0, 40))
def test_the_results_comment_fits_whatever_the_sweep(rows: int, columns: int, log_lines: int) -> None:
    """Any sweep, every member failed with a long log: the comment stays within GitHub's limit, the grid within
    GRID_COLUMNS columns."""
    from gpulab_apply.reconcile.results import GRID_COLUMNS
    from gpulab_apply.reporters.markdown import MARKDOWN_BUDGET, report_status
    from gpulab_apply.reporters.status import StatusReport

    log = "\n".join(f"line {index} " + "x" * 400 for index in range(log_lines))
    status_rows = []
    for index in range(rows * columns):
        row, _ = _failed(f"m-{index}", log)
        status_rows.append(StatusRow(name=row.name, job=row.job, source=None, in_sync=None, age_seconds=0, gpus=1,
                                     sweep="sweep", matrix=(("a", str(index // columns)), ("b", str(index % columns)))))
    wanted = failures_to_read(status_rows)
    results = results_of(status_rows, {uuid: failure_details([{"msg": "exit code 1"}], log) for uuid in wanted}, NOW)
    [grid] = results.sweeps
    assert grid.axes is None or len(grid.columns) <= GRID_COLUMNS
    report = StatusReport.of(status_rows, set_name="s", now=NOW).with_results(results)
    out = io.StringIO()
    report_status(report, out)
    assert len(out.getvalue()) <= MARKDOWN_BUDGET
    assert "#### Results" in out.getvalue()


def test_the_emulators_event_log_names_the_exit_code_the_report_reads(lab: Lab) -> None:
    """The exit code comes from GPULab's event log (``GET jobs/{uuid}/debug``), not from a state field GPULab
    does not have; a log without it leaves the code to the event log."""
    from gpulab_apply.gpulab.client import GpulabClient

    (lab.root / "jobs.d" / "train.yaml").write_text(SWEEP)
    assert lab("apply", "--yes").exit_code == 0
    lab.emulator.advance(6 * 3600)
    with GpulabClient(lab.emulator.api_root("4.0"), api_version="4.0") as client:
        [failed] = [job for job in client.list_jobs() if job.status.name == "FAILED"]
        assert "exitCode" not in failed.raw["state"]  # as GPULab's Job2 state: no such field
        events = client.read_events(failed.uuid)
    assert failure_details(events, "no exit code in this log\n").exit_code == 3


def test_a_failed_job_whose_log_gpulab_will_not_give_leaves_the_report_standing(lab: Lab) -> None:
    from gpulab_apply.emulator.faults import Fault

    (lab.root / "jobs.d" / "train.yaml").write_text(SWEEP)
    assert lab("apply", "--yes").exit_code == 0
    lab.emulator.advance(6 * 3600)
    (lab.root / "gpulab-apply.yaml").write_text("retries: 0\n")  # no backoff: the error is the answer
    lab.emulator.faults.set("GET jobs/{uuid}/log", Fault(error_rate=1.0, error_statuses=(500,)))
    results = lab.status("json")["results"]
    [failed] = [job for job in results["jobs"] if job["status"] == "FAILED"]
    assert failed["exitCode"] is None and failed["logTail"][0].startswith("(GPULab did not give this job's log: ")
    assert results["ended"] is True


def test_only_the_end_of_a_long_log_is_read(lab: Lab) -> None:
    """A failed job's log of megabytes: the report asks for its length, then its last LOG_BYTES, and shows its
    last lines whole (the first, partial line of that end left out)."""
    from gpulab_apply.gpulab.client import GpulabClient
    from gpulab_apply.reconcile.results import LOG_BYTES

    (lab.root / "jobs.d" / "train.yaml").write_text(SWEEP)
    assert lab("apply", "--yes").exit_code == 0
    lab.emulator.advance(6 * 3600)
    lab.status("text")  # the simulation catches up: the jobs have ended
    with lab.emulator.emulator.store.write() as conn:
        [record] = [r for r in Store.load_where(conn, "1 = 1", ()) if r.doc["name"] == "train-0.1-3"]
        record.log = "".join(f"step {index} loss 0.{index:06d}\n" for index in range(200_000)) + "Killed: exit code 137\n"
        Store.update(conn, record)
    with GpulabClient(lab.emulator.api_root("4.0"), api_version="4.0") as client:
        tail, cut = client.read_log_tail(record.uuid, LOG_BYTES)
    assert cut and len(tail) == LOG_BYTES and tail.endswith(b"Killed: exit code 137\n")
    [failed] = [job for job in lab.status("json")["results"]["jobs"] if job["status"] == "FAILED"]
    assert failed["logTail"][-2:] == ["step 199999 loss 0.199999", "Killed: exit code 137"]
    assert len(failed["logTail"]) == LOG_LINES and all(line.startswith(("step ", "Killed")) for line in failed["logTail"])


_CELL_TEXT = st.text(st.characters(codec="utf-8"), min_size=1, max_size=12)


@settings(max_examples=30)
@given(sweep=_CELL_TEXT, axes=st.lists(_CELL_TEXT, min_size=2, max_size=2, unique=True),
       values=st.lists(st.tuples(_CELL_TEXT, _CELL_TEXT), min_size=1, max_size=6, unique=True), name=_CELL_TEXT)
def test_names_and_matrix_values_from_job_files_stay_in_their_cells(sweep: str, axes: list[str],
                                                                     values: list[tuple[str, str]], name: str) -> None:
    """Whatever a job file names its sweep, axes, values and members: every table row has its columns, no control
    character reaches the comment, no mention is live."""
    import re as regex

    rows = []
    for index, (row_value, column_value) in enumerate(values):
        row, _ = _failed(f"{name}{index}", "")
        rows.append(StatusRow(name=row.name, job=row.job, source=None, in_sync=None, age_seconds=0, gpus=1,
                              sweep=sweep, matrix=((axes[0], row_value), (axes[1], column_value))))
    results = results_of(rows, {}, NOW)
    for heading, _, items in results_sections(results):
        table = [line for line in (heading + "".join(items)).splitlines() if line.startswith("|")]
        widths = {len(regex.findall(r"(?<!\\)\|", line)) for line in table}
        assert len(widths) <= 1, table
        text = heading + "".join(items)
        assert not regex.search(r"[\x00-\x08\x0b-\x1f\x7f]", text)
        outside_code = regex.sub(r"(`+).*?\1", "", text)  # GitHub makes no mention inside a code span
        assert not regex.search(r"@(?!&#8203;)\w", outside_code)
