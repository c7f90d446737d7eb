"""Graph's errors as the peer answers them: a status, a code and a message, in Graph's JSON.

Codes and messages are Microsoft Graph's own (or, for what the peer lacks, NotImplemented
naming it), so a client handles the emulator's refusals exactly as Graph's.
"""

from __future__ import annotations

from typing import Any


class GraphError(Exception):
    """A refusal: ``{"error": {"code": ..., "message": ...}}`` with a status and headers."""

    def __init__(self, status: int, code: str, message: str, **headers: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = {name.replace("_", "-"): value for name, value in headers.items()}

    def payload(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message}}


def not_implemented(what: str) -> GraphError:
    return GraphError(501, "NotImplemented", f"The msext Graph emulator does not implement {what}.")


def bad_request(message: str) -> GraphError:
    return GraphError(400, "BadRequest", message)


def unauthenticated(message: str) -> GraphError:
    return GraphError(401, "InvalidAuthenticationToken", message)


def invalid_user(segment: str) -> GraphError:
    return GraphError(404, "ErrorInvalidUser", f"The requested user '{segment}' is invalid.")


def policy_denied() -> GraphError:
    return GraphError(
        403,
        "ErrorAccessDenied",
        "Access to OData is disabled: [RAOP] : Blocked by tenant configured AppOnly"
        " AccessPolicy settings.",
    )


def role_denied() -> GraphError:
    return GraphError(
        403, "ErrorAccessDenied", "Access is denied. Check credentials and try again."
    )


def item_not_found() -> GraphError:
    return GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")


def stale_etag() -> GraphError:
    return GraphError(
        412,
        "ErrorIrresolvableConflict",
        "The change key passed in the request does not match the current change key for the item.",
    )


def throttled(retry_after: int, limit: str = "MailboxConcurrency") -> GraphError:
    return GraphError(
        429,
        "ApplicationThrottled",
        f"Application is over its {limit} limit.",
        Retry_After=str(retry_after),
    )


def sync_state_expired() -> GraphError:
    return GraphError(
        410, "SyncStateNotFound", "The sync state generation is not found or has expired."
    )


def refused_option(option: str, resource: str) -> GraphError:
    return GraphError(
        400,
        "ErrorInvalidUrlQueryFilter",
        f"The query option '{option}' is not supported with change tracking over the"
        f" '{resource}' resource.",
    )


def directory_denied() -> GraphError:
    """What Graph answers a token whose roles do not reach a directory resource."""
    return GraphError(
        403, "Authorization_RequestDenied", "Insufficient privileges to complete the operation."
    )


def resource_not_found(object_id: str) -> GraphError:
    return GraphError(
        404,
        "Request_ResourceNotFound",
        f"Resource '{object_id}' does not exist or one of its queried reference-property"
        " objects are not present.",
    )


def directory_bad_request(message: str) -> GraphError:
    return GraphError(400, "Request_BadRequest", message)
