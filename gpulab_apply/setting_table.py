"""The settings table: every setting and every way to give it, one row each (docs/client.md#settings).

Command-line options (``cli/options.py``), environment variables, config-file keys, the ``--verbose``
report and :class:`gpulab_apply.settings.Settings` are derived from :data:`SETTINGS`. Apart from
``settings.py`` so that ``validate``, which reads one setting (``strict``), need not import the rest
(docs/validate.md#start-up).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

from gpulab_apply import setting_values as parsers
from gpulab_apply.gpulab.api import API_VERSIONS, DEFAULT_API_VERSION


class Setting(NamedTuple):
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
    Setting("timeout", "--timeout", "GPULAB_APPLY_TIMEOUT", "timeout", parsers.positive(f"timeout {_SECONDS}"),
            30.0, label="read timeout", metavar="SECONDS",
            help="Seconds to wait for each answer", default_help="30"),
    Setting("connect_timeout", None, None, "connect-timeout", parsers.positive(f"connect-timeout {_SECONDS}"),
            label="conn timeout"),
    Setting("retries", None, None, "retries", parsers.count, 5, label="retries"),
    Setting("max_gpu_hours", None, "GPULAB_APPLY_MAX_GPU_HOURS", "max-gpu-hours", parsers.gpu_hours,
            label="max GPU-hours"),
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
