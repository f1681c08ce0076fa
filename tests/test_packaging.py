"""The schema ships inside the package: a wheel carries it and an installed copy finds it."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_a_built_wheel_finds_its_schema(tmp_path: Path) -> None:
    build = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q",
                            "-w", str(tmp_path / "dist"), str(REPO)], capture_output=True, text=True, check=False)
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "dist").glob("gpulab_apply-*.whl")
    from gpulab_apply import __version__

    assert wheel.name.startswith(f"gpulab_apply-{__version__}-")  # pyproject takes the version from the package
    with zipfile.ZipFile(wheel) as archive:
        assert "gpulab_apply/schemas/job2.schema.json" in archive.namelist()
        archive.extractall(tmp_path / "site")
    # Run from the extracted wheel alone (it comes first on the path), away from the source tree.
    code = ("import gpulab_apply, json; from gpulab_apply.jobmodel import schema; "
            "print(json.dumps([gpulab_apply.__file__, schema.job_file_schema()['$id'], "
            "[str(v) for v in schema.violations({'name': 'x'}, submission=True)]]))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                          cwd=tmp_path, env={"PYTHONPATH": str(tmp_path / "site"), "PATH": ""})
    assert proc.returncode == 0, proc.stderr
    location, schema_id, errors = json.loads(proc.stdout)
    assert Path(location).is_relative_to(tmp_path / "site")
    assert schema_id == "https://raw.githubusercontent.com/gpulab-apply/gpulab-apply/main/schemas/job2.schema.json"
    assert errors == ["'request' is a required property"]


def test_the_package_link_is_the_top_level_schemas_folder() -> None:
    link = REPO / "gpulab_apply" / "schemas"
    assert link.is_symlink()
    assert link.resolve() == (REPO / "schemas").resolve()
