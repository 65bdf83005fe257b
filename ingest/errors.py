"""The API's error answers: one typed exception, turned into JSON by the app's error handler."""

from __future__ import annotations

from collections.abc import Mapping

from werkzeug.exceptions import HTTPException


class ApiError(HTTPException):
    """An error answer: status, message, and what the client needs to act on it.

    `problems` says what was wrong with each event, `event_ids` which ids to retry with, and
    `headers` are added to the answer (Retry-After, WWW-Authenticate).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        problems: list[dict] | None = None,
        event_ids: list[str] | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        super().__init__(description=message)
        self.code = status
        self.problems = problems
        self.event_ids = event_ids
        self.headers = dict(headers or {})

    def body_fields(self) -> dict:
        """The answer's fields beyond `error` and `message`."""
        fields = {"problems": self.problems, "event_ids": self.event_ids}
        return {name: value for name, value in fields.items() if value is not None}

    def get_headers(self, environ=None, scope=None) -> list[tuple[str, str]]:
        return [*super().get_headers(environ, scope), *self.headers.items()]
