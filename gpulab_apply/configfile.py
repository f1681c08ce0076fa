"""Reading ``gpulab-apply.yaml``: the settings it holds (docs/client.md#settings); where it is, is the
workspace's to say (:mod:`gpulab_apply.workspace`).

Which keys it may hold is :data:`gpulab_apply.setting_table.CONFIG_KEYS`, derived from the settings table.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gpulab_apply.errors import ConfigError

CONFIG_FILE_NAME = "gpulab-apply.yaml"


def read_config(path: Path, keys: Mapping[str, str]) -> dict[str, Any]:
    """The settings in a config file, by setting name (``keys`` maps its keys to them); unknown keys are errors (typos are silent otherwise)."""
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
        name = keys.get(str(key))
        if name is None:
            # not "keys: …", which the masking of error output would take for a secret key and its value
            hint = "The settings a config file may hold: " + ", ".join(keys) + "."
            if "password" in str(key).lower():
                hint = "Secrets do not belong in a file in git: use GPULAB_CERT_PASSWORD."
            raise ConfigError(f"{path}: unknown setting {key!r}", hint=hint)
        if isinstance(value, dict | list) and not _structured(name):
            raise ConfigError(f"{path}: {key} must be a single value")
        result[name] = value
    return result


def _structured(name: str) -> bool:
    """Whether the setting ``name`` may be a mapping in the file (``budget``)."""
    from gpulab_apply.setting_table import SETTINGS_BY_NAME

    setting = SETTINGS_BY_NAME.get(name)
    return setting is not None and setting.structured
