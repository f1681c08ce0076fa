"""Text for ``whoami``: the certificate's identity, the connection settings, and GPULab's verdict."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING

from gpulab_apply.settings import Settings

if TYPE_CHECKING:
    from gpulab_apply.gpulab.client import GpulabClient

#: fewer days left than this and whoami says to renew
RENEW_WITHIN_DAYS = 14


def render_identity(*, client: GpulabClient, settings: Settings, now: datetime | None = None) -> str:
    """One ``Label: value`` line per fact, aligned; ends with a newline."""
    identity = client.identity
    rows: list[tuple[str, str]] = []
    if identity is not None:
        rows += [("User", identity.user_urn), ("E-mail", identity.email or "(none in the certificate)")]
    if settings.local or client.api_root.startswith("http://"):
        rows.append(("Certificate", "none (local emulator: every request acts as this user)"))
    elif identity is not None:
        days = identity.days_left(now or datetime.now(UTC))
        advice = " - renew it soon" if days < RENEW_WITHIN_DAYS else ""
        rows += [
            ("Certificate", str(settings.cert_path)),
            ("Valid until", f"{identity.not_after:%Y-%m-%d %H:%M} UTC ({days} days left{advice})"),
        ]
    rows += [
        ("Endpoint", client.api_root),
        ("API version", client.api_version),
        ("Project", client.project_urn or "(none: set --project or GPULAB_PROJECT; API v4.0 requires one)"),
        ("Set", settings.set_name),
    ]
    width = max(len(label) for label, _ in rows) + 2
    return "".join(f"{label + ':':<{width}}{value}\n" for label, value in rows)


def render_access(*, client: GpulabClient, settings: Settings, seconds: float) -> str:
    """The line saying GPULab accepted us (failures are errors, reported by the CLI)."""
    who = "The emulator" if settings.local else "GPULab"
    what = "this certificate" if client.api_root.startswith("https://") else "the connection"
    return f"{who} accepts {what} (checked with a job listing in {seconds:.2f} s).\n"
