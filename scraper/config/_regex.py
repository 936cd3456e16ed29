"""A static check that a config regex cannot make Python's backtracking `re` run away.

`regex_problem(pattern)` reads the pattern with `re`'s own parser and names the first of
these it finds, or returns None. The classes caught:

1. nested quantifiers: a repeat (max >= 2) whose body holds a variable repeat (`*`, `+`, `?`,
   `{n,m}`), as in `(a+)+`, `(a*)*`, `(\\w+\\s?)*`, `(a?){30}`: exponential time. Let
   through when the outer body also has a mandatory single character that the inner repeat
   cannot match, since each round must then end at that character: `([^/]+/)*`, `(a+b)*`.
2. overlapping alternatives under a large repeat: `(a|a)*`, `(a|ab)*`, `(ab|a[bc]b)*`: two
   alternatives can start with the same character (re factors a shared prefix out, which
   leaves an alternative that may match nothing; that counts too): exponential time.
   (`(\\w|\\d)+` passes: re turns one-character alternatives into one set.)
3. long chains of overlapping repeats: `a.*a.*b`, `\\d+\\d+x`, `/.*/.*` unanchored,
   `a?a?a?...aaa`: each repeat in the chain may stop at any of n places, so the cost grows
   as n**k (one more for an unanchored search, which tries every start). Degree 3 or more
   is refused.
4. backreferences (`\\1`, `(?P=name)`, `(?(1)...)`): no linear-time engine has them, and
   they make matching NP-hard in general.

A heuristic, not a proof: character sets are compared on sample characters (the pattern's
own literals and range ends, Latin-1, a few others), and a pattern it lets through can still
take quadratic time on a long URL (`.*foo` tries every start). Possessive repeats and atomic
groups are judged like ordinary ones, which may refuse a safe pattern but never passes a bad
one for that reason.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from typing import Any


def _module(name: str, old_name: str) -> Any:
    # re's own parser: re._parser since 3.11; sre_parse before (deprecated, so not first).
    try:
        return importlib.import_module(name)
    except ImportError:  # pragma: no cover - Python < 3.11
        return importlib.import_module(old_name)


_c = _module("re._constants", "sre_constants")
_p = _module("re._parser", "sre_parse")

LARGE = 100  # a repeat allowing more than this many rounds counts as unbounded
MAX_DEGREE = 2  # n**2 on a URL of n characters is the most allowed
_REPEATS = (_c.MAX_REPEAT, _c.MIN_REPEAT, getattr(_c, "POSSESSIVE_REPEAT", _c.MAX_REPEAT))
_ONE_CHAR = (_c.LITERAL, _c.NOT_LITERAL, _c.ANY, _c.IN)
_CATEGORIES = {
    "CATEGORY_DIGIT": r"\d", "CATEGORY_NOT_DIGIT": r"\D", "CATEGORY_SPACE": r"\s",
    "CATEGORY_NOT_SPACE": r"\S", "CATEGORY_WORD": r"\w", "CATEGORY_NOT_WORD": r"\W",
    "CATEGORY_LINEBREAK": r"\n", "CATEGORY_NOT_LINEBREAK": r"[^\n]",
}
# Characters every check samples, beside the pattern's own: Latin-1, and some letters,
# digits and spaces from further up.
_BASE_PROBES = frozenset(range(0x250)) | frozenset(
    (0x391, 0x430, 0x5D0, 0x627, 0x660, 0x966, 0x2028, 0x3000, 0x3042, 0x4E00, 0xFF10, 0x1F600))

Item = tuple[Any, Any]


class _Analysis:
    def __init__(self, tree: Any, ignorecase: bool) -> None:
        self.ignorecase = ignorecase
        probes = set(_BASE_PROBES)
        self._collect(tree, probes)
        if ignorecase:
            probes |= {ord(v) for c in list(probes) for v in (chr(c).lower(), chr(c).upper())
                       if len(v) == 1}
        self.probes = frozenset(probes)
        self._cat = {name: frozenset(c for c in self.probes if re.fullmatch(rx, chr(c)))
                     for name, rx in _CATEGORIES.items()}

    def _collect(self, seq: Iterable[Item], probes: set[int]) -> None:
        for op, av in seq:
            if op in (_c.LITERAL, _c.NOT_LITERAL):
                probes.add(av)
            elif op is _c.IN:
                for iop, iav in av:
                    if iop is _c.LITERAL:
                        probes.add(iav)
                    elif iop is _c.RANGE:
                        probes.update(iav)
            else:
                for sub in _children(op, av):
                    self._collect(sub, probes)

    # -- what an element can match ------------------------------------------------------

    def _same(self, c: int) -> set[int]:
        if not self.ignorecase:
            return {c}
        return {c} | {ord(v) for v in (chr(c).lower(), chr(c).upper()) if len(v) == 1}

    def one_char(self, op: Any, av: Any) -> frozenset[int]:
        if op is _c.ANY:
            return self.probes
        if op is _c.LITERAL:
            return frozenset(self._same(av))
        if op is _c.NOT_LITERAL:
            return self.probes - self._same(av)
        negate = False
        out: set[int] = set()
        for iop, iav in av:
            if iop is _c.NEGATE:
                negate = True
            elif iop is _c.LITERAL:
                out |= self._same(iav)
            elif iop is _c.RANGE:
                lo, hi = iav
                for c in self.probes:
                    if any(lo <= v <= hi for v in self._same(c)):
                        out.add(c)
            elif iop is _c.CATEGORY:
                out |= self._cat.get(str(iav), self.probes)
            else:  # unknown: assume it matches anything
                out |= self.probes
        return self.probes - out if negate else frozenset(out)

    def chars(self, seq: Iterable[Item]) -> frozenset[int]:
        """Every character some part of `seq` may consume."""
        out: frozenset[int] = frozenset()
        for op, av in seq:
            if op in _ONE_CHAR:
                out |= self.one_char(op, av)
            elif op in (_c.ASSERT, _c.ASSERT_NOT, _c.AT):
                continue
            else:
                for sub in _children(op, av):
                    out |= self.chars(sub)
        return out

    def first(self, seq: Iterable[Item]) -> tuple[frozenset[int], bool]:
        """The characters a match of `seq` may start with, and whether it may match nothing."""
        out: frozenset[int] = frozenset()
        for op, av in seq:
            if op in _ONE_CHAR:
                return out | self.one_char(op, av), False
            if op in (_c.ASSERT, _c.ASSERT_NOT, _c.AT):
                continue
            if op in _REPEATS:
                sub, empty = self.first(av[2])
                out |= sub
                if not empty and av[0] > 0:
                    return out, False
            elif op is _c.BRANCH:
                empty_any = False
                for alt in av[1]:
                    sub, empty = self.first(alt)
                    out |= sub
                    empty_any = empty_any or empty
                if not empty_any:
                    return out, False
            elif op in (_c.SUBPATTERN, _c.ATOMIC_GROUP):
                sub, empty = self.first(av[-1] if op is _c.SUBPATTERN else av)
                out |= sub
                if not empty:
                    return out, False
            else:  # a group reference and such: anything
                return out | self.probes, False
        return out, True

    # -- the checks -----------------------------------------------------------------------

    def problem(self, seq: list[Item], *, top: bool = False) -> str | None:
        for op, av in seq:
            if op in (_c.GROUPREF, _c.GROUPREF_EXISTS):
                return "backreference: no linear-time regex engine supports it"
            if op in _REPEATS and av[1] >= 2:
                found = self._repeat_problem(av[1], av[2])
                if found:
                    return found
            for sub in _children(op, av):
                found = self.problem(list(sub))
                if found:
                    return found
        searched = top and not _anchored(seq)
        degree = self.chain(seq) + searched
        if degree > MAX_DEGREE:
            what = "overlapping repeats in a row" + (", searched from every start" * searched)
            return (f"{what}: can take time growing as n**{degree} on a URL of n characters; "
                    "anchor it with ^ or use narrower classes such as [^/]* instead of .*")
        return None

    def _repeat_problem(self, most: int, body: Any) -> str | None:
        flat = _flatten(list(body))
        mandatory = [self.one_char(op, av) for op, av in flat if op in _ONE_CHAR]
        for inner in _variable_repeats(flat):
            inner_chars = self.chars(inner[2])
            if not any(m and not (m & inner_chars) for m in mandatory):
                return "nested quantifier: can take exponential time"
        if most > LARGE:
            for branch in _branches(flat):
                starts = [self.first(alt) for alt in branch]
                if any(empty for _, empty in starts):
                    return ("alternatives under a repeat that may match the same text: "
                            "can take exponential time")
                for i, (a, _) in enumerate(starts):
                    if any(a & b for b, _ in starts[i + 1:]):
                        return ("alternatives under a repeat that start with the same "
                                "character: can take exponential time")
        return None

    def chain(self, seq: list[Item]) -> int:
        """The longest run of variable repeats that can each stop in many places in the same
        text (`a?` counts: a?a?a?...aaa is exponential in its length)."""
        best = length = 0
        last: frozenset[int] = frozenset()
        for op, av in _flatten(seq):
            if op in _REPEATS and av[0] != av[1]:
                body = self.chars(av[2])
                length = length + 1 if length and body & last else 1
                last = body
                best = max(best, length)
            elif op in _ONE_CHAR:
                if length and not (self.one_char(op, av) & last):
                    length = 0
            elif op is _c.BRANCH:
                inner = max((self.chain(list(alt)) for alt in av[1]), default=0)
                best = max(best, length + inner)
                if inner:
                    # The chain runs on through the branch: in `(a{2,}|a).{2,}c` the
                    # repeat after it overlaps the one inside (n**3 unanchored).
                    body = self.chars([(op, av)])
                    length = length + inner if length and body & last else inner
                    last = body
        return best


def _children(op: Any, av: Any) -> list[Any]:
    if op in _REPEATS:
        return [av[2]]
    if op is _c.SUBPATTERN:
        return [av[-1]]
    if op is _c.BRANCH:
        return list(av[1])
    if op in (_c.ASSERT, _c.ASSERT_NOT):
        return [av[1]]
    if op is _c.ATOMIC_GROUP:
        return [av]
    if op is _c.GROUPREF_EXISTS:
        return [s for s in av[1:] if s is not None]
    return []


def _flatten(seq: list[Item]) -> list[Item]:
    """`seq` with plain groups opened up, so `(ab)c` reads as a b c."""
    out: list[Item] = []
    for op, av in seq:
        if op is _c.SUBPATTERN:
            out.extend(_flatten(list(av[-1])))
        elif op is _c.ATOMIC_GROUP:
            out.extend(_flatten(list(av)))
        else:
            out.append((op, av))
    return out


def _variable_repeats(seq: Iterable[Item]) -> list[Any]:
    found: list[Any] = []
    for op, av in seq:
        if op in _REPEATS and av[0] != av[1]:
            found.append(av)
        for sub in _children(op, av):
            found.extend(_variable_repeats(sub))
    return found


def _branches(seq: Iterable[Item]) -> list[list[Any]]:
    found: list[list[Any]] = []
    for op, av in seq:
        if op is _c.BRANCH:
            found.append([list(alt) for alt in av[1]])
        for sub in _children(op, av):
            found.extend(_branches(sub))
    return found


def _anchored(seq: list[Item]) -> bool:
    flat = _flatten(seq)
    return bool(flat) and flat[0][0] is _c.AT and str(flat[0][1]) in (
        "AT_BEGINNING", "AT_BEGINNING_STRING")


def _inline_i(seq: Iterable[Item]) -> bool:
    for op, av in seq:
        if op is _c.SUBPATTERN and av[1] & re.IGNORECASE:
            return True
        if any(_inline_i(sub) for sub in _children(op, av)):
            return True
    return False


def regex_problem(pattern: str, flags: int = 0) -> str | None:
    """Why `pattern` could make `re` run for a very long time, or None (see the module doc).
    The pattern must already compile."""
    try:
        tree = _p.parse(pattern, flags)
        ignorecase = bool((tree.state.flags | flags) & re.IGNORECASE) or _inline_i(tree)
        return _Analysis(tree, ignorecase).problem(list(tree), top=True)
    except RecursionError:
        return "nested too deeply"
