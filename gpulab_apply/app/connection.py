"""Opening a client from settings: the certificate for GPULab, or the embedded emulator for ``--local``.

Here, above both, because the HTTP adapter (:mod:`gpulab_apply.gpulab`) knows neither settings nor the emulator.
"""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager

from gpulab_apply.errors import ConfigError
from gpulab_apply.gpulab.certificate import load_credentials
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.gpulab.local import LOCAL_DB_PATH, local_identity
from gpulab_apply.settings import Settings

#: connections a client keeps per host; apply submits with at most this many threads
MAX_CONNECTIONS = 16


@contextmanager
def open_client(settings: Settings) -> Iterator[GpulabClient]:
    """A :class:`GpulabClient` for these settings, closed on exit.

    With ``--local`` it first starts the embedded emulator in this process (state in
    ``settings.state_dir``) and points the client at it. Otherwise it reads and checks the login
    certificate (asking for its password through ``settings.password_prompt`` if needed) before
    any request is made.
    """
    with ExitStack() as stack:
        context: ssl.SSLContext | None = None
        if settings.local:
            # the emulator (sqlite3, an HTTP server, a scheduler) is imported only for --local
            from gpulab_apply.emulator import EmulatorConfig, serve_in_thread
            from gpulab_apply.emulator.store import private_state_dir

            private_state_dir(settings.state_dir)
            config = EmulatorConfig(speed=settings.speed) if settings.speed else None
            emulator = stack.enter_context(serve_in_thread(db_path=settings.state_dir / LOCAL_DB_PATH.name,
                                                           config=config))
            api_root, identity = emulator.api_root(settings.api_version), local_identity()
        elif settings.api_root is None:  # only local settings lack a root
            raise ConfigError("No GPULab endpoint configured")
        elif settings.api_root.startswith("http://"):
            # Plain HTTP is allowed to loopback only (settings refuse the rest): an emulator started
            # with `gpulab-apply emulator`, which treats every caller as its default user.
            api_root, identity = settings.api_root, local_identity()
        else:
            if settings.cert_path is None:
                raise ConfigError(
                    "No client certificate: GPULab authenticates with your iLab.t login certificate",
                    hint="Pass --cert PEM or set GPULAB_CERT (or use --local to try the embedded emulator).",
                )
            credentials = load_credentials(
                settings.cert_path, password=settings.password, prompt=settings.password_prompt
            )
            context = credentials.ssl_context(ca_bundle=settings.ca_bundle)
            api_root, identity = settings.api_root, credentials.identity
        yield stack.enter_context(GpulabClient(
            api_root, api_version=settings.api_version, ssl_context=context, timeouts=settings.timeouts,
            retry=settings.retry, max_connections=MAX_CONNECTIONS, identity=identity,
            project_urn=settings.project_urn(identity), on_retry=settings.retry_notice,
        ))

