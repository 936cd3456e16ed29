"""YAML text -> plain values and the line of each key path; builds nothing but plain data."""

from __future__ import annotations

import os
import stat
from typing import Any

import yaml

from scraper.config._fields import _describe
from scraper.errors import ConfigError

MAX_CONFIG_BYTES = 1024 * 1024  # a config is a page of YAML; a bigger file is a wrong path
MAX_DEPTH = 50  # a config nests 4 levels; PyYAML's composer recurses once per level
# Values after alias expansion. A 1 MiB file without aliases holds fewer; a "billion laughs"
# (aliases of aliases of big lists) holds many more.
MAX_NODES = 1_000_000
_TAG = "tag:yaml.org,2002:"
# Only plain data. Anything else (!!python/..., !!binary, local tags) is refused unbuilt.
_SCALAR_TAGS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp"))
_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a named pipe (FIFO)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


def _regular_file_problem(st: os.stat_result) -> str | None:
    if stat.S_ISREG(st.st_mode):
        if st.st_size > MAX_CONFIG_BYTES:
            return f"{st.st_size} bytes, over {MAX_CONFIG_BYTES}: not a config file?"
        return None
    kind = next((name for test, name in _KINDS if test(st.st_mode)), "not a file")
    return f"not a regular file but {kind}; a config is a YAML file"


def read_config_file(path: str) -> str:
    """The text of the config file at `path`, or a ConfigError naming it.

    Only a regular file of at most MAX_CONFIG_BYTES is read: a directory, a FIFO (reading
    it would wait for a writer forever), a device such as /dev/zero (never ends) or a huge
    file is refused. It is checked before opening and again on the open descriptor, which is
    opened non-blocking in case a FIFO took the file's place in between."""
    try:
        problem = _regular_file_problem(os.stat(path))
        if problem:
            raise ConfigError(problem, path=path)
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0))
        with open(fd, "rb") as fh:
            problem = _regular_file_problem(os.fstat(fd))
            if problem:
                raise ConfigError(problem, path=path)
            data = fh.read(MAX_CONFIG_BYTES + 1)
    except (OSError, ValueError) as exc:  # ValueError: a NUL in the path
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(f"cannot read the config: {reason}", path=path) from exc
    if len(data) > MAX_CONFIG_BYTES:
        raise ConfigError(f"over {MAX_CONFIG_BYTES} bytes: not a config file?", path=path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError("not UTF-8 text", path=path, line=line) from exc


def check_shape(text: str, path: str | None, key: str | None = None) -> None:
    """Refuse YAML nested deeper than MAX_DEPTH or whose aliases expand to more than
    MAX_NODES values, or that has an alias inside its own anchor (a cycle), reading only
    the event stream: PyYAML's parser is a loop, its composer recurses once per level, so
    this must come first. Raises ConfigError at the offending node's line; YAML syntax
    errors are left to the composer's message (it raises them as MarkedYAMLError).

    :param key: put before the key paths in messages (an override's key)."""
    depth = total = 0
    sizes: dict[str, int] = {}  # finished anchors: values in them, expanded
    frames: list[_Frame] = []
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
            frame = frames.pop()
            depth -= 1
            if frame.anchor is not None:
                sizes[frame.anchor] = total - frame.start
            continue
        if not isinstance(event, yaml.NodeEvent):
            continue
        where = frames[-1].place(event) if frames else ""
        if where is None:  # a mapping's key: named after the mapping
            where = frames[-1].path
        line = event.start_mark.line + 1 if event.start_mark is not None else None
        name = _short_key(key or "", where)
        if isinstance(event, yaml.AliasEvent):
            if event.anchor is not None and any(f.anchor == event.anchor for f in frames):
                raise ConfigError(f"the alias *{event.anchor} is inside its own anchor "
                                  f"&{event.anchor}: a value cannot contain itself",
                                  path=path, line=line, key=name)
            total += sizes.get(event.anchor or "", 1)  # undefined: the composer says so
        else:
            total += 1
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise ConfigError(f"nested deeper than {MAX_DEPTH} levels",
                                      path=path, line=line, key=name)
                frames.append(_Frame(where, isinstance(event, yaml.MappingStartEvent),
                                     event.anchor, total - 1))
            elif event.anchor is not None:
                sizes[event.anchor] = 1
        if total > MAX_NODES:
            raise ConfigError(f"aliases expand to more than {MAX_NODES} values",
                              path=path, line=line, key=name)


def _short_key(prefix: str, where: str) -> str | None:
    """`prefix` and `where` joined as a key path, cut after four steps (a node 10,000 levels
    down is still named in one short line)."""
    if prefix and where and not where.startswith("["):
        where = "." + where
    full = prefix + where
    steps = [i for i, c in enumerate(full) if c in ".["]
    return (full[: steps[3]] + "..." if len(steps) > 3 else full) or None


class _Frame:
    """An open mapping or sequence in check_shape: where it is and what comes next in it."""

    def __init__(self, path: str, mapping: bool, anchor: str | None, start: int) -> None:
        self.path, self.mapping, self.anchor, self.start = path, mapping, anchor, start
        self.index = 0
        self.key: str | None = None  # in a mapping: the key just read, awaiting its value

    def place(self, event: yaml.NodeEvent) -> str | None:
        """The key path of the node `event` starts, or None when it is a mapping's key."""
        if not self.mapping:
            self.index += 1
            return f"{self.path}[{self.index - 1}]"
        if self.key is None:
            self.key = event.value if isinstance(event, yaml.ScalarEvent) else "?"
            return None
        name, self.key = self.key, None
        return f"{self.path}.{name}" if self.path else name


def read_yaml(text: str, path: str) -> tuple[dict[str, Any], dict[str, int]]:
    try:
        check_shape(text, path)
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
            # YAML 1.1 reads a plain `on:` (or yes, no, off) as a boolean; as a key it can
            # only mean the word (`notify: - on: [changed]`), so it is read as written.
            if not (isinstance(knode, yaml.ScalarNode)
                    and knode.tag in (_TAG + "str", _TAG + "bool")):
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


