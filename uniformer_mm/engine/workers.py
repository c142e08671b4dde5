"""Data-loader workers that exit when the training process dies.

A ``DataLoader`` worker only notices its parent is gone when it next talks
to it; after a kill -9 of the main process a worker blocked in decoding or
I/O stayed alive for minutes, holding its memory. Linux can signal a child
when its parent dies (``prctl(PR_SET_PDEATHSIG)``); it has to be set in the
child, so :func:`exit_forked_children_with_parent` registers an after-fork
callback that every forked process (the workers, with the ``fork`` start
method) runs. Elsewhere it does nothing.
"""
import ctypes
import ctypes.util
import os
import signal
import sys

PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_installed = False


def _die_with_parent(parent: int) -> None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library('c'), use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # no prctl: nothing to do
        return
    if os.getppid() != parent:  # the parent died before prctl took effect
        os._exit(1)


def exit_forked_children_with_parent() -> bool:
    """Make every process forked from now on get SIGKILL when the process
    that forked it dies (Linux). Idempotent; returns whether installed."""
    global _installed
    if _installed or not sys.platform.startswith('linux'):
        return _installed
    parent = os.getpid()
    os.register_at_fork(after_in_child=lambda: _die_with_parent(parent))
    _installed = True
    return True
