"""Shared fixtures. ``cli`` runs gpulab-apply through its real entry point (``gpulab_apply.cli.run``)."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Mapping, Sequence

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, settings

from gpulab_apply.cli import run

pytest_plugins = ["tests.fixtures.certificates", "tests.fixtures.emulator", "tests.fixtures.collection",
                  "tests.fixtures.retries", "tests.harness"]

# Property tests run a modest number of examples in CI (the suite stays within minutes on 2 cores) and
# as many as asked for in a long campaign: GPULAB_APPLY_HYPOTHESIS=long (or pytest --hypothesis-profile long).
# No deadline: a loaded CI machine must not turn slowness into a failure; bounds are asserted explicitly.
settings.register_profile(
    "ci", max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile("long", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("GPULAB_APPLY_HYPOTHESIS", "ci"))


@dataclasses.dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str

    def __str__(self) -> str:  # shown by pytest when an assertion on the result fails
        return f"exit {self.exit_code}\n--- stdout\n{self.stdout}--- stderr\n{self.stderr}"


RunCli = Callable[..., CliResult]


@pytest.fixture
def cli() -> RunCli:
    """``cli("validate", "jobs.d", input=None, env={...})`` -> CliResult, in-process, output captured.

    Streams are not terminals here, so commands behave as they do in CI (no prompts, no colour).
    """

    def invoke(*args: str, input: str | None = None, env: Mapping[str, str | None] | None = None) -> CliResult:
        runner = CliRunner()
        # --format auto must not turn into github when the suite itself runs under GitHub Actions
        environment = {"GITHUB_ACTIONS": None, **(env or {})}
        with runner.isolation(input=input, env=environment, color=False) as (out, err, _):
            code = run(list(args))
        return CliResult(code, out.getvalue().decode(), err.getvalue().decode())

    return invoke


def lines(text: str) -> Sequence[str]:
    return text.splitlines()
