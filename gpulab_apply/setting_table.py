"""The settings table: every setting and every way to give it, one row each (docs/client.md#settings).

Command-line options (``cli/options.py``), environment variables, config-file keys, the ``--verbose``
report and :class:`gpulab_apply.settings.Settings` are derived from :data:`SETTINGS`. Apart from
``settings.py`` so that ``validate``, which reads one setting (``strict``), need not import the rest
(docs/validate.md#start-up).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gpulab_apply import setting_values as parsers
from gpulab_apply.gpulab.api import API_VERSIONS, DEFAULT_API_VERSION


@dataclass(frozen=True, slots=True)
class Setting:
    """One setting and every way to give it. ``None`` for ``flag``, ``env`` or ``key`` means "not that way"."""

    #: the name ``resolve_settings`` and the CLI use (also the click parameter name)
    name: str
    #: command-line option, e.g. ``--endpoint`` (``-v/--verbose`` gives a short form too)
    flag: str | None
    #: environment variable
    env: str | None
    #: key in ``gpulab-apply.yaml``; secrets never have one
    key: str | None
    #: turns a raw value (a string, a YAML scalar, a click value) into the setting's value; ``source`` is
    #: where the raw value came from, for the error message
    parse: Callable[[object, str], Any] = parsers.text
    #: used when no source gives a value (None: computed by resolve_settings, or absent)
    default: Any = None
    #: the name ``--verbose`` shows it under (None: not shown)
    label: str | None = None
    #: ``--help`` text; the environment variable and ``default_help`` are appended
    help: str = ""
    default_help: str | None = None
    metavar: str | None = None
    choices: tuple[str, ...] | None = None
    is_flag: bool = False
    #: a file path: relative to the config file when it comes from there, else to the working directory
    is_path: bool = False
    #: shown by ``--verbose`` only as "(set)" or "(not set)"
    secret: bool = False
    #: the config file may give it as a mapping (``budget: {gpu-hours: 500, per: month}``)
    structured: bool = False


_SECONDS = "must be a positive number of seconds"
_SPEED = parsers.positive("the speed must be a positive number (simulated seconds per real second)")

# One line per setting (docs/client.md#settings). The password has no flag, on purpose: argv is public.
SETTINGS: tuple[Setting, ...] = (
    Setting("endpoint", "--endpoint", "GPULAB_ENDPOINT", "endpoint", label="endpoint", metavar="URL",
            help="GPULab API root, or 'local'", default_help=f"production v{DEFAULT_API_VERSION}"),
    Setting("api_version", "--api-version", "GPULAB_API_VERSION", "api-version", parsers.api_version,
            label="api version", choices=API_VERSIONS, help="API version for an endpoint without /vX.Y/"),
    Setting("cert", "--cert", "GPULAB_CERT", "cert", parsers.path_value, label="certificate", metavar="PEM",
            is_path=True,
            help="Login certificate: one PEM with certificate and key"),
    Setting("password", None, "GPULAB_CERT_PASSWORD", None, label="password", secret=True),
    Setting("ca_bundle", "--ca-bundle", "GPULAB_CA_BUNDLE", "ca-bundle", parsers.path_value, label="CA bundle",
            metavar="PEM", is_path=True, help="Trust only these CAs for the server"),
    Setting("project", "--project", "GPULAB_PROJECT", "project", parsers.project, label="project", metavar="NAME",
            help="Project for jobs without owner.projectUrn"),
    Setting("set", "--set", "GPULAB_APPLY_SET", "set", parsers.set_name, label="set", metavar="NAME",
            help="Ownership set", default_help="the git repository's name"),
    Setting("local", "--local", None, None, parsers.switch, False, is_flag=True,
            help="Use the embedded GPULab emulator (state in .gpulab-apply/), no account needed."),
    Setting("speed", "--speed", "GPULAB_APPLY_SPEED", "speed", _SPEED, label="local speed", metavar="FACTOR",
            help="With --local: simulated seconds per real second (60: a minute a second)", default_help="1"),
    Setting("config", "--config", "GPULAB_APPLY_CONFIG", None, parsers.path_value, label="config file",
            metavar="FILE",
            help="Config file", default_help="gpulab-apply.yaml beside the job directory"),
    Setting("jobs", None, None, "jobs", parsers.path_value, label="job root", is_path=True,
            default_help="jobs.d beside the config file"),
    Setting("timeout", "--timeout", "GPULAB_APPLY_TIMEOUT", "timeout", parsers.positive(f"timeout {_SECONDS}"),
            30.0, label="read timeout", metavar="SECONDS",
            help="Seconds to wait for each answer", default_help="30"),
    Setting("connect_timeout", None, None, "connect-timeout", parsers.positive(f"connect-timeout {_SECONDS}"),
            label="conn timeout"),
    Setting("retries", None, None, "retries", parsers.count, 5, label="retries"),
    Setting("max_gpu_hours", None, "GPULAB_APPLY_MAX_GPU_HOURS", "max-gpu-hours", parsers.gpu_hours,
            label="max GPU-hours"),
    Setting("budget", None, "GPULAB_APPLY_BUDGET", "budget", parsers.budget, label="budget", structured=True),
    Setting("max_active", None, "GPULAB_APPLY_MAX_ACTIVE", "max-active", parsers.active_cap, label="max active"),
    Setting("strict", "--strict", "GPULAB_APPLY_STRICT", "strict", parsers.boolean, False, is_flag=True,
            label="strict",
            help="Job forms GPULab accepts but that are not canonical (cpus: \"4\") are errors, not warnings."),
    Setting("verbose", "-v/--verbose", None, None, parsers.switch, False, is_flag=True,
            help="Show the settings and each request on stderr (never secrets)."),
)
#: setting name -> its row
SETTINGS_BY_NAME: Mapping[str, Setting] = {setting.name: setting for setting in SETTINGS}
#: config-file key -> setting name; secrets are deliberately not among them
CONFIG_KEYS: Mapping[str, str] = {s.key: s.name for s in SETTINGS if s.key}


#: finds the config file given ``--config`` (or None: look for it) and returns it with its values; a command
#: passes its workspace's (:func:`gpulab_apply.workspace.find_workspace`), which this table cannot import
ConfigSource = Callable[[str | None], tuple[Path | None, Mapping[str, Any]]]


def given_values(*, flags: Mapping[str, Any], env: Mapping[str, str], config: ConfigSource,
                 only: Collection[str] | None = None) -> tuple[dict[str, tuple[object, str]], Path | None]:
    """The one precedence, flag > environment variable > config file: each given setting's raw value and where it
    came from, and the config file (None: none). Defaults are the caller's, and so is parsing.

    ``only``: just these settings (``validate`` reads ``strict`` alone); the config file is then found and read only
    when one of them is given neither as a flag nor in the environment.
    """
    raw: dict[str, tuple[object, str]] = {}

    def take(name: str, value: object, source: str) -> None:
        if name not in raw and value is not None and value != "":
            raw[name] = (value, source)

    wanted = [s for s in SETTINGS if only is None or s.name in only or s.name == "config"]
    for setting in wanted:
        if setting.flag:
            take(setting.name, flags.get(setting.name), setting.flag.split("/")[-1])
        if setting.env:
            take(setting.name, env.get(setting.env), setting.env)
    if only is not None and all(name in raw for name in only):
        return raw, None
    config_path, values = config(str(raw["config"][0]) if "config" in raw else None)
    if config_path is not None:
        for name, value in values.items():
            if only is not None and name not in only:
                continue
            if SETTINGS_BY_NAME[name].is_path:
                value = config_path.parent / Path(str(value)).expanduser()
            take(name, value, str(config_path))
    return raw, config_path
