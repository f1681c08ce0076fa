"""Source maps: where a value of a job was written, including values a job takes from another file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpulab_apply.jobfiles import loader
from gpulab_apply.jobfiles.sourcemap import Layer, LayeredSourceMap
from gpulab_apply.problems import Location


@pytest.fixture
def layered(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> LayeredSourceMap:
    monkeypatch.chdir(tmp_path)
    Path("far.yaml").write_text("request:\n  resources: {cpus: 1, gpus: 1}\n  docker:\n    image: far\n"
                                "    storage: [/a, /b]\n", encoding="utf-8")
    Path("near.yaml").write_text("request:\n  docker:\n    image: near\n    storage: [/c]\n", encoding="utf-8")
    Path("job.yaml").write_text("name: j\nrequest:\n  resources: 4\n", encoding="utf-8")
    layers = []
    for name in ("far.yaml", "near.yaml", "job.yaml"):
        document = loader.read(name).documents[0]
        layers.append(Layer(document.data, document.source))
    return LayeredSourceMap(tuple(layers))


def test_the_nearest_layer_that_has_a_value_set_it(layered: LayeredSourceMap) -> None:
    assert layered.locate(["name"]) == Location("job.yaml", 1, 7)
    assert layered.locate(["request", "docker", "image"]) == Location("near.yaml", 3, 12)
    assert layered.origin == Location("job.yaml", 1, 1)


def test_a_list_or_scalar_in_a_nearer_layer_replaces_what_is_below_it(layered: LayeredSourceMap) -> None:
    # lists replace: storage[1] exists only in far.yaml, but near.yaml's list replaced that list
    assert layered.locate(["request", "docker", "storage", 1]) == Location("near.yaml", 4, 5)
    assert layered.locate(["request", "docker", "storage", 0]) == Location("near.yaml", 4, 15)
    # the job's `resources: 4` replaced far.yaml's mapping: a problem below it is the job's
    assert layered.locate(["request", "resources", "gpus"]) == Location("job.yaml", 3, 14)


def test_a_missing_value_points_at_the_deepest_part_that_exists(layered: LayeredSourceMap) -> None:
    assert layered.locate(["request", "docker", "command"]) == Location("near.yaml", 2, 3)
    assert layered.locate(["owner", "projectUrn"]) == Location("job.yaml", 1, 1)
