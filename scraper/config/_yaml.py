"""YAML text -> plain values and the line of each key path; builds nothing but plain data."""

from __future__ import annotations

from typing import Any

import yaml

from scraper.config._fields import _describe
from scraper.errors import ConfigError

MAX_CONFIG_BYTES = 4 * 1024 * 1024  # a config is a page of YAML; a bigger file is a wrong path
_TAG = "tag:yaml.org,2002:"
# Only plain data. Anything else (!!python/..., !!binary, local tags) is refused unbuilt.
_SCALAR_TAGS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp"))


def read_config_file(path: str) -> str:
    """The text of the config file at `path`, or a ConfigError naming it."""
    try:
        with open(path, "rb") as fh:
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except OSError as exc:
        raise ConfigError(f"cannot read the config: {exc.strerror or exc}", path=path) from exc
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"over {MAX_CONFIG_BYTES} bytes: not a config file?", path=path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError("not UTF-8 text", path=path, line=line) from exc


def read_yaml(text: str, path: str) -> tuple[dict[str, Any], dict[str, int]]:
    try:
        # compose() only builds nodes: no constructor runs, so no tag can make an object.
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        problem = (exc.problem or "cannot parse").removeprefix("but ")
        if exc.context:
            # The context's line says where the unclosed bracket or quote began.
            at = exc.context_mark.line + 1 if exc.context_mark is not None else None
            problem += f" ({exc.context}" + (f", line {at})" if at not in (None, line) else ")")
        if "'\\t'" in problem:
            problem += " (indent with spaces, not tabs)"
        raise ConfigError(f"not valid YAML: {problem}", path=path, line=line) from exc
    except yaml.reader.ReaderError as exc:  # control characters and the like
        line = text[: exc.position].count("\n") + 1
        raise ConfigError(f"not valid YAML: {exc.reason}", path=path, line=line) from exc
    if node is None:
        raise ConfigError("the file is empty; a config needs at least name and start_urls",
                          path=path, line=1)
    builder = _Builder(path)
    value = builder.convert(node, "")
    if not isinstance(value, dict):
        raise ConfigError(
            f"the top level must be a mapping of keys such as name and start_urls, "
            f"got {_describe(value)}", path=path, line=node.start_mark.line + 1)
    builder.lines[""] = node.start_mark.line + 1
    return value, builder.lines


class _Builder:
    """Turns a composed node tree into plain values, noting the line of each key path."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: dict[str, int] = {}
        self._done: dict[int, Any] = {}  # aliases share a node: convert it once (no blow-up)
        self._scalars = yaml.constructor.SafeConstructor()

    def _fail(self, node: yaml.Node, key: str, message: str) -> ConfigError:
        return ConfigError(message, path=self.path, line=node.start_mark.line + 1, key=key or None)

    def convert(self, node: yaml.Node, key: str) -> Any:
        if id(node) in self._done:
            return self._done[id(node)]
        if isinstance(node, yaml.ScalarNode) and node.tag in _SCALAR_TAGS:
            if node.tag == _TAG + "timestamp":
                return node.value  # a date-like name stays text
            try:
                return self._scalars.construct_object(node)
            except (ValueError, KeyError, yaml.YAMLError) as exc:
                raise self._fail(node, key, f"cannot read {node.value!r} as {node.tag}") from exc
        if isinstance(node, yaml.SequenceNode) and node.tag == _TAG + "seq":
            items: list[Any] = []
            self._done[id(node)] = items
            for i, item in enumerate(node.value):
                sub = f"{key}[{i}]"
                self.lines.setdefault(sub, item.start_mark.line + 1)
                items.append(self.convert(item, sub))
            return items
        if isinstance(node, yaml.MappingNode) and node.tag == _TAG + "map":
            return self._mapping(node, key)
        tag = node.tag.replace(_TAG, "!!", 1)
        raise self._fail(node, key, f"the tag {tag!r} is not allowed: a config holds only text, "
                                    "numbers, booleans, lists and mappings")

    def _mapping(self, node: yaml.MappingNode, key: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        self._done[id(node)] = out
        first: dict[str, int] = {}
        for knode, vnode in node.value:
            if isinstance(knode, yaml.ScalarNode) and knode.tag == _TAG + "merge":
                raise self._fail(knode, key, "merge keys (<<) are not supported; write the keys out")
            if not (isinstance(knode, yaml.ScalarNode) and knode.tag == _TAG + "str"):
                shown = knode.value if isinstance(knode, yaml.ScalarNode) else knode.id
                raise self._fail(knode, key, f"keys must be text, got {shown!r} (quote it)")
            name = knode.value
            sub = f"{key}.{name}" if key else name
            line = knode.start_mark.line + 1
            if name in first:
                raise self._fail(knode, sub, f"duplicate key {name!r} (first on line {first[name]})")
            first[name] = line
            self.lines.setdefault(sub, line)
            out[name] = self.convert(vnode, sub)
        return out


