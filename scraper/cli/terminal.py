"""Scraped text made safe for a terminal: control characters and bidi overrides shown, not obeyed."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from typing import Any, TypeVar

# What a terminal obeys instead of showing: C0 controls except \t and \n (ESC starts every
# ANSI/CSI/OSC sequence, BEL ends OSC, \r rewinds the line), DEL, the C1 controls (U+009B is
# a one-character CSI on some terminals), and the bidi overrides, embeddings, isolates and
# marks that reorder what is shown (the "Trojan Source" characters).
_DANGEROUS = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e"
                        "\u2066-\u2069]")
# The colour and style sequences (SGR) click.style writes: kept by terminal_safe_styled.
_SGR = re.compile(r"\x1b\[[0-9;]*m")

T = TypeVar("T")


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def is_terminal_safe(text: str) -> bool:
    """True when `text` holds no character that terminal_safe would replace."""
    return _DANGEROUS.search(text) is None


def terminal_safe(text: str) -> str:
    """`text` with every control character, escape sequence introducer and bidi override
    replaced by a visible escape (ESC becomes the four characters `\\x1b`, U+202E becomes
    `\\u202e`, a carriage return `\\x0d`); newlines and tabs are kept.

    What follows an ESC stays as printable text (`\\x1b[31m`), so an escape sequence is
    shown instead of obeyed. Text without such characters is returned unchanged.
    """
    if _DANGEROUS.search(text) is None:
        return text
    return _DANGEROUS.sub(_visible, text)


def terminal_safe_styled(text: str) -> str:
    """terminal_safe for output we coloured ourselves: SGR sequences (`ESC [ ... m`, colours
    and bold only) are kept, everything else is made visible. Scraped text must already
    have gone through terminal_safe (see safe_fields): this is the second line of defence,
    which at worst lets a colour through."""
    parts = _SGR.split(text)
    styles = _SGR.findall(text)
    out = [terminal_safe(parts[0])]
    for style, part in zip(styles, parts[1:], strict=True):
        out += [style, terminal_safe(part)]
    return "".join(out)


def safe_fields(value: T) -> T:
    """A copy of `value` with terminal_safe applied to every string inside it: in frozen
    dataclasses, tuples, lists and dicts (keys and values). Other values are kept as they
    are. For renderers that add their own escape sequences (colour) around scraped text."""
    return _safe_value(value)  # type: ignore[no-any-return]


def _safe_value(value: Any) -> Any:
    if isinstance(value, str):
        return terminal_safe(value)
    if isinstance(value, tuple):
        return tuple(_safe_value(v) for v in value)
    if isinstance(value, list):
        return [_safe_value(v) for v in value]
    if isinstance(value, dict):
        return {_safe_value(k): _safe_value(v) for k, v in value.items()}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {f.name: _safe_value(getattr(value, f.name))
                   for f in dataclasses.fields(value) if f.init}
        return dataclasses.replace(value, **changes)
    return value


def json_safe(text: str) -> str:
    """JSON text with the characters terminal_safe replaces written as `\\uXXXX` escapes.

    json.dumps(ensure_ascii=False) escapes C0 controls but writes DEL, C1 controls and bidi
    overrides as they are. Outside strings JSON holds only ASCII punctuation and whitespace,
    so any such character is inside a string, where `\\uXXXX` means the same character:
    the data is unchanged for a program, inert on a terminal. (Newlines and tabs, which
    indent=2 writes between values, are kept.)"""
    if _DANGEROUS.search(text) is None:
        return text
    return _DANGEROUS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def safe_json_dumps(data: Any) -> str:
    """The JSON the read commands print (indent 2, UTF-8 as is), safe on a terminal."""
    return json_safe(json.dumps(data, ensure_ascii=False, indent=2, default=str))


class TerminalSafeFormatter(logging.Formatter):
    """Wraps a formatter: each formatted log line (message, arguments, traceback) goes
    through terminal_safe, or json_safe for a formatter that writes JSON lines."""

    def __init__(self, inner: logging.Formatter, *, json_lines: bool = False) -> None:
        super().__init__()
        self.inner = inner
        self.escape = json_safe if json_lines else terminal_safe

    def format(self, record: logging.LogRecord) -> str:
        return self.escape(self.inner.format(record))
