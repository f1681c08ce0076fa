"""Ownership across people and clones (docs/plan-apply.md#ownership): a job is managed only if its marker
names this set *and* it belongs to the certificate's user; the default set is the repository's name."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.gpulab.certificate import load_credentials
from gpulab_apply.model import RemoteJob
from gpulab_apply.workspace import find_workspace
from tests.conftest import RunCli
from tests.fixtures.certificates import MakeLoginPem
from tests.fixtures.jobs import job_yaml
from tests.harness import Repo

ALICE = "urn:publicid:IDN+ilabt.imec.be+user+alice"
JDOE = "urn:publicid:IDN+ilabt.imec.be+user+jdoe"


def person(root: Path, emulator: RunningEmulator, cli: RunCli, pem: Path, ca_file: Path) -> Repo:
    """One user's clone of the job repository, talking to the emulator over mutual TLS with their certificate."""
    credentials = load_credentials(pem, password=None)
    return Repo(root, emulator, cli, project="myproj", options=("--cert", str(pem), "--ca-bundle", str(ca_file)),
                client_options={"ssl_context": credentials.ssl_context(ca_bundle=ca_file),
                                "identity": credentials.identity})


@pytest.fixture
def people(tmp_path: Path, tls_emulator: RunningEmulator, cli: RunCli, make_login_pem: MakeLoginPem,
           ca_file: Path) -> tuple[Repo, Repo]:
    return (person(tmp_path / "alice", tls_emulator, cli, make_login_pem("alice"), ca_file),
            person(tmp_path / "jdoe", tls_emulator, cli, make_login_pem("jdoe"), ca_file))


def owners(jobs: list[RemoteJob], name: str) -> list[str]:
    return sorted(str(job.owner["userUrn"]) for job in jobs if job.name == name)


def test_two_users_with_the_same_set_never_touch_each_others_jobs(people: tuple[Repo, Repo]) -> None:
    alice, jdoe = people
    for person in people:
        person.write("a")
        person.write("b")
    assert jdoe("apply", str(jdoe.jobs), "--yes").exit_code == 0

    planned = alice("plan", str(alice.jobs))
    assert planned.exit_code == 0, planned
    assert "+ a (new)" in planned.stdout and "+ b (new)" in planned.stdout  # jdoe's jobs are not hers
    assert JDOE not in planned.stdout  # the listing is hers alone: another user's jobs are not even seen
    assert alice("apply", str(alice.jobs), "--yes").exit_code == 0
    assert owners(alice.active(), "a") == [ALICE, JDOE]

    (alice.jobs / "b.yaml").unlink()
    removed = alice("apply", str(alice.jobs), "--yes")
    assert removed.exit_code == 0, removed  # no 403 from trying to cancel jdoe's b
    assert owners(alice.active(), "b") == [JDOE]

    again = jdoe("plan", str(jdoe.jobs), "--detailed-exitcode")
    assert again.exit_code == 0, again  # jdoe's jobs are in sync; alice's are neither counted nor listed
    assert "No changes: GPULab matches the job files." in again.stdout and ALICE not in again.stdout


def test_a_team_sharing_one_certificate_is_one_owner(people: tuple[Repo, Repo], tmp_path: Path,
                                                     tls_emulator: RunningEmulator, cli: RunCli) -> None:
    alice, _ = people
    alice.write("a")
    assert alice("apply", str(alice.jobs), "--yes").exit_code == 0
    ci = Repo(tmp_path / "ci-checkout", tls_emulator, cli, project="myproj", options=alice.options,
              client_options=alice.client_options)
    ci.write("a")
    result = ci("plan", str(ci.jobs), "--detailed-exitcode")
    assert result.exit_code == 0, result
    assert "No changes: GPULab matches the job files." in result.stdout


# --- the default set -------------------------------------------------------------------------------------------

def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True)


@pytest.mark.parametrize("url", ["git@github.com:lab/proj.git", "https://gitlab.example/lab/proj", "/srv/git/proj.git/",
                                 "ssh://git@host:2222/lab/proj.git"])
def test_the_default_set_is_the_origin_remotes_repository_name(tmp_path: Path, url: str) -> None:
    clone = tmp_path / "checkout-folder"
    (clone / "jobs.d").mkdir(parents=True)
    git("init", "-q", cwd=clone)
    git("remote", "add", "origin", url, cwd=clone)
    assert find_workspace([clone / "jobs.d"]).set_name == "proj"


def test_a_worktree_and_a_repository_without_a_remote(tmp_path: Path) -> None:
    main = tmp_path / "proj-main"
    main.mkdir()
    git("init", "-q", cwd=main)
    assert find_workspace([main]).set_name == "proj-main"  # no remote: the top-level folder
    git("remote", "add", "origin", "git@github.com:lab/proj.git", cwd=main)
    git("-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q", "--allow-empty", "-m", "x", cwd=main)
    git("worktree", "add", "-q", str(tmp_path / "elsewhere"), cwd=main)
    assert find_workspace([tmp_path / "elsewhere" / "jobs.d"]).set_name == "proj"
    assert find_workspace([tmp_path / "not-git" / "experiments"]).set_name == "experiments"  # outside git


def test_a_clone_in_another_folder_sees_its_jobs_in_sync(tmp_path: Path, emulator: RunningEmulator,
                                                         cli: RunCli, monkeypatch: pytest.MonkeyPatch) -> None:
    results = []
    for folder in ("proj", "ci-build-1234"):
        root = tmp_path / folder
        root.mkdir()
        git("init", "-q", cwd=root)
        git("remote", "add", "origin", "https://github.com/lab/proj.git", cwd=root)
        (root / "jobs.d").mkdir()
        (root / "jobs.d" / "a.yaml").write_text(job_yaml("a"))
        monkeypatch.chdir(root)
        connection = ("--endpoint", emulator.api_root("3.1"), "--project", "local")
        results.append(cli("apply", "--yes", *connection))
    assert results[0].exit_code == 0 and "Set: proj" in results[0].stdout
    assert "Set: proj" in results[1].stdout and "No changes: GPULab matches" in results[1].stdout


def test_jobs_of_another_set_of_the_same_user_are_a_loud_warning(repo: Repo, cli: RunCli) -> None:
    repo.write("a")
    repo.write("b")
    assert repo("apply", "--yes").exit_code == 0
    other = cli("plan", str(repo.jobs), "--endpoint", repo.emulator.api_root("3.1"), "--project", "local",
                "--set", "renamed")
    assert other.exit_code == 0, other
    assert "2 desired job(s) already run as your jobs of set 'lab', not 'renamed': did you mean --set lab?" \
        in other.stdout
    assert "No changes: GPULab matches" not in other.stdout
    markdown = cli("plan", str(repo.jobs), "--endpoint", repo.emulator.api_root("3.1"), "--project", "local",
                   "--set", "renamed", "--format", "markdown")
    assert "> **Warning:** 2 desired job(s)" in markdown.stdout
