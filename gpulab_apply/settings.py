"""Settings: where GPULab is, who we are, and how patiently we talk to it.

Resolved once per command, flag > environment variable > config file > default (docs/client.md#settings). The config
file is ``gpulab-apply.yaml`` beside the job directory (or ``--config``), read with the safe YAML
loader. Every value remembers where it came from, so errors and ``--verbose`` can say so. Nothing
here talks to the network or imports ``requests``.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from gpulab_apply.errors import ConfigError
from gpulab_apply.gpulab.certificate import Identity, PasswordPrompt
from gpulab_apply.gpulab.local import is_loopback

DEFAULT_ENDPOINT = "https://gpulab.ilabt.imec.be/api/gpulab/v3.1/"
DEFAULT_API_VERSION = "3.1"
API_VERSIONS = ("3.0", "3.1", "4.0")
CONFIG_FILE_NAME = "gpulab-apply.yaml"
#: the endpoint value that selects the embedded emulator, like ``--local``
LOCAL_ENDPOINT = "local"
#: project used with --local when none is configured: the emulator's default project
LOCAL_PROJECT = "local"
STATE_DIR_NAME = ".gpulab-apply"

#: environment variable per setting (docs/client.md#settings); the password has no flag, on purpose (argv is public)
ENV_VARS: Mapping[str, str] = {
    "endpoint": "GPULAB_ENDPOINT",
    "api_version": "GPULAB_API_VERSION",
    "cert": "GPULAB_CERT",
    "password": "GPULAB_CERT_PASSWORD",
    "ca_bundle": "GPULAB_CA_BUNDLE",
    "project": "GPULAB_PROJECT",
    "set": "GPULAB_APPLY_SET",
    "config": "GPULAB_APPLY_CONFIG",
    "timeout": "GPULAB_APPLY_TIMEOUT",
}
#: keys a config file may hold -> setting name; secrets are deliberately not among them
CONFIG_KEYS: Mapping[str, str] = {
    "endpoint": "endpoint",
    "api-version": "api_version",
    "cert": "cert",
    "ca-bundle": "ca_bundle",
    "project": "project",
    "set": "set",
    "timeout": "timeout",
    "connect-timeout": "connect_timeout",
    "retries": "retries",
}
_FLAG_NAMES: Mapping[str, str] = {
    "endpoint": "--endpoint", "api_version": "--api-version", "cert": "--cert", "ca_bundle": "--ca-bundle",
    "project": "--project", "set": "--set", "config": "--config", "timeout": "--timeout",
}
_VERSION_IN_PATH = re.compile(r"/v(\d+\.\d+)/?$")
SET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


@dataclass(frozen=True, kw_only=True)
class Timeouts:
    """Seconds to wait for a connection and for each read of an answer, on every request."""

    connect: float = 5.0
    read: float = 30.0


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """How failed idempotent requests are retried: exponential backoff with jitter.

    Attempt ``n`` (1-based) waits ``min(max_backoff, backoff * 2**(n-1))``, of which the second half
    is random, so parallel clients do not retry in lockstep. ``Retry-After`` (429/503) is honoured
    up to ``max_retry_after`` seconds.
    """

    retries: int = 5
    backoff: float = 0.5
    max_backoff: float = 8.0
    max_retry_after: float = 120.0

    def delay(self, attempt: int) -> float:
        ceiling = min(self.max_backoff, self.backoff * 2.0 ** (attempt - 1))
        return ceiling / 2 + random.uniform(0, ceiling / 2)


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything a command needs to reach GPULab. Build it with :func:`resolve_settings`."""

    #: ``local`` or the versioned API root as given
    endpoint: str
    #: the versioned API root ending in ``/``; None with ``local`` (the emulator picks its port)
    api_root: str | None
    api_version: str
    cert_path: Path | None
    password: str | None = field(default=None, repr=False)
    #: asks for the key's password; set by the CLI only when stdin is a terminal
    password_prompt: PasswordPrompt | None = field(default=None, repr=False, compare=False)
    ca_bundle: Path | None = None
    #: project name (or URN) for ``owner.projectUrn``; see :meth:`project_urn`
    project: str | None = None
    set_name: str
    local: bool = False
    state_dir: Path
    config_path: Path | None = None
    timeouts: Timeouts = Timeouts()
    retry: RetryPolicy = RetryPolicy()
    verbose: bool = False
    #: setting name -> where its value came from (``--cert``, ``GPULAB_CERT``, ``gpulab-apply.yaml``, ...)
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def project_urn(self, identity: Identity) -> str | None:
        """``owner.projectUrn`` for jobs without one: the project under the user's authority."""
        project = self.project or (LOCAL_PROJECT if self.local else None)
        return identity.project_urn(project) if project else None

    def describe(self) -> list[tuple[str, str, str]]:
        """(setting, value, source) rows for ``--verbose``; the password is never shown."""
        rows = [
            ("endpoint", self.api_root or self.endpoint, self.sources.get("endpoint", "default")),
            ("api version", self.api_version, self.sources.get("api_version", "default")),
            ("certificate", str(self.cert_path or "-"), self.sources.get("cert", "default")),
            ("password", "(set)" if self.password else "(not set)", self.sources.get("password", "-")),
            ("CA bundle", str(self.ca_bundle or "system store"), self.sources.get("ca_bundle", "default")),
            ("project", self.project or "-", self.sources.get("project", "default")),
            ("set", self.set_name, self.sources.get("set", "default")),
            ("config file", str(self.config_path or "-"), self.sources.get("config", "-")),
            ("timeouts", f"connect {self.timeouts.connect:g} s, read {self.timeouts.read:g} s",
             self.sources.get("timeout", self.sources.get("connect_timeout", "default"))),
            ("retries", f"{self.retry.retries}, backoff {self.retry.backoff:g} s", self.sources.get("retries", "default")),
        ]
        return rows


def resolve_settings(
    *,
    flags: Mapping[str, Any],
    env: Mapping[str, str],
    job_paths: Sequence[Path] = (),
    cwd: Path | None = None,
    password_prompt: PasswordPrompt | None = None,
) -> Settings:
    """Resolve settings, flag > environment > config file > default.

    ``flags`` holds the command-line values by setting name (None = not given): ``endpoint``,
    ``api_version``, ``cert``, ``ca_bundle``, ``project``, ``set``, ``config``, ``timeout``,
    ``local``, ``verbose``. ``job_paths`` are the job directories (the config file and the default
    set name are found from them).
    """
    cwd = cwd or Path.cwd()
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    def take(name: str, value: Any, source: str) -> None:
        if name not in values and value is not None and value != "":
            values[name] = value
            sources[name] = source

    for name, flag in _FLAG_NAMES.items():
        take(name, flags.get(name), flag)
    for name, variable in ENV_VARS.items():
        take(name, env.get(variable), variable)
    config_path = _config_path(values.get("config"), job_paths, cwd)
    if config_path is not None:
        base = config_path.parent
        for name, value in _read_config(config_path).items():
            if name in ("cert", "ca_bundle"):
                value = base / Path(str(value)).expanduser()
            take(name, value, str(config_path))

    local = bool(flags.get("local")) or str(values.get("endpoint", "")).strip().lower() == LOCAL_ENDPOINT
    if flags.get("local") and sources.get("endpoint") == "--endpoint" and values["endpoint"] != LOCAL_ENDPOINT:
        raise ConfigError("--local and --endpoint contradict each other", hint="Give one of them.")
    api_version = _api_version(values.get("api_version"), sources.get("api_version"))
    if local:
        if flags.get("local"):
            sources["endpoint"] = "--local"
        api_root = None
        endpoint = LOCAL_ENDPOINT
        version = api_version or DEFAULT_API_VERSION
    else:
        endpoint = str(values.get("endpoint", DEFAULT_ENDPOINT))
        api_root, version = normalise_endpoint(
            endpoint, api_version, source=sources.get("endpoint", "default endpoint")
        )
    read_timeout = _positive(values.get("timeout", Timeouts.read), sources.get("timeout"), "timeout")
    connect_timeout = _positive(values.get("connect_timeout", min(Timeouts.connect, read_timeout)),
                                sources.get("connect_timeout"), "connect-timeout")
    retries = _count(values.get("retries", RetryPolicy.retries), sources.get("retries"))
    return Settings(
        endpoint=endpoint,
        api_root=api_root,
        api_version=version,
        cert_path=_path(values.get("cert"), cwd),
        password=values.get("password"),
        password_prompt=password_prompt,
        ca_bundle=_path(values.get("ca_bundle"), cwd),
        project=_project(values.get("project")),
        set_name=_set_name(values.get("set"), sources.get("set"), job_paths, cwd),
        local=local,
        state_dir=cwd / STATE_DIR_NAME,
        config_path=config_path,
        timeouts=Timeouts(connect=connect_timeout, read=read_timeout),
        retry=RetryPolicy(retries=retries),
        verbose=bool(flags.get("verbose")),
        sources=sources,
    )


def normalise_endpoint(endpoint: str, api_version: str | None, *, source: str) -> tuple[str, str]:
    """The versioned API root (ending in ``/``) and its version, from an endpoint URL.

    A root with ``/vX.Y/`` names its version; one without takes ``api_version`` (default 3.1):
    ``https://host`` and ``https://host/api/`` become ``https://host/api/gpulab/vX.Y/``,
    ``https://host/api/gpulab/`` becomes ``.../gpulab/vX.Y/``. Plain ``http://`` is refused except
    to a loopback address.
    """
    parts = urlsplit(endpoint.strip())
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ConfigError(
            f"{source}: {endpoint!r} is not an http(s) URL",
            hint=f"Use the API root, e.g. {DEFAULT_ENDPOINT}",
        )
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(
            f"{source}: plain http:// is refused for {parts.hostname}: the certificate and jobs would "
            "travel unencrypted",
            hint="Use https://, or http:// only to a loopback address (an emulator on this machine).",
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"{source}: the API root {endpoint!r} must not have a query or fragment")
    path = parts.path.rstrip("/")
    match = _VERSION_IN_PATH.search(path)
    if match:
        version = match.group(1)
        if version not in API_VERSIONS:
            raise ConfigError(
                f"{source}: API version {version} is not supported",
                hint=f"Use one of {', '.join(API_VERSIONS)}.",
            )
        if api_version and api_version != version:
            raise ConfigError(
                f"The endpoint names API version {version} but the API version setting is {api_version}",
                hint="Drop one of them, or make them agree.",
            )
    else:
        version = api_version or DEFAULT_API_VERSION
        if not path:
            path = "/api/gpulab"
        elif path.endswith("/api"):
            path += "/gpulab"
        path += f"/v{version}"
    return urlunsplit((parts.scheme, parts.netloc, path + "/", "", "")), version


def default_set_name(job_paths: Sequence[Path], cwd: Path) -> str:
    """The git repository's name (its ``origin`` remote's), else its folder's, else the job directory's.

    See :mod:`gpulab_apply.reconcile.set_name`: the same in every clone, whatever the checkout folder is called.
    """
    from gpulab_apply.reconcile.set_name import repository_set_name

    return repository_set_name((cwd / job_paths[0]) if job_paths else cwd)


def _api_version(value: object, source: str | None) -> str | None:
    if value is None:
        return None
    version = str(value).strip().lstrip("vV")
    if version not in API_VERSIONS:
        raise ConfigError(f"{source}: API version {value!r} is not supported",
                          hint=f"Use one of {', '.join(API_VERSIONS)}.")
    return version


def _config_path(explicit: object, job_paths: Sequence[Path], cwd: Path) -> Path | None:
    if explicit is not None:
        path = cwd / Path(str(explicit)).expanduser()
        if not path.is_file():
            raise ConfigError(f"Config file not found: {path}")
        return path
    found: list[Path] = []
    for job_path in job_paths:
        directory = cwd / job_path
        directory = directory if directory.is_dir() else directory.parent
        candidate = (directory.resolve().parent / CONFIG_FILE_NAME)
        if candidate.is_file() and candidate not in found:
            found.append(candidate)
    if len(found) > 1:
        raise ConfigError(
            f"The job directories have different config files: {', '.join(map(str, found))}",
            hint="Pass the one to use with --config.",
        )
    if found:
        return found[0]
    fallback = cwd / CONFIG_FILE_NAME
    return fallback if fallback.is_file() else None


def _read_config(path: Path) -> dict[str, Any]:
    """The settings in a config file, by setting name; unknown keys are errors (typos are silent otherwise)."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        data = YAML(typ="safe").load(path.read_bytes())
    except OSError as exc:
        raise ConfigError(f"Cannot read config file {path}: {exc.strerror or exc}") from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else str(path)
        raise ConfigError(f"{where}: {exc.problem}") from None
    except YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, found {type(data).__name__}")
    result: dict[str, Any] = {}
    for key, value in data.items():
        name = CONFIG_KEYS.get(str(key))
        if name is None:
            hint = "Known keys: " + ", ".join(CONFIG_KEYS) + "."
            if "password" in str(key).lower():
                hint = "Secrets do not belong in a file in git: use GPULAB_CERT_PASSWORD."
            raise ConfigError(f"{path}: unknown setting {key!r}", hint=hint)
        if isinstance(value, dict | list):
            raise ConfigError(f"{path}: {key} must be a single value")
        result[name] = value
    return result


def _path(value: object, cwd: Path) -> Path | None:
    return None if value is None else cwd / Path(str(value)).expanduser()


def _project(value: object) -> str | None:
    return None if value is None else str(value).strip() or None


def _set_name(value: object, source: str | None, job_paths: Sequence[Path], cwd: Path) -> str:
    if value is None:
        return default_set_name(job_paths, cwd)
    name = str(value)
    if not SET_NAME.match(name):
        raise ConfigError(
            f"{source}: invalid set name {name!r}",
            hint="A set name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.",
        )
    return name


def _positive(value: object, source: str | None, what: str) -> float:
    try:
        number = float(str(value))
    except ValueError:
        number = -1.0
    if not number > 0:
        raise ConfigError(f"{source or what}: {what} must be a positive number of seconds, not {value!r}")
    return number


def _count(value: object, source: str | None) -> int:
    try:
        number = int(str(value))
    except ValueError:
        number = -1
    if number < 0:
        raise ConfigError(f"{source or 'retries'}: retries must be a whole number >= 0, not {value!r}")
    return number
