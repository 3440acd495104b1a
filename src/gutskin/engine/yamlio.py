"""Strict YAML input: every YAML file gutskin reads goes through :func:`load_yaml`.

PyYAML's safe loader silently keeps the last of two equal keys, so a typo-level
mistake (``dose`` twice) changes a run without a word. Here a duplicate key, a
syntax error or an oversized file is an error with a one-line message that names
the source, the line and what is wrong.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

__all__ = [
    "MAX_TEXT_BYTES",
    "MAX_YAML_BYTES",
    "MAX_YAML_NODES",
    "InputFileError",
    "YamlInputError",
    "load_yaml",
    "read_text_bounded",
    "read_yaml_file",
]

#: Largest YAML input accepted (bytes); the packaged files are < 100 kB.
MAX_YAML_BYTES = 2_000_000
#: Largest number of nodes a YAML document may expand to through its aliases (a
#: "billion laughs" document of 1 kB expands to billions; the packaged files to < 20,000).
MAX_YAML_NODES = 1_000_000
#: Default cap of :func:`read_text_bounded` for small text inputs (bytes).
MAX_TEXT_BYTES = 10_000_000


class InputFileError(ValueError):
    """An input file cannot be read within its size cap, or is not text (one line)."""


def read_text_bounded(path: str | Path, max_bytes: int = MAX_TEXT_BYTES, what: str = "file") -> str:
    """The UTF-8 text of ``path``, reading at most ``max_bytes + 1`` bytes.

    The cap is checked on the bytes read, not on ``st_size``, which is 0 for
    ``/dev/zero``, pipes and FIFOs. A directory or an unreadable file is an error too.

    Raises
    ------
    InputFileError
        ``"<what> <path>: ..."``: too large, not UTF-8, a folder, or unreadable.
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except IsADirectoryError:
        raise InputFileError(f"{what} {p}: is a folder, not a file") from None
    except OSError as exc:
        raise InputFileError(f"{what} {p}: cannot read it ({exc.strerror or exc})") from None
    if len(data) > max_bytes:
        raise InputFileError(f"{what} {p}: larger than {max_bytes} bytes; such inputs are refused")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError(f"{what} {p}: not UTF-8 text") from None


_Base: type = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class YamlInputError(yaml.YAMLError, ValueError):
    """A YAML input is malformed, has a duplicate key or is too large (one-line message)."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return self.message


class _StrictLoader(_Base):
    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # keys merged in with << may be overridden explicitly
            key = self.construct_object(key_node, deep=deep)
            try:
                dup = key in seen
            except TypeError:  # unhashable key: let the base class report it
                break
            if dup:
                raise YamlInputError(
                    f"line {key_node.start_mark.line + 1}: duplicate key {key!r} "
                    "(each key may appear once in a mapping)",
                    key_node.start_mark.line + 1,
                )
            seen.add(key)
        return dict(super().construct_mapping(node, deep=deep))


# YAML 1.1 (PyYAML) reads 1e9 and 1.0e9 as strings (it wants a sign in the exponent);
# read them as floats, as YAML 1.2 and every user does.
_StrictLoader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(
        r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
        |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
        |\.[0-9_]+(?:[eE][-+]?[0-9]+)?
        |[-+]?\.(?:inf|Inf|INF)
        |\.(?:nan|NaN|NAN))$""",
        re.X,
    ),
    list("-+0123456789."),
)
_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _StrictLoader.construct_mapping
)


def load_yaml(text: str, source: str = "<yaml>") -> Any:
    """Parse ``text`` like ``yaml.safe_load`` but refuse duplicate keys and oversize input.

    Raises
    ------
    YamlInputError
        ``"<source>: line N: ..."`` for a syntax error or a duplicate key, or a size message.
    """
    if len(text) > MAX_YAML_BYTES:
        raise YamlInputError(
            f"{source}: {len(text)} characters; YAML inputs larger than "
            f"{MAX_YAML_BYTES} are refused"
        )
    try:
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            _check_expansion(node)
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except YamlInputError as exc:
        raise YamlInputError(f"{source}: {exc.message}", exc.line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or "not valid YAML"
        at = f"line {line}: " if line is not None else ""
        raise YamlInputError(f"{source}: malformed YAML: {at}{problem}", line) from None


def _check_expansion(root: yaml.Node) -> None:
    """Refuse a document whose aliases expand it beyond :data:`MAX_YAML_NODES` nodes.

    Aliases are references to one node, so the composed graph stays small while the
    constructed data may not. The expanded size is counted on the graph (each node once,
    memoised); an alias cycle is refused as well.
    """
    size: dict[int, int] = {}
    active: set[int] = set()

    def count(node: yaml.Node) -> int:
        key = id(node)
        if key in size:
            return size[key]
        if key in active:
            raise YamlInputError("an alias refers to the node that contains it (a cycle)")
        active.add(key)
        total = 1
        if isinstance(node, yaml.SequenceNode):
            for child in node.value:
                total += count(child)
                if total > MAX_YAML_NODES:
                    break
        elif isinstance(node, yaml.MappingNode):
            for k, v in node.value:
                total += count(k) + count(v)
                if total > MAX_YAML_NODES:
                    break
        active.discard(key)
        if total > MAX_YAML_NODES:
            raise YamlInputError(
                f"its aliases expand it to more than {MAX_YAML_NODES} nodes; refused"
            )
        size[key] = total
        return total

    count(root)


def read_yaml_file(path: str | Path, *, max_bytes: int = MAX_YAML_BYTES) -> Any:
    """Read and parse a YAML file with :func:`load_yaml`, reading at most ``max_bytes``.

    Raises
    ------
    OSError
        The file cannot be opened.
    YamlInputError
        Too large (counted on the bytes read, so ``/dev/zero`` and pipes are capped too),
        not UTF-8, malformed, with a duplicate key, or expanding beyond
        :data:`MAX_YAML_NODES` nodes.
    """
    p = Path(path)
    try:
        with open(p, "rb") as fh:
            data = fh.read(max_bytes + 1)
    except IsADirectoryError:
        raise YamlInputError(f"{p}: is a folder, not a YAML file") from None
    if len(data) > max_bytes:
        raise YamlInputError(f"{p}: YAML files larger than {max_bytes} bytes are refused")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise YamlInputError(f"{p}: not UTF-8 text") from None
    return load_yaml(text, str(p))
