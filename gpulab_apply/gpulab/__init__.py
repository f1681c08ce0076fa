"""Talking to GPULab: API versions, the login certificate, the HTTP client; a pure HTTP adapter.

Everything that knows GPULab's wire format and its habits (paging, retries, status codes) lives here. It knows
neither the settings nor the emulator: :mod:`gpulab_apply.app.connection` builds a client from settings.
"""
