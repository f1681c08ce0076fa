"""Secret masking (docs/plan-apply.md#exit-codes)."""

from __future__ import annotations

import pytest

from gpulab_apply.masking import MASK, is_secret_name, mask_text, mask_value


@pytest.mark.parametrize("name", ["API_TOKEN", "token", "AWS_SECRET_ACCESS_KEY", "db_password", "SSH_KEY", "MyKeyFile"])
def test_secret_looking_names(name: str) -> None:
    assert is_secret_name(name)


@pytest.mark.parametrize("name", ["SEED", "PYTHONUNBUFFERED", "TOK", "PASS", "KY", "SECRE"])
def test_plain_names(name: str) -> None:
    assert not is_secret_name(name)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("bob:hunter2@registry.example:4567/team/img:1.0", "bob:***@registry.example:4567/team/img:1.0"),
        ("registry.example:4567/team/img:1.0", "registry.example:4567/team/img:1.0"),
        ("debian:stable", "debian:stable"),
        ("invalid image 'u:p@r/x': denied", "invalid image 'u:***@r/x': denied"),
    ],
)
def test_registry_credentials_in_text(text: str, expected: str) -> None:
    assert mask_text(text) == expected


def test_mask_value_walks_a_job_by_path() -> None:
    request = {"docker": {"image": "u:p@r/x", "environment": {"GITHUB_TOKEN": "ghp_x", "SEED": 1},
                          "command": "echo $GITHUB_TOKEN"}}
    assert mask_value(request, ("request",)) == {
        "docker": {"image": "u:***@r/x", "environment": {"GITHUB_TOKEN": MASK, "SEED": 1},
                   "command": "echo $GITHUB_TOKEN"}}
    assert mask_value("ghp_x", ("request", "docker", "environment", "GITHUB_TOKEN")) == MASK
    assert mask_value({"KEY": "v"}, ("request", "docker", "environment")) == {"KEY": MASK}
    assert request["docker"]["environment"]["GITHUB_TOKEN"] == "ghp_x"  # the input is untouched
