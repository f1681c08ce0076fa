"""The ownership marker and spec hash (docs/plan-apply.md#ownership)."""

from __future__ import annotations

import dataclasses
import hashlib
import random
from datetime import UTC, datetime

import pytest

from gpulab_apply.reconcile.marker import (
    Marker,
    SpecHashes,
    new_run_id,
    parse_marker,
    spec_hash,
    with_marker,
    with_owner,
)

JOB = {"name": "train", "description": "seed 1",
       "request": {"resources": {"cpus": 1, "gpus": 1, "cpuMemoryGb": 4}, "docker": {"image": "debian:stable"}},
       "owner": {"projectUrn": "urn:publicid:IDN+ilabt.imec.be+project+p"}}


def test_spec_hash_is_sha256_of_canonical_name_and_request() -> None:
    canonical = '{"name":"train","request":{"docker":{"image":"debian:stable"},"resources":{"cpuMemoryGb":4,"cpus":1,"gpus":1}}}'
    assert spec_hash(JOB) == hashlib.sha256(canonical.encode()).hexdigest()[:16]
    assert spec_hash({k: v for k, v in JOB.items() if k != "owner"}) == spec_hash(JOB)  # the project is not in it


def test_version_1_spec_hash_is_sha256_of_canonical_name_request_owner() -> None:
    canonical = ('{"name":"train","owner":{"projectUrn":"urn:publicid:IDN+ilabt.imec.be+project+p"},'
                 '"request":{"docker":{"image":"debian:stable"},"resources":{"cpuMemoryGb":4,"cpus":1,"gpus":1}}}')
    assert spec_hash(JOB, version=1) == hashlib.sha256(canonical.encode()).hexdigest()[:16]


def test_spec_hashes_match_each_marker_version_with_its_own_hash() -> None:
    bare = {k: v for k, v in JOB.items() if k != "owner"}
    hashes = SpecHashes(bare, project_urn="urn:p", rerun=None)
    v2 = Marker(set_name="s", spec=spec_hash(bare), run_id="r")
    assert hashes.matches(v2)
    # without an owner the two versions hash the same bytes
    assert hashes.matches(dataclasses.replace(v2, version=1))
    for filled in ("urn:p", None, "urn:remote"):
        v1 = Marker(set_name="s", spec=spec_hash(with_owner(bare, filled), version=1), run_id="r", version=1)
        assert hashes.matches(v1, project_urn="urn:remote")
        if filled is not None:  # a version 1 hash over an owner is no version 2 hash
            assert not hashes.matches(dataclasses.replace(v1, version=2))
    assert not hashes.matches(Marker(set_name="s", spec=spec_hash(with_owner(bare, "urn:x"), version=1), run_id="r",
                                     version=1))


def test_description_does_not_change_the_hash_but_request_and_rerun_do() -> None:
    assert spec_hash({**JOB, "description": "other prose"}) == spec_hash(JOB)
    assert spec_hash({**JOB, "request": {"resources": {"cpus": 2}}}) != spec_hash(JOB)
    assert spec_hash(JOB, rerun="2") != spec_hash(JOB)
    assert spec_hash(JOB, rerun="2") != spec_hash(JOB, rerun=2)


def test_rerun_token_enters_as_a_key() -> None:
    canonical = '{"name":"n","rerun":"é"}'
    assert spec_hash({"name": "n"}, rerun="é") == hashlib.sha256(canonical.encode()).hexdigest()[:16]


def test_marker_round_trips_through_description() -> None:
    marker = Marker(set_name="lab-a", spec="0123456789abcdef", run_id="20261123T195600Z-1a2b3c", protect=True)
    body = with_marker(JOB, marker)
    assert body["description"] == ("seed 1\n[gpulab-apply v2 set=lab-a spec=0123456789abcdef "
                                   "run=20261123T195600Z-1a2b3c protect]")
    assert parse_marker(body["description"] + "  \n") == marker
    assert JOB["description"] == "seed 1"  # the input is not modified


def test_with_marker_drops_a_pasted_old_marker_and_handles_no_description() -> None:
    marker = Marker(set_name="s", spec="0" * 16, run_id="r1")
    pasted = {**JOB, "description": "x\n[gpulab-apply set=t spec=1111111111111111 run=old]\n"}
    assert with_marker(pasted, marker)["description"] == "x\n[gpulab-apply v2 set=s spec=0000000000000000 run=r1]"
    no_description = {k: v for k, v in JOB.items() if k != "description"}
    assert with_marker(no_description, marker)["description"] == str(marker)


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        (None, None),
        ("", None),
        ("just prose", None),
        ("[gpulab-apply set=a spec=0123456789abcdef run=r]",
         Marker(set_name="a", spec="0123456789abcdef", run_id="r", version=1)),
        ("text\n[gpulab-apply set=a spec=0123456789abcdef run=r]\r\n",
         Marker(set_name="a", spec="0123456789abcdef", run_id="r", version=1)),
        ("[gpulab-apply v2 set=a spec=0123456789abcdef run=r]", Marker(set_name="a", spec="0123456789abcdef", run_id="r")),
        # the last marker line wins
        ("[gpulab-apply set=a spec=0123456789abcdef run=r]\n[gpulab-apply set=b spec=fedcba9876543210 run=q protect]",
         Marker(set_name="b", spec="fedcba9876543210", run_id="q", protect=True, version=1)),
        ("[gpulab-apply v1 set=a spec=0123456789abcdef run=r]", None),
        ("[gpulab-apply v2set=a spec=0123456789abcdef run=r]", None),
        # malformed last marker: no marker (never guess ownership)
        ("[gpulab-apply set=a spec=0123456789abcdef run=r]\n[gpulab-apply set=a spec=XYZ run=r]", None),
        ("[gpulab-apply set=a spec=0123456789abcde run=r]", None),
        ("[gpulab-apply set=a spec=0123456789abcdef run=r] trailing", None),
        ("[gpulab-apply set=a spec=0123456789ABCDEF run=r]", None),
    ],
)
def test_parse_marker(description: str | None, expected: Marker | None) -> None:
    assert parse_marker(description) == expected


def test_with_owner_fills_project_only_when_absent() -> None:
    bare = {"name": "n", "request": {}}
    assert with_owner(bare, "urn:p")["owner"] == {"projectUrn": "urn:p"}
    assert with_owner(JOB, "urn:other")["owner"] == JOB["owner"]
    assert "owner" not in with_owner(bare, None)


def test_run_id_has_utc_timestamp_and_random_suffix() -> None:
    now = datetime(2026, 11, 23, 19, 56, 0, tzinfo=UTC)
    first, second = new_run_id(now), new_run_id(now)
    assert first.startswith("20261123T195600Z-") and len(first) == 23
    assert first != second
    assert parse_marker(str(Marker(set_name="s", spec="0" * 16, run_id=first))) is not None


def test_the_fast_marker_search_agrees_with_reading_every_line() -> None:
    """parse_marker looks only at the line of the last prefix; it must agree with the line-by-line reading."""
    from gpulab_apply.reconcile.marker import _parse_marker_slow

    pieces = ["[gpulab-apply set=a spec=0123456789abcdef run=r]",
              "[gpulab-apply v2 set=b spec=fedcba9876543210 run=q protect]", "x", " ", "\n", "\r\n", "\r", "\u2028", "\x0b", "[gpulab-apply ", "\t",
              "prose [gpulab-apply set=a spec=0123456789abcdef run=r]"]
    chooser = random.Random(7)
    for _ in range(20_000):
        description = "".join(chooser.choice(pieces) for _ in range(chooser.randint(1, 7)))
        expected = _parse_marker_slow(description) if "[gpulab-apply " in description else None
        assert parse_marker(description) == expected, repr(description)
