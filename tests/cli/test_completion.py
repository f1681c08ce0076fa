"""Shell completion through the real entry point, with click's environment-variable protocol."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gpulab_apply.cli import COMPLETE_VAR, run
from tests.conftest import RunCli
from tests.job_texts import MINIMAL_JOB_YAML

BIN = Path(sys.executable).parent
SCRIPT = BIN / "gpulab-apply"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    jobs = tmp_path / "jobs.d"
    (jobs / "sweep").mkdir(parents=True)
    (jobs / "train-a.yaml").write_text(MINIMAL_JOB_YAML.format(name="train-a"))
    (jobs / "sweep" / "train-b.yaml").write_text(MINIMAL_JOB_YAML.format(name="train-b") + "---\n"
                                                 + MINIMAL_JOB_YAML.format(name="eval"))
    (jobs / "broken.yaml").write_text("name: [\n")  # unreadable files are skipped, not a traceback
    other = tmp_path / "other"
    other.mkdir()
    (other / "x.yaml").write_text(MINIMAL_JOB_YAML.format(name="elsewhere"))
    return tmp_path


def answer(repo: Path, instruction: str, words: str = "", cword: int | str = 0) -> str:
    """What ``gpulab-apply`` prints for the completion protocol's ``instruction`` (``bash_complete``...).

    In this process, through the entry point the console script calls (``run``): a new process per completion
    took 0.2 s. The console script itself answers in ``test_bash_completes_commands_and_target_names``,
    ``test_the_same_names_complete_in_this_process`` and ``test_the_bash_script_completes_in_bash``.
    """
    env = {"COMP_WORDS": words, "COMP_CWORD": str(cword), COMPLETE_VAR: instruction, "GITHUB_ACTIONS": None}
    # click answers the protocol, then exits
    with contextlib.chdir(repo), CliRunner().isolation(env=env) as (out, err, _), pytest.raises(SystemExit) as ended:
        run([])
    assert ended.value.code == 0 and not err.getvalue(), (ended.value.code, err.getvalue())
    return out.getvalue().decode()


def complete(repo: Path, shell: str, words: str, cword: int | str) -> list[str]:
    """What the shell's completion function receives: one candidate per line."""
    return answer(repo, f"{shell}_complete", words, cword).splitlines()


def complete_by_the_script(repo: Path, shell: str, words: str, cword: int | str) -> list[str]:
    """:func:`complete` as the shell calls it: the installed console script, in a process of its own."""
    env = {**os.environ, "COMP_WORDS": words, "COMP_CWORD": str(cword), COMPLETE_VAR: f"{shell}_complete"}
    result = subprocess.run([str(SCRIPT)], cwd=repo, env=env, capture_output=True, text=True, check=False,
                            timeout=60)
    assert result.returncode == 0 and not result.stderr, result
    return result.stdout.splitlines()


@pytest.mark.slow
def test_bash_completes_commands_and_target_names(repo: Path) -> None:
    assert "plain,completion" in complete_by_the_script(repo, "bash", "gpulab-apply ", 1)
    assert complete_by_the_script(repo, "bash", "gpulab-apply plan --target ", 3) == [
        "plain,eval", "plain,train-a", "plain,train-b"]
    assert complete_by_the_script(repo, "bash", "gpulab-apply apply --target train", 3) == [
        "plain,train-a", "plain,train-b"]


@pytest.mark.slow
def test_the_same_names_complete_in_this_process(repo: Path) -> None:
    """What the fast tests below read in this process is what the console script answers."""
    for words, cword in (("gpulab-apply ", 1), ("gpulab-apply plan --target ", 3), ("gpulab-apply logs tr", 2)):
        assert complete(repo, "bash", words, cword) == complete_by_the_script(repo, "bash", words, cword)


def test_cancel_protected_completes_only_protected_names(repo: Path) -> None:
    """--cancel-protected is refused for a job that is not protected: completion offers only protected ones."""
    (repo / "jobs.d" / "keep.yaml").write_text(MINIMAL_JOB_YAML.format(name="keep-1")
                                               + "x-gpulab-apply: {protect: true}\n")
    for command in ("plan", "apply"):
        assert complete(repo, "bash", f"gpulab-apply {command} --cancel-protected ", 3) == ["plain,keep-1"]
        assert complete(repo, "bash", f"gpulab-apply {command} --cancel-protected ev", 3) in ([], [""])


def test_render_completes_job_and_sweep_names_and_paths_complete_as_files(repo: Path) -> None:
    (repo / "jobs.d" / "grid.yaml").write_text(
        MINIMAL_JOB_YAML.format(name="grid") + "x-gpulab-apply:\n  matrix: {lr: [0.1, 0.05]}\n")
    assert complete(repo, "bash", "gpulab-apply render gr", 2) == [
        "plain,grid", "plain,grid-lr0.05", "plain,grid-lr0.1"]
    for option in ("--cert", "--ca-bundle", "--config"):
        assert complete(repo, "bash", f"gpulab-apply plan {option} x", 3) == ["file,x"], option
        assert complete(repo, "bash", f"gpulab-apply {option} x", 2) == ["file,x"], option  # before the command


def test_names_complete_from_the_directory_of_dash_c(repo: Path) -> None:
    assert complete(repo.parent, "bash", f"gpulab-apply -C {repo} plan --target tr", 5) == [
        "plain,train-a", "plain,train-b"]


def test_names_come_from_the_directories_on_the_command_line(repo: Path) -> None:
    assert complete(repo, "bash", "gpulab-apply plan other --target ", 4) == ["plain,elsewhere"]


def test_zsh_and_fish_get_the_same_names(repo: Path) -> None:
    # zsh: type, value and help on separate lines ("_" for no help)
    assert complete(repo, "zsh", "gpulab-apply plan --target tr", 3) == [
        "plain", "train-a", "_", "plain", "train-b", "_"]
    # fish: COMP_CWORD is the word being completed
    assert complete(repo, "fish", "gpulab-apply plan --target tr", "tr") == ["plain,train-a", "plain,train-b"]


def test_completion_prints_a_script_for_each_shell(cli: RunCli) -> None:
    for shell, marker in (("bash", "complete -o nosort -F _gpulab_apply_completion gpulab-apply"),
                          ("zsh", "compdef _gpulab_apply_completion gpulab-apply"),
                          ("fish", "complete --no-files --command gpulab-apply")):
        result = cli("completion", shell)
        assert result.exit_code == 0, result
        assert marker in result.stdout and "_GPULAB_APPLY_COMPLETE" in result.stdout
    assert cli("completion", "tcsh").exit_code == 64


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_the_bash_script_completes_in_bash(repo: Path) -> None:
    """The documented set-up, in bash itself: eval the script, then run its completion function."""
    script = ('eval "$(gpulab-apply completion bash)"\n'
              'COMP_WORDS=(gpulab-apply apply --target t); COMP_CWORD=3\n'
              '_gpulab_apply_completion gpulab-apply\n'
              'printf "%s\\n" "${COMPREPLY[@]}"\n')
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    result = subprocess.run(["bash", "--norc", "-c", script], cwd=repo, env=env, capture_output=True, text=True,
                            check=False, timeout=60)
    assert result.stdout.splitlines() == ["train-a", "train-b"], result


def test_the_completion_command_prints_what_the_protocol_sources(repo: Path, cli: RunCli) -> None:
    for shell in ("bash", "zsh", "fish"):
        sourced = answer(repo, f"{shell}_source")
        assert sourced
        assert cli("completion", shell).stdout == sourced


def test_logs_completes_job_names(repo: Path) -> None:
    assert complete(repo, "bash", "gpulab-apply logs tr", 2) == ["plain,train-a", "plain,train-b"]
    assert complete(repo, "bash", "gpulab-apply logs --jobs other ", 4) == ["plain,elsewhere"]


def test_wait_completes_names_not_given_yet(repo: Path) -> None:
    assert complete(repo, "bash", "gpulab-apply wait train-a t", 3) == ["plain,train-b"]


def test_names_come_in_natural_order(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    for name in ("sweep-10", "sweep-2", "sweep-1", "eval", "sweep-2b"):
        (jobs / f"{name}.yaml").write_text(MINIMAL_JOB_YAML.format(name=name))
    assert complete(tmp_path, "bash", "gpulab-apply logs ", 2) == [
        "plain,eval", "plain,sweep-1", "plain,sweep-2", "plain,sweep-2b", "plain,sweep-10"]


def test_a_matrix_sweep_completes_with_its_members_names(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs.d"
    jobs.mkdir()
    (jobs / "train.yaml").write_text(MINIMAL_JOB_YAML.format(name="train")
                                     + "x-gpulab-apply:\n  matrix: {lr: [1e-4, 3e-4], seed: [0, 1]}\n")
    assert complete(tmp_path, "bash", "gpulab-apply logs train-lr3", 2) == [
        "plain,train-lr3e-4-seed0", "plain,train-lr3e-4-seed1"]
    # --target also takes a sweep's own name, for all its members; logs wants one job
    assert complete(tmp_path, "bash", "gpulab-apply plan --target train", 3)[0] == "plain,train"
    assert "plain,train" not in complete(tmp_path, "bash", "gpulab-apply logs train", 2)


def test_names_complete_from_a_subdirectory_of_the_repository(repo: Path) -> None:
    (repo / ".git").mkdir()
    (repo / "docs").mkdir()
    assert complete(repo / "docs", "bash", "gpulab-apply logs tr", 2) == ["plain,train-a", "plain,train-b"]
