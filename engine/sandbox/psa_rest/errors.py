"""The peer's refusals: an HTTP status and the message the API's ``errors`` carries."""

from __future__ import annotations


class ApiError(Exception):
    def __init__(self, status: int, message: str, **headers: str) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers
