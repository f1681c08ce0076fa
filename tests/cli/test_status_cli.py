"""status: why a queued job waits, Markdown, --watch, natural order and natural ages (docs/plan-apply.md)."""

from __future__ import annotations

import json

import pytest

from gpulab_apply.reporters.status import ago, natural_key
from tests.fixtures.terminal import Terminal
from tests.harness import TO_RUNNING, Repo

WAITING = "Not enough free resources too run this Job"  # sic: GPULab's own wording, served by the emulator


@pytest.mark.parametrize(("seconds", "text"), [
    (None, "-"), (0, "just now"), (1, "1 second ago"), (59, "59 seconds ago"), (60, "1 minute ago"),
    (3599, "59 minutes ago"), (3600, "1 hour ago"), (7200, "2 hours ago"), (86_400, "1 day ago"),
    (86_400 * 2 + 5, "2 days ago"),
])
def test_ages_read_as_people_say_them(seconds: int | None, text: str) -> None:
    assert ago(seconds) == text


def test_names_sort_naturally() -> None:
    names = ["sweep-10", "sweep-2", "sweep-1", "a", "sweep-02b", "Sweep-3"]
    assert sorted(names, key=natural_key) == ["Sweep-3", "a", "sweep-1", "sweep-2", "sweep-02b", "sweep-10"]


def fill_the_cluster(repo: Repo) -> None:
    """Three jobs of 4 GPUs on the emulator's 2 nodes of 4 GPUs: sweep-10 (last by submission order) waits."""
    for name in ("sweep-1", "sweep-2", "sweep-10"):
        repo.write(name, gpus=4)
    assert repo("apply", "jobs.d", "--yes").exit_code == 0
    repo.emulator.advance(TO_RUNNING)


def test_status_says_why_a_queued_job_waits_in_every_format(repo: Repo) -> None:
    fill_the_cluster(repo)
    document = json.loads(repo("status", "jobs.d", "--format", "json").stdout)
    jobs = document["jobs"]
    assert [job["name"] for job in jobs] == ["sweep-1", "sweep-2", "sweep-10"]  # natural order
    waiting = [job for job in jobs if job["status"] == "QUEUED"]
    assert len(waiting) == 1 and waiting[0]["queuedExplanations"] == [WAITING], jobs
    assert all(job["queuedExplanations"] == [] for job in jobs if job["status"] != "QUEUED")
    name = waiting[0]["name"]

    text = repo("status", "jobs.d").stdout.splitlines()
    row = next(i for i, line in enumerate(text) if line.startswith(f"{name} "))
    assert text[row + 1] == f"  waiting: {WAITING}", text
    assert [line.split()[0] for line in text[2:] if not line.startswith((" ", "GPU-hours used"))] == ["sweep-1", "sweep-2", "sweep-10"]

    markdown = repo("status", "jobs.d", "--format", "markdown").stdout
    assert markdown.startswith("### gpulab-apply status of set `lab`\n\n**3 jobs: 1 QUEUED, 2 RUNNING.**\n"), markdown
    assert "| job | status | age | GPUs | job id | file | waiting because |" in markdown
    assert f"| {name} | QUEUED | " in markdown and f" | {WAITING} |" in markdown


def test_watch_refreshes_a_bounded_number_of_times(repo: Repo) -> None:
    repo.write("a")
    result = repo("status", "jobs.d", "--watch", "--interval", "0.1", "--count", "3")
    assert result.exit_code == 0, result
    assert result.stdout.count("Set: lab\n") == 3
    assert "\x1b[2J" not in result.stdout  # the screen is cleared only on a terminal
    documents = repo("status", "jobs.d", "--watch", "--interval", "0.1", "--count", "2", "--format", "json").stdout
    decoder, position, seen = json.JSONDecoder(), 0, 0
    while position < len(documents.rstrip()):
        document, position = decoder.raw_decode(documents, position)
        position += 1
        seen += document["kind"] == "status"
    assert seen == 2


def test_watch_on_a_terminal_redraws_until_ctrl_c(repo: Repo) -> None:
    repo.write("a")
    with Terminal("status", "jobs.d", "--watch", "--interval", "0.2", *repo.connection, new_session=True) as terminal:
        terminal.read_until(lambda seen: seen.count(b"Set: lab") >= 2)
        assert terminal.interrupt() == 0, terminal.seen
        terminal.read_to_end()
    seen = terminal.seen
    assert b"\x1b[H\x1b[2J" in seen  # each refresh replaces the last
    assert b"Traceback" not in seen and b"Interrupted" not in seen
