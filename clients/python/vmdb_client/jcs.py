"""Strict JSON and the JSON Canonicalization Scheme as vmdb applies it (PROTOCOL.md §2.1).

Answers are parsed with :func:`parse_strict`: duplicate member names are
rejected and every number is kept as its literal text (:class:`JNum`), so a
record is hashed from exactly the number the server sent, under the
round-trip rule, never from a value Python rounded first. :func:`jcs` writes
the canonical form of such a value (or of plain Python values: dict, list,
str, int, float, bool, None).
"""

from __future__ import annotations

import json
import re
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_INPUT_BYTES = 16 * 1024 * 1024
MAX_DEPTH = 128
MAX_NUMBER_CHARS = 1024  # a literal of this many characters or more is rejected

_SURROGATE = re.compile("[\ud800-\udfff]")


class JcsError(ValueError):
    """Input that §2.1 rejects rather than hashes."""


class JNum:
    """A JSON number kept as its literal text (parse_int / parse_float hook)."""

    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        if len(text) >= MAX_NUMBER_CHARS:
            raise JcsError("number literal of 1024 characters or more")
        self.text = text

    def __repr__(self) -> str:
        return f"JNum({self.text!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, JNum) and other.text == self.text

    def __hash__(self) -> int:
        return hash(self.text)

    def is_integer_literal(self) -> bool:
        return re.fullmatch(r"-?(?:0|[1-9][0-9]*)", self.text) is not None

    def to_float(self) -> float:
        """The double the literal denotes, after the round-trip rule (JcsError otherwise)."""
        return checked_double(self.text)

    def plain(self) -> int | float:
        """An int for an integer literal, else the float (for handing records to callers)."""
        if self.is_integer_literal():
            return int(self.text)
        return self.to_float()


def _reject_constant(name: str) -> Any:
    raise JcsError(f"{name} is not JSON")


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise JcsError(f"duplicate member name {k!r}")
        out[k] = v
    return out


def parse_strict(text: str | bytes) -> Any:
    """Parses JSON text per §2.1's input rules; numbers become JNum. Raises JcsError."""
    if isinstance(text, (bytes, bytearray)):
        if len(text) > MAX_INPUT_BYTES:
            raise JcsError("more than 16 MiB of input")
        try:
            text = bytes(text).decode("utf-8")
        except UnicodeDecodeError as e:
            raise JcsError(f"invalid UTF-8: {e}") from None
    elif len(text) > MAX_INPUT_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_INPUT_BYTES:
        raise JcsError("more than 16 MiB of input")
    if text.startswith("\ufeff"):
        raise JcsError("byte order mark")
    try:
        v = json.loads(
            text,
            object_pairs_hook=_pairs,
            parse_int=JNum,
            parse_float=JNum,
            parse_constant=_reject_constant,
        )
    except RecursionError:
        raise JcsError("nesting too deep") from None
    except json.JSONDecodeError as e:
        raise JcsError(f"not JSON: {e}") from None
    _check_tree(v, 0)
    return v


def _check_tree(v: Any, depth: int) -> None:
    """Depth cap, lone surrogates and the round-trip rule over a parsed value."""
    if isinstance(v, str):
        if _SURROGATE.search(v):
            raise JcsError("lone surrogate")
    elif isinstance(v, JNum):
        v.to_float()
    elif isinstance(v, list):
        if depth + 1 > MAX_DEPTH:
            raise JcsError(f"nesting deeper than {MAX_DEPTH}")
        for x in v:
            _check_tree(x, depth + 1)
    elif isinstance(v, dict):
        if depth + 1 > MAX_DEPTH:
            raise JcsError(f"nesting deeper than {MAX_DEPTH}")
        for k, x in v.items():
            if _SURROGATE.search(k):
                raise JcsError("lone surrogate")
            _check_tree(x, depth + 1)


def checked_double(lit: str) -> float:
    """§2.1's round-trip rule: the double of the literal, if the literal survives the trip."""
    if len(lit) >= MAX_NUMBER_CHARS:
        raise JcsError("number literal of 1024 characters or more")
    if not re.fullmatch(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?", lit):
        raise JcsError(f"not a JSON number: {lit!r}")
    mantissa = re.split(r"[eE]", lit)[0]
    if not re.search(r"[1-9]", mantissa):
        return 0.0  # a zero is always accepted (and written 0)
    d = float(lit)  # correctly rounded, half to even
    if d == 0 or d != d or d in (float("inf"), float("-inf")):
        raise JcsError(f"{lit} is out of a double's range")
    try:
        same = Decimal(repr(d)) == Decimal(lit)
    except InvalidOperation:
        same = False
    if not same:
        raise JcsError(f"{lit} does not survive the round trip through a double")
    return d


def number_to_string(d: float) -> str:
    """ECMAScript Number::toString of a finite double (§2.1 output rules)."""
    if d != d or d in (float("inf"), float("-inf")):
        raise JcsError("JSON numbers are finite")
    if d == 0:
        return "0"
    sign = "-" if d < 0 else ""
    # repr gives the shortest round-trip digits (closest among the shortest),
    # in Python's own layout; take digits and exponent from it.
    t = Decimal(repr(abs(d))).as_tuple()
    digits = list(t.digits)
    exp = int(t.exponent)
    while len(digits) > 1 and digits[-1] == 0:
        digits.pop()
        exp += 1
    s = "".join(str(x) for x in digits)
    k = len(s)
    n = exp + k  # value = 0.s * 10^n
    if k <= n <= 21:
        out = s + "0" * (n - k)
    elif 0 < n <= 21:
        out = s[:n] + "." + s[n:]
    elif -6 < n <= 0:
        out = "0." + "0" * (-n) + s
    else:
        e = n - 1
        out = s[0] + ("." + s[1:] if k > 1 else "") + "e" + ("+" if e >= 0 else "-") + str(abs(e))
    return sign + out


def _string(s: str) -> str:
    if _SURROGATE.search(s):
        raise JcsError("lone surrogate")
    out = ['"']
    for ch in s:
        c = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif c < 0x20:
            out.append({8: "\\b", 9: "\\t", 10: "\\n", 12: "\\f", 13: "\\r"}.get(c, f"\\u{c:04x}"))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _utf16_key(name: str) -> bytes:
    return name.encode("utf-16-be")


def number_text(v: Any) -> str:
    """The canonical text of a JSON number (JNum, int or float), under the round-trip rule."""
    if isinstance(v, JNum):
        return number_to_string(v.to_float())
    if isinstance(v, bool):
        raise JcsError("not a number")
    if isinstance(v, int):
        d = float(v) if abs(v) < 2**1100 else float("inf")
        if d in (float("inf"), float("-inf")) or int(d) != v:
            raise JcsError(f"{v} does not survive the round trip through a double")
        return number_to_string(d)
    if isinstance(v, float):
        return number_to_string(v)
    raise JcsError("not a number")


def jcs(v: Any, depth: int = 0) -> str:
    """RFC 8785 canonical form (§2.1 output rules) of a parsed JSON value."""
    if v is None:
        return "null"
    if v is True:
        return "true"
    if v is False:
        return "false"
    if isinstance(v, (JNum, int, float)):
        return number_text(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, (list, tuple)):
        if depth + 1 > MAX_DEPTH:
            raise JcsError(f"nesting deeper than {MAX_DEPTH}")
        return "[" + ",".join(jcs(x, depth + 1) for x in v) + "]"
    if isinstance(v, dict):
        if depth + 1 > MAX_DEPTH:
            raise JcsError(f"nesting deeper than {MAX_DEPTH}")
        for k in v:
            if not isinstance(k, str):
                raise JcsError("object member names are strings")
            if _SURROGATE.search(k):
                raise JcsError("lone surrogate")
        names = sorted(v.keys(), key=_utf16_key)
        return "{" + ",".join(_string(k) + ":" + jcs(v[k], depth + 1) for k in names) + "}"
    raise JcsError(f"not a JSON value: {type(v).__name__}")


def canonicalize(text: str | bytes) -> str:
    """JCS of JSON text: parse strictly, then write the canonical form."""
    return jcs(parse_strict(text))


def plain(v: Any) -> Any:
    """A parsed value with every JNum replaced by an int or float (for callers)."""
    if isinstance(v, JNum):
        return v.plain()
    if isinstance(v, list):
        return [plain(x) for x in v]
    if isinstance(v, dict):
        return {k: plain(x) for k, x in v.items()}
    return v


def dumps_plain(v: Any) -> str:
    """JSON text of a value that may hold JNum (kept as its literal)."""
    if isinstance(v, JNum):
        return v.text
    if isinstance(v, dict):
        return "{" + ",".join(json.dumps(k) + ":" + dumps_plain(x) for k, x in v.items()) + "}"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(dumps_plain(x) for x in v) + "]"
    return json.dumps(v)
