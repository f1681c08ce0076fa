"""Settings: where GPULab is, who we are, and how patiently we talk to it.

Resolved once per command, flag > environment variable > config file > default (docs/client.md#settings). The config
file is the workspace's (:mod:`gpulab_apply.workspace`: ``gpulab-apply.yaml`` at its root, or ``--config``), read
with the safe YAML loader. Every value remembers where it came from, so errors and ``--verbose`` can say so. Nothing
here talks to the network or imports ``requests``.

The one table of settings is :data:`gpulab_apply.setting_table.SETTINGS`: the command-line options
(``cli/options.py``), the environment variables, the config-file keys, the ``--verbose`` report and
:class:`Settings` here are all derived from it, so a new setting is its row there and its field here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from gpulab_apply.errors import UsageError, setting_error
from gpulab_apply.gpulab.api import API_VERSIONS, DEFAULT_API_VERSION
from gpulab_apply.gpulab.identity import Identity, PasswordPrompt  # not certificate: no cryptography to start
from gpulab_apply.gpulab.local import AMBIGUOUS, has_userinfo, is_loopback, request_host
from gpulab_apply.gpulab.policy import DEFAULT_ENDPOINT, RetryPolicy, Timeouts
from gpulab_apply.masking import mask_url, safe
from gpulab_apply.setting_table import SETTINGS, SETTINGS_BY_NAME, given_values
from gpulab_apply.workspace import Workspace, find_workspace

if TYPE_CHECKING:
    from gpulab_apply.reconcile.usage import Budget

#: the endpoint value that selects the embedded emulator, like ``--local``
LOCAL_ENDPOINT = "local"
#: project used with --local when none is configured: the emulator's default project
LOCAL_PROJECT = "local"
_VERSION_IN_PATH = re.compile(r"/v(\d+\.\d+)/?$")


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
    #: told each retry in words; set by the CLI when stderr is a terminal, so a slow retry is not silence
    retry_notice: Callable[[str], None] | None = field(default=None, repr=False, compare=False)
    ca_bundle: Path | None = None
    #: project name (or URN) for ``owner.projectUrn``; see :meth:`project_urn`
    project: str | None = None
    set_name: str
    local: bool = False
    #: with ``local``: how much faster than real time the embedded emulator's clock runs (None: real time)
    speed: float | None = None
    #: the repository, job root and config file the command works with
    workspace: Workspace
    timeouts: Timeouts = field(default_factory=Timeouts)
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    verbose: bool = False
    #: refuse plans requesting more GPU-hours than this (None: no limit; docs/plan-apply.md#cost)
    max_gpu_hours: float | None = None
    #: GPU-hours the set may use per week or month; plan refuses more (docs/capacity.md#usage-and-budgets)
    budget: Budget | None = None
    #: at most this many jobs of the set queued or running at once (None: no cap; docs/workflows.md)
    max_active: int | None = None
    #: job forms GPULab accepts but that are not canonical are errors (docs/validate.md#warnings-and---strict)
    strict: bool = False
    #: setting name -> where its value came from (``--cert``, ``GPULAB_CERT``, ``gpulab-apply.yaml``, ...)
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def state_dir(self) -> Path:
        """``.gpulab-apply/`` of the workspace: the ``--local`` emulator's state."""
        return self.workspace.state_dir

    @property
    def config_path(self) -> Path | None:
        return self.workspace.config

    def project_urn(self, identity: Identity) -> str | None:
        """``owner.projectUrn`` for jobs without one: the project under the user's authority."""
        project = self.project or (LOCAL_PROJECT if self.local else None)
        return identity.project_urn(project) if project else None

    def value(self, name: str) -> object:
        """The effective value of the setting ``name`` of :data:`SETTINGS`."""
        derived = _DERIVED.get(name)
        return derived(self) if derived else getattr(self, name)

    def describe(self) -> list[tuple[str, str, str]]:
        """(setting, value, source) rows for ``--verbose``, one per setting; secrets show as "(set)"."""
        repository = self.workspace.repository
        rows = [("repository", safe(str(repository.top)) if repository else "- (not in git)",
                 "git" if repository else "-")]
        for setting in (s for s in SETTINGS if s.label):
            value = self.value(setting.name)
            if setting.secret:
                shown = "(set)" if value else "(not set)"
            else:
                shown = "-" if value is None else mask_url(f"{value:g}" if isinstance(value, float) else str(value))
            source = self.sources.get(setting.name, "-" if value is None else "default")
            rows.append((setting.label or setting.name, safe(shown), safe(source)))
        return rows


#: the settings that :class:`Settings` holds under another name or builds together in :func:`_build`; every other
#: row of :data:`SETTINGS` is a field of :class:`Settings` of its own name, passed through as parsed, so a new
#: setting is its row and its typed field
_DERIVED: Mapping[str, Callable[[Settings], object]] = {
    "endpoint": lambda s: s.api_root or s.endpoint, "api_version": lambda s: s.api_version,
    "cert": lambda s: s.cert_path, "set": lambda s: s.set_name, "local": lambda s: s.local,
    "config": lambda s: s.config_path, "jobs": lambda s: s.workspace.job_root, "timeout": lambda s: s.timeouts.read,
    "connect_timeout": lambda s: s.timeouts.connect, "retries": lambda s: s.retry.retries,
}


def resolve_settings(
    *,
    flags: Mapping[str, Any],
    env: Mapping[str, str],
    job_paths: Sequence[Path] = (),
    cwd: Path | None = None,
    password_prompt: PasswordPrompt | None = None,
) -> Settings:
    """Resolve settings, flag > environment > config file > default.

    ``flags`` holds the command-line values by setting name (None = not given), as :data:`SETTINGS`
    names them. ``job_paths`` are the paths given on the command line: the workspace (its config file, job root
    and default set name) is the first one's, else the working directory's (:func:`find_workspace`).
    """
    cwd = cwd or Path.cwd()
    found: list[Workspace] = []

    def config(explicit: str | None) -> tuple[Path | None, Mapping[str, Any]]:
        found.append(find_workspace(job_paths, cwd=cwd, config=explicit))
        return found[0].config, found[0].config_values

    raw, _ = given_values(flags=flags, env=env, config=config)
    workspace = found[0]
    values = {name: SETTINGS_BY_NAME[name].parse(value, source) for name, (value, source) in raw.items()}
    values |= {s.name: s.default for s in SETTINGS if s.name not in values and s.default is not None}
    for setting in SETTINGS:
        if setting.is_path and values.get(setting.name) is not None:
            values[setting.name] = cwd / values[setting.name]
    sources = {name: source for name, (_, source) in raw.items()}
    if workspace.config is not None:
        sources.setdefault("config", f"found at {workspace.root}")
    return _build(values, sources, flags=flags, workspace=workspace, password_prompt=password_prompt)


def _build(values: dict[str, Any], sources: dict[str, str], *, flags: Mapping[str, Any], workspace: Workspace,
           password_prompt: PasswordPrompt | None) -> Settings:
    """The settings whose values depend on each other: endpoint and API version, the two timeouts, the set."""
    local = bool(flags.get("local")) or str(values.get("endpoint", "")).strip().lower() == LOCAL_ENDPOINT
    if flags.get("local") and sources.get("endpoint") == "--endpoint" and values["endpoint"] != LOCAL_ENDPOINT:
        raise UsageError("--local and --endpoint contradict each other", hint="Give one of them.")
    api_version: str | None = values.get("api_version")
    if local:
        if flags.get("local"):
            sources["endpoint"] = "--local"
        api_root, endpoint, version = None, LOCAL_ENDPOINT, api_version or DEFAULT_API_VERSION
    else:
        endpoint = str(values.get("endpoint", DEFAULT_ENDPOINT))
        api_root, version = normalise_endpoint(
            endpoint, api_version, source=sources.get("endpoint", "default endpoint")
        )
    if not local and sources.get("speed") == "--speed":
        raise UsageError("--speed sets the clock of the embedded emulator, so it needs --local",
                          hint="Add --local, or drop --speed (a real GPULab runs in real time).")
    read_timeout = values["timeout"]
    # the connect timeout never exceeds the read timeout unless set
    connect_timeout = values.get("connect_timeout", min(Timeouts.connect, read_timeout))
    return Settings(
        endpoint=endpoint,
        api_root=api_root,
        api_version=version,
        cert_path=values.get("cert"),
        password_prompt=password_prompt,
        set_name=values.get("set") or workspace.set_name,
        local=local,
        workspace=workspace,
        timeouts=Timeouts(connect=connect_timeout, read=read_timeout),
        retry=RetryPolicy(retries=values["retries"]),
        sources=sources,
        **{s.name: values.get(s.name, s.default) for s in SETTINGS if s.name not in _DERIVED},
    )


def normalise_endpoint(endpoint: str, api_version: str | None, *, source: str) -> tuple[str, str]:
    """The versioned API root (ending in ``/``) and its version, from an endpoint URL.

    A root with ``/vX.Y/`` names its version; one without takes ``api_version`` (default: ``DEFAULT_API_VERSION``):
    ``https://host`` and ``https://host/api/`` become ``https://host/api/gpulab/vX.Y/``,
    ``https://host/api/gpulab/`` becomes ``.../gpulab/vX.Y/``. Plain ``http://`` is refused except
    to a loopback address.
    """
    text = endpoint.strip()
    if not AMBIGUOUS.search(text):  # else refused as ambiguous below: which part is the user name is unclear
        refuse_userinfo(text, source=source)
    try:  # a bracketed IPv4 address, an unclosed bracket or a port out of range fail here
        parts = urlsplit(text)
        hostname, _ = parts.hostname, parts.port
    except ValueError as exc:
        raise setting_error(source, f"{source}: the endpoint is not a valid URL ({exc})",
                            hint=f"Use the API root, e.g. {DEFAULT_ENDPOINT}") from None
    if parts.scheme not in ("https", "http") or not hostname:
        raise setting_error(
            source, f"{source}: {endpoint!r} is not an http(s) URL",
            hint=f"Use the API root, e.g. {DEFAULT_ENDPOINT}",
        )
    try:  # judged as the HTTP stack will read it: a URL parsers read differently is refused
        host = request_host(text)
    except ValueError as exc:
        raise setting_error(source, f"{source}: the endpoint is ambiguous: {exc}",
                            hint=f"Write the API root plainly, e.g. {DEFAULT_ENDPOINT}") from None
    if parts.scheme == "http" and not is_loopback(host):
        raise setting_error(
            source, f"{source}: plain http:// is refused for {host}: the certificate and jobs would "
            "travel unencrypted",
            hint="Use https://, or http:// only to a loopback address (an emulator on this machine).",
        )
    if parts.query or parts.fragment:
        raise setting_error(source, f"{source}: the API root {endpoint!r} must not have a query or fragment")
    path = parts.path.rstrip("/")
    match = _VERSION_IN_PATH.search(path)
    if match:
        version = match.group(1)
        if version not in API_VERSIONS:
            raise setting_error(
                source, f"{source}: API version {version} is not supported",
                hint=f"Use one of {', '.join(API_VERSIONS)}.",
            )
        if api_version and api_version != version:
            raise setting_error(source,
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


def refuse_userinfo(endpoint: str, *, source: str) -> None:
    """Refuse a user name or password in the endpoint (``https://user:pw@host/``), without repeating it.

    GPULab authenticates with the login certificate; ``requests`` would send the pair as HTTP Basic
    auth, and a password in a URL ends up in shell history, CI logs and saved plans.
    """
    if has_userinfo(endpoint):
        raise setting_error(
            source, f"{source}: the endpoint holds a user name or password (before an '@'), which this tool "
            "never sends: GPULab authenticates with your login certificate",
            hint="Remove the user name and password: everything from '://' up to and including the last '@'.",
        )

