"""``gpulab-apply emulator``: serve the embedded GPULab emulator until Ctrl-C."""

from __future__ import annotations

import dataclasses
import errno
import logging
import threading
from pathlib import Path

import click

from gpulab_apply.emulator import LOCAL_DB_PATH, EmulatorConfig, Fault, TLSSettings, serve_in_thread
from gpulab_apply.emulator.config import default_cluster, default_nodes
from gpulab_apply.emulator.faults import ALL, ENDPOINTS
from gpulab_apply.emulator.store import private_state_dir
from gpulab_apply.errors import ConfigError, ExitStatus
from gpulab_apply.gpulab.api import API_VERSIONS, DEFAULT_API_VERSION
from gpulab_apply.workspace import find_workspace

_FILE = click.Path(dir_okay=False, path_type=Path)


@click.command(short_help="Serve a local GPULab emulator until Ctrl-C.",
               epilog=f"\b\nExample:\n  gpulab-apply emulator --port 0\n"
                      f"  gpulab-apply plan --endpoint http://127.0.0.1:8443/api/gpulab/v{DEFAULT_API_VERSION}/")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (loopback only, "
              "unless --allow-remote).")
@click.option("--port", default=8443, show_default=True, type=click.IntRange(0, 65535), help="0 = any free port.")
@click.option("--db", "db_path", type=_FILE, help="SQLite file with the emulator's state; it survives restarts "
              f"[default: {LOCAL_DB_PATH} of the repository, the one --local uses].")
@click.option("--tls-cert", type=_FILE, help="Server certificate (PEM); enables HTTPS with client certificates.")
@click.option("--tls-key", type=_FILE, help="The server certificate's private key (PEM).")
@click.option("--client-ca", type=_FILE, help="CA (PEM) that client certificates must be signed by.")
@click.option("--speed", type=click.FloatRange(min=0, min_open=True), help="Simulated seconds per real second.")
@click.option("--nodes", type=click.IntRange(min=1), help="Replace the simulated cluster with N identical GPU nodes "
              f"[default: the mixed cluster of docs/emulator.md, {len(default_cluster())} nodes].")
@click.option("--gpus-per-node", type=click.IntRange(min=0), help="GPUs of each of those nodes (also with the "
              "default cluster's node count) [default: 4].")
@click.option("--config", "config_file", type=_FILE, help="JSON file with emulator settings (see docs/emulator.md).")
@click.option("--latency", type=click.FloatRange(min=0), default=0.0, help="Fault: seconds added to each answer.")
@click.option("--error-rate", type=click.FloatRange(0, 1), default=0.0,
              help="Fault: share of requests answered 500/502/504 instead of being processed.")
@click.option("--drop-after-commit", type=click.FloatRange(0, 1), default=0.0,
              help="Fault: share of requests processed and committed, then the connection is dropped unanswered.")
@click.option("--fault-endpoint", default=ALL, show_default=True, type=click.Choice((ALL, *ENDPOINTS)),
              help="Endpoint the faults apply to, e.g. 'POST jobs'.")
@click.option("--allow-remote", is_flag=True, help="Allow listening on a non-loopback address.")
@click.option("--log-requests", is_flag=True, help="Log every request on stderr.")
def emulator(host: str, port: int, db_path: Path | None, tls_cert: Path | None, tls_key: Path | None,
             client_ca: Path | None, speed: float | None, nodes: int | None, gpus_per_node: int | None,
             config_file: Path | None, latency: float, error_rate: float, drop_after_commit: float,
             fault_endpoint: str, allow_remote: bool, log_requests: bool) -> int:
    """Serve a local GPULab (API v3.0, v3.1 and v4.0) with a simulated cluster, until Ctrl-C."""
    tls_files = (tls_cert, tls_key, client_ca)
    if any(tls_files) and not all(tls_files):
        raise click.UsageError("--tls-cert, --tls-key and --client-ca go together")
    tls = TLSSettings(tls_cert, tls_key, client_ca) if tls_cert and tls_key and client_ca else None
    for path in (p for p in (*tls_files, config_file) if p is not None):
        if not path.is_file():
            raise ConfigError(f"file not found: {path}")
    config = EmulatorConfig.from_file(config_file) if config_file else EmulatorConfig()
    # the same state as --local, wherever in the repository this runs
    if db_path is None:

        db_path = private_state_dir(find_workspace().state_dir) / LOCAL_DB_PATH.name
    if speed is not None:
        config = dataclasses.replace(config, speed=speed)
    if nodes is not None or gpus_per_node is not None:
        config = dataclasses.replace(config, nodes=default_nodes(
            nodes or len(config.nodes), gpus_per_node=4 if gpus_per_node is None else gpus_per_node))
    if log_requests:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(message)s"))
        logger = logging.getLogger("gpulab_apply.emulator")
        logger.addHandler(handler)
        logger.setLevel(logging.DEBUG)
    try:
        with serve_in_thread(db_path=db_path, host=host, port=port, tls=tls, config=config,
                             allow_remote=allow_remote) as running:
            if latency or error_rate or drop_after_commit:
                running.faults.set(fault_endpoint, Fault(latency=latency, error_rate=error_rate,
                                                         drop_after_commit=drop_after_commit))
            # the banner inside the try: Ctrl-C right after "Press Ctrl-C" still stops cleanly
            # the API version a client uses by default is the one to advertise (docs/emulator.md)
            _banner(running.api_root(DEFAULT_API_VERSION), db_path=db_path, tls=tls, client_ca=client_ca,
                    user=config.default_user_urn)
            threading.Event().wait()
    except KeyboardInterrupt:
        click.echo("Stopped.")
    except OSError as exc:
        if exc.errno != errno.EADDRINUSE:
            raise
        raise ConfigError(f"port {port} on {host} is in use (another emulator, or another program)",
                          hint="Stop that program, pick another --port, or use --port 0 for any free port.") from None
    return ExitStatus.OK


def _banner(root: str, *, db_path: Path, tls: TLSSettings | None, client_ca: Path | None, user: str) -> None:
    others = " and ".join(f"v{version}" for version in API_VERSIONS if version != DEFAULT_API_VERSION)
    click.echo(f"GPULab emulator serving {root} (also {others}), state in {db_path}")
    if tls is None:
        click.echo(f"Use: gpulab-apply plan --endpoint {root}")
        click.echo("Plain HTTP: every request acts as " + user)
    else:
        click.echo(f"Use: gpulab-apply plan --endpoint {root} --cert LOGIN.pem "
                   "--ca-bundle CA.pem (the CA of the server certificate)")
        click.echo(f"Client certificates must be signed by {client_ca}; the user is read from them")
    click.echo("Press Ctrl-C to stop.")
