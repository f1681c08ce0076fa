"""This machine: which addresses are loopback, and who a request without a client certificate is
(the embedded emulator's default user and project).

Shared by the emulator (which binds only to loopback and acts for that user) and the client side
(which sends plain HTTP only to loopback and reports that user), so neither imports the other.
"""

from __future__ import annotations

import ipaddress

LOCAL_USER_URN = "urn:publicid:IDN+ilabt.imec.be+user+local"
LOCAL_USER_EMAIL = "local@example.com"
LOCAL_PROJECT_URN = "urn:publicid:IDN+ilabt.imec.be+project+local"


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 (bracketed or not) or ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False
