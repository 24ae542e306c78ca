"""Regular expressions that match in linear time, for every pattern a config or visitor controls.

Python's ``re`` backtracks: ``(a+)+$`` against 26 ``a`` and a ``!`` takes seconds, and RE2 does
not run under Pyodide. This module compiles a restricted syntax to a Thompson NFA and runs it as
a lazily built DFA (the RE2 approach): each input character costs one cached transition, or at
worst one pass over the NFA's states, never a backtrack. Matching is a yes/no answer (no groups),
which is all targeting and bot detection need.

Supported: literals and escapes (``\\. \\d \\D \\w \\W \\s \\S \\n \\t \\xhh \\uhhhh``), ``.``, classes
``[a-z_]``/``[^/]``, groups ``( )``, ``(?: )``, ``(?P<name> )``, alternation ``|``, quantifiers
``* + ? {n} {n,} {n,m}`` (lazy forms too; they match the same strings), anchors ``^ $ \\A \\Z``,
word boundaries ``\\b \\B`` and a leading ``(?i)``. Refused (``UnsafePattern``, with the reason):
backreferences, lookaround, possessive quantifiers, inline flags elsewhere, and patterns whose
automaton would exceed ``MAX_STATES`` (e.g. ``(a{100}){100}``).
"""

from __future__ import annotations

from collections.abc import Callable

__all__ = ["LinearPattern", "UnsafePattern", "compile_linear", "MAX_STATES", "MAX_REPEAT"]

MAX_STATES = 4000
"""NFA states a pattern may compile to (bounds the work per input character)."""
MAX_REPEAT = 100
"""Largest ``{n,m}`` bound."""
_MAX_CACHED = 20_000
"""DFA transitions kept before the cache starts afresh (memory stays bounded, time linear)."""

_CHAR, _SPLIT, _ASSERT, _MATCH = range(4)
_MATCHED = -1
Pred = Callable[[str], bool]


class UnsafePattern(ValueError):
    """The pattern is not in the linear-time subset, or is malformed."""


def _is_word(c: str) -> bool:
    return c.isalnum() or c == "_"


def _is_space(c: str) -> bool:
    return c.isspace()


def _is_digit(c: str) -> bool:
    return c.isdecimal()


_CATEGORIES: dict[str, Pred] = {"d": _is_digit, "w": _is_word, "s": _is_space}
_SIMPLE_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "f": "\f", "v": "\v", "a": "\a", "0": "\0"}


class _Parser:
    """Recursive descent over the pattern into a small AST of tuples."""

    def __init__(self, pattern: str, ignore_case: bool) -> None:
        self.p = pattern
        self.i = 0
        self.ignore_case = ignore_case

    def fail(self, why: str) -> UnsafePattern:
        return UnsafePattern(f"{why} at position {self.i}")

    def peek(self) -> str | None:
        return self.p[self.i] if self.i < len(self.p) else None

    def parse(self) -> tuple:
        if self.p.startswith("(?i)"):
            self.ignore_case = True
            self.i = 4
        node = self.alternation()
        if self.i != len(self.p):
            raise self.fail("unbalanced ')'")
        return node

    def alternation(self) -> tuple:
        branches = [self.sequence()]
        while self.peek() == "|":
            self.i += 1
            branches.append(self.sequence())
        return branches[0] if len(branches) == 1 else ("alt", branches)

    def sequence(self) -> tuple:
        items: list[tuple] = []
        while self.peek() not in (None, "|", ")"):
            items.append(self.quantified(self.atom()))
        return ("cat", items)

    def quantified(self, node: tuple) -> tuple:
        while True:
            c = self.peek()
            if c in ("*", "+", "?"):
                self.i += 1
                low, high = {"*": (0, None), "+": (1, None), "?": (0, 1)}[c]
            elif c == "{" and self._is_bound():
                low, high = self._bound()
            else:
                return node
            if node[0] == "assert":
                raise self.fail("nothing to repeat")
            if self.peek() == "+":
                raise self.fail("possessive quantifiers are not supported")
            if self.peek() == "?":  # lazy: the same set of matches
                self.i += 1
            node = ("rep", node, low, high)

    def _is_bound(self) -> bool:
        end = self.p.find("}", self.i)
        inner = self.p[self.i + 1 : end] if end > 0 else ""
        low, comma, high = inner.partition(",")
        if low == "" and comma:  # {,n} is {0,n}
            return high.isdigit()
        return bool(low.isdigit() and (high == "" or high.isdigit()))

    def _bound(self) -> tuple[int, int | None]:
        end = self.p.index("}", self.i)
        low_text, comma, high_text = self.p[self.i + 1 : end].partition(",")
        self.i = end + 1
        low = int(low_text) if low_text else 0
        high = (int(high_text) if high_text else None) if comma else low
        if low > MAX_REPEAT or (high is not None and (high > MAX_REPEAT or high < low)):
            raise self.fail(f"repeat bounds must be ordered and at most {MAX_REPEAT}")
        return low, high

    def atom(self) -> tuple:
        c = self.p[self.i]
        self.i += 1
        if c == "(":
            return self.group()
        if c == "[":
            return ("char", self.char_class())
        if c == ".":
            return ("char", lambda ch: ch != "\n")
        if c == "^":
            return ("assert", "^")
        if c == "$":
            return ("assert", "$")
        if c == "\\":
            return self.escape()
        if c in "*+?":
            raise self.fail("nothing to repeat")
        if c == "{" and self._is_bound_at(self.i - 1):
            raise self.fail("nothing to repeat")
        return ("char", self.literal(c))

    def _is_bound_at(self, index: int) -> bool:
        saved, self.i = self.i, index
        try:
            return self._is_bound()
        finally:
            self.i = saved

    def group(self) -> tuple:
        if self.p.startswith("?:", self.i):
            self.i += 2
        elif self.p.startswith("?P<", self.i):
            end = self.p.find(">", self.i)
            name = self.p[self.i + 3 : end] if end > 0 else ""
            if not name.isidentifier():
                raise self.fail("bad group name")
            self.i = end + 1
        elif self.peek() == "?":
            raise self.fail("lookaround, backreferences and inline flags are not supported")
        node = self.alternation()
        if self.peek() != ")":
            raise self.fail("missing ')'")
        self.i += 1
        return node

    def escape(self) -> tuple:
        if self.i >= len(self.p):
            raise self.fail("trailing backslash")
        c = self.p[self.i]
        self.i += 1
        if c in "AZbB":
            return ("assert", {"A": "^", "Z": "$"}.get(c, c))
        pred = self.escape_pred(c)
        return ("char", pred)

    def escape_pred(self, c: str) -> Pred:
        if c.lower() in _CATEGORIES:
            category = _CATEGORIES[c.lower()]
            return category if c.islower() else (lambda ch: not category(ch))
        if c in _SIMPLE_ESCAPES:
            return self.literal(_SIMPLE_ESCAPES[c])
        if c in "xu":
            return self.literal(self.hex_char(c))
        if c.isalnum():
            raise self.fail(f"unsupported escape \\{c} (backreferences are not supported)")
        return self.literal(c)

    def hex_char(self, kind: str) -> str:
        """The character of ``\\xhh`` or ``\\uhhhh`` (the digits follow)."""
        width = 2 if kind == "x" else 4
        digits = self.p[self.i : self.i + width]
        if len(digits) != width or any(d not in "0123456789abcdefABCDEF" for d in digits):
            raise self.fail(f"\\{kind} needs {width} hex digits")
        self.i += width
        return chr(int(digits, 16))

    def literal(self, c: str) -> Pred:
        if self.ignore_case and c.lower() != c.upper():
            folded = {c, c.lower(), c.upper()}
            return folded.__contains__
        return c.__eq__

    def char_class(self) -> Pred:
        negated = self.peek() == "^"
        if negated:
            self.i += 1
        preds: list[Pred] = []
        ranges: list[tuple[str, str]] = []
        first = True
        while True:
            if self.i >= len(self.p):
                raise self.fail("missing ']'")
            c = self.p[self.i]
            self.i += 1
            if c == "]" and not first:
                break
            first = False
            if c == "\\":
                if self.i >= len(self.p):
                    raise self.fail("trailing backslash")
                e = self.p[self.i]
                self.i += 1
                if e.lower() in _CATEGORIES:
                    preds.append(self.escape_pred(e))
                    continue
                low = self._class_char(e)
            else:
                low = c
            if self.peek() == "-" and self.i + 1 < len(self.p) and self.p[self.i + 1] != "]":
                self.i += 1
                high = self.p[self.i]
                self.i += 1
                if high == "\\":
                    escaped = self.p[self.i] if self.i < len(self.p) else ""
                    self.i += 1
                    high = self._class_char(escaped)
                if high < low:
                    raise self.fail("bad character range")
                ranges.append((low, high))
            else:
                ranges.append((low, low))
        ignore_case = self.ignore_case

        def member(ch: str) -> bool:
            for candidate in {ch, ch.lower(), ch.upper()} if ignore_case else (ch,):
                if any(lo <= candidate <= hi for lo, hi in ranges) or any(p(candidate) for p in preds):
                    return True
            return False

        return (lambda ch: not member(ch)) if negated else member

    def _class_char(self, e: str) -> str:
        if not e:
            raise self.fail("trailing backslash")
        if e in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[e]
        if e in "xu":
            return self.hex_char(e)
        if e.isalnum():
            raise self.fail(f"unsupported escape \\{e} in a class")
        return e


class _Nfa:
    def __init__(self) -> None:
        self.kind: list[int] = []
        self.arg: list[object] = []
        self.out: list[int] = []
        self.out2: list[int] = []

    def add(self, kind: int, arg: object = None, out: int = -1, out2: int = -1) -> int:
        if len(self.kind) >= MAX_STATES:
            raise UnsafePattern(f"the pattern is too large (more than {MAX_STATES} automaton states)")
        self.kind.append(kind)
        self.arg.append(arg)
        self.out.append(out)
        self.out2.append(out2)
        return len(self.kind) - 1

    def emit(self, node: tuple, nxt: int) -> int:
        """The start state of ``node`` followed by state ``nxt`` (built back to front)."""
        tag = node[0]
        if tag == "char":
            return self.add(_CHAR, node[1], nxt)
        if tag == "assert":
            return self.add(_ASSERT, node[1], nxt)
        if tag == "cat":
            for item in reversed(node[1]):
                nxt = self.emit(item, nxt)
            return nxt
        if tag == "alt":
            starts = [self.emit(branch, nxt) for branch in node[1]]
            head = starts[-1]
            for start in reversed(starts[:-1]):
                head = self.add(_SPLIT, None, start, head)
            return head
        _, inner, low, high = node
        tail = nxt
        if high is None:
            loop = self.add(_SPLIT, None, -1, nxt)
            self.out[loop] = self.emit(inner, loop)
            tail = loop
        else:
            for _ in range(high - low):
                tail = self.add(_SPLIT, None, self.emit(inner, tail), nxt)
        for _ in range(low):
            tail = self.emit(inner, tail)
        return tail


class LinearPattern:
    """A compiled pattern: ``search`` (anywhere) and ``fullmatch`` (the whole text), both O(n)."""

    def __init__(self, pattern: str, ignore_case: bool = False) -> None:
        try:
            ast = _Parser(pattern, ignore_case).parse()
        except RecursionError as exc:
            raise UnsafePattern("the pattern nests too deeply") from exc
        except (IndexError, ValueError) as exc:
            if isinstance(exc, UnsafePattern):
                raise
            raise UnsafePattern(f"malformed pattern: {exc}") from exc
        self.pattern = pattern
        self._nfa = _Nfa()
        match = self._nfa.add(_MATCH)
        self._start = self._nfa.emit(ast, match)
        self._ids: dict[tuple[frozenset[int], bool, bool, bool], int] = {}
        self._keys: list[tuple[frozenset[int], bool, bool, bool]] = []
        self._steps: dict[tuple[int, str], int] = {}
        self._accepting: dict[int, bool] = {}

    def search(self, text: str) -> bool:
        return self._run(text, True)

    def fullmatch(self, text: str) -> bool:
        return self._run(text, False)

    def _state(self, core: frozenset[int], at_start: bool, prev_word: bool, anywhere: bool) -> int:
        key = (core, at_start, prev_word, anywhere)
        found = self._ids.get(key)
        if found is None:
            found = len(self._keys)
            self._ids[key] = found
            self._keys.append(key)
        return found

    def _closure(
        self, core: frozenset[int], at_start: bool, prev_word: bool, next_char: str | None
    ) -> set[int]:
        nfa = self._nfa
        next_word = next_char is not None and _is_word(next_char)
        seen: set[int] = set()
        stack = list(core)
        while stack:
            s = stack.pop()
            if s in seen:
                continue
            seen.add(s)
            kind = nfa.kind[s]
            if kind == _SPLIT:
                stack.append(nfa.out[s])
                stack.append(nfa.out2[s])
            elif kind == _ASSERT:
                which = nfa.arg[s]
                holds = (
                    at_start
                    if which == "^"
                    else next_char is None
                    if which == "$"
                    else (prev_word != next_word)
                    if which == "b"
                    else prev_word == next_word
                    and not (at_start and next_char is None)  # re: \B never matches ""
                )
                if holds:
                    stack.append(nfa.out[s])
        return seen

    def _step(self, state: int, c: str) -> int:
        core, at_start, prev_word, anywhere = self._keys[state]
        closed = self._closure(core, at_start, prev_word, c)
        nfa = self._nfa
        if anywhere and any(nfa.kind[s] == _MATCH for s in closed):
            return _MATCHED
        following = {nfa.out[s] for s in closed if nfa.kind[s] == _CHAR and nfa.arg[s](c)}  # type: ignore[operator]
        if anywhere:
            following.add(self._start)
        if len(self._steps) > _MAX_CACHED or len(self._keys) > _MAX_CACHED:
            self._steps.clear()
            self._ids.clear()
            self._keys.clear()
            self._accepting.clear()
        return self._state(frozenset(following), False, _is_word(c), anywhere)

    def _run(self, text: str, anywhere: bool) -> bool:
        state = self._state(frozenset((self._start,)), True, False, anywhere)
        steps = self._steps
        for c in text:
            nxt = steps.get((state, c))
            if nxt is None:
                nxt = self._step(state, c)
                steps[(state, c)] = nxt
            if nxt == _MATCHED:
                return True
            state = nxt
        accepting = self._accepting.get(state)
        if accepting is None:
            core, at_start, prev_word, _ = self._keys[state]
            closed = self._closure(core, at_start, prev_word, None)
            accepting = self._accepting[state] = any(self._nfa.kind[s] == _MATCH for s in closed)
        return accepting


def compile_linear(pattern: str, ignore_case: bool = False) -> LinearPattern:
    """Compile ``pattern`` or raise ``UnsafePattern`` saying why it is not accepted."""
    return LinearPattern(pattern, ignore_case)
