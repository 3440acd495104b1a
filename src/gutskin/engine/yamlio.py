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

__all__ = ["MAX_YAML_BYTES", "YamlInputError", "load_yaml", "read_yaml_file"]

#: Largest YAML input accepted (bytes); the packaged files are < 100 kB.
MAX_YAML_BYTES = 2_000_000

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
        return yaml.load(text, Loader=_StrictLoader)
    except YamlInputError as exc:
        raise YamlInputError(f"{source}: {exc.message}", exc.line) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problem = getattr(exc, "problem", None) or "not valid YAML"
        at = f"line {line}: " if line is not None else ""
        raise YamlInputError(f"{source}: malformed YAML: {at}{problem}", line) from None


def read_yaml_file(path: str | Path, *, max_bytes: int = MAX_YAML_BYTES) -> Any:
    """Read and parse a YAML file with :func:`load_yaml` (size checked before reading).

    Raises
    ------
    OSError
        The file cannot be read.
    YamlInputError
        Too large, not UTF-8, malformed, or with a duplicate key.
    """
    p = Path(path)
    size = p.stat().st_size
    if size > max_bytes:
        raise YamlInputError(f"{p}: {size} bytes; YAML files larger than {max_bytes} are refused")
    try:
        text = p.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise YamlInputError(f"{p}: not UTF-8 text") from None
    return load_yaml(text, str(p))
