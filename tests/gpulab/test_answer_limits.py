"""The adapter's bounds and checks, unit by unit: JSON within limits, job shapes, listing pages, endpoints.

The end-to-end cases (through the CLI, against a hostile server) are in test_hostile_gpulab.py; these state
each piece's property over generated inputs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpulab_apply.errors import ConfigError, TruncatedListingError
from gpulab_apply.gpulab.answers import UnexpectedAnswer, job_problem, parse_json, shown, summarize
from gpulab_apply.gpulab.client import GpulabClient
from gpulab_apply.gpulab.listing import PageGuard, list_v4
from gpulab_apply.gpulab.policy import AnswerLimits
from gpulab_apply.settings import normalise_endpoint
from tests.conftest import RunCli

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
                    max_leaves=20)


def depth(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(depth, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(depth, value), default=0)
    return 0


@given(JSON, st.integers(min_value=1, max_value=6))
def test_json_is_answered_as_parsed_or_refused_for_its_depth(value: Any, max_depth: int) -> None:
    text = json.dumps(value)
    if depth(value) <= max_depth:
        assert parse_json(text, max_depth=max_depth) == value
    else:
        with pytest.raises(UnexpectedAnswer, match=f"nested deeper than {max_depth} levels"):
            parse_json(text, max_depth=max_depth)


@pytest.mark.parametrize("text", ["[" * 200_000, "[" * 200_000 + "]" * 200_000, '{"a":' * 100_000 + "1" + "}" * 100_000])
def test_json_nested_200000_deep_is_refused_not_a_recursion_error(text: str) -> None:
    with pytest.raises(UnexpectedAnswer, match="nested deeper than 64 levels"):
        parse_json(text, max_depth=64)


@given(st.text(max_size=5), st.text(max_size=5), st.sampled_from(["\\ud800", "\\udfff", "\\udc00x"]), st.booleans())
def test_a_lone_surrogate_anywhere_is_refused_and_located(before: str, after: str, surrogate: str, as_key: bool) -> None:
    inner = json.dumps(before)[:-1] + surrogate + json.dumps(after)[1:]
    text = f'{{"items": [{{{inner}: 1}}]}}' if as_key else f'{{"items": [{{"name": {inner}}}]}}'
    with pytest.raises(UnexpectedAnswer, match="lone surrogate") as refused:
        parse_json(text, max_depth=64)
    assert "items[0]" in str(refused.value)


#: text with surrogates among ordinary characters, and backslashes to make escapes that only look like one
UNICODE = st.text(st.characters(codec=None, categories=None, min_codepoint=0, max_codepoint=0x10FFFF)
                  | st.sampled_from(["\ud800", "\udfff", "\\", "u", "d", "8"]), max_size=4)
UNICODE_JSON = st.recursive(st.none() | st.integers() | UNICODE,
                            lambda inner: st.lists(inner, max_size=3) | st.dictionaries(UNICODE, inner, max_size=3),
                            max_leaves=12)


def has_surrogate(value: Any) -> bool:
    if isinstance(value, str):
        return any(0xD800 <= ord(char) <= 0xDFFF for char in value)
    if isinstance(value, dict):
        return any(has_surrogate(key) or has_surrogate(item) for key, item in value.items())
    return isinstance(value, list) and any(map(has_surrogate, value))


@given(UNICODE_JSON, st.integers(min_value=1, max_value=4), st.booleans())
def test_json_is_refused_exactly_when_a_value_is_too_deep_or_holds_a_lone_surrogate(value: Any, max_depth: int,
                                                                                  ascii_only: bool) -> None:
    """Whether written escaped (``\\ud800``) or raw, and whatever else looks like an escape (``\\\\ud800``)."""
    text = json.dumps(value, ensure_ascii=ascii_only)
    if depth(value) > max_depth:
        with pytest.raises(UnexpectedAnswer, match=f"nested deeper than {max_depth} levels"):
            parse_json(text, max_depth=max_depth)
    elif has_surrogate(value):
        with pytest.raises(UnexpectedAnswer, match="lone surrogate"):
            parse_json(text, max_depth=max_depth)
    else:
        assert parse_json(text, max_depth=max_depth) == value


def test_a_job_of_gpulabs_shape_has_no_problem() -> None:
    good = {"uuid": "6f1e0b3c-9d8a-4b1e-8f3a-1c2d3e4f5a6b", "name": "train", "description": None,
            "owner": {"userUrn": "urn:x", "projectUrn": "urn:y"}, "request": {}, "state": {"status": "QUEUED",
                                                                                      "eventTimes": {}}}
    assert job_problem(good, max_name=4096) is None
    assert job_problem({"uuid": "a"}, max_name=4096) is None  # servers omit nulls


@pytest.mark.parametrize(("job", "problem"), [
    ({"uuid": "a", "description": 5}, "description that is a number"),
    ({"uuid": "a", "owner": []}, "owner that is an array"),
    ({"uuid": "a", "request": "x"}, "request that is text"),
    ({"uuid": "a", "name": {"x": 1}}, "name that is an object"),
    ({"uuid": "a", "state": {"status": 3}}, "state.status that is a number"),
    ({"uuid": "a", "owner": {"userUrn": 5}}, "owner.userUrn that is a number"),
    ({"uuid": "a", "name": "n" * 4097}, "a name of 4,097 characters"),
    ({"uuid": "../../x"}, "is not an id"),
    ({"uuid": "a\nb"}, "is not an id"),
    ({"uuid": ""}, "without a uuid"),
    ({"name": "x"}, "without a uuid"),
])
def test_a_job_of_the_wrong_shape_is_named_with_its_part(job: dict[str, Any], problem: str) -> None:
    found = job_problem(job, max_name=4096)
    assert found is not None and problem in found


@given(st.text())
def test_shown_server_text_is_short_and_printable(text: str) -> None:
    assert shown(text).isprintable()
    assert len(shown(text)) <= 60 * 10 + 2  # every character at most \\U0010ffff
    assert summarize(text).isprintable() or not summarize(text)


def test_a_summary_reads_only_the_start_of_a_huge_body() -> None:
    assert len(summarize("<script>" * 2_000_000)) <= 200


# --- pages --------------------------------------------------------------------------------------------


def test_a_repeated_page_stops_the_listing() -> None:
    pages = {1: [{"uuid": "a"}, {"uuid": "b"}], 2: [{"uuid": "c"}, {"uuid": "d"}]}

    def fetch(params: Any) -> list[dict[str, Any]]:
        return pages[2 - int(params["page"]) % 2]

    with pytest.raises(TruncatedListingError, match="page 3 of the listing with jobs of earlier pages"):
        list_v4(fetch, {}, page_size=2, parallel=1)


def test_a_page_that_overlaps_an_earlier_one_is_kept() -> None:
    """Jobs created while listing shift a few onto the next page: that is no loop."""
    guard = PageGuard(AnswerLimits())
    guard.take(1, [{"uuid": "a"}, {"uuid": "b"}])
    assert guard.take(2, [{"uuid": "b"}, {"uuid": "c"}]) == [{"uuid": "b"}, {"uuid": "c"}]


@pytest.mark.parametrize(("limits", "message"), [
    (AnswerLimits(max_pages=5), "did not end after 5 pages"), (AnswerLimits(max_jobs=7), "holds more than 7 jobs"),
])
def test_an_endless_listing_stops_at_the_limits(limits: AnswerLimits, message: str) -> None:
    def fetch(params: Any) -> list[dict[str, Any]]:
        page = int(params["page"])
        return [{"uuid": f"p{page}-{i}"} for i in range(2)]

    with pytest.raises(TruncatedListingError, match=message):
        list_v4(fetch, {}, page_size=2, parallel=2, limits=limits)


# --- endpoints ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", [
    "http://[127.0.0.1]:18450/", "http://[::1", "https://host:99999/", "https://host:-1/", "https://[nothex]/",
    "https://host:port/", "https://]/", "http://[127.0.0.1]/api/gpulab/v4.0/",
])
def test_a_malformed_endpoint_is_a_usage_error(endpoint: str) -> None:
    with pytest.raises(ConfigError) as refused:
        normalise_endpoint(endpoint, None, source="--endpoint")
    assert refused.value.exit_status == 64
    assert str(refused.value).startswith("--endpoint: ")


@given(st.text(max_size=40), st.sampled_from(["", "http://", "https://", "http://[", "https://u@"]))
def test_any_endpoint_text_is_an_api_root_or_an_endpoint_error(text: str, prefix: str) -> None:
    try:
        root, _ = normalise_endpoint(prefix + text, None, source="--endpoint")
    except ConfigError:
        return
    assert root.startswith(("https://", "http://")) and root.endswith("/")
    assert "@" not in root.split("/")[2]


def test_the_bracketed_ipv4_endpoint_is_exit_64_through_the_cli(cli: RunCli, tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """Was: ValueError traceback (`An IPv4 address cannot be in brackets`)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.d").mkdir()
    for command in (("plan",), ("status",), ("whoami",), ("apply", "--yes")):
        result = cli(*command, "--endpoint", "http://[127.0.0.1]:18450/", "--set", "lab")
        assert result.exit_code == 64, result
        assert "Traceback" not in result.stderr
        assert "not a valid URL (An IPv4 address cannot be in brackets)" in result.stderr


def test_a_password_in_the_endpoint_is_refused_through_the_cli_without_connecting(
        cli: RunCli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobs.d").mkdir()
    result = cli("status", "--endpoint", "http://bob:s3cr@t@127.0.0.1:9/api/gpulab/v4.0/", "--set", "lab",
                 env={"GPULAB_APPLY_TIMEOUT": "1"})
    assert result.exit_code == 64, result
    assert "holds a user name or password" in result.stderr
    assert "s3cr" not in result.stdout + result.stderr and "bob" not in result.stdout + result.stderr


def test_the_adapter_itself_refuses_userinfo() -> None:
    with pytest.raises(ConfigError, match="user name or password"):
        GpulabClient("http://bob:pw@127.0.0.1:9/api/gpulab/v4.0/", api_version="4.0")
