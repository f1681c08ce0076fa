"""Job file texts shared by the validation tests."""

from __future__ import annotations

#: the smallest valid job file; ``.format(name=...)``. Its ``resources`` line is line 3.
MINIMAL_JOB_YAML = """\
name: {name}
request:
  resources: {{cpus: 1, gpus: 0, cpuMemoryGb: 2}}
  docker:
    image: debian:stable
"""
