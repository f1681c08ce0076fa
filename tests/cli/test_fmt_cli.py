"""``gpulab-apply fmt``: canonical form, everything else byte for byte; ``--check`` for CI and pre-commit.

Through the real CLI. The property: for any job file mixing the forms validate warns about with comments,
anchors, flow and block style and several documents, fmt's output reads back as the same jobs, validate finds
no warning in it, and every line validate did not warn about is unchanged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import CliResult, RunCli

#: (object, key as written, value as written, key in canonical form, value in canonical form)
LAX = [
    ("resources", "cpus", '"4"', "cpus", "4"),
    ("resources", "gpus", "'1'", "gpus", "1"),
    ("resources", "cpu_memory_gb", "8", "cpuMemoryGb", "8"),
    ("resources", "gpuModel", "V100", "gpuModel", '["V100"]'),
    ("docker", "group_add", "[users]", "groupAdd", "[users]"),
    ("scheduling", "interactive", "yes", "interactive", "true"),
    ("scheduling", "restartable", '"off"', "restartable", "false"),
    ("scheduling", "killableAfter", "1 hour", "minDuration", "1 hour"),
]
CANONICAL = {"resources": [("cpuMemoryGb", "8")], "docker": [("image", "debian:stable")], "scheduling": []}


def job_text(name: str, lax: list[int], flow: dict[str, bool], comments: bool, anchor: bool) -> str:
    """One job document: the chosen lax forms, each object in flow or block style, with comments."""
    fields: dict[str, list[tuple[str, str]]] = {kind: [] for kind in CANONICAL}
    for index in lax:
        kind, key, value, _, _ = LAX[index]
        fields[kind].append((key, value))
    for kind, defaults in CANONICAL.items():
        taken = {LAX[index][3] for index in lax if LAX[index][0] == kind}
        fields[kind] += [(key, value) for key, value in defaults if key not in taken]
    fields["resources"] = [("cpus", "2"), ("gpus", "0"), *fields["resources"]] if not any(
        key in ("cpus", "gpus") for key, _ in fields["resources"]) else fields["resources"]
    if not any(key in ("cpus",) for key, _ in fields["resources"]):
        fields["resources"].append(("cpus", "2"))
    if not any(key in ("gpus",) for key, _ in fields["resources"]):
        fields["resources"].append(("gpus", "0"))
    lines = [f"name: {name}" + ("  # the job's identity" if comments else ""), "request:"]
    for kind, pairs in fields.items():
        if not pairs:
            continue
        head = f"  {kind}:" + (" &shared" if anchor and kind == "docker" else "")
        if flow[kind]:
            lines.append(head + " {" + ", ".join(f"{key}: {value}" for key, value in pairs) + "}"
                         + ("  # flow" if comments else ""))
        else:
            lines.append(head)
            lines += [f"    {key}: {value}" + (f"  # {key}" if comments else "") for key, value in pairs]
    if anchor:
        lines += ["x-gpulab-apply:", "  rerun: 1"]
    return "\n".join(lines) + "\n"


def warnings_by_line(cli: RunCli, path: str) -> dict[int, list[str]]:
    result = cli("validate", path, "--format", "json")
    document = json.loads(result.stdout)
    assert document["ok"], result
    found: dict[int, list[str]] = {}
    for problem in document["problems"]:
        assert problem["severity"] == "warning", problem
        found.setdefault(problem["location"]["line"], []).append(problem["message"])
    return found


def check_formatted(cli: RunCli, path: Path, before: str) -> CliResult:
    """fmt the file; assert valid, canonical, the same jobs, and only warned-about lines changed."""
    rendered = cli("render", "--format", "json", "-p", str(path.parent)).stdout
    warned = warnings_by_line(cli, str(path))
    result = cli("fmt", str(path))
    assert result.exit_code == 0, result
    after = path.read_text(encoding="utf-8")
    assert warnings_by_line(cli, str(path)) == {}, after  # canonical: validate has nothing left to say
    assert cli("render", "--format", "json", "-p", str(path.parent)).stdout == rendered  # the same jobs
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new), (before, after)
    changed = {number for number, (a, b) in enumerate(zip(old, new, strict=True), start=1) if a != b}
    assert changed <= set(warned), (changed, warned)  # every other line byte for byte
    assert cli("fmt", "--check", str(path)).exit_code == 0  # and a second run finds nothing
    return result


@pytest.mark.slow  # over a second on 2 cores (docs: README, Development)
@settings(max_examples=20, suppress_health_check=[HealthCheck.function_scoped_fixture])  # cli holds no state
@given(documents=st.lists(st.tuples(st.sets(st.integers(0, len(LAX) - 1)),
                                    st.fixed_dictionaries({kind: st.booleans() for kind in CANONICAL}),
                                    st.booleans(), st.booleans()), min_size=1, max_size=3))
def test_fmt_makes_any_mix_of_lax_forms_canonical_and_changes_nothing_else(
        cli: RunCli, tmp_path_factory: pytest.TempPathFactory,
        documents: list[tuple[set[int], dict[str, bool], bool, bool]]) -> None:
    jobs = tmp_path_factory.mktemp("fmt") / "jobs.d"
    jobs.mkdir()
    text = "# a job file with several documents\n" + "---\n".join(
        job_text(f"job{index}", sorted(lax), flow, comments, anchor)
        for index, (lax, flow, comments, anchor) in enumerate(documents))
    path = jobs / "jobs.yaml"
    path.write_text(text, encoding="utf-8")
    check_formatted(cli, path, text)


CORPUS = """\
# shared values under an anchor, a merge key, flow and block style, several documents
name: first  # comment after the name
request:
  resources: &res {cpus: &n "4", gpus: 1, cpu_memory_gb: *n}   # flow, lax; one value under an anchor
  docker:
    image: debian:stable   # aligned comment
    environment:
      SEED: 1.0
      'QUOTED': "keep 'this' as it is"
  scheduling:
    interactive: yes
    notAfter: 2026-01-10T08:00Z
state: null
---
# second document: the anchor of the first is not visible here
name: second
request:
  resources: {cpus: 2, gpus: '0', cpuMemoryGb: 4}
  docker: {image: "debian:stable", groupAdd: users}
  scheduling: {reservationId: 123e4567-e89b-12d3-a456-426614174000, restartable: "on"}
"""


def test_fmt_on_comments_anchors_flow_style_and_several_documents(tmp_path: Path, cli: RunCli,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.d").mkdir()
    path = tmp_path / "jobs.d" / "corpus.yaml"
    path.write_bytes(CORPUS.encode())
    result = cli("fmt", "--check")
    assert result.exit_code == 1
    assert result.stdout.startswith("--- a/jobs.d/corpus.yaml\n+++ b/jobs.d/corpus.yaml\n")
    assert "-  resources: &res {cpus: &n \"4\", gpus: 1, cpu_memory_gb: *n}   # flow, lax; one value under an anchor\n" \
           "+  resources: &res {cpus: &n 4, gpus: 1, cpuMemoryGb: *n}   # flow, lax; one value under an anchor\n" \
        in result.stdout
    assert "would reformat jobs.d/corpus.yaml" in result.stderr
    assert path.read_bytes() == CORPUS.encode()  # --check changes nothing
    after = CORPUS.replace('{cpus: &n "4", gpus: 1, cpu_memory_gb: *n}', "{cpus: &n 4, gpus: 1, cpuMemoryGb: *n}") \
        .replace("SEED: 1.0", "SEED: 1").replace("interactive: yes", "interactive: true") \
        .replace("notAfter: 2026-01-10T08:00Z", 'notAfter: "2026-01-10T08:00:00Z"').replace("state: null\n", "") \
        .replace("gpus: '0'", "gpus: 0").replace("groupAdd: users", 'groupAdd: ["users"]') \
        .replace("{reservationId: 123e4567-e89b-12d3-a456-426614174000, restartable: \"on\"}",
                 '{reservationIds: ["123e4567-e89b-12d3-a456-426614174000"], restartable: true}')
    result = cli("fmt")
    assert result.exit_code == 0, result
    assert path.read_text(encoding="utf-8") == after
    assert "reformatted jobs.d/corpus.yaml (12 fix(es))" in result.stderr
    assert cli("validate", "--format", "json").stdout.count('"severity": "warning"') == 0


def test_fmt_keeps_line_endings_a_byte_order_mark_and_json(tmp_path: Path, cli: RunCli,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    crlf = "\ufeffname: a\r\nrequest:\r\n  resources: {cpus: '2', gpus: 0, cpuMemoryGb: 2}  # é\r\n" \
           "  docker: {image: debian}\r\n"
    (jobs / "a.yaml").write_bytes(crlf.encode())
    as_json = {"name": "b", "request": {"resources": {"cpus": "2", "gpus": 0, "cpu_memory_gb": 2},
                                        "docker": {"image": "debian"}}}
    (jobs / "b.json").write_text(json.dumps(as_json, indent=2), encoding="utf-8")
    (jobs / "_defaults.yaml").write_text("request:\n  scheduling: {interactive: 'no'}  # shared\n", encoding="utf-8")
    result = cli("fmt")
    assert result.exit_code == 0, result
    assert (jobs / "a.yaml").read_bytes() == crlf.replace("cpus: '2'", "cpus: 2").encode()
    assert json.loads((jobs / "b.json").read_text()) == {
        "name": "b", "request": {"resources": {"cpus": 2, "gpus": 0, "cpuMemoryGb": 2}, "docker": {"image": "debian"}}}
    assert (jobs / "_defaults.yaml").read_text() == "request:\n  scheduling: {interactive: false}  # shared\n"
    assert "3 of 3 file(s) reformatted." in result.stderr


def test_fmt_leaves_what_it_cannot_rewrite_and_says_so(tmp_path: Path, cli: RunCli,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    broken = "name: [\n"
    (jobs / "broken.yaml").write_text(broken, encoding="utf-8")
    # state: null inside a flow mapping is not removed by hand-free text surgery
    flow = "{name: c, state: null, request: {resources: {cpus: 1, gpus: 0, cpuMemoryGb: 2}, docker: {image: x}}}\n"
    (jobs / "flow.yaml").write_text(flow, encoding="utf-8")
    result = cli("fmt")
    assert result.exit_code == 1
    assert re.search(r"jobs\.d/broken\.yaml:\d+:\d+: error: .*fmt left the file as it is", result.stderr)
    assert "jobs.d/flow.yaml:1:11: error: fmt cannot rewrite this: state: null is ignored by GPULab" in result.stderr
    assert (jobs / "broken.yaml").read_text() == broken and (jobs / "flow.yaml").read_text() == flow


def test_fmt_of_canonical_files_changes_nothing(tmp_path: Path, cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    root = Path(__file__).resolve().parents[2]
    monkeypatch.chdir(root)  # the shipped job files are canonical
    result = cli("fmt", "--check")
    assert result.exit_code == 0, result
    shipped = sum(1 for path in (root / "jobs.d").rglob("*.yaml") if not path.name.startswith("."))  # defaults too
    assert result.stdout == "" and f"0 of {shipped} file(s) would be reformatted." in result.stderr
