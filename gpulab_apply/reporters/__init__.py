"""Reporters turn results (problems, plans, apply outcomes, statuses) into text for people and machines.

One module per kind of result; each exposes a ``REPORTERS`` registry keyed by ``--format`` name.
Reporters write to a stream they are given and never decide exit codes.
"""
