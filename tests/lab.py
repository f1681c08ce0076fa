"""A job repository driven through the real CLI against an emulator (the logs and wait tests)."""

from __future__ import annotations

from pathlib import Path

from gpulab_apply.emulator import RunningEmulator
from tests.conftest import CliResult, RunCli

#: schedule 2 s + assign 3 s + start 10 s of simulated time (the emulator's defaults)
TO_RUNNING = 15


def job_yaml(name: str, *, runtime: str = "100 s", exit_code: int = 0, halt_after: str | None = None,
             restartable: bool = False) -> str:
    halt = f", GPULAB_EMULATOR_HALT_AFTER: '{halt_after}'" if halt_after else ""
    scheduling = "  scheduling: {restartable: true}\n" if restartable else ""
    return (f"name: {name}\nrequest:\n  resources: {{cpus: 1, gpus: 1, cpuMemoryGb: 4}}\n"
            f"  docker:\n    image: debian:stable\n    command: train.sh\n"
            f"    environment: {{GPULAB_EMULATOR_RUNTIME: '{runtime}', GPULAB_EMULATOR_EXIT_CODE: {exit_code}{halt}}}\n"
            + scheduling)


class Lab:
    """A job directory, and the CLI pointed at one emulator and set."""

    def __init__(self, root: Path, emulator: RunningEmulator, cli: RunCli, *, version: str = "3.1") -> None:
        self.jobs = root / "jobs.d"
        self.jobs.mkdir(exist_ok=True)
        self.emulator = emulator
        self._cli = cli
        self.connection = ("--endpoint", emulator.api_root(version), "--set", "lab", "--project", "local")

    def write(self, name: str, **options: object) -> None:
        (self.jobs / f"{name}.yaml").write_text(job_yaml(name, **options))  # type: ignore[arg-type]

    def __call__(self, *args: str) -> CliResult:
        return self._cli(*args, *self.connection)

    def apply(self) -> None:
        result = self("apply", "jobs.d", "--yes")
        assert result.exit_code == 0, result
