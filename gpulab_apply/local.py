"""Who a request without a client certificate is: the embedded emulator's default user and project.

Shared by the emulator (which acts on their behalf) and the client side (which reports them), so
neither has to import the other.
"""

from __future__ import annotations

LOCAL_USER_URN = "urn:publicid:IDN+ilabt.imec.be+user+local"
LOCAL_USER_EMAIL = "local@example.com"
LOCAL_PROJECT_URN = "urn:publicid:IDN+ilabt.imec.be+project+local"
