"""Settings resolution: flag > environment > gpulab-apply.yaml > default, and every refusal."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest

from gpulab_apply.errors import ConfigError
from gpulab_apply.gpulab.policy import DEFAULT_ENDPOINT
from gpulab_apply.settings import (
    Settings,
    normalise_endpoint,
    resolve_settings,
)
from gpulab_apply.workspace import find_workspace


def resolve(tmp_path: Path, flags: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
            job_paths: tuple[str, ...] = ("jobs.d",)) -> Settings:
    return resolve_settings(flags=flags or {}, env=env or {}, job_paths=[Path(p) for p in job_paths], cwd=tmp_path)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout named my-experiments with jobs.d/ in it."""
    root = tmp_path / "my-experiments"
    (root / ".git").mkdir(parents=True)
    (root / "jobs.d").mkdir()
    return root


def test_defaults(repo: Path) -> None:
    settings = resolve(repo)
    assert settings.endpoint == DEFAULT_ENDPOINT
    assert settings.api_root == "https://gpulab.ilabt.imec.be/api/gpulab/v4.0/"
    assert settings.api_version == "4.0"
    assert settings.cert_path is None and settings.password is None and settings.ca_bundle is None
    assert settings.project is None
    assert settings.set_name == "my-experiments"
    assert settings.local is False
    assert settings.state_dir == repo / ".gpulab-apply"
    assert (settings.timeouts.connect, settings.timeouts.read) == (5.0, 30.0)
    assert (settings.retry.retries, settings.retry.backoff) == (5, 0.5)
    assert settings.config_path is None


def test_flag_beats_environment_beats_config_file_beats_default(repo: Path) -> None:
    (repo / "gpulab-apply.yaml").write_text("project: from-file\nset: file-set\ncert: certs/login.pem\ntimeout: 12\n")
    env = {"GPULAB_PROJECT": "from-env", "GPULAB_APPLY_SET": "env-set"}
    settings = resolve(repo, flags={"project": "from-flag"}, env=env)
    assert settings.project == "from-flag"
    assert settings.sources["project"] == "--project"
    assert settings.set_name == "env-set"
    assert settings.sources["set"] == "GPULAB_APPLY_SET"
    # relative paths in the config file are relative to the file
    assert settings.cert_path == repo / "certs" / "login.pem"
    assert settings.timeouts.read == 12.0
    assert settings.sources["timeout"] == str(repo / "gpulab-apply.yaml")
    assert settings.config_path == repo / "gpulab-apply.yaml"


def test_empty_environment_values_count_as_unset(repo: Path) -> None:
    settings = resolve(repo, env={"GPULAB_PROJECT": "", "GPULAB_ENDPOINT": ""})
    assert settings.project is None
    assert settings.api_root == "https://gpulab.ilabt.imec.be/api/gpulab/v4.0/"


def test_environment_paths_are_relative_to_the_working_directory(repo: Path) -> None:
    settings = resolve(repo, env={"GPULAB_CERT": "login.pem", "GPULAB_CA_BUNDLE": "/etc/ca.pem",
                                  "GPULAB_CERT_PASSWORD": "s3cret"})
    assert settings.cert_path == repo / "login.pem"
    assert settings.ca_bundle == Path("/etc/ca.pem")
    assert settings.password == "s3cret"
    assert "s3cret" not in repr(settings)
    assert "s3cret" not in str(settings.describe())
    assert ("password", "(set)", "GPULAB_CERT_PASSWORD") in settings.describe()


def test_explicit_config_file(repo: Path, tmp_path: Path) -> None:
    other = tmp_path / "elsewhere.yaml"
    other.write_text("endpoint: https://gpulab.example.org/api/\napi-version: 4.0\n")
    settings = resolve(repo, flags={"config": str(other)})
    assert settings.api_root == "https://gpulab.example.org/api/gpulab/v4.0/"
    assert settings.api_version == "4.0"
    with pytest.raises(ConfigError, match="Config file not found"):
        resolve(repo, flags={"config": "missing.yaml"})


def test_config_file_is_found_beside_the_job_directory_given_as_a_path(tmp_path: Path) -> None:
    (tmp_path / "project" / "jobs.d").mkdir(parents=True)
    (tmp_path / "project" / "gpulab-apply.yaml").write_text("project: beside\n")
    assert resolve(tmp_path, job_paths=("project/jobs.d",)).project == "beside"


def test_two_config_files_for_two_job_directories_is_an_error(tmp_path: Path) -> None:
    for name in ("a", "b"):
        (tmp_path / name / "jobs.d").mkdir(parents=True)
        (tmp_path / name / "gpulab-apply.yaml").write_text(f"project: {name}\n")
    with pytest.raises(ConfigError, match="different config files") as caught:
        resolve(tmp_path, job_paths=("a/jobs.d", "b/jobs.d"))
    assert caught.value.hint == ("Run the command in each workspace on its own, or pass the config to use with "
                                 "--config.")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("endpoint: [1, 2\n", r"gpulab-apply.yaml:2:1: .*expected ',' or '\]'"),
        ("- a\n- b\n", "expected a mapping of settings, found list"),
        ("projekt: x\n", "unknown setting 'projekt'"),
        ("endpoint: {a: 1}\n", "endpoint must be a single value"),
        ("timeout: soon\n", "timeout must be a positive number of seconds, not 'soon'"),
        ("retries: -1\n", "retries must be a whole number >= 0, not -1"),
    ],
)
def test_bad_config_files(repo: Path, text: str, message: str) -> None:
    (repo / "gpulab-apply.yaml").write_text(text)
    with pytest.raises(ConfigError, match=message):
        resolve(repo)


def test_a_password_in_the_config_file_is_refused_with_advice(repo: Path) -> None:
    (repo / "gpulab-apply.yaml").write_text("password: hunter2\n")
    with pytest.raises(ConfigError) as caught:
        resolve(repo)
    assert caught.value.hint == "Secrets do not belong in a file in git: use GPULAB_CERT_PASSWORD."
    assert "hunter2" not in str(caught.value)


def test_duplicate_keys_in_the_config_file_are_errors(repo: Path) -> None:
    (repo / "gpulab-apply.yaml").write_text("project: a\nproject: b\n")
    with pytest.raises(ConfigError, match=r"gpulab-apply.yaml:2:1: .*duplicate key"):
        resolve(repo)


def test_empty_config_file(repo: Path) -> None:
    (repo / "gpulab-apply.yaml").write_text("# nothing yet\n")
    assert resolve(repo).config_path == repo / "gpulab-apply.yaml"


@pytest.mark.parametrize(
    ("endpoint", "version", "root", "resolved_version"),
    [
        ("https://gpulab.ilabt.imec.be/api/gpulab/v3.1/", None, "https://gpulab.ilabt.imec.be/api/gpulab/v3.1/", "3.1"),
        ("https://gpulab.ilabt.imec.be/api/gpulab/v4.0", None, "https://gpulab.ilabt.imec.be/api/gpulab/v4.0/", "4.0"),
        ("https://gpulab.ilabt.imec.be/api/gpulab/v3.0/", "3.0", "https://gpulab.ilabt.imec.be/api/gpulab/v3.0/", "3.0"),
        ("https://gpulab.ilabt.imec.be/api/", None, "https://gpulab.ilabt.imec.be/api/gpulab/v4.0/", "4.0"),
        ("https://gpulab.ilabt.imec.be/api", "4.0", "https://gpulab.ilabt.imec.be/api/gpulab/v4.0/", "4.0"),
        ("https://gpulab.ilabt.imec.be", "4.0", "https://gpulab.ilabt.imec.be/api/gpulab/v4.0/", "4.0"),
        ("https://host:8443/api/gpulab/", None, "https://host:8443/api/gpulab/v4.0/", "4.0"),
        ("http://127.0.0.1:8080/api/", None, "http://127.0.0.1:8080/api/gpulab/v4.0/", "4.0"),
        ("http://localhost/api/gpulab/v4.0/", None, "http://localhost/api/gpulab/v4.0/", "4.0"),
        ("http://[::1]:9/api/", None, "http://[::1]:9/api/gpulab/v4.0/", "4.0"),
    ],
)
def test_endpoint_normalisation(endpoint: str, version: str | None, root: str, resolved_version: str) -> None:
    assert normalise_endpoint(endpoint, version, source="--endpoint") == (root, resolved_version)


@pytest.mark.parametrize(
    ("endpoint", "version", "message"),
    [
        ("http://gpulab.ilabt.imec.be/api/", None, "plain http:// is refused for gpulab.ilabt.imec.be"),
        ("http://10.0.0.1/api/", None, "plain http:// is refused for 10.0.0.1"),
        ("ftp://host/api/", None, "is not an http\\(s\\) URL"),
        ("gpulab.ilabt.imec.be", None, "is not an http\\(s\\) URL"),
        ("https://host/api/gpulab/v2.0/", None, "API version 2.0 is not supported"),
        ("https://host/api/gpulab/v3.1/", "4.0", "names API version 3.1 but the API version setting is 4.0"),
        ("https://host/api/?x=1", None, "must not have a query"),
    ],
)
def test_bad_endpoints(endpoint: str, version: str | None, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        normalise_endpoint(endpoint, version, source="--endpoint")


def test_http_refusal_names_where_the_endpoint_came_from(repo: Path) -> None:
    with pytest.raises(ConfigError, match=r"^GPULAB_ENDPOINT: plain http://"):
        resolve(repo, env={"GPULAB_ENDPOINT": "http://gpulab.example.org/api/"})


def test_api_version_flag_applies_to_an_unversioned_endpoint(repo: Path) -> None:
    settings = resolve(repo, flags={"api_version": "4.0"}, env={"GPULAB_ENDPOINT": "https://gpulab.example.org/api/"})
    assert settings.api_root == "https://gpulab.example.org/api/gpulab/v4.0/"
    with pytest.raises(ConfigError, match="GPULAB_API_VERSION: API version '5' is not supported"):
        resolve(repo, env={"GPULAB_API_VERSION": "5"})


@pytest.mark.parametrize("how", [{"flags": {"local": True}}, {"env": {"GPULAB_ENDPOINT": "local"}}])
def test_local_mode(repo: Path, how: dict[str, Any]) -> None:
    settings = resolve(repo, **how)
    assert settings.local is True
    assert settings.endpoint == "local"
    assert settings.api_root is None
    assert settings.api_version == "4.0"


def test_local_flag_beats_an_endpoint_from_the_environment(repo: Path) -> None:
    settings = resolve(repo, flags={"local": True}, env={"GPULAB_ENDPOINT": "https://gpulab.example.org/api/"})
    assert settings.local is True


def test_local_flag_and_endpoint_flag_contradict(repo: Path) -> None:
    with pytest.raises(ConfigError, match="--local and --endpoint contradict each other"):
        resolve(repo, flags={"local": True, "endpoint": "https://gpulab.example.org/api/"})


def test_set_name_defaults_to_the_git_repository_name(repo: Path) -> None:
    (repo / "jobs.d" / "nested").mkdir()
    assert find_workspace([Path("jobs.d/nested")], cwd=repo).set_name == "my-experiments"


def test_set_name_with_a_git_file_as_in_worktrees(tmp_path: Path) -> None:
    root = tmp_path / "wt"
    (root / "jobs.d").mkdir(parents=True)
    (root / ".git").write_text("gitdir: /elsewhere/.git/worktrees/wt\n")
    assert find_workspace([Path("wt/jobs.d")], cwd=tmp_path).set_name == "wt"


def test_set_name_without_git_is_the_job_directory_name(tmp_path: Path) -> None:
    (tmp_path / "My Jobs!").mkdir()
    # characters outside the set charset become dashes
    assert find_workspace([Path("My Jobs!")], cwd=tmp_path).set_name == "My-Jobs"


def test_explicit_set_name_must_be_safe(repo: Path) -> None:
    with pytest.raises(ConfigError, match="--set: invalid set name 'a b'"):
        resolve(repo, flags={"set": "a b"})
    assert resolve(repo, flags={"set": "team.a_1-x"}).set_name == "team.a_1-x"


def test_project_urn_needs_a_project_except_in_local_mode(repo: Path) -> None:
    from gpulab_apply.gpulab.local import local_identity

    identity = local_identity()
    assert resolve(repo).project_urn(identity) is None
    assert resolve(repo, flags={"project": "myproj"}).project_urn(identity) == (
        "urn:publicid:IDN+ilabt.imec.be+project+myproj"
    )
    assert resolve(repo, flags={"local": True}).project_urn(identity) == "urn:publicid:IDN+ilabt.imec.be+project+local"


def test_timeout_must_be_positive(repo: Path) -> None:
    with pytest.raises(ConfigError, match="GPULAB_APPLY_TIMEOUT: timeout must be a positive number"):
        resolve(repo, env={"GPULAB_APPLY_TIMEOUT": "0"})
    settings = resolve(repo, flags={"timeout": 2.5})
    # the connect timeout never exceeds the read timeout
    assert (settings.timeouts.connect, settings.timeouts.read) == (2.5, 2.5)


def test_backoff_grows_exponentially_with_jitter() -> None:
    from gpulab_apply.gpulab.policy import RetryPolicy

    policy = RetryPolicy(backoff=1.0, max_backoff=4.0)
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 4.0)]:
        delays = [policy.delay(attempt) for _ in range(200)]
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(set(delays)) > 1


def test_every_setting_is_derived_from_the_one_table(repo: Path, cli: Any) -> None:
    """Each row of SETTINGS is a flag, an environment variable and a config key at once, and --verbose shows it."""
    from gpulab_apply.setting_table import CONFIG_KEYS, SETTINGS

    help_text = cli("plan", "--help").stdout
    for setting in SETTINGS:
        if setting.flag:
            assert setting.flag.split("/")[-1] in help_text
        if setting.env and setting.flag:
            assert setting.env in " ".join(help_text.split())
    assert set(CONFIG_KEYS) == {s.key for s in SETTINGS if s.key}
    assert "password" not in CONFIG_KEYS  # secrets never come from a file in git
    values = {"project": "p1", "set": "s1", "timeout": "7", "retries": "2", "connect_timeout": "3"}
    by_env = resolve(repo, env={s.env: values[s.name] for s in SETTINGS if s.env and s.name in values})
    (repo / "gpulab-apply.yaml").write_text("".join(f"{s.key}: {values[s.name]}\n" for s in SETTINGS
                                                    if s.key and s.name in values))
    by_file = resolve(repo)
    for settings, sources in ((by_env, {s.name: s.env for s in SETTINGS}),
                              (by_file, {s.name: str(repo / "gpulab-apply.yaml") for s in SETTINGS})):
        for name, given in values.items():
            if sources[name] is None:
                continue
            assert str(settings.value(name)).rstrip("0").rstrip(".") == given
            assert settings.sources[name] == sources[name]
    shown = {label: (value, source) for label, value, source in by_file.describe()}
    assert shown["conn timeout"] == ("3", str(repo / "gpulab-apply.yaml"))
    assert shown["retries"] == ("2", str(repo / "gpulab-apply.yaml"))


@pytest.mark.parametrize("endpoint", ["https://alice:hunter2@gpulab.example.org/api/gpulab/v3.1/",
                                      "https://alice:hun@ter2@gpulab.example.org/api/gpulab/v3.1/",
                                      "https://hunter2@gpulab.example.org/", "http://alice:hunter2@127.0.0.1:9/"])
def test_a_password_in_the_endpoint_is_refused_without_being_shown(repo: Path, endpoint: str) -> None:
    """Issue 22 §2: userinfo would be sent as Basic auth, and an '@' in the password defeated the mask."""
    with pytest.raises(ConfigError, match="holds a user name or password") as refused:
        resolve(repo, flags={"endpoint": endpoint})
    assert refused.value.exit_status == 64
    assert "hunter2" not in str(refused.value) + str(refused.value.hint)
    assert "ter2" not in str(refused.value) + str(refused.value.hint)


def test_the_documented_settings_table_is_the_code_table() -> None:
    """docs/client.md#settings lists every setting's flag, environment variable and config key."""
    from gpulab_apply.setting_table import SETTINGS

    docs = (Path(__file__).parent.parent / "docs" / "client.md").read_text()
    table = docs[docs.index("## Settings"):docs.index("\n\n*", docs.index("| flag |"))]
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| flag")]
    for setting in SETTINGS:
        row = next((r for r in rows if (setting.env and f"`{setting.env}" in r)
                    or (setting.key and f"| `{setting.key}` |" in r)
                    or (setting.flag and f"`{setting.flag.split('/')[-1]}" in r)), None)
        assert row is not None, f"{setting.name} is not in docs/client.md#settings"
        if setting.env:
            assert f"`{setting.env}" in row, (setting.name, row)
        if setting.key:
            assert f"`{setting.key}" in row, (setting.name, row)


def test_every_setting_row_reaches_settings_and_verbose(tmp_path: Path) -> None:
    """A new setting is its row in SETTINGS and its typed field in Settings: a row that reaches neither
    Settings nor --verbose fails here, not in a user's hands."""
    import dataclasses

    from gpulab_apply import settings as module
    from gpulab_apply.setting_table import SETTINGS

    fields = {field.name for field in dataclasses.fields(module.Settings)}
    for row in SETTINGS:
        assert row.name in module._DERIVED or row.name in fields, row.name
    resolved = module.resolve_settings(flags={"local": True}, env={"GPULAB_APPLY_STRICT": "yes"}, cwd=tmp_path)
    assert resolved.strict is True and resolved.value("strict") is True
    assert {name for name, _, _ in resolved.describe()} >= {row.label for row in SETTINGS if row.label}
