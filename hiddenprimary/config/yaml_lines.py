"""YAML with line numbers: `load_yaml` parses a config text into plain dicts and lists that
also remember the line of every key, value and item, and the duplicate keys PyYAML would drop,
so that every config error can name its line. YAML syntax errors become ConfigError."""

from __future__ import annotations

from typing import Any, Iterator

import yaml

from hiddenprimary.errors import ConfigError, Location


class Map(dict):
    """A YAML mapping that remembers the 1-based line of each key and value."""

    line: int
    key_lines: dict[Any, int]
    value_lines: dict[Any, int]
    duplicates: list[tuple[Any, int]]


class Seq(list):
    """A YAML sequence that remembers the 1-based line of each item."""

    line: int
    item_lines: list[int]


# libyaml's parser when PyYAML has it (its wheels do): a config of 10,000 zones parses in a tenth
# of the time (hpctl reads the config too, at every command).
_SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _LineLoader(_SafeLoader):
    def flatten_mapping(self, node: yaml.MappingNode) -> None:
        # Remember how many pairs came from merge keys (`<<: *defaults`), which may legitimately
        # be overridden, so that only duplicate keys written in this mapping itself are errors.
        if not hasattr(node, "_hp_merged"):
            own = sum(1 for k, _ in node.value if k.tag != "tag:yaml.org,2002:merge")
            super().flatten_mapping(node)
            node._hp_merged = len(node.value) - own  # type: ignore[attr-defined]


def _construct_map(loader: _LineLoader, node: yaml.MappingNode) -> Iterator[Map]:
    data = Map()
    data.line = node.start_mark.line + 1
    data.key_lines = {}
    data.value_lines = {}
    data.duplicates = []
    yield data
    loader.flatten_mapping(node)
    merged = getattr(node, "_hp_merged", 0)
    for i, (key_node, value_node) in enumerate(node.value):
        if not isinstance(key_node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping",
                node.start_mark,
                "found a list or mapping used as a key",
                key_node.start_mark,
            )
        key = loader.construct_object(key_node, deep=True)
        value = loader.construct_object(value_node, deep=True)
        key_line = key_node.start_mark.line + 1
        if key in data and i >= merged and data.key_lines.get(key, 0) > 0:
            data.duplicates.append((key, key_line))  # reported by the validator, with its path
            continue
        data[key] = value
        # Keys coming from a merge are marked provisional (negative) until overridden.
        data.key_lines[key] = key_line if i >= merged else -key_line
        data.value_lines[key] = value_node.start_mark.line + 1
    for key, line in data.key_lines.items():
        data.key_lines[key] = abs(line)


def _construct_seq(loader: _LineLoader, node: yaml.SequenceNode) -> Iterator[Seq]:
    data = Seq()
    data.line = node.start_mark.line + 1
    data.item_lines = [child.start_mark.line + 1 for child in node.value]
    yield data
    data.extend(loader.construct_object(child, deep=True) for child in node.value)


_LineLoader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_LineLoader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


class Doc:
    """The top-level document: its value and the line it starts on."""

    def __init__(self, value: Any, line: int):
        self.value = value
        self.line = line


def one_line(text: str) -> str:
    """White space (newlines too) folded, so that a message stays on one line."""
    return " ".join(str(text).split())


def load_yaml(text: str, path: str, only: tuple[str, ...] | None = None) -> Doc:
    """The document; with `only`, of its top mapping only those keys are built (the rest is
    parsed, in C, but no Python object is made for it)."""
    loader = None
    try:
        loader = _LineLoader(text)
        node = loader.get_single_node()
        if node is None:
            return Doc(None, 0)
        if only is not None and isinstance(node, yaml.MappingNode) and not any(
                k.tag == "tag:yaml.org,2002:merge" for k, _ in node.value):
            node.value = [(k, v) for k, v in node.value if isinstance(k, yaml.ScalarNode) and k.value in only]
        value = loader.construct_document(node)
        return Doc(value, node.start_mark.line + 1)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else 0
        problem = e.problem or e.context or "syntax error"
        if e.context and e.problem:
            problem = f"{e.problem} ({e.context})"
        raise ConfigError(f"invalid YAML: {one_line(problem)}", "", Location(path, line)) from None
    except yaml.YAMLError as e:
        # ReaderError (control characters) and other unmarked errors.
        line = 0
        position = getattr(e, "position", None)
        if isinstance(position, int):
            line = text[:position].count("\n") + 1
        reason = getattr(e, "reason", None) or str(e)
        raise ConfigError(f"invalid YAML: {one_line(reason)}", "", Location(path, line)) from None
    except RecursionError:
        raise ConfigError("invalid YAML: nested too deeply", "", Location(path)) from None
    finally:
        if loader is not None:
            loader.dispose()
