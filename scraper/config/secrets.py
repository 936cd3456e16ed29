"""Secrets in configs: `${ENV_VAR}` and `${file:/path}` references, and the Secret type that
holds what they expand to.

    expand_secrets(text, key=..., base_dir=...)   a config string -> Secret (raises ConfigError)
    Secret("...")                                 str()/repr() are `***`; .reveal() gives the text

A Secret never prints its value, so that a config, a run row, a log line or an error
message that carries one by accident shows `***` instead. Code that must send the value
(the fetcher building a request) calls reveal() at that point and nowhere else.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path

from scraper.errors import ConfigError

__all__ = ["REDACTED", "Secret", "expand_secrets"]

REDACTED = "***"
# ${NAME} or ${file:PATH}; `$${` is a literal `${`.
_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# A secret file is a token or a password, not a document: a larger one is a wrong path.
MAX_SECRET_FILE_BYTES = 64 * 1024


class Secret:
    """A text that must not leak: str() and repr() show `***`; reveal() gives it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return REDACTED

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return REDACTED

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)

    def __reduce__(self) -> tuple[type[Secret], tuple[str]]:
        # Parse workers and copies get the value; only printing is refused.
        return (Secret, (self._value,))


def expand_secrets(text: str, *, key: str, base_dir: str | os.PathLike[str] = ".",
                   environ: Mapping[str, str] | None = None,
                   path: str | None = None, line: int | None = None) -> Secret:
    """`text` with each `${NAME}` replaced by the environment variable NAME and each
    `${file:PATH}` by the content of that file (one trailing newline dropped; a relative
    PATH is taken from `base_dir`, the config file's folder). `$${` stands for `${`.

    Raises ConfigError naming `key` (and `path`/`line` when given) for a variable that is
    not set, a file that cannot be read, or a reference that is not closed; the message
    never holds what a reference expanded to.
    """
    env = os.environ if environ is None else environ

    def fail(reason: str) -> ConfigError:
        return ConfigError(reason, path=path, line=line, key=key)

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$${":
            return "${"
        inner = match.group(1)
        if inner is None:
            raise fail("has a '${' that is not closed by '}' (write '$${' for a "
                       "literal '${')")
        if inner.startswith("file:"):
            return _read_secret_file(inner[len("file:"):], base_dir, fail)
        name = inner.strip()
        if not _ENV_NAME.fullmatch(name):
            raise fail(f"'${{{inner}}}' is neither ${{ENV_VAR}} nor ${{file:PATH}}")
        if name not in env:
            raise fail(f"refers to the environment variable {name}, which is not set")
        return env[name]

    return Secret(_REFERENCE.sub(replace, text))


def _read_secret_file(name: str, base_dir: str | os.PathLike[str],
                      fail: Callable[[str], ConfigError]) -> str:
    if not name.strip():
        raise fail("'${file:}' names no file")
    file = Path(name).expanduser()
    if not file.is_absolute():
        file = Path(base_dir) / file
    try:
        with open(file, "rb") as handle:
            data = handle.read(MAX_SECRET_FILE_BYTES + 1)
    except OSError as exc:
        raise fail(f"cannot read the secret file {str(file)!r}: "
                   f"{exc.strerror or exc}") from None
    if len(data) > MAX_SECRET_FILE_BYTES:
        raise fail(f"the secret file {str(file)!r} is over {MAX_SECRET_FILE_BYTES} bytes: "
                   "is it the right file?")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise fail(f"the secret file {str(file)!r} is not UTF-8 text") from None
    if text.endswith("\r\n"):
        return text[:-2]
    return text.removesuffix("\n")
