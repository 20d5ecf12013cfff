"""Profiles, the config file and where casedesk keeps its files."""

import os
import stat
import tomllib
from pathlib import Path

import pytest

from casedesk import paths
from casedesk.api.secret import ApiKey
from casedesk.config import (
    API_KEY_ENV,
    ConfigError,
    ConfigFile,
    ProfileSettings,
    dump_config,
    load_config,
    resolve_profile,
    save_profile,
)

KEY = "cdk_config_test_key_0123456789abcdef"
OTHER_KEY = "cdk_from_the_file_abcdefghijklmnop"


@pytest.fixture(autouse=True)
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(paths.HOME_ENV, str(tmp_path / "home"))
    monkeypatch.delenv(API_KEY_ENV, raising=False)
    return tmp_path / "home"


def write_config(text: str, mode: int = 0o600) -> Path:
    path = paths.config_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)
    return path


# -- paths ---------------------------------------------------------------------------


def test_casedesk_home_moves_config_data_and_cache(home: Path) -> None:
    assert paths.config_dir() == home / "config"
    assert paths.data_dir() == home / "data"
    assert paths.cache_dir() == home / "cache"
    assert paths.config_file() == home / "config" / "config.toml"
    assert paths.profile_data_dir("work") == home / "data" / "work"


def test_without_casedesk_home_the_platform_dirs_are_used(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(paths.HOME_ENV)
    assert paths.config_dir().name == "casedesk"
    assert paths.data_dir().name == "casedesk"
    assert paths.cache_dir().name == "casedesk"


@pytest.mark.parametrize("name", ["", ".", "..", "a/b", "-x", "x" * 65, "name with space"])
def test_profile_names_that_could_escape_the_data_dir_are_refused(name: str) -> None:
    with pytest.raises(ValueError):
        paths.profile_data_dir(name)


def test_private_dirs_and_files_ignore_a_permissive_umask(home: Path) -> None:
    previous = os.umask(0o000)
    try:
        target = paths.ensure_private_dir(home / "data" / "work" / "deep")
        created = paths.create_private_file(target / "outbox.json")
        paths.write_private_file(target / "state.json", b"{}")
    finally:
        os.umask(previous)
    for directory in (home, home / "data", home / "data" / "work", target):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o700, directory
    for file in (created, target / "state.json"):
        assert stat.S_IMODE(file.stat().st_mode) == 0o600, file
    assert (target / "state.json").read_bytes() == b"{}"


def test_an_atomic_write_replaces_the_file_and_leaves_no_temp_file(home: Path) -> None:
    target = home / "f.json"
    paths.write_private_file(target, b"one")
    paths.write_private_file(target, b"two")
    assert target.read_bytes() == b"two"
    assert sorted(p.name for p in home.iterdir()) == ["f.json"]


def test_existing_parent_dirs_are_left_alone(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    paths.ensure_private_dir(tmp_path / "mine")
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755


# -- resolving a profile ---------------------------------------------------------------


def test_a_url_and_the_env_key_work_with_no_config_at_all(
    monkeypatch: pytest.MonkeyPatch, home: Path
) -> None:
    monkeypatch.setenv(API_KEY_ENV, f"  {KEY}\n")
    profile = resolve_profile(url="http://127.0.0.1:8765/", profile=None)

    assert profile.url == "http://127.0.0.1:8765"
    assert profile.api_key == ApiKey(KEY)
    assert profile.key_source == API_KEY_ENV
    assert profile.name == "127.0.0.1-8765"
    assert profile.data_dir == home / "data" / "127.0.0.1-8765"
    assert (profile.language, profile.theme, profile.start_view) == ("en", "dark", "all_open")
    assert profile.warnings == ()
    assert not paths.config_file().exists()  # resolving writes nothing


def test_a_missing_key_names_the_variable_and_the_config_file() -> None:
    with pytest.raises(ConfigError) as caught:
        resolve_profile(url="https://cases.example.com", profile=None)
    assert API_KEY_ENV in str(caught.value)
    assert str(paths.config_file()) in str(caught.value)


def test_nothing_configured_says_how_to_start() -> None:
    with pytest.raises(ConfigError, match="--url"):
        resolve_profile(None, None)


CONFIG = f"""
default_profile = "work"

[profiles.work]
url = "https://cases.example.com/"
api_key = "{OTHER_KEY}"
language = "fr"
sync_interval_seconds = 30
theme = "light"
start_view = "mine"

[profiles.staging]
url = "https://staging.example.com"
"""


def test_the_default_profile_comes_from_the_file(home: Path) -> None:
    path = write_config(CONFIG)
    profile = resolve_profile(None, None)

    assert profile.name == "work"
    assert profile.url == "https://cases.example.com"
    assert profile.api_key == ApiKey(OTHER_KEY)
    assert profile.key_source == str(path)
    assert profile.language == "fr"
    assert profile.sync_interval_seconds == 30
    assert (profile.theme, profile.start_view) == ("light", "mine")
    assert profile.data_dir == home / "data" / "work"
    assert profile.config_path == path


def test_the_env_key_wins_over_the_file(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(CONFIG)
    monkeypatch.setenv(API_KEY_ENV, KEY)
    profile = resolve_profile(None, "work")
    assert profile.api_key == ApiKey(KEY)
    assert profile.key_source == API_KEY_ENV


def test_a_named_profile_is_selected_and_needs_a_key(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(CONFIG)
    with pytest.raises(ConfigError, match=r"\[profiles.staging\]"):
        resolve_profile(None, "staging")
    monkeypatch.setenv(API_KEY_ENV, KEY)
    assert resolve_profile(None, "staging").url == "https://staging.example.com"
    with pytest.raises(ConfigError, match=r"no profile 'nope'.*staging, work"):
        resolve_profile(None, "nope")


def test_a_url_matching_a_profile_uses_that_profile() -> None:
    write_config(CONFIG)
    profile = resolve_profile("https://cases.example.com", None)
    assert profile.name == "work"
    assert profile.language == "fr"


def test_a_url_given_with_a_profile_overrides_its_url() -> None:
    write_config(CONFIG)
    profile = resolve_profile("https://other.example.com", "work")
    assert (profile.name, profile.url) == ("work", "https://other.example.com")


def test_several_profiles_and_no_default_ask_for_one(monkeypatch: pytest.MonkeyPatch) -> None:
    write_config(CONFIG.replace('default_profile = "work"', ""))
    with pytest.raises(ConfigError, match="--profile"):
        resolve_profile(None, None)


def test_an_unknown_key_is_named_with_the_file() -> None:
    path = write_config(CONFIG.replace('theme = "light"', 'theme = "light"\ncolour = "red"'))
    with pytest.raises(ConfigError) as caught:
        resolve_profile(None, None)
    assert "unknown key 'profiles.work.colour'" in str(caught.value)
    assert str(path) in str(caught.value)


@pytest.mark.parametrize(
    ("text", "complaint"),
    [
        ("[profiles.work\nurl = 1", "not valid TOML"),
        ('[profiles.work]\nurl = "ftp://x"', "profiles.work.url"),
        ('[profiles.work]\nurl = "https://x"\ntheme = "pink"', "profiles.work.theme"),
        ('[profiles.work]\nurl = "https://x"\nsync_interval_seconds = 0', "sync_interval"),
        ('default_profile = "gone"\n[profiles.work]\nurl = "https://x"', "gone"),
        ('[profiles.work]\nurl = "https://x"\napi_key = "has space"', "api_key"),
    ],
)
def test_a_broken_config_is_a_clear_error(text: str, complaint: str) -> None:
    write_config(text)
    with pytest.raises(ConfigError, match=complaint):
        load_config()


def test_a_bad_key_in_the_file_is_not_echoed() -> None:
    secret = "cdk_SENTINEL_with space"
    write_config(f'[profiles.work]\nurl = "https://x"\napi_key = "{secret}"')
    with pytest.raises(ConfigError) as caught:
        load_config()
    assert "SENTINEL" not in str(caught.value)


def test_a_config_others_can_read_warns_with_the_chmod_to_run() -> None:
    path = write_config(CONFIG, mode=0o644)
    profile = resolve_profile(None, None)
    assert any(f"chmod 600 {path}" in warning for warning in profile.warnings)


def test_a_config_others_can_change_is_refused() -> None:
    path = write_config(CONFIG, mode=0o666)
    with pytest.raises(ConfigError, match=f"chmod 600 {path}"):
        resolve_profile(None, None)


def test_plain_http_to_another_host_warns_that_the_key_travels_in_clear(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(API_KEY_ENV, KEY)
    assert resolve_profile("http://localhost:8000", None).warnings == ()
    assert resolve_profile("http://[::1]:8000", None).warnings == ()
    (warning,) = resolve_profile("http://cases.example.com", None).warnings
    assert "unencrypted" in warning


@pytest.mark.parametrize(
    "url", ["cases.example.com", "https://u:p@x.example", "https://x.example/?k=1", "http://"]
)
def test_a_url_that_is_not_an_api_root_is_refused(
    monkeypatch: pytest.MonkeyPatch, url: str
) -> None:
    monkeypatch.setenv(API_KEY_ENV, KEY)
    with pytest.raises(ConfigError, match="--url"):
        resolve_profile(url, None)


def test_a_profile_repr_never_shows_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(API_KEY_ENV, KEY)
    profile = resolve_profile("http://127.0.0.1:1", None)
    assert KEY not in repr(profile)
    settings = ProfileSettings(url="https://x.example", api_key=ApiKey(KEY))
    assert KEY not in repr(settings)
    assert KEY not in settings.model_dump_json()


# -- writing a profile -------------------------------------------------------------------


def test_saving_a_profile_writes_a_private_file_that_reads_back(home: Path) -> None:
    previous = os.umask(0o022)
    try:
        path = save_profile(
            "demo",
            ProfileSettings(url="http://127.0.0.1:8765", api_key=ApiKey(KEY), theme="light"),
        )
    finally:
        os.umask(previous)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    profile = resolve_profile(None, None)
    assert (profile.name, profile.url, profile.theme) == ("demo", "http://127.0.0.1:8765", "light")
    assert profile.api_key == ApiKey(KEY)
    assert profile.warnings == ()


def test_saving_keeps_other_profiles_and_the_default_unless_asked(home: Path) -> None:
    write_config(CONFIG)
    save_profile("demo", ProfileSettings(url="http://127.0.0.1:1"))
    config = load_config()
    assert set(config.profiles) == {"work", "staging", "demo"}
    assert config.default_profile == "work"
    save_profile("demo", ProfileSettings(url="http://127.0.0.1:2"), make_default=True)
    config = load_config()
    assert config.default_profile == "demo"
    assert config.profiles["demo"].url == "http://127.0.0.1:2"


def test_the_toml_writer_round_trips_awkward_strings() -> None:
    settings = ProfileSettings(url="https://x.example/a%22b", sync_interval_seconds=2.5)
    config = ConfigFile(
        default_profile="we.ird-name_1", profiles={"we.ird-name_1": settings, "plain": settings}
    )
    text = dump_config(config)
    assert '[profiles."we.ird-name_1"]' in text
    assert ConfigFile.model_validate(tomllib.loads(text)) == config


def test_saving_refuses_a_name_that_cannot_be_a_directory() -> None:
    with pytest.raises(ValueError):
        save_profile("../evil", ProfileSettings(url="https://x.example"))
