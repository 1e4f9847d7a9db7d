"""The exit codes scripts can rely on, for every ``cadenza`` command."""

EXIT_OK = 0
"""The command did what was asked; a run succeeded."""
EXIT_FAILED = 1
"""A run failed (budget exceeded included), or an operation on the store failed."""
EXIT_USAGE = 2
"""Bad input or usage: a malformed workflow file, an unknown run, a missing key, a bad option."""
EXIT_WAITING = 3
"""The run paused at an approval step: it is stored with status ``waiting``; approve or reject it."""
EXIT_CANCELLED = 130
"""Interrupted (Ctrl-C): in-flight calls were cancelled and the run was marked cancelled."""
