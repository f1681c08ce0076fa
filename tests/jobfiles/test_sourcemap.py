"""Source maps: where a value of a job was written, including values a job takes from another file."""

from __future__ import annotations

from pathlib import Path

import pytest

from gpulab_apply.jobfiles import loader
from gpulab_apply.problems import Location
from gpulab_apply.sourcemap import Layer, LayeredSourceMap


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


def test_the_source_map_never_reads_files_so_it_does_not_import_the_loader() -> None:
    """Positions are recorded while loading (issue 18: no loader <-> sourcemap cycle): the map module
    imports nothing that reads, not even inside a function."""
    import ast

    from gpulab_apply import sourcemap

    tree = ast.parse(Path(sourcemap.__file__).read_text(encoding="utf-8"))
    imported = {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
    imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
    assert not {name for name in imported if name and name.startswith("gpulab_apply.jobfiles")}, imported
    assert not {"os", "io", "pathlib"} & imported


def _paths(value: object, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


@pytest.mark.parametrize("text", [
    "name: a\nbase: &b {x: 1, y: [1, {z: 2}]}\nuse:\n  <<: *b\n  y: 3\nlist: [*b, *b]\n",
    "name: a\nbase: &b {x: 1, y: 7}\nuse:\n  y: 3\n  <<: *b\n",
    "name: a\nm: &m {k: 1}\nn: &n {k: 2, j: 3}\nboth:\n  <<: [*m, *n]\n  own: 4\n",
    "name: a\nm: &m {k: 1}\nquoted:\n  '<<': *m\n  k: 2\n",  # a quoted << is a key like any other, not a merge
    '{"name": "a", "request": {"docker": {"storage": [{"hostPath": "/x"}, "/y"]}}}',
])
def test_a_map_sent_to_a_worker_places_every_value_as_the_parse_did(tmp_path: Path, text: str) -> None:
    import pickle

    (tmp_path / "a.yaml").write_text(text, encoding="utf-8")
    [document] = loader.read(str(tmp_path / "a.yaml")).documents
    travelled = pickle.loads(pickle.dumps(document.source))
    for path in [*_paths(document.data), ("missing",), ("name", "deeper")]:
        for at_key in (False, True):
            assert travelled.locate(path, at_key=at_key) == document.source.locate(path, at_key=at_key), path
        value = _value(document.data, path)
        if isinstance(value, int | str):  # the place found holds the value the job has (merges: the winner)
            assert document.source.scalar_text(path) == str(value), path


def _value(data: object, path: tuple[str | int, ...]) -> object:
    for part in path:
        if (isinstance(data, dict) and part in data) or (isinstance(data, list) and isinstance(part, int) and part < len(data)):
            data = data[part]
        else:
            return None
    return data
