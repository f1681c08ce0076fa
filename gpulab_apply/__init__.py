"""gpulab-apply: keep GPULab's jobs in line with a directory of Job2 YAML files."""

from __future__ import annotations

__version__ = "0.1.0"
