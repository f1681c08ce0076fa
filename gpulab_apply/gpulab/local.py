"""This machine: which addresses are loopback, and who a request without a client certificate is
(the embedded emulator's default user and project).

Shared by the emulator (which binds only to loopback and acts for that user) and the client side
(which sends plain HTTP only to loopback and reports that user), so neither imports the other.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

LOCAL_USER_URN = "urn:publicid:IDN+ilabt.imec.be+user+local"
LOCAL_USER_EMAIL = "local@example.com"
LOCAL_PROJECT_URN = "urn:publicid:IDN+ilabt.imec.be+project+local"
#: the folder, beside the job files, where this tool keeps local state (the ``--local`` emulator's database)
STATE_DIR_NAME = ".gpulab-apply"
#: the database of ``gpulab-apply emulator`` and ``--local`` mode, relative to the working directory
LOCAL_DB_PATH = Path(STATE_DIR_NAME) / "emulator.db"


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (bracketed or not) or ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
