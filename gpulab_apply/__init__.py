"""gpulab-apply: keep GPULab's jobs in line with a directory of Job2 YAML files."""

from __future__ import annotations

#: the version, written only here: pyproject.toml reads it (``dynamic = ["version"]``)
__version__ = "0.1.0"
