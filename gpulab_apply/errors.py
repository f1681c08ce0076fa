"""The one error hierarchy of gpulab-apply, and the exit codes it maps to.

Problems in job files are *data* (:class:`gpulab_apply.problems.Problem`), collected and reported
together. The exceptions here are for what stops a command: a bad setting, an unreadable
certificate, an unreachable server, a refused guard. They are caught in exactly one place, the CLI's
``main``, which prints ``Error: <message>`` (plus the hint) and exits with ``exit_status``.

Messages say what happened and, in ``hint``, what to do about it. They never contain secrets.
"""

from __future__ import annotations

from collections.abc import Sequence
from enum import IntEnum
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gpulab_apply.masking import Secrets
    from gpulab_apply.problems import Problem


class ExitStatus(IntEnum):
    """Exit codes, the same for every command (docs/plan-apply.md#exit-codes)."""

    OK = 0
    ERROR = 1
    #: changes present: ``plan --detailed-exitcode``, ``apply --detailed-exitcode`` that changed something
    CHANGES = 2
    #: refused by a guard (``--allow-empty``, ``--max-cancel``)
    REFUSED = 3
    #: ``wait`` / ``apply --wait`` gave up: a job had not reached what was waited for in ``--wait-timeout``
    TIMEOUT = 4
    #: usage error; click's own 2 is remapped so that 2 only ever means "changes"
    USAGE = 64
    #: an unexpected error inside the tool (a bug): a crash report was written
    INTERNAL = 70
    #: stopped by Ctrl-C (SIGINT) or SIGTERM, after settling what was in flight: 128 + the signal's number
    INTERRUPTED = 130
    TERMINATED = 143


class GpulabApplyError(Exception):
    """Base of every error this tool raises on purpose."""

    exit_status: ExitStatus = ExitStatus.ERROR

    def __init__(self, message: str, *, hint: str | None = None, made: object = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        #: what the command had made when this stopped it (the plan a guard refused), for the failure report in
        #: the command's format; carried here, to the one boundary, rather than kept aside by the command
        self.made = made

    def __str__(self) -> str:
        return self.message


# --- settings and input -------------------------------------------------------------------------


class ConfigError(GpulabApplyError):
    """A setting is missing, malformed or contradicts another (flag, environment or config file)."""


class UsageError(ConfigError):
    """The command line is wrong: a flag's value the tool checks itself (``--timeout abc``, ``--set 'my set'``),
    flags that contradict each other, an empty selector. Exit 64, as click's own usage errors
    (docs/commands.md#exit-codes). The same value from the environment or the config file is a
    :class:`ConfigError` (exit 1): the command line is then not what is wrong."""

    exit_status = ExitStatus.USAGE



def setting_error(source: str, message: str, *, hint: str | None = None) -> ConfigError:
    """The error for a bad setting value from ``source``: a :class:`UsageError` when ``source`` is a flag
    (``--timeout``), a :class:`ConfigError` when it is an environment variable or a file."""
    kind = UsageError if source.startswith("-") else ConfigError
    return kind(message, hint=hint)


class InvalidJobsError(GpulabApplyError):
    """Job files have problems; raised by commands that need valid jobs before going further.

    It carries the problems, so that the CLI reports them in the command's own format.
    """

    def __init__(self, message: str, *, hint: str | None = None, problems: Sequence[Problem] = (),
                 files: int = 0, secrets: Secrets | None = None) -> None:
        super().__init__(message, hint=hint)
        self.problems = tuple(problems)
        #: job files read
        self.files = files
        #: what the job files took from the environment: masked in the report of these problems
        self.secrets = secrets


# --- credentials --------------------------------------------------------------------------------


class CertificateError(GpulabApplyError):
    """The client certificate cannot be used: missing, unreadable, encrypted, expired, ..."""


# --- the remote API -----------------------------------------------------------------------------


class RemoteError(GpulabApplyError):
    """GPULab (or the emulator) could not be reached or answered with an error."""


class ConnectionFailedError(RemoteError):
    """No usable answer: connection refused, DNS failure, TLS failure or timeout."""


class ServerError(RemoteError):
    """The server answered with an HTTP error status."""

    def __init__(self, message: str, *, status: int, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class AmbiguousSubmitError(RemoteError):
    """A POST may or may not have created a job (timeout or dropped connection after sending)."""


class TruncatedListingError(RemoteError):
    """A job listing may have been cut off by the server's cap, so absent jobs cannot be trusted."""


# --- plan and apply -----------------------------------------------------------------------------


class StalePlanError(GpulabApplyError):
    """A saved plan no longer matches GPULab: something changed since it was made."""


class GuardError(GpulabApplyError):
    """Apply refused by a safety guard (empty desired set, too many cancellations)."""

    exit_status = ExitStatus.REFUSED


class ApplyFailedError(GpulabApplyError):
    """Apply ran but some actions failed; the report says which."""


# --- jobs after apply ---------------------------------------------------------------------------


class JobNotFoundError(GpulabApplyError):
    """A selector matches no job, or not the one job a command needs (docs/commands.md#selectors): exit 1, as
    for every command that names jobs."""


class JobsFailedError(GpulabApplyError):
    """A job waited for ended without doing its work: FAILED, CANCELLED or deleted."""


class WaitTimeoutError(GpulabApplyError):
    """Jobs had not reached what ``wait`` waited for when its time was up."""

    exit_status = ExitStatus.TIMEOUT


# --- the command boundary -----------------------------------------------------------------------


class InterruptedByUser(GpulabApplyError):
    """Ctrl-C or SIGTERM stopped the command; what was in flight was settled first."""

    def __init__(self, message: str, *, exit_status: ExitStatus = ExitStatus.INTERRUPTED,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.exit_status = exit_status


class InternalError(GpulabApplyError):
    """An exception the tool did not expect (a bug), turned into a message and a crash report at the boundary."""

    exit_status = ExitStatus.INTERNAL
