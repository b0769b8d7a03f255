"""vmdb_client: a verifying client for vmdb (docs/PROTOCOL.md v2, docs/CLIENTS.md).

Every data call asks for a proof, checks it against the pinned identity key
and links the answer's signed header to the newest one seen; anything that
does not check raises VerificationError with a stable reason code.
"""

from .client import (
    MAX_READ_LATEST,
    AnchorResult,
    DeleteResult,
    FileState,
    MemoryState,
    ReadBatchResult,
    ReadLatestResult,
    StateStore,
    VmdbClient,
    WriteResult,
)
from .errors import REASON_CODES, VerificationError, VmdbServerError
from .jcs import canonicalize, parse_strict
from .protocol import (
    Header,
    verify_answer,
    verify_checkpoint,
    verify_header,
    verify_history_proof,
    verify_multiproof_json,
    verify_proof_json,
    verify_transition,
)

__all__ = [
    "MAX_READ_LATEST",
    "AnchorResult",
    "DeleteResult",
    "FileState",
    "Header",
    "MemoryState",
    "REASON_CODES",
    "ReadBatchResult",
    "ReadLatestResult",
    "StateStore",
    "VerificationError",
    "VmdbClient",
    "VmdbServerError",
    "WriteResult",
    "canonicalize",
    "parse_strict",
    "verify_answer",
    "verify_checkpoint",
    "verify_header",
    "verify_history_proof",
    "verify_multiproof_json",
    "verify_proof_json",
    "verify_transition",
]
