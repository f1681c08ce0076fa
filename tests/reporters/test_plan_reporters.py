"""Plan reporters: exact text, JSON shape, Markdown budget, GitHub annotations."""

from __future__ import annotations

import dataclasses
import io
import json
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from gpulab_apply.model import JobSpec
from gpulab_apply.problems import Location
from gpulab_apply.reconcile.planner import Plan
from gpulab_apply.reporters import report
from gpulab_apply.reporters.github import LIMIT_PER_LEVEL
from gpulab_apply.reporters.markdown import MARKDOWN_BUDGET
from tests.reconcile.test_planner import plan, remote, spec


def render(p: Plan, fmt: str) -> str:
    stream = io.StringIO()
    report("plan", fmt, p, stream)
    return stream.getvalue()


def sample() -> Plan:
    jobs = [
        remote(name="b-replace", status="RUNNING", of=spec("b-replace", gpus=1), spec_hash="0" * 16),
        remote(name="c-removed", status="QUEUED", of=spec("c-removed")),
        remote(name="d-hand", status="RUNNING", of=spec("d-hand"), set_name=None),
        remote(name="e-failed", status="FAILED", of=spec("e-failed")),
        remote(name="f-done", status="FINISHED", of=spec("f-done")),
        remote(name="g-keep", status="RUNNING", of=spec("g-keep"), protect=True),
    ]
    jobs = [dataclasses.replace(job, uuid=job.name[0] * 8 + job.uuid[8:]) for job in jobs]  # readable uuids in the report
    desired = [spec("a-new"), spec("b-replace", gpus=2, environment={"HF_TOKEN": "hf_x"}), spec("d-hand", gpus=2),
               spec("e-failed"), spec("f-done")]
    return plan(desired, jobs)


def test_text_is_terraform_like_with_summary_line() -> None:
    assert render(sample(), "text") == (
        "Set: lab\n"
        "\n"
        "  + a-new (new)  jobs.d/a-new.yaml:1:1\n"
        "-/+ b-replace (changed; cancels RUNNING job bbbbbbbb, its work is lost)  jobs.d/b-replace.yaml:1:1\n"
        '      + request.docker.environment: {"HF_TOKEN": "***"}\n'
        "      ~ request.resources.gpus: 1 => 2\n"
        "  - c-removed (no longer in the job files; cancels QUEUED job cccccccc)\n"
        "  ? d-hand (unmanaged (not submitted by gpulab-apply): RUNNING job dddddddd is left alone)"
        "  jobs.d/d-hand.yaml:1:1\n"
        "      ~ request.resources.gpus: 1 => 2\n"
        "  x e-failed (FAILED job eeeeeeee; --rerun-failed runs it again)  jobs.d/e-failed.yaml:1:1\n"
        "  ! g-keep (protected: would cancel; `apply --cancel-protected g-keep` allows it)\n"
        "\n"
        "Unchanged: 2 in sync or done, 1 protected, 1 unmanaged.\n"
        "Plan: 1 to create, 1 to replace (1 running), 1 to cancel.\n"
        "Cost: 1008 GPU-hours requested (2 job(s) at GPULab's default maxDuration, 2 weeks), 0 GPU-hours of running "
        "work lost.\n"
    )


def test_text_without_changes() -> None:
    desired = spec()
    assert render(plan([desired], [remote(status="QUEUED", of=desired)]), "text") == (
        "Set: lab\n\nNo changes: GPULab matches the job files.\n"
        "Unchanged: 1 in sync or done.\n"
        "Plan: 0 to create, 0 to replace, 0 to cancel.\n"
    )


def test_json_is_versioned_and_complete() -> None:
    document = json.loads(render(sample(), "json"))
    assert document["version"] == 2 and document["kind"] == "plan" and document["ok"] is True
    assert document["set"] == "lab" and document["hasChanges"] is True
    assert (document["problems"], document["error"]) == ([], None)
    assert document["summary"] == {"create": 1, "replace": 1, "replaceRunning": 1, "cancel": 1, "cancelRunning": 0,
                                   "unchanged": 2, "blocked": 1, "unmanaged": 1, "waiting": 0, "stuck": 0}
    replace = next(e for e in document["entries"] if e["name"] == "b-replace")
    assert replace["action"] == "replace" and replace["workLost"] is True
    assert replace["location"] == {"file": "jobs.d/b-replace.yaml", "line": 1, "column": 1}
    assert replace["cancel"] == [{"uuid": replace["current"]["uuid"], "status": "RUNNING"}]
    assert replace["diffs"] == [
        {"path": "request.docker.environment", "kind": "added", "old": None, "new": {"HF_TOKEN": "***"}},
        {"path": "request.resources.gpus", "kind": "changed", "old": 1, "new": 2}]
    assert "hf_x" not in render(sample(), "json")


def test_markdown_puts_the_summary_first() -> None:
    text = render(sample(), "markdown")
    assert text.startswith(
        "### gpulab-apply plan for set `lab`\n\n"
        "**Plan: 1 to create, 1 to replace (1 running), 1 to cancel.**\n\n"
        "Cost: 1008 GPU-hours requested (2 job(s) at GPULab's default maxDuration, 2 weeks), 0 GPU-hours of running "
        "work lost.\n\n"
        "| create | replace | cancel | protected | unmanaged | unchanged |\n"
        "|---:|---:|---:|---:|---:|---:|\n"
        "| 1 | 1 (1 running) | 1 | 1 | 1 | 2 |\n\n"
        "| | job | what and why | file |\n")
    assert "| `-/+` | b-replace | changed; cancels RUNNING job bbbbbbbb, its work is lost | jobs.d/b-replace.yaml:1:1 |" \
        in text
    assert "<details><summary>b-replace: 2 field(s)</summary>" in text
    assert "hf_x" not in text


def test_markdown_escapes_free_text_names() -> None:
    text = render(plan([spec("a|b`<x>")], []), "markdown")
    assert "| `+` | a\\|b\\`\\<x\\> | new |" in text


def test_markdown_stays_within_budget_for_3000_jobs() -> None:
    desired = [spec(f"sweep-{i:04d}-{'x' * 40}", gpus=2) for i in range(3000)]
    jobs = [remote(name=s.name, status="QUEUED", of=spec(s.name, gpus=1)) for s in desired]
    text = render(plan(desired, jobs), "markdown")
    assert len(text) < 65_536 and len(text) <= MARKDOWN_BUDGET
    assert "**Plan: 0 to create, 3000 to replace, 0 to cancel.**" in text
    assert "more jobs not shown; see the CI log or `--format json`." in text
    shown_rows = text.count("| `-/+` |")
    assert 100 < shown_rows < 3000
    assert f"… {3000 - shown_rows} more jobs not shown" in text


def test_github_annotations_point_at_the_file() -> None:
    lines = render(sample(), "github").splitlines()
    assert lines[0] == "::notice title=gpulab-apply plan::Plan: 1 to create, 1 to replace (1 running), 1 to cancel."
    assert lines[1] == "::notice file=jobs.d/a-new.yaml,line=1,col=1,title=gpulab-apply plan::+ a-new: new"
    assert lines[2].startswith("::warning file=jobs.d/b-replace.yaml,line=1,col=1,title=gpulab-apply plan::-/+ "
                               "b-replace: changed; cancels RUNNING job bbbbbbbb, its work is lost%0A+ request.docker")
    # the jobs no file defines any more have no line to pin to: one annotation for them all
    assert lines[3] == ("::warning title=gpulab-apply plan::2 job(s) no job file defines any more: !1, -1%0A"
                        "- c-removed: no longer in the job files; cancels QUEUED job cccccccc%0A"
                        "! g-keep: protected: would cancel; `apply --cancel-protected g-keep` allows it")


def sweep_member(name: str, sweep: str) -> JobSpec:
    return dataclasses.replace(spec(name), sweep=sweep, location=Location(f"jobs.d/{sweep}.yaml", 1, 1))


def test_github_groups_a_sweep_into_one_annotation_at_its_document() -> None:
    members = [sweep_member(f"train-lr{index}", "train") for index in range(30)]
    lines = render(plan([*members, spec("eval")], []), "github").splitlines()
    assert lines[0] == "::notice title=gpulab-apply plan::Plan: 31 to create, 0 to replace, 0 to cancel."
    [sweep] = [line for line in lines if "sweep train" in line]
    assert sweep.startswith("::notice file=jobs.d/train.yaml,line=1,col=1,title=gpulab-apply plan::sweep train: +30%0A"
                            "+ train-lr0: new%0A")
    assert "… and 10 more" in sweep
    assert len([line for line in lines if line.startswith("::")]) == 3  # summary, sweep, eval


@settings(max_examples=30)
@given(creates=st.integers(0, 40), replaces=st.integers(0, 25), sweeps=st.integers(0, 15), warnings=st.integers(0, 15))
def test_github_stays_within_the_limits_per_level_and_loses_nothing(creates: int, replaces: int, sweeps: int,
                                                                     warnings: int) -> None:
    """Property: at most 10 annotations of each level, the summary the first of them, and every job either in an
    annotation or in a plain log line after them."""
    desired = [spec(f"new-{index}") for index in range(creates)]
    desired += [spec(f"changed-{index}", gpus=2) for index in range(replaces)]
    desired += [sweep_member(f"s{index}-{member}", f"s{index}") for index in range(sweeps) for member in range(2)]
    jobs = [remote(name=f"changed-{index}", status="RUNNING", of=spec(f"changed-{index}")) for index in range(replaces)]
    made = dataclasses.replace(plan(desired, jobs), warnings=tuple(f"warning {index}" for index in range(warnings)))
    lines = render(made, "github").splitlines()
    commands = [line for line in lines if line.startswith("::")]
    assert lines[0].startswith("::notice title=gpulab-apply plan::Plan: ")
    for level in ("error", "warning", "notice"):
        assert len([line for line in commands if line.startswith(f"::{level} ")]) <= LIMIT_PER_LEVEL
    assert not any(line.startswith("::") for line in lines[len(commands):]), "plain lines come after the annotations"
    text = "\n".join(lines)
    for name in [job.name for job in desired] + [f"warning {index}" for index in range(warnings)]:
        assert re.search(rf"\b{re.escape(name)}\b", text), name
