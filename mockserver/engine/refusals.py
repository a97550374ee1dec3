"""The one exception a request the mock will not carry out raises, wherever that is found: the HTTP layer
answers it with the contract's error body (``errors.answer``)."""

from __future__ import annotations


class Refused(Exception):
    """A request answered with an error of ``error.json`` instead of being carried out."""

    def __init__(
        self, status: int, code: str, message: str, *, param: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.param, self.headers = status, code, message, param, headers
