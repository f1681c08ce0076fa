from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from gpulab_apply import __version__
from tests.conftest import RunCli


def test_version(cli: RunCli) -> None:
    result = cli("--version")
    assert result.exit_code == 0, result
    assert result.stdout == f"gpulab-apply, version {__version__}\n"


def test_usage_error_exits_64_not_2(cli: RunCli) -> None:
    # 2 means "changes present" for this tool, so click's usage errors are remapped.
    result = cli("no-such-command")
    assert result.exit_code == 64, result
    assert "No such command 'no-such-command'" in result.stderr


def test_python_dash_m_runs_the_same_cli() -> None:
    proc = subprocess.run([sys.executable, "-m", "gpulab_apply", "--version"], capture_output=True, text=True,
                          check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"gpulab-apply, version {__version__}"


@pytest.mark.slow
def test_a_reader_that_leaves_early_gets_no_traceback(tmp_path: Path) -> None:
    # `gpulab-apply validate | head -1`: more output than a pipe holds, and the reader closes it.
    # click turns the broken pipe into exit 1; nothing between it and the exit may catch it otherwise.
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    for index in range(800):
        (jobs / f"j{index}.yaml").write_text(f"name: j{index}\nrequest: {{resources: {{gpus: zero}}}}\n")
    with subprocess.Popen([sys.executable, "-m", "gpulab_apply", "validate", str(jobs)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()
        error = process.stderr.read()
        assert process.wait(timeout=60) == 1
    assert first.startswith(str(jobs))
    assert "Traceback" not in error, error


# --- the top-level help, click's, from the static command table -------------------------------------------


def test_the_static_table_matches_every_command() -> None:
    """The short help --help shows without importing a command is the command's own, whole."""
    import importlib

    import click

    from gpulab_apply.cli import COMMANDS

    for entry in COMMANDS:
        command = getattr(importlib.import_module(entry.module), entry.name)
        assert isinstance(command, click.Command) and command.name == entry.name
        assert entry.short_help == command.get_short_help_str(limit=10_000), entry.name
    # each fits on its line of an 80-column --help, so nothing is cut or wrapped
    width = max(len(entry.name) for entry in COMMANDS) + 4
    assert all(width + len(entry.short_help) <= 78 for entry in COMMANDS)


def test_top_level_help_lists_every_command_whole(cli: RunCli) -> None:
    from gpulab_apply.cli import COMMANDS

    result = cli("--help", env={"COLUMNS": "80"})
    assert result.exit_code == 0
    width = max(len(entry.name) for entry in COMMANDS) + 2
    for entry in COMMANDS:
        assert f"  {entry.name.ljust(width)}{entry.short_help}\n" in result.stdout, entry.name
    assert "Example:\n    gpulab-apply validate jobs.d\n" in result.stdout


def test_help_and_version_import_no_command() -> None:
    """The group lists commands from the static table, so --help loads no command module (nor what they import)."""
    code = ("import sys; from gpulab_apply.cli import run; run(['--help']); run(['--version']); "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('requests', 'ruamel') "
            "or (m.startswith('gpulab_apply.cli.') and m not in ('gpulab_apply.cli.group', 'gpulab_apply.cli.output', 'gpulab_apply.cli.table'))), "
            "file=sys.stderr)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == "[]\n"
    assert proc.stdout.startswith("Usage: gpulab-apply [OPTIONS] COMMAND [ARGS]...\n")


def test_no_command_is_a_usage_error_with_the_help_on_stderr(cli: RunCli) -> None:
    result = cli()
    assert result.exit_code == 64 and result.stdout == ""
    assert result.stderr.startswith("Usage: gpulab-apply [OPTIONS] COMMAND [ARGS]...\n")


def test_every_command_help_has_an_example(cli: RunCli) -> None:
    from gpulab_apply.cli import COMMANDS

    for entry in COMMANDS:
        result = cli(entry.name, "--help")
        assert result.exit_code == 0, result
        assert re.search(r"\n  Example:\n    \S", result.stdout), (entry.name, result.stdout)


def test_the_version_is_written_once() -> None:
    import importlib.metadata
    import tomllib

    project = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["project"]
    assert "version" not in project and project["dynamic"] == ["version"]
    assert importlib.metadata.version("gpulab-apply") == __version__


# --- the exit path ---------------------------------------------------------------------------------------


def test_the_console_script_exits_normally_running_atexit_and_flushing_logging(tmp_path: Path) -> None:
    """main() leaves by sys.exit: atexit handlers run and logging's buffers reach their stream (os._exit
    would drop both); every line of a large output arrives; the exit status is the command's."""
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    for index in range(300):
        (jobs / f"j{index}.yaml").write_text(f"name: j{index}\nrequest: {{resources: {{gpus: zero}}}}\n")
    code = (
        "import atexit, logging, logging.handlers, sys\n"
        "atexit.register(lambda: print('atexit ran', file=sys.stderr))\n"
        "target = logging.StreamHandler(sys.stderr)\n"
        "buffered = logging.handlers.MemoryHandler(10_000, target=target, flushOnClose=True)\n"
        "logging.getLogger('probe').addHandler(buffered)\n"
        "logging.getLogger('probe').warning('buffered log line')\n"
        "from gpulab_apply.cli import main\n"
        f"sys.argv = ['gpulab-apply', 'validate', {str(jobs)!r}]\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert proc.returncode == 1, proc.stderr
    assert "atexit ran\n" in proc.stderr and "buffered log line\n" in proc.stderr, proc.stderr
    assert proc.stdout.count(": error: ") == 1200 and proc.stdout.endswith("Found 1200 errors in 300 of 300 files.\n")
    assert "Traceback" not in proc.stderr


@pytest.mark.slow
def test_a_command_that_fails_early_exits_cleanly_every_time(tmp_path: Path) -> None:
    """plan imports its diff library in a thread while the listing runs; when the listing fails at once, the
    normal exit path must not tear the interpreter down under a half-finished import (it crashed: 139)."""
    (tmp_path / "jobs.d").mkdir()
    (tmp_path / "jobs.d" / "a.yaml").write_text("name: a\nrequest:\n  resources: {cpus: 1, gpus: 0, cpuMemoryGb: 4}\n"
                                                "  docker: {image: debian, command: x}\n")
    (tmp_path / "gpulab-apply.yaml").write_text("retries: 0\n")
    command = [sys.executable, "-m", "gpulab_apply", "plan", "--endpoint", "http://127.0.0.1:9/api/gpulab/v3.1/",
               "--project", "p"]
    codes = [subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, check=False).returncode
             for _ in range(8)]
    assert codes == [1] * 8


def test_no_command_module_imports_another() -> None:
    """Helpers several commands use live in helper modules (cli/shared.py, options.py, output.py) and the application layer (gpulab_apply/app/),
    so each command module can change without reaching into another."""
    import ast
    import importlib.util

    from gpulab_apply.cli import COMMANDS

    modules = {entry.module for entry in COMMANDS}
    for module in modules:
        spec = importlib.util.find_spec(module)
        assert spec is not None and spec.origin is not None
        tree = ast.parse(Path(spec.origin).read_text(encoding="utf-8"))
        imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        imported |= {f"{node.module}.{alias.name}" for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module for alias in node.names}
        assert imported & (modules - {module}) == set(), module
