"""``gpulab-apply whoami``: who the certificate says you are, where it points, and whether GPULab agrees."""

from __future__ import annotations

import dataclasses
import time

import click

from gpulab_apply.app.connection import open_client
from gpulab_apply.cli.options import connection_options
from gpulab_apply.cli.output import Output, format_option
from gpulab_apply.errors import ExitStatus
from gpulab_apply.reporters.identity import IdentityReport
from gpulab_apply.settings import Settings


@click.command(short_help="Show who the certificate says you are.",
               epilog="\b\nExample:\n  gpulab-apply whoami --cert ~/.gpulab/login.pem\n  gpulab-apply whoami --local")
@format_option("whoami", "text for people, json for programs.")
@connection_options(job_files=False)
def whoami(*, output: Output, settings: Settings) -> int:
    """Show the certificate's identity and expiry, the endpoint and set, and check that GPULab accepts it."""
    streaming = not output.is_document
    with open_client(settings) as client:
        report = IdentityReport.of(client=client, settings=settings)
        if streaming:  # who we are is worth seeing even when GPULab then refuses us
            output.emit(report, final=False)
        started = time.monotonic()
        client.check_access()
        report = dataclasses.replace(report, access_seconds=time.monotonic() - started, show_identity=not streaming)
    output.emit(report)
    return ExitStatus.OK
