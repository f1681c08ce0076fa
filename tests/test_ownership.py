"""Ownership across people and clones (docs/plan-apply.md#ownership): a job is managed only if its marker
names this set *and* it belongs to the certificate's user; the default set is the repository's name."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from gpulab_apply.emulator import RunningEmulator
from gpulab_apply.gpulab.certificate import load_credentials
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.model import RemoteJob
from gpulab_apply.workspace import find_workspace
from tests.conftest import CliResult, RunCli
from tests.fixtures.certificates import MakeLoginPem
from tests.fixtures.jobs import job_yaml
from tests.harness import Repo

ALICE = "urn:publicid:IDN+ilabt.imec.be+user+alice"
JDOE = "urn:publicid:IDN+ilabt.imec.be+user+jdoe"


class Person:
    """One user's clone of the job repository, talking to the emulator over mutual TLS with their certificate."""

    def __init__(self, root: Path, emulator: RunningEmulator, cli: RunCli, pem: Path, ca_file: Path) -> None:
        self.jobs = root / "jobs.d"
        self.jobs.mkdir(parents=True)
        self.pem, self.ca_file, self.emulator, self._cli = pem, ca_file, emulator, cli
        self.args = ["--endpoint", emulator.api_root("3.1"), "--cert", str(pem), "--ca-bundle", str(ca_file),
                     "--project", "myproj", "--set", "lab"]

    def write(self, name: str) -> None:
        (self.jobs / f"{name}.yaml").write_text(job_yaml(name))

    def __call__(self, command: str, *args: str) -> CliResult:
        return self._cli(command, str(self.jobs), *args, *self.args)

    def active(self) -> list[RemoteJob]:
        credentials = load_credentials(self.pem, password=None)
        with GpulabClient(self.emulator.api_root("3.1"), api_version="3.1",
                          ssl_context=credentials.ssl_context(ca_bundle=self.ca_file),
                          identity=credentials.identity) as client:
            return [job for job in client.list_jobs() if job.status.is_active]


@pytest.fixture
def people(tmp_path: Path, tls_emulator: RunningEmulator, cli: RunCli, make_login_pem: MakeLoginPem,
           ca_file: Path) -> tuple[Person, Person]:
    return (Person(tmp_path / "alice", tls_emulator, cli, make_login_pem("alice"), ca_file),
            Person(tmp_path / "jdoe", tls_emulator, cli, make_login_pem("jdoe"), ca_file))


def owners(jobs: list[RemoteJob], name: str) -> list[str]:
    return sorted(str(job.owner["userUrn"]) for job in jobs if job.name == name)


def test_two_users_with_the_same_set_never_touch_each_others_jobs(people: tuple[Person, Person]) -> None:
    alice, jdoe = people
    for person in people:
        person.write("a")
        person.write("b")
    assert jdoe("apply", "--yes").exit_code == 0

    planned = alice("plan")
    assert planned.exit_code == 0, planned
    assert "+ a (new)" in planned.stdout and "+ b (new)" in planned.stdout  # jdoe's jobs are not hers
    assert JDOE not in planned.stdout  # the listing is hers alone: another user's jobs are not even seen
    assert alice("apply", "--yes").exit_code == 0
    assert owners(alice.active(), "a") == [ALICE, JDOE]

    (alice.jobs / "b.yaml").unlink()
    removed = alice("apply", "--yes")
    assert removed.exit_code == 0, removed  # no 403 from trying to cancel jdoe's b
    assert owners(alice.active(), "b") == [JDOE]

    again = jdoe("plan", "--detailed-exitcode")
    assert again.exit_code == 0, again  # jdoe's jobs are in sync; alice's are neither counted nor listed
    assert "No changes: GPULab matches the job files." in again.stdout and ALICE not in again.stdout


def test_a_team_sharing_one_certificate_is_one_owner(people: tuple[Person, Person], tmp_path: Path,
                                                     tls_emulator: RunningEmulator, cli: RunCli) -> None:
    alice, _ = people
    alice.write("a")
    assert alice("apply", "--yes").exit_code == 0
    ci = Person(tmp_path / "ci-checkout", tls_emulator, cli, alice.pem, alice.ca_file)
    ci.write("a")
    result = ci("plan", "--detailed-exitcode")
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
