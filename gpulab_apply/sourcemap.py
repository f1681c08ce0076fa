"""Where each value of a job came from: file, line and column (docs/authoring.md#provenance).

A :class:`SourceMap` answers "where was the value at this JSON path written?". Reading a file gives one
map per document (:class:`NodeSourceMap`, on the parser's node graph); authoring combines them
(:class:`LayeredSourceMap`: a job over the ``_defaults.yaml`` files above it), so a problem in a value
that a defaults file set is reported at that file and line.

Positions are the ones the parser recorded while reading; the file is never read again. They are
resolved lazily, only for the values a problem or ``render --explain`` asks about: valid files pay
nothing for them. A node graph is large, so a map that crosses a process boundary (the forked
validation workers) travels as a tree of positions only (:class:`PositionSourceMap`), with no text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NamedTuple, Protocol

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from gpulab_apply.problems import Location

PathPart = str | int
JsonPath = Sequence[PathPart]
#: (line, column), both from 0, as the parser counts them
Position = tuple[int, int]

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

    def span(self, json_path: JsonPath, *, at_key: bool = False) -> tuple[Position, Position] | None:
        """Where the value at ``json_path`` (its key, with ``at_key``) starts and ends as written, each as (line,
        column) from 0; None where the path does not exist (``fmt`` rewrites the text there)."""
        found = _nodes_at(self._node, json_path)
        if found is None or (at_key and found[0] is None):
            return None
        node = found[0] if at_key else found[1]
        assert node is not None
        return (node.start_mark.line, node.start_mark.column), (node.end_mark.line, node.end_mark.column)

    def scalar_text(self, json_path: JsonPath) -> str | None:
        """The text of the scalar at ``json_path`` as written (``1e-4``, not ``0.0001``), or None."""
        node = _node_at(self._node, json_path)
        return node.value if isinstance(node, ScalarNode) else None

    # Two maps of the same document are equal, whichever parse built them and whether they hold its nodes
    # or only their positions (a job read twice, or checked in a worker process, is the same job).
    def __eq__(self, other: object) -> bool:
        return _same_document(self, other)

    def __hash__(self) -> int:
        return _document_hash(self)

    def __reduce__(self) -> tuple[Callable[..., PositionSourceMap], tuple[Location, int, Positions]]:
        # A worker process sends back the positions the parser recorded, not the node graph (nor the text).
        return PositionSourceMap, (self.origin, self.document, _positions(self._node, {}))


#: where a node starts (line and column, from 0) and what is below it: for a mapping, each key's own
#: position and its value's tree (merge keys resolved as the constructor does); for a list, each item's
#: tree; nothing for a scalar
Positions = tuple[int, int, "dict[str, tuple[int, int, Positions]] | list[Positions] | None"]


class PositionSourceMap(NamedTuple):
    """A document's positions as the parser recorded them, without the node graph (it crossed a process)."""

    origin: Location
    #: the document's position among the file's documents
    document: int
    positions: Positions

    def locate(self, json_path: JsonPath, *, at_key: bool = False) -> Location:
        node = self.positions
        line, column = node[0], node[1]
        for index, part in enumerate(json_path):
            below = node[2]
            if isinstance(below, dict) and (entry := below.get(str(part))) is not None:
                key_line, key_column, node = entry
                point_at_key = (at_key and index == len(json_path) - 1) or node[2] is not None
                line, column = (key_line, key_column) if point_at_key else (node[0], node[1])
            elif isinstance(below, list) and isinstance(part, int) and 0 <= part < len(below):
                node = below[part]
                line, column = node[0], node[1]
            else:
                break
        return Location(self.origin.path, line + 1, column + 1)

    # equal to the node map it was made from (see NodeSourceMap.__eq__)
    def __eq__(self, other: object) -> bool:
        return _same_document(self, other)

    def __hash__(self) -> int:
        return _document_hash(self)


def _same_document(one: NodeSourceMap | PositionSourceMap, other: object) -> bool:
    """Whether ``other`` maps the same document of the same file, as a node map or as positions."""
    if not isinstance(other, NodeSourceMap | PositionSourceMap):
        return NotImplemented  # type: ignore[no-any-return]
    return (one.origin, one.document) == (other.origin, other.document)


def _document_hash(one: NodeSourceMap | PositionSourceMap) -> int:
    return hash((one.origin, one.document))


def _positions(node: Node, made: dict[int, Positions]) -> Positions:
    """The position tree of ``node``; a node shared through aliases is recorded once (``made``)."""
    if (known := made.get(id(node))) is not None:
        return known
    mark = node.start_mark
    below: dict[str, tuple[int, int, Positions]] | list[Positions] | None = None
    if isinstance(node, MappingNode):
        below = {}
        for key, value in node.value:
            # a merge key is written ``<<``: the text first, as resolving a node's tag costs more than the rest
            if key.value == "<<" and key.tag == _MERGE_TAG:
                for source in value.value if isinstance(value, SequenceNode) else [value]:
                    if isinstance(source, MappingNode) and isinstance(merged := _positions(source, made)[2], dict):
                        for name, entry in merged.items():
                            below.setdefault(name, entry)
            elif isinstance(key, ScalarNode):
                below[key.value] = (key.start_mark.line, key.start_mark.column, _positions(value, made))
    elif isinstance(node, SequenceNode):
        below = [_positions(item, made) for item in node.value]
    made[id(node)] = result = (mark.line, mark.column, below)
    return result


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


def _nodes_at(root: Node, json_path: JsonPath) -> tuple[Node | None, Node] | None:
    """The key node (None for a list item or the root) and the value node at ``json_path``."""
    key: Node | None = None
    node: Node = root
    for part in json_path:
        if isinstance(node, MappingNode) and (pair := _pair(node, str(part))) is not None:
            key, node = pair
        elif isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
            key, node = None, node.value[part]
        else:
            return None
    return key, node


def _pair(mapping: MappingNode, name: str) -> tuple[Node, Node] | None:
    """The (key, value) nodes for key ``name``, looking through merge keys like the constructor does.

    Building the values flattens merges into the mapping, merged pairs first: the last pair of a name is
    the one whose value the job has.
    """
    merged: list[Node] = []
    found: tuple[Node, Node] | None = None
    for key, value in mapping.value:
        if key.tag == _MERGE_TAG:
            merged.extend(value.value if isinstance(value, SequenceNode) else [value])
        elif isinstance(key, ScalarNode) and key.value == name:
            found = key, value
    if found is not None:
        return found
    for source in merged:
        if isinstance(source, MappingNode) and (pair := _pair(source, name)) is not None:
            return pair
    return None
