"""The two exceptions of the client: a proof that does not check, and a server error envelope."""

from __future__ import annotations

from typing import Any

#: The stable reason codes (docs/CLIENTS.md); the same in the JavaScript client.
REASON_CODES = (
    "BAD_ANSWER",
    "BAD_HEADER",
    "BAD_SIGNATURE",
    "WRONG_CHAIN",
    "BAD_PROOF",
    "INCOMPLETE",
    "ROLLBACK",
    "FORK",
    "NOT_ANCHORED",
)


class VerificationError(Exception):
    """An answer, header or proof that does not verify. ``code`` is one of REASON_CODES."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def __repr__(self) -> str:
        return f"VerificationError({self.code!r}, {self.message!r})"


class VmdbServerError(Exception):
    """The server answered with its error envelope (``success: false``)."""

    def __init__(self, status: int, code: str, message: str, data: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.data = data


def fail(code: str, message: str) -> VerificationError:
    """Builds the error to raise (``raise fail(...)`` keeps the raise visible at the call site)."""
    return VerificationError(code, message)
