"""Reading ``gpulab-apply.yaml``: the settings it holds (docs/client.md#settings); where it is, is the
workspace's to say (:mod:`gpulab_apply.workspace`).

Which keys it may hold is :data:`gpulab_apply.setting_table.CONFIG_KEYS`, derived from the settings table.
It is read as defensively as a job file (docs/validate.md#limits), and never more than
:data:`MAX_CONFIG_BYTES` of it: whatever it holds is a :class:`ConfigError` naming the file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gpulab_apply.errors import ConfigError
from gpulab_apply.setting_table import SETTINGS_BY_NAME

CONFIG_FILE_NAME = "gpulab-apply.yaml"
#: a config file holds a dozen settings; anything this big is not one
MAX_CONFIG_BYTES = 64 * 1024


def read_config(path: Path, keys: Mapping[str, str]) -> dict[str, Any]:
    """The settings in a config file, by setting name (``keys`` maps its keys to them); unknown keys are errors (typos are silent otherwise)."""
    data = _read_yaml(path)
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
    setting = SETTINGS_BY_NAME.get(name)
    return setting is not None and setting.structured


def _read_yaml(path: Path) -> Any:
    """The one document of the config file, read like a job file (the same limits and located problems)."""
    # ruamel is imported on first use: commands run without a config file never pay for it here
    from gpulab_apply.jobfiles.loader import parse, read_bytes

    raw, problem = read_bytes(str(path), MAX_CONFIG_BYTES, what="a config file")
    if problem is None:
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{path}: not UTF-8: byte 0x{raw[exc.start]:02x} at offset {exc.start} cannot be "
                              "decoded", hint="save the file as UTF-8") from None
        read = parse(str(path), text)
        problem = next(iter(read.problems), None)
    if problem is not None:
        raise ConfigError(f"{problem.location}: {problem.message}", hint=problem.hint)
    documents = [document for document in read.documents if document.data is not None]
    if len(documents) > 1:
        raise ConfigError(f"{documents[1].location}: a config file holds one document")
    return documents[0].data if documents else None
