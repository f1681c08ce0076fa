"""Printing safely: user strings never inject workflow commands or break rows, secrets never reach output.

Through the real CLI: a job whose name carries a newline and a forged ``::error`` command (it can come from
GPULab's listing, whatever validate accepts), a server error quoting the submitted environment, and a
password in the endpoint URL under ``--verbose``.
"""

from __future__ import annotations

import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from gpulab_apply.masking import markdown_text, mask_message, safe
from gpulab_apply.reconcile.marker import Marker, spec_hash, with_marker
from tests.conftest import RunCli
from tests.harness import Repo

EVIL = "x\n::error file=README.md::INJECTED"
ESCAPE = "y\x1b[2J\x9b31m\u202egnp.exe"
SECRET = "hf_s3cr3t_value"


def seed_evil_jobs(repo: Repo) -> None:
    """Jobs of set lab whose names are hostile, as another tool (or an older version) could have made them."""
    for name in (EVIL, ESCAPE):
        job = {"name": name, "request": {"resources": {"cpus": 1, "gpus": 1, "cpuMemoryGb": 4},
                                         "docker": {"image": "debian:stable", "command": "x"}}}
        repo.emulator.seed_job(with_marker(job, Marker(set_name="lab", spec=spec_hash(job), run_id="r1")),
                               project_urn="urn:publicid:IDN+ilabt.imec.be+project+local")


def test_safe_escapes_control_characters_and_nothing_else() -> None:
    assert safe(EVIL) == "x\\n::error file=README.md::INJECTED"
    assert safe(ESCAPE) == "y\\x1b[2J\\x9b31m\\u202egnp.exe"
    assert safe("tab\there\r") == "tab\\there\\r"
    assert safe("sweep-2 ümlaut €") == "sweep-2 ümlaut €"


@pytest.mark.parametrize(("command", "fmt"), [("plan", "text"), ("plan", "github"), ("plan", "markdown"),
                                              ("plan", "json"), ("status", "text"), ("status", "markdown"),
                                              ("status", "json"), ("apply", "github"), ("apply", "text")])
def test_hostile_names_are_printed_escaped_in_every_format(repo: Repo, command: str, fmt: str) -> None:
    repo.write("a")
    seed_evil_jobs(repo)
    extra = ["--yes"] if command == "apply" else []
    result = repo(command, "jobs.d", *extra, "--format", fmt)
    assert result.exit_code == 0, result
    out = result.stdout
    assert "\x1b" not in out and "\x9b" not in out and "\u202e" not in out
    assert not any(line.startswith("::error file=README.md") for line in out.splitlines()), out
    if fmt == "json":
        names = json.dumps(json.loads(out))
        assert "\\n::error" in names  # the document keeps the real name, JSON-escaped
        return
    shown = markdown_text(EVIL) if fmt == "markdown" else "x\\n::error file=README.md::INJECTED"
    assert shown in out or "x\\\\n::error file%3DREADME.md" in out, out
    if command == "status" and fmt == "text":
        lines = out.splitlines()
        # Set:, the header, a, and the two hostile jobs: one row each, nothing broken in two
        assert len(lines) == 5, out
        assert all(len(line) >= len(lines[1].rstrip()) - 40 for line in lines[1:]), out


@pytest.fixture
def quoting_server() -> Iterator[str]:
    """A loopback HTTP server that refuses every request with an error quoting a job's environment."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = json.dumps({"detail": "Invalid job: {'request': {'docker': {'environment': "
                                         f"{{'HF_TOKEN': '{SECRET}', 'SEED': '1'}}}}}}}}"}).encode()
            self.send_response(400)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    # a short poll: the default 0.5 s would be waited out at each stop (as in tests/hostile_gpulab.py)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/api/gpulab/v3.1/"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["text", "json", "markdown", "github"])
def test_a_server_error_quoting_the_environment_is_masked(tmp_path: Path, cli: RunCli, quoting_server: str,
                                                          fmt: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.d").mkdir()
    (tmp_path / "jobs.d" / "a.yaml").write_text("name: a\nrequest:\n  resources: {cpus: 1, gpus: 0, cpuMemoryGb: 4}\n"
                                                "  docker: {image: debian, command: x}\n")
    result = cli("plan", "jobs.d", "--format", fmt, "-v", "--endpoint", quoting_server, "--project", "p")
    assert result.exit_code == 1, result
    assert SECRET not in result.stdout + result.stderr
    assert "'HF_TOKEN': '***'" in result.stderr, result.stderr


def test_verbose_never_prints_a_password_in_the_endpoint(repo: Repo, cli: RunCli) -> None:
    """A password in the endpoint is refused (issue 22 §2: it was sent as Basic auth), and not shown doing so."""
    root = repo.emulator.api_root("3.1").replace("http://", "http://alice:hun@ter2@")
    result = cli("status", "jobs.d", "-v", "--endpoint", root, "--set", "lab", "--project", "local")
    assert result.exit_code == 64, result
    assert "holds a user name or password" in result.stderr
    assert "hun" not in result.stdout + result.stderr and "ter2" not in result.stdout + result.stderr


@pytest.mark.parametrize(("text", "expected"), [
    ("{'HF_TOKEN': 'hf_x', 'SEED': 1}", "{'HF_TOKEN': '***', 'SEED': 1}"),
    ('{"API_KEY": "a \\" b", "n": 2}', '{"API_KEY": "***", "n": 2}'),
    ("export DB_PASSWORD=p4ss; next", "export DB_PASSWORD=***; next"),
    ('duplicate key "HF_TOKEN" with value "hf_x"', 'duplicate key "HF_TOKEN" with value "***"'),
    ("pull u:p@registry/x failed", "pull u:***@registry/x failed"),
    ("GET https://bob:pw@host/api/ -> 200", "GET https://***@host/api/ -> 200"),
    ("request.resources.gpus: 'two' is not of type 'integer'", "request.resources.gpus: 'two' is not of type 'integer'"),
    # a variable reference with its default is advice, not a secret's value
    ("give a default: ${WANDB_API_KEY:-none}", "give a default: ${WANDB_API_KEY:-none}"),
])
def test_messages_are_masked(text: str, expected: str) -> None:
    assert mask_message(text) == expected
