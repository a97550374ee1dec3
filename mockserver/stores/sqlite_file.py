"""How the mock opens its SQLite file (``--store sqlite:PATH``): the store's tasks, the rules and the callback
ledger each hold a connection to it, opened alike.

The busy timeout is short: the connections are used on the event loop, and another program's write lock
held 10 s froze every request; a second is ample for the workers' own commits.
"""

from __future__ import annotations

import os
import sqlite3

BUSY_TIMEOUT = 1.0  # seconds a statement waits for another connection's lock


def connect(path: str | os.PathLike[str]) -> sqlite3.Connection:
    """A connection in autocommit mode (each statement its own transaction), usable from any thread."""
    return sqlite3.connect(path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False)
