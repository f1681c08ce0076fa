"""Talking to GPULab: API versions, the login certificate, the HTTP client, and opening a connection.

Everything that knows GPULab's wire format and its habits (paging, retries, status codes) lives here.
"""
