"""Turns failures into one clear message on stderr and the exit code scripts rely on."""

from __future__ import annotations

import sys
from collections.abc import Mapping

from threeport.sdk import errors as sdk_errors
from threeport_cli.config import ConfigError
from threeport_cli.exit_codes import ExitCode
from threeport_cli.manifests import ManifestError

API_EXIT_CODES: dict[type[sdk_errors.ApiError], ExitCode] = {
    sdk_errors.NotFoundError: ExitCode.NOT_FOUND,
    sdk_errors.AlreadyExistsError: ExitCode.CONFLICT,
    sdk_errors.AbortedError: ExitCode.CONFLICT,
    sdk_errors.FailedPreconditionError: ExitCode.CONFLICT,
    sdk_errors.InvalidArgumentError: ExitCode.INVALID_INPUT,
    sdk_errors.UnauthenticatedError: ExitCode.UNAUTHORIZED,
    sdk_errors.PermissionDeniedError: ExitCode.UNAUTHORIZED,
    sdk_errors.DeadlineExceededError: ExitCode.TIMED_OUT,
}

HINTS: dict[type[sdk_errors.ApiError], str] = {
    sdk_errors.UnauthenticatedError: "log in again: tptctl login --server HOST:PORT --token TOKEN",
    sdk_errors.PermissionDeniedError: "ask an admin of the project (or an operator) for a role binding",
    sdk_errors.AbortedError: "it changed since you read it; read it again and retry",
    sdk_errors.UnavailableError: "is the control plane running? (tptctl status)",
}


class CommandError(Exception):
    """A failure the command already understands, with its exit code."""

    def __init__(self, message: str, code: ExitCode = ExitCode.ERROR) -> None:
        super().__init__(message)
        self.code = code


def report(error: BaseException, prefix: str = "", fields: Mapping[str, str] | None = None) -> ExitCode:
    """Prints ``error`` for people and returns the exit code for it. ``fields`` renames the API's
    field paths into the words of what the user wrote (``application_id`` -> ``metadata.name``)."""
    lead = f"{prefix}: " if prefix else ""
    if isinstance(error, CommandError):
        print(f"error: {lead}{error}", file=sys.stderr)
        return error.code
    if isinstance(error, ManifestError):
        print(f"error: {lead}{error}", file=sys.stderr)
        return ExitCode.INVALID_INPUT
    if isinstance(error, ConfigError):
        print(f"error: {lead}{error}", file=sys.stderr)
        return ExitCode.ERROR
    if isinstance(error, sdk_errors.WaitTimeoutError):
        print(f"error: {lead}{error}", file=sys.stderr)
        return ExitCode.TIMED_OUT
    if isinstance(error, sdk_errors.WaitError):
        print(f"error: {lead}{error}", file=sys.stderr)
        return ExitCode.ERROR
    if isinstance(error, sdk_errors.ApiError):
        code = next((c for kind, c in API_EXIT_CODES.items() if isinstance(error, kind)), ExitCode.ERROR)
        # With field violations the server's message only repeats them; list them once instead.
        headline = "invalid input; fix these fields:" if error.field_violations else error.message
        print(f"error: {lead}{headline}", file=sys.stderr)
        for violation in error.field_violations:
            field = (fields or {}).get(violation.field, violation.field)
            print(f"  - {field}: {violation.description}", file=sys.stderr)
        hint = next((h for kind, h in HINTS.items() if isinstance(error, kind)), "")
        if hint:
            print(f"hint: {hint}", file=sys.stderr)
        return code
    raise error
