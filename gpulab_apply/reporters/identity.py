"""Reports for ``whoami``: the certificate's identity, the connection settings, and GPULab's verdict."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TextIO

from gpulab_apply.masking import mask_url, safe
from gpulab_apply.model import format_timestamp
from gpulab_apply.reporters import envelope
from gpulab_apply.settings import Settings

if TYPE_CHECKING:
    from gpulab_apply.gpulab.client import GpulabClient

#: fewer days left than this and whoami says to renew
RENEW_WITHIN_DAYS = 14


@dataclass(frozen=True, kw_only=True)
class IdentityReport:
    """Who we are and where we point; ``access_seconds`` once GPULab accepted us (None: not checked yet)."""

    user: str | None
    email: str | None
    #: the certificate file, None for the local emulator (no certificate)
    certificate: str | None
    valid_until: datetime | None
    days_left: int | None
    endpoint: str
    api_version: str
    project: str | None
    set_name: str
    local: bool
    access_seconds: float | None = None
    #: whether the text report shows the identity (a command that already showed it shows only the verdict)
    show_identity: bool = True

    @classmethod
    def of(cls, *, client: GpulabClient, settings: Settings, now: datetime | None = None) -> IdentityReport:
        identity = client.identity
        plain = settings.local or client.api_root.startswith("http://")
        return cls(
            user=identity.user_urn if identity else None,
            email=identity.email if identity else None,
            certificate=None if plain else str(settings.cert_path),
            valid_until=identity.not_after if identity and not plain else None,
            days_left=identity.days_left(now or datetime.now(UTC)) if identity and not plain else None,
            endpoint=mask_url(client.api_root), api_version=client.api_version, project=client.project_urn,
            set_name=settings.set_name, local=settings.local,
        )


def identity_rows(report: IdentityReport) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if report.user is not None:
        rows += [("User", report.user), ("E-mail", report.email or "(none in the certificate)")]
    if report.certificate is None:
        rows.append(("Certificate", "none (local emulator: every request acts as this user)"))
    elif report.valid_until is not None and report.days_left is not None:
        advice = " - renew it soon" if report.days_left < RENEW_WITHIN_DAYS else ""
        rows += [
            ("Certificate", report.certificate),
            ("Valid until", f"{report.valid_until:%Y-%m-%d %H:%M} UTC ({report.days_left} days left{advice})"),
        ]
    rows += [
        ("Endpoint", report.endpoint),
        ("API version", report.api_version),
        ("Project", report.project or "(none: set --project or GPULAB_PROJECT; API v4.0 requires one)"),
        ("Set", report.set_name),
    ]
    return rows


def report_text(report: IdentityReport, stream: TextIO, *, color: bool = False) -> None:
    """One ``Label: value`` line per fact, aligned; then the line saying GPULab accepted us."""
    if report.show_identity:
        rows = identity_rows(report)
        width = max(len(label) for label, _ in rows) + 2
        stream.writelines(f"{label + ':':<{width}}{safe(value)}\n" for label, value in rows)
    if report.access_seconds is not None:
        who = "The emulator" if report.local else "GPULab"
        what = "this certificate" if report.endpoint.startswith("https://") else "the connection"
        stream.write(f"{who} accepts {what} (checked with a job listing in {report.access_seconds:.2f} s).\n")


def identity_document(report: IdentityReport) -> dict[str, Any]:
    body: dict[str, Any] = {
        "user": report.user, "email": report.email, "certificate": report.certificate,
        "validUntil": format_timestamp(report.valid_until) if report.valid_until else None,
        "daysLeft": report.days_left, "endpoint": report.endpoint, "apiVersion": report.api_version,
        "project": report.project, "set": report.set_name, "accepted": report.access_seconds is not None,
        "checkSeconds": report.access_seconds,
    }
    return envelope("whoami", ok=report.access_seconds is not None, body=body)


def report_json(report: IdentityReport, stream: TextIO, *, color: bool = False) -> None:
    json.dump(identity_document(report), stream, indent=2)
    stream.write("\n")
