"""Ctrl-C for a child process, whatever the shell that started the test run did to SIGINT.

A shell without job control starts background jobs (``.ci/run &``, ``nohup``) with SIGINT ignored,
children inherit that, and Python then installs no KeyboardInterrupt handler: a test's
``send_signal(SIGINT)`` would find a child deaf to it. Give the child the terminal's default back.
"""

from __future__ import annotations

import signal


def ctrl_c_as_in_a_terminal() -> None:
    """``preexec_fn`` for ``subprocess.Popen``: SIGINT back to its default before Python starts."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
