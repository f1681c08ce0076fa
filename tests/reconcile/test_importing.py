"""The pure parts of import (gpulab_apply/reconcile/importing.py): file names, secrets, defaults."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gpulab_apply.jobfiles.defaults import deep_merge
from gpulab_apply.jobfiles.loader import JOB_FILE_SUFFIXES
from gpulab_apply.reconcile.importing import (
    DefaultsConflict,
    References,
    escape_variables,
    file_names,
    over_defaults,
)

NAMES = st.one_of(st.text(min_size=1, max_size=30), st.sampled_from(["train/a", "train a", "train_a", "Train_A",
                                                                      "_defaults", ".x", "..", "a" * 5000]))


@given(st.lists(NAMES, min_size=1, max_size=12, unique=True))
def test_file_names_are_unique_safe_and_short(names: list[str]) -> None:
    files = file_names(names)
    assert set(files) == set(names)
    assert len({file.casefold() for file in files.values()}) == len(names)  # case-insensitive file systems too
    for name, file in files.items():
        assert file.endswith(JOB_FILE_SUFFIXES) and len(file) <= 120
        assert "/" not in file and "\\" not in file and not file.startswith((".", "_")) and file.isascii()
        assert file == f"{name}.yaml" or len(file) > len(f"{name}.yaml") - len(name) + 10  # kept, or digested


def docker(**fields: Any) -> dict[str, Any]:
    return {"name": "j", "request": {"docker": {"image": "debian", **fields}}}


@pytest.mark.parametrize(("command", "written", "variables"), [
    ("python t.py --token abc123 --lr 0.1", "python t.py --token ${TOKEN} --lr 0.1", {"TOKEN": "abc123"}),
    ("run --api-key=k3y-value", "run --api-key=${API_KEY}", {"API_KEY": "k3y-value"}),
    ("HF_TOKEN=hf_abc python x.py", "HF_TOKEN=${HF_TOKEN} python x.py", {"HF_TOKEN": "hf_abc"}),
    ("git clone https://bot:pa55w0rd@github.com/x/y", "git clone https://bot:${URL_PASSWORD}@github.com/x/y",
     {"URL_PASSWORD": "pa55w0rd"}),
    (["python", "t.py", "--token", "abc123"], ["python", "t.py", "--token", "${TOKEN}"], {"TOKEN": "abc123"}),
    (["python", "--secret=s3c"], ["python", "--secret=${SECRET}"], {"SECRET": "s3c"}),
    ("python t.py --lr 0.1 --keys-file k.txt", "python t.py --lr 0.1 --keys-file ${KEYS_FILE}", {"KEYS_FILE": "k.txt"}),
    ("echo ${HOME}", "echo $${HOME}", {}),
    ("run --password 'two words' --x", "run --password '${PASSWORD}' --x", {"PASSWORD": "two words"}),
    ('run --secret="a b"', 'run --secret="${SECRET}"', {"SECRET": "a b"}),
])
def test_secret_looking_values_in_a_command_become_references(command: Any, written: Any,
                                                               variables: dict[str, str]) -> None:
    references = References()
    body = references.apply(escape_variables(docker(command=command)))
    assert body["request"]["docker"]["command"] == written
    assert references.values == variables


def test_one_name_with_two_values_gets_two_variables() -> None:
    references = References()
    first = references.apply(docker(environment={"HF_TOKEN": "one"}))
    second = references.apply({**docker(environment={"HF_TOKEN": "two"}), "name": "k"})
    third = references.apply({**docker(environment={"HF_TOKEN": "one"}), "name": "l"})
    assert [body["request"]["docker"]["environment"]["HF_TOKEN"] for body in (first, second, third)] == \
        ["${HF_TOKEN}", "${HF_TOKEN_2}", "${HF_TOKEN}"]
    assert references.values == {"HF_TOKEN": "one", "HF_TOKEN_2": "two"}


def test_a_secret_holding_a_variable_reference_is_kept_as_the_value_gpulab_stores() -> None:
    references = References()
    references.apply(escape_variables(docker(environment={"API_KEY": "a${b}c"})))
    assert references.values == {"API_KEY": "a${b}c"}


JSON = st.recursive(st.one_of(st.booleans(), st.integers(), st.text(max_size=3), st.none()),
                    lambda inner: st.dictionaries(st.sampled_from("abcd"), inner, max_size=3), max_leaves=8)


@given(st.dictionaries(st.sampled_from("abcd"), JSON, max_size=4), st.dictionaries(st.sampled_from("abcd"), JSON,
                                                                                   max_size=4))
def test_over_defaults_gives_the_wanted_job_under_the_defaults(wanted: dict[str, Any], defaults: dict[str, Any]) -> None:
    """Merged under ``defaults`` as docs/authoring.md#defaults merges, the written job gives ``wanted``
    (``full`` is ``wanted`` itself here: nothing was left to GPULab), or the conflict is named."""
    try:
        written = over_defaults(wanted, defaults, wanted)
    except DefaultsConflict:
        return
    assert deep_merge(defaults, written) == wanted


MARKER = "[gpulab-apply v2 set=lab spec=0123456789abcdef run=20261123T195600Z-1a2b3c]"


@pytest.mark.parametrize(("stored", "prose_"), [
    (None, None), ("", ""), ("line\n", "line\n"), ("a\n\nb", "a\n\nb"),
    (f"text\n{MARKER}", "text"), (f"text\n\n{MARKER}", "text\n"), (MARKER, None), (MARKER[:-1] + " protect]", None),
    ("[gpulab-apply is great]\n", "[gpulab-apply is great]\n"),  # not a marker: the user's words
])
def test_the_description_is_kept_exactly_but_for_the_marker_a_submission_appended(stored: str | None,
                                                                                  prose_: str | None) -> None:
    from gpulab_apply.reconcile.importing import prose
    from gpulab_apply.reconcile.marker import Marker, parse_marker, with_marker

    assert prose(stored) == prose_
    marker = parse_marker(MARKER)
    assert isinstance(marker, Marker)
    if prose_ and "[gpulab-apply" not in prose_:  # and it inverts what a submission appends
        assert prose(with_marker({"description": prose_}, marker)["description"]) == prose_.rstrip()
