"""Where each value of a job came from: file, line and column (docs/authoring.md#provenance).

A :class:`SourceMap` answers "where was the value at this JSON path written?". Reading a file gives one
map per document (:class:`NodeSourceMap`, on the parser's node graph); authoring combines them
(:class:`LayeredSourceMap`: a job over the ``_defaults.yaml`` files above it), so a problem in a value
that a defaults file set is reported at that file and line.

Positions are resolved lazily, only for the values a problem or ``render --explain`` asks about: valid
files pay nothing for them. A node graph is large, so a map that crosses a process boundary (the
forked validation workers) travels as its file and document index and reads the file again when asked
(:class:`FileSourceMap`), which only reports about a problem or a diff ever do.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gpulab_apply.problems import Location

PathPart = str | int
JsonPath = Sequence[PathPart]

_MERGE_TAG = "tag:yaml.org,2002:merge"


class SourceMap(Protocol):
    """Where values of one job document were written."""

    @property
    def origin(self) -> Location:
        """Where the document starts (the job's own file, for a layered map)."""
        ...

    def locate(self, json_path: JsonPath, *, at_key: bool = False) -> Location:
        """Where the value at ``json_path`` was written.

        Points at the value, or at its key when ``at_key`` or when the value is a mapping or a list (so
        ``request.resources`` points at ``resources:``). Where the path stops existing (a missing key),
        it points at the deepest part that exists.
        """
        ...


class NodeSourceMap:
    """Positions from the node graph the parser built for one document (no second read of the file)."""

    __slots__ = ("_node", "document", "origin")

    def __init__(self, origin: Location, document: int, node: Node) -> None:
        self.origin = origin
        self.document = document  # its position among the file's documents
        self._node = node

    def locate(self, json_path: JsonPath, *, at_key: bool = False) -> Location:
        mark = _mark(self._node, json_path, at_key=at_key)
        return Location(self.origin.path, mark.line + 1, mark.column + 1)

    def scalar_text(self, json_path: JsonPath) -> str | None:
        """The text of the scalar at ``json_path`` as written (``1e-4``, not ``0.0001``), or None."""
        node = _node_at(self._node, json_path)
        return node.value if isinstance(node, ScalarNode) else None

    # Two maps of the same document are equal, whichever parse built them and whether they hold it or read
    # the file again (a job read twice, or checked in a worker process, is the same job).
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, NodeSourceMap | FileSourceMap):
            return NotImplemented
        return (self.origin, self.document) == (other.origin, other.document)

    def __hash__(self) -> int:
        return hash((self.origin, self.document))

    def __reduce__(self) -> tuple[Callable[..., FileSourceMap], tuple[Location, int]]:
        # A worker process sends back its file and document index, not the node graph.
        return FileSourceMap, (self.origin, self.document)


class FileSourceMap(NamedTuple):
    """A document's positions found by reading its file again, when first asked (cached per file version).

    A file or document that has gone since gives locations without a line.
    """

    origin: Location
    #: the document's position among the file's documents
    document: int

    def locate(self, json_path: JsonPath, *, at_key: bool = False) -> Location:
        name = self.origin.path
        try:
            stat = os.stat(name)
        except OSError:
            return Location(name)
        maps = _reread(name, stat.st_mtime_ns, stat.st_size)
        if not 0 <= self.document < len(maps):
            return Location(name)
        return maps[self.document].locate(json_path, at_key=at_key)


@functools.lru_cache(maxsize=64)
def _reread(path: str, mtime_ns: int, size: int) -> tuple[SourceMap, ...]:
    # Keyed by modification time and size too, so a changed file is read again.
    del mtime_ns, size
    from gpulab_apply.jobfiles.loader import read  # the loader builds maps: import it only when needed

    return tuple(document.source for document in read(path).documents)


class Layer(NamedTuple):
    """One source of a job's values: its plain data and where that data was written."""

    data: Any
    source: SourceMap


class LayeredSourceMap(NamedTuple):
    """Positions in a job built by merging layers, nearest last (docs/authoring.md#merge-order).

    The merge is deep for mappings and replaces everything else, so the value at a path was set by the
    nearest layer that has the whole path, or that has a prefix of it holding a list or a scalar (which
    replaced whatever the farther layers had there). Found from the layers' data when asked; nothing is
    recorded while merging.
    """

    layers: tuple[Layer, ...]

    @property
    def origin(self) -> Location:
        return self.layers[-1].source.origin

    def locate(self, json_path: JsonPath, *, at_key: bool = False) -> Location:
        return self.layer_of(json_path).source.locate(json_path, at_key=at_key)

    def layer_of(self, json_path: JsonPath) -> Layer:
        """The layer that set the value at ``json_path`` (the nearest with the deepest part of it)."""
        best, best_depth = self.layers[-1], -1
        for layer in self.layers[::-1]:
            depth, replaced = _depth(layer.data, json_path)
            if depth == len(json_path) or replaced:
                return layer
            if depth > best_depth:
                best, best_depth = layer, depth
        return best


def _depth(data: Any, json_path: JsonPath) -> tuple[int, bool]:
    """How many parts of ``json_path`` exist in ``data``, and whether a non-mapping stops it there."""
    for depth, part in enumerate(json_path):
        if isinstance(data, Mapping):
            if part not in data:
                return depth, False
            data = data[part]
        elif isinstance(data, list):
            return depth, True
        else:
            return depth, depth > 0
    return len(json_path), False


def _mark(root: Node, json_path: JsonPath, *, at_key: bool) -> Any:
    node, mark = root, root.start_mark
    for index, part in enumerate(json_path):
        last = index == len(json_path) - 1
        if isinstance(node, MappingNode):
            pair = _pair(node, str(part))
            if pair is None:
                break
            key, node = pair
            point_at_key = (at_key and last) or isinstance(node, (MappingNode, SequenceNode))
            mark = key.start_mark if point_at_key else node.start_mark
        elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
            mark = node.start_mark
        else:
            break
    return mark


def _node_at(root: Node, json_path: JsonPath) -> Node | None:
    node: Node = root
    for part in json_path:
        if isinstance(node, MappingNode) and (pair := _pair(node, str(part))) is not None:
            node = pair[1]
        elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            node = node.value[part]
        else:
            return None
    return node


def _pair(mapping: MappingNode, name: str) -> tuple[Node, Node] | None:
    """The (key, value) nodes for key ``name``, looking through merge keys like the constructor does."""
    merged: list[Node] = []
    for key, value in mapping.value:
        if key.tag == _MERGE_TAG:
            merged.extend(value.value if isinstance(value, SequenceNode) else [value])
        elif isinstance(key, ScalarNode) and key.value == name:
            return key, value
    for source in merged:
        if isinstance(source, MappingNode) and (pair := _pair(source, name)) is not None:
            return pair
    return None
