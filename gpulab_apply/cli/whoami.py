"""``gpulab-apply whoami``: who the certificate says you are, where it points, and whether GPULab agrees."""

from __future__ import annotations

import time

import click

from gpulab_apply.cli.options import connection_options
from gpulab_apply.errors import ExitStatus
from gpulab_apply.gpulab.connection import open_client
from gpulab_apply.reporters.identity import render_access, render_identity
from gpulab_apply.settings import Settings


@click.command()
@connection_options
def whoami(*, settings: Settings) -> int:
    """Show the certificate's identity and expiry, the endpoint and set, and check that GPULab accepts it."""
    with open_client(settings) as client:
        click.echo(render_identity(client=client, settings=settings), nl=False)
        started = time.monotonic()
        client.check_access()
        click.echo(render_access(client=client, settings=settings, seconds=time.monotonic() - started), nl=False)
    return ExitStatus.OK
