"""Errors a user can cause and fix: the CLI prints them as one line, never as a traceback."""

from __future__ import annotations


class UserError(Exception):
    """Bad input or a missing piece the user can fix; ``str(exc)`` says what and how."""

    exit_code = 2


class InputError(UserError):
    """A path, file or stream that cannot be used (missing, empty, corrupt, not a video)."""


class SourceLost(UserError):
    """A live source (camera, stream) that stopped delivering frames mid-run."""

    exit_code = 3
