"""Errors of the store: a database that cannot be reached or a schema that does not fit the code."""

from __future__ import annotations

from cadenza.errors import CadenzaError


class StoreError(CadenzaError):
    """The database could not be used. ``url`` is shown without its password."""

    def __init__(self, url: str, detail: str) -> None:
        self.url = url
        self.detail = detail
        super().__init__(f"database {url}: {detail}")


class DatabaseUnavailableError(StoreError):
    """The database URL cannot be reached (no server, wrong credentials, no such directory)."""


class SchemaMismatchError(StoreError):
    """The database schema is newer than this code, or older and not upgraded automatically."""

    def __init__(self, url: str, detail: str, *, found: str | None, expected: str) -> None:
        self.found = found
        self.expected = expected
        super().__init__(url, detail)


class RunNotFoundError(CadenzaError):
    """No run has this id."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        super().__init__(f"no run with id {run_id!r}; `cadenza runs list` shows the known runs")


class RunStateError(CadenzaError):
    """The run is not in a state that allows this (resuming a finished run, approving a running one)."""

    def __init__(self, run_id: str, status: str, action: str, allowed: tuple[str, ...]) -> None:
        self.run_id = run_id
        self.status = status
        self.action = action
        self.allowed = allowed
        super().__init__(
            f"cannot {action} run {run_id}: its status is {status!r} "
            f"(only a run that is {' or '.join(allowed)} can be {_past(action)})"
        )


class RunLeasedError(CadenzaError):
    """Another live process drives the run; taking it over would give the run two drivers."""

    def __init__(self, run_id: str, owner: str, expires_at: str) -> None:
        self.run_id = run_id
        self.owner = owner
        self.expires_at = expires_at
        super().__init__(
            f"run {run_id} is being driven by a live process ({owner}, lease until {expires_at}); "
            "wait for it to finish, or cancel it with `cadenza runs cancel`"
        )


class StaleAttemptError(CadenzaError):
    """A write came from an attempt that no longer drives the run (another process took it over)."""

    def __init__(self, run_id: str, attempt: int, current: int | None) -> None:
        self.run_id = run_id
        self.attempt = attempt
        self.current = current
        now = "the run no longer exists" if current is None else f"the run is now at attempt {current}"
        super().__init__(f"run {run_id}: write from attempt {attempt} rejected, {now}")


def _past(action: str) -> str:
    return {"resume": "resumed", "approve": "approved", "reject": "rejected", "cancel": "cancelled"}.get(
        action, f"{action}ed"
    )
