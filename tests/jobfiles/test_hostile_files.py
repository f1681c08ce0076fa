"""No traceback, no hang, bounded memory on any file (docs/validate.md#limits).

Every command that reads job files (validate, plan --local, render, status --local), through the real
entry point, on every case a hostile or careless file tree has shown: it exits 0, 1 or 64, and a file it
cannot use is a problem naming that file (and line, where there is one). The named cases come first; the
property over generated trees (mutations of valid files) is at the end, with the named cases as its seeds.
"""

from __future__ import annotations

import os
import re
import signal
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from gpulab_apply.jobfiles import validation
from gpulab_apply.jobfiles.loader import JobFile
from tests.conftest import CliResult, RunCli
from tests.job_texts import MINIMAL_JOB_YAML

JOB = MINIMAL_JOB_YAML.format(name="a")  # five lines; a sixth is added by the cases
COMMANDS = {
    "validate": ("validate", "jobs.d"),
    "plan": ("plan", "--local", "jobs.d"),
    "render": ("render", "-p", "jobs.d"),
    "status": ("status", "--local", "jobs.d"),
}
EXIT_CODES = {0, 1, 64}

Tree = Mapping[str, bytes]  # path -> content


def with_line(line: str) -> bytes:
    return (JOB + line + "\n").encode("utf-8", "surrogatepass")


#: name -> (files, where the problem must be reported, what it must say)
JOB_CASES: dict[str, tuple[Tree, str, str]] = {
    **{f"character-{name}": ({"jobs.d/a.yaml": with_line(f"description: a{char}b")}, "jobs.d/a.yaml:6:15:",
                             f"character U+{ord(char):04X}")
       for name, char in [("nul", "\x00"), ("soh", "\x01"), ("esc", "\x1b"), ("del", "\x7f"), ("c1-csi", "\x9b"),
                          ("ufffe", "\ufffe"), ("form-feed", "\x0c")]},
    "utf16-without-bom": ({"jobs.d/a.yaml": JOB.encode("utf-16-le")}, "jobs.d/a.yaml:1:2:", "looks like UTF-16"),
    "brackets-30000": ({"jobs.d/a.yaml": b"[" * 30000}, "jobs.d/a.yaml:1:101:", "nest more than 100 levels"),
    "dashes-30000": ({"jobs.d/a.yaml": b"- " * 30000 + b"a\n"}, "jobs.d/a.yaml:1:", "nest more than 100 levels"),
    "indented-keys-300": ({"jobs.d/a.yaml": "".join(" " * i + "a:\n" for i in range(300)).encode()},
                           "jobs.d/a.yaml:", "nest more than 100 levels"),
    "tag-float-value": ({"jobs.d/a.yaml": with_line("description: !!float abc")}, "jobs.d/a.yaml:6:14:",
                        "'abc' is not a valid !!float value"),
    "tag-bool-value": ({"jobs.d/a.yaml": with_line("description: !!bool abc")}, "jobs.d/a.yaml:6:14:",
                       "'abc' is not a valid !!bool value"),
    "tag-bool-key": ({"jobs.d/a.yaml": with_line("!!bool abc: 1")}, "jobs.d/a.yaml:6:1:",
                     "'abc' is not a valid !!bool value"),
    "tag-binary": ({"jobs.d/a.yaml": with_line("description: !!binary aGk=")}, "jobs.d/a.yaml:6:14:",
                   "!!binary values cannot be in a job"),
    "yaml-1.3": ({"jobs.d/a.yaml": b"%YAML 1.3\n---\n" + JOB.encode()}, "jobs.d/a.yaml:1:1:", "version '1.3'"),
    "complex-key": ({"jobs.d/a.yaml": with_line("? [a, b]\n: c")}, "jobs.d/a.yaml:6:3:",
                    "a key must be a single value"),
    "hex-3600-digits": ({"jobs.d/a.yaml": with_line("description: 0x" + "f" * 3600)}, "jobs.d/a.yaml:6:14:",
                        "integer of 3,602 characters is too large"),
    "sexagesimal": ({"jobs.d/a.yaml": b"%YAML 1.1\n---\n" + with_line("description: " + "59:" * 2000 + "1")},
                    "jobs.d/a.yaml:8:14:", "too large"),
    "sexagesimal-beyond-64-bits": ({"jobs.d/a.yaml": b"%YAML 1.1\n---\n" + with_line("description: " + "59:" * 20 + "1")},
                                   "jobs.d/a.yaml:8:14:", "integer is too large: a value is at most 64 bits"),
    "not-before-400-digits": ({"jobs.d/a.yaml": with_line("  scheduling: {notBefore: " + "9" * 400 + "}")},
                              "jobs.d/a.yaml:6:27:", "integer of 400 characters is too large"),
    "lone-surrogate": ({"jobs.d/a.yaml": with_line('description: "\\ud800"')}, "jobs.d/a.yaml:6:14:",
                       "lone surrogate"),
    "defaults-control-character": ({"jobs.d/a.yaml": JOB.encode(), "jobs.d/_defaults.yaml": b"description: \x1b\n"},
                                   "jobs.d/_defaults.yaml:1:14:", "character U+001B"),
    "defaults-brackets": ({"jobs.d/a.yaml": JOB.encode(), "jobs.d/_defaults.yaml": b"[" * 30000},
                          "jobs.d/_defaults.yaml:1:101:", "nest more than 100 levels"),
    "defaults-tag": ({"jobs.d/a.yaml": JOB.encode(), "jobs.d/_defaults.yaml": b"description: !!float abc\n"},
                     "jobs.d/_defaults.yaml:1:14:", "not a valid !!float value"),
    "job-over-1-mib": ({"jobs.d/a.yaml": JOB.encode() + b"#" * (1024 * 1024)}, "jobs.d/a.yaml:",
                       "over the 1024 KiB limit for a job file"),
}

#: gpulab-apply.yaml next to jobs.d; every command reads it first
CONFIG_CASES: dict[str, tuple[bytes, str, str]] = {
    "config-control-character": (b"timeout: 3\x000\n", "gpulab-apply.yaml:1:11:", "character U+0000"),
    "config-brackets": (b"[" * 30000, "gpulab-apply.yaml:1:101:", "nest more than 100 levels"),
    "config-tag-float": (b"timeout: !!float abc\n", "gpulab-apply.yaml:1:10:", "not a valid !!float value"),
    "config-tag-bool-key": (b"!!bool abc: 1\n", "gpulab-apply.yaml:1:1:", "not a valid !!bool value"),
    "config-5000-digit-timeout": (b"timeout: " + b"9" * 5000 + b"\n", "gpulab-apply.yaml:1:10:",
                                  "integer of 5,000 characters is too large"),
    "config-complex-key": (b"? [a, b]\n: 1\n", "gpulab-apply.yaml:1:3:", "a key must be a single value"),
    "config-over-64-kib": (b"timeout: 30\n" + b"#" * (64 * 1024), "gpulab-apply.yaml:",
                           "over the 64 KiB limit for a config file"),
}


@contextmanager
def tree(files: Tree) -> Iterator[Path]:
    """A fresh directory holding ``files``, as the working directory (hypothesis runs many per test)."""
    before = os.getcwd()
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        (root / "jobs.d").mkdir()
        for name, content in files.items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_bytes(content)
        os.chdir(root)
        try:
            yield root
        finally:
            os.chdir(before)


def run(cli: RunCli, command: str) -> CliResult:
    result = cli(*COMMANDS[command], env={"GPULAB_APPLY_SET": "hostile"})
    assert result.exit_code in EXIT_CODES, result
    assert "Traceback" not in result.stderr + result.stdout, result
    return result


def assert_located(result: CliResult, where: str, what: str) -> None:
    output = result.stdout + result.stderr
    assert result.exit_code == 1, result
    lines = [line for line in output.splitlines() if where in line and what in line]
    assert lines, f"no line with {where!r} and {what!r}\n{result}"


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", JOB_CASES)
def test_a_hostile_job_tree_is_a_located_problem(cli: RunCli, case: str, command: str) -> None:
    files, where, what = JOB_CASES[case]
    with tree(files):
        assert_located(run(cli, command), where, what)


@pytest.mark.parametrize("command", ["validate", "plan", "status"])  # render reads no settings
@pytest.mark.parametrize("case", CONFIG_CASES)
def test_a_hostile_config_file_is_a_located_error(cli: RunCli, case: str, command: str) -> None:
    content, where, what = CONFIG_CASES[case]
    with tree({"jobs.d/a.yaml": JOB.encode(), "gpulab-apply.yaml": content}):
        assert_located(run(cli, command), where, what)


@pytest.mark.parametrize("command", COMMANDS)
def test_a_directory_named_defaults_yaml_is_a_located_problem(cli: RunCli, command: str) -> None:
    with tree({"jobs.d/a.yaml": JOB.encode()}) as root:
        (root / "jobs.d" / "_defaults.yaml").mkdir()
        assert_located(run(cli, command), "jobs.d/_defaults.yaml:", "not a regular file but a directory")


@pytest.mark.parametrize("command", COMMANDS)
def test_jobs_d_as_a_symlink_loop_is_a_located_problem(cli: RunCli, command: str) -> None:
    with tree({}) as root:
        (root / "jobs.d").rmdir()
        (root / "jobs.d").symlink_to("jobs.d")
        result = run(cli, command)
    if command == "render":  # its --path must exist: click says which does not
        assert result.exit_code == 64 and "Path 'jobs.d' does not exist" in result.stderr, result
    else:
        assert_located(result, "jobs.d:", "cannot follow this symlink")


@pytest.mark.slow
@pytest.mark.parametrize("command", ["validate", "plan"])
def test_a_bracket_bomb_among_200_files_checked_in_parallel_is_one_located_problem(cli: RunCli,
                                                                                 command: str) -> None:
    files = {f"jobs.d/j{i:03d}.yaml": MINIMAL_JOB_YAML.format(name=f"j{i:03d}").encode()
             for i in range(validation.PARALLEL_MIN_FILES)}
    with tree({**files, "jobs.d/z.yaml": b"[" * 30000}):
        result = run(cli, command)
    assert_located(result, "jobs.d/z.yaml:1:101:", "nest more than 100 levels")
    assert "j000.yaml" not in result.stdout + result.stderr  # the other files are fine


@pytest.mark.slow
def test_a_worker_that_dies_costs_a_problem_at_its_file(cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    """No file kills a worker any more; a parser is C code, so the next crash is injected here (forked
    workers inherit the patched reader): the file is named, the other 200 are checked, no traceback."""
    from gpulab_apply.jobfiles.loader import read as real_read

    def crashing_read(path: str) -> JobFile:
        if path.endswith("crash.yaml"):
            os.kill(os.getpid(), signal.SIGSEGV)
        return real_read(path)

    monkeypatch.setattr(validation, "read", crashing_read)
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: {0, 1}, raising=False)  # two workers, even on one core
    files = {f"jobs.d/j{i:03d}.yaml": MINIMAL_JOB_YAML.format(name=f"j{i:03d}").encode()
             for i in range(validation.PARALLEL_MIN_FILES)}
    with tree({**files, "jobs.d/crash.yaml": JOB.encode()}):
        result = run(cli, "validate")
    assert_located(result, "jobs.d/crash.yaml:", "stopped the process that read it")
    assert "200 jobs" in result.stdout + result.stderr or "Found 1 error in 1 of 201 files" in result.stdout, result


def sweep(axis: int, template_bytes: int, name: str = "big") -> str:
    values = ", ".join(map(str, range(axis)))
    return (f"name: {name}\nrequest:\n  resources: {{cpus: 1, gpus: 0, cpuMemoryGb: 2}}\n  docker:\n"
            f"    image: debian:stable\n    command: \"echo ${{{{ matrix.a }}}} ${{{{ matrix.b }}}} "
            f"{'x' * template_bytes}\"\nx-gpulab-apply:\n  matrix:\n    a: [{values}]\n    b: [{values}]\n")


@pytest.mark.parametrize("command", COMMANDS)
def test_a_300_by_300_sweep_of_a_30_kb_template_is_refused_before_expanding(cli: RunCli, command: str) -> None:
    with tree({"jobs.d/a.yaml": sweep(300, 30_000).encode()}):
        assert_located(run(cli, command), "jobs.d/a.yaml:8:3:", "90,000 combinations, more than the 10,000")


def test_a_10000_member_sweep_of_a_30_kb_template_is_refused_by_its_size(cli: RunCli) -> None:
    with tree({"jobs.d/a.yaml": sweep(100, 30_000).encode()}):
        assert_located(run(cli, "validate"), "jobs.d/a.yaml:8:3:", "MiB of job text, beyond the 64 MiB")


def test_twenty_large_sweeps_in_one_file_stop_at_the_run_cap(cli: RunCli) -> None:
    """20 documents of 300 x 300 (1.8 M jobs in 47 KB): each is refused before a member is made."""
    text = "---\n".join(sweep(300, 0, name=f"s{i}") for i in range(20))
    with tree({"jobs.d/a.yaml": text.encode()}):
        result = run(cli, "validate")
    assert result.stdout.count("90,000 combinations") == 20, result


def test_the_run_cap_counts_jobs_over_every_file_before_expanding(cli: RunCli, monkeypatch: pytest.MonkeyPatch
                                                                  ) -> None:
    from gpulab_apply.jobfiles import matrix

    monkeypatch.setattr(matrix, "MAX_JOBS", 150)  # 3 sweeps of 64 members fit 50,000 the same way
    files = {f"jobs.d/s{i}.yaml": sweep(8, 0, name=f"s{i}").encode() for i in range(3)}
    with tree(files):
        result = run(cli, "validate")
    assert_located(result, "jobs.d/s2.yaml:8:3:", "would take the jobs of this run beyond 150")
    assert "s0.yaml" not in result.stdout and "s1.yaml" not in result.stdout


def test_a_50_mb_config_or_job_file_is_refused_after_reading_its_cap(cli: RunCli) -> None:
    with tree({"jobs.d/a.yaml": JOB.encode()}) as root:
        with open(root / "gpulab-apply.yaml", "wb") as config:
            config.truncate(50 * 1024 * 1024)  # sparse: the test writes nothing, the tool must not read it all
        assert_located(run(cli, "validate"), "gpulab-apply.yaml:", "52,428,800 bytes, over the 64 KiB limit")
        (root / "gpulab-apply.yaml").unlink()
        with open(root / "jobs.d" / "b.yaml", "wb") as job:
            job.truncate(50 * 1024 * 1024)
        assert_located(run(cli, "validate"), "jobs.d/b.yaml:", "over the 1024 KiB limit")


# --- the property: any tree, any command -------------------------------------------------------------------

DEFAULTS = "request:\n  docker:\n    environment: {A: b}\n"
CONFIG = "timeout: 30\nset: lab\n"
SNIPPETS = ["\x00", "\x01", "\x1b", "\x7f", "\x9b", "\ufffe", "\x0c", "\t", "\r", "\x85", "\u2028", "!!float ",
            "!!bool ", "!!int ", "!!binary ", "!!set ", "!!omap ", "!!str ", "!!map ", "!!seq ", "!!null ",
            "!!timestamp ", "!custom ", "? [a, b]\n: c\n", "&a ", "*a ", "<<: *a\n", "%YAML 1.3\n---\n",
            "%YAML 1.1\n---\n", "%TAG ! tag:x,2000:\n---\n", '"\\ud800"', '"\\U0010ffff"', "---\n", "...\n",
            "{", "}", "[", "]", ": ", "- ", "#", "'", '"', "|\n", ">-\n", "${{ matrix.a }}", "${HOME}", "1e400",
            ".nan", "-.inf", "0x", "0o", "1:2:3", "null", "~", "name: a\n", "name: a\nname: b\n",
            "x-gpulab-apply:\n  matrix: {a: [1, 2], b: [3]}\n"]
BOMBS = st.one_of(
    st.integers(50, 5000).map(lambda n: "[" * n),
    st.integers(50, 5000).map(lambda n: "{a: " * n),
    st.integers(50, 2000).map(lambda n: "- " * n),
    st.integers(50, 300).map(lambda n: "".join(" " * i + "k:\n" for i in range(n))),
    st.integers(19, 6000).map(lambda n: "9" * n),
    st.integers(16, 4000).map(lambda n: "0x" + "f" * n),
)


@st.composite
def mutated(draw: st.DrawFn, base: str) -> bytes:
    """``base`` with a few edits: snippets, bombs or random text inserted, a cut, a line repeated, or bytes."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    text = base
    for _ in range(draw(st.integers(1, 3))):
        at = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["snippet", "bomb", "text", "cut", "repeat"]))
        if kind == "snippet":
            text = text[:at] + draw(st.sampled_from(SNIPPETS)) + text[at:]
        elif kind == "bomb":
            text = text[:at] + draw(BOMBS) + text[at:]
        elif kind == "text":
            text = text[:at] + draw(st.text(max_size=8)) + text[at:]
        elif kind == "cut":
            text = text[:at]
        else:
            lines = text.splitlines(keepends=True) or [""]
            line = draw(st.integers(0, len(lines) - 1))
            text = "".join(lines[:line + 1] + lines[line:])
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8", "utf-16-le", "latin-1"]))
    return text.encode(encoding, "replace")


@st.composite
def trees(draw: st.DrawFn) -> dict[str, bytes]:
    target = draw(st.sampled_from(["job", "job", "defaults", "config"]))
    return {
        "jobs.d/a.yaml": draw(mutated(JOB)) if target == "job" else JOB.encode(),
        **({"jobs.d/_defaults.yaml": draw(mutated(DEFAULTS))} if target == "defaults" else {}),
        **({"gpulab-apply.yaml": draw(mutated(CONFIG))} if target == "config" else {}),
    }


def with_seeds(test: Callable[..., None]) -> Callable[..., None]:
    for files, _, _ in JOB_CASES.values():
        if len(b"".join(files.values())) < 100_000:
            test = example(dict(files))(test)
    for content, _, _ in CONFIG_CASES.values():
        test = example({"jobs.d/a.yaml": JOB.encode(), "gpulab-apply.yaml": content})(test)
    return test


#: each example runs four commands: half the profile's count (20 in CI, 1,000 with GPULAB_APPLY_HYPOTHESIS=long)
EXAMPLES = max(15, (settings.default.max_examples if settings.default else 40) // 2)


@pytest.mark.slow
@settings(max_examples=EXAMPLES, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                         HealthCheck.too_slow, HealthCheck.data_too_large])
@given(files=trees())
@with_seeds
def test_every_command_on_any_tree_exits_cleanly_with_located_problems(cli: RunCli, files: dict[str, bytes]) -> None:
    with tree(files):
        for command in COMMANDS:
            result = run(cli, command)
            event(f"{command} exit {int(result.exit_code)}")  # shown by --hypothesis-show-statistics
            if result.exit_code == 1:  # a problem names the file it is in, with its line where there is one
                assert LOCATED.search(result.stdout + result.stderr), result


LOCATED = re.compile(r"(jobs\.d/a\.yaml|jobs\.d/_defaults\.yaml|gpulab-apply\.yaml)(:[0-9]+:[0-9]+)?: ")
