"""The one exception the emulator's API layer raises: an HTTP status with a readable message."""

from __future__ import annotations


class HttpError(Exception):
    """Answer the request with ``status`` and ``message`` as a plain-text body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
