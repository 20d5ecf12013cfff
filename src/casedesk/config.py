"""Profiles: which case API to talk to, with which key, and how the console looks.

`config.toml` in the config directory (see `casedesk.paths`):

```toml
default_profile = "work"

[profiles.work]
url = "https://cases.example.com"
api_key = "cdk_..."            # optional: CASEDESK_API_KEY wins
language = "en"                # en | fr: language of the API's messages
sync_interval_seconds = 60
theme = "dark"                 # dark | light
start_view = "all_open"        # the queue view the console opens on
```

`resolve_profile` turns the command line, the environment and that file into
one `Profile`. The file holds a secret, so it is written 0600, and reading a
file that others can read gives a warning naming the `chmod` to run.
"""

import ipaddress
import os
import re
import stat
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Final, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from casedesk import paths
from casedesk.api.secret import ApiKey

API_KEY_ENV: Final = "CASEDESK_API_KEY"

Language = Literal["en", "fr"]
Theme = Literal["dark", "light"]
StartView = Literal[
    "mine",
    "unassigned",
    "sla_at_risk",
    "sla_breached",
    "escalated",
    "override_pending",
    "all_open",
    "closed",
]
"""The queue views, in the order of their keys `1`…`8`."""


class ConfigError(Exception):
    """The configuration cannot be used; the message says where and what to do."""


def normalize_url(url: str) -> str:
    """`url` as casedesk stores it (`scheme://host[:port][/prefix]`), or ValueError."""
    text = url.strip().rstrip("/")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a URL ({exc})") from None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{url!r} is not an http(s) URL such as https://cases.example.com")
    if parts.username is not None or parts.password is not None:
        raise ValueError("the API URL must not carry a user name or password")
    if parts.query or parts.fragment:
        raise ValueError("the API URL must not carry a query or a fragment")
    host = parts.hostname.lower()
    host = f"[{host}]" if ":" in host else host
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "") + parts.path


def _is_loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


ProfileName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


class ProfileSettings(BaseModel):
    """One `[profiles.NAME]` table of `config.toml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    """Root of the case API, e.g. `https://cases.example.com` (requests go to `<url>/v1/...`)."""
    api_key: ApiKey | None = None
    """The key, if kept in the file; the `CASEDESK_API_KEY` environment variable wins."""
    language: Language = "en"
    sync_interval_seconds: float = Field(default=60.0, ge=1, le=86_400)
    theme: Theme = "dark"
    start_view: StartView = "all_open"

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        return normalize_url(value)


class ConfigFile(BaseModel):
    """The whole of `config.toml`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    default_profile: ProfileName | None = None
    profiles: dict[ProfileName, ProfileSettings] = {}

    @model_validator(mode="after")
    def _default_exists(self) -> "ConfigFile":
        if self.default_profile is not None and self.default_profile not in self.profiles:
            raise ValueError(
                f"default_profile {self.default_profile!r} names no [profiles.*] table"
            )
        return self


@dataclass(frozen=True, slots=True)
class Profile:
    """Everything needed to reach one case API and to show the console for it."""

    name: str
    url: str
    api_key: ApiKey
    language: Language
    sync_interval_seconds: float
    theme: Theme
    start_view: StartView
    data_dir: Path
    """This profile's own directory for cache, outbox and drafts (not created here)."""
    config_path: Path
    """The config file consulted (it may not exist)."""
    key_source: str
    """Where the key came from: `CASEDESK_API_KEY` or the config file's path."""
    warnings: tuple[str, ...] = ()
    """Things the user should fix (a readable config file, a key sent in clear)."""


def _describe(error: ValidationError, path: Path) -> str:
    lines = []
    for problem in error.errors(include_url=False, include_input=False, include_context=False):
        where = ".".join(str(part) for part in problem["loc"])
        if problem["type"] == "extra_forbidden":
            lines.append(f"unknown key {where!r}")
        else:
            lines.append(f"{where or 'file'}: {problem['msg']}")
    return f"{path}: " + "; ".join(lines)


def load_config(path: Path | None = None) -> ConfigFile:
    """Read and check `config.toml` (an empty config when the file does not exist)."""
    path = path or paths.config_file()
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ConfigFile()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read it ({exc.strerror})") from None
    problem = ""
    try:
        document = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        problem = "is not UTF-8 text"
    except tomllib.TOMLDecodeError as exc:
        problem = f"is not valid TOML ({exc})"
    if problem:
        raise ConfigError(f"{path} {problem}")
    try:
        return ConfigFile.model_validate(document)
    except ValidationError as exc:
        problem = _describe(exc, path)
    raise ConfigError(problem)


def check_permissions(path: Path) -> list[str]:
    """Warnings about who else can read `path`; ConfigError if others can change it."""
    if os.name != "posix":
        return []
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return []
    if mode & 0o022:
        raise ConfigError(
            f"{path} can be changed by other users (mode {mode:04o}), so they could send your "
            f"API key elsewhere; run: chmod 600 {path}"
        )
    if mode & 0o044:
        return [
            f"{path} can be read by other users (mode {mode:04o}) and may hold an API key; "
            f"run: chmod 600 {path}"
        ]
    return []


def _key_from_env() -> ApiKey | None:
    # The raw value is never bound to a local name: crash reports print locals.
    if not os.environ.get(API_KEY_ENV, "").strip():
        return None
    return ApiKey(os.environ[API_KEY_ENV].strip())


def _name_for_url(url: str) -> str:
    parts = urlsplit(url)
    name = re.sub(r"[^A-Za-z0-9_.-]+", "-", (parts.hostname or "api") + f"-{parts.port or ''}")
    name = name.strip("-.")
    if not name or not name[0].isalnum():
        name = "api-" + name
    return name[:64]


def resolve_profile(url: str | None = None, profile: str | None = None) -> Profile:
    """The profile to use, from `--url`, `--profile`, `CASEDESK_API_KEY` and `config.toml`.

    - `--profile NAME` picks that table of the config file (`--url` then overrides its url);
    - `--url URL` alone uses the profile with that url if there is one, else an
      unsaved profile named after the host (the key then comes from `CASEDESK_API_KEY`);
    - neither: `default_profile`, or the only profile of the file.
    The key in `CASEDESK_API_KEY` wins over the file's `api_key`.
    """
    config_path = paths.config_file()
    warnings = check_permissions(config_path)
    config = load_config(config_path)
    wanted_url = None
    if url is not None:
        try:
            wanted_url = normalize_url(url)
        except ValueError as exc:
            raise ConfigError(f"--url: {exc}") from None

    settings: ProfileSettings | None
    if profile is not None:
        settings = config.profiles.get(profile)
        if settings is None:
            known = ", ".join(sorted(config.profiles)) or "none"
            raise ConfigError(f"no profile {profile!r} in {config_path} (profiles: {known})")
        name = profile
    elif wanted_url is not None:
        matches = [n for n, s in config.profiles.items() if s.url == wanted_url]
        name = matches[0] if matches else _name_for_url(wanted_url)
        settings = config.profiles.get(name) if matches else None
    else:
        if config.default_profile is not None:
            name = config.default_profile
        elif len(config.profiles) == 1:
            (name,) = config.profiles
        elif config.profiles:
            raise ConfigError(
                f"{config_path} has several profiles and no default_profile: pass --profile "
                f"NAME (one of {', '.join(sorted(config.profiles))})"
            )
        else:
            raise ConfigError(
                f"no case API configured: pass --url URL with the key in {API_KEY_ENV}, "
                f"or add a [profiles.NAME] table to {config_path} (or try `casedesk demo`)"
            )
        settings = config.profiles[name]

    final_url = wanted_url or (settings.url if settings else None)
    assert final_url is not None  # either --url was given or a profile was found

    key_source = API_KEY_ENV
    try:
        env_key = _key_from_env()
        if env_key is not None:
            api_key = env_key
        elif settings is not None and settings.api_key is not None:
            api_key = settings.api_key
            key_source = str(config_path)
        else:
            raise ConfigError(
                f"no API key for profile {name!r}: set {API_KEY_ENV}, or add api_key to "
                f"[profiles.{name}] in {config_path}"
            )
    except ValueError as exc:
        raise ConfigError(f"{API_KEY_ENV}: {exc}") from None

    host = urlsplit(final_url).hostname or ""
    if final_url.startswith("http://") and not _is_loopback(host):
        warnings.append(f"{final_url} is plain http: the API key travels unencrypted; use https")
    defaults = settings or ProfileSettings(url=final_url)
    return Profile(
        name=name,
        url=final_url,
        api_key=api_key,
        language=defaults.language,
        sync_interval_seconds=defaults.sync_interval_seconds,
        theme=defaults.theme,
        start_view=defaults.start_view,
        data_dir=paths.profile_data_dir(name),
        config_path=config_path,
        key_source=key_source,
        warnings=tuple(warnings),
    )


def save_profile(
    name: str, settings: ProfileSettings, *, make_default: bool = False, path: Path | None = None
) -> Path:
    """Add or replace `[profiles.NAME]` in `config.toml`, written atomically as a 0600 file.

    Comments of an existing file are not kept. Returns the file's path.
    """
    paths.check_profile_name(name)
    path = path or paths.config_file()
    config = load_config(path)
    profiles = {**config.profiles, name: settings}
    default = name if make_default or config.default_profile is None else config.default_profile
    updated = ConfigFile(default_profile=default, profiles=profiles)
    paths.write_private_file(path, dump_config(updated).encode("utf-8"))
    return path


def dump_config(config: ConfigFile) -> str:
    """`config` as TOML text (the API key in the clear: write it only to a 0600 file)."""
    lines = ["# casedesk profiles; this file may hold API keys: keep it private (chmod 600)."]
    if config.default_profile is not None:
        lines.append(f"default_profile = {_toml_string(config.default_profile)}")
    for name, settings in config.profiles.items():
        lines += ["", f"[profiles.{_toml_key(name)}]"]
        for field, value in _profile_fields(settings):
            lines.append(f"{field} = {_toml_value(value)}")
    return "\n".join(lines) + "\n"


def _profile_fields(settings: ProfileSettings) -> list[tuple[str, Any]]:
    fields: list[tuple[str, Any]] = []
    for field in ProfileSettings.model_fields:
        value = getattr(settings, field)
        if value is None:
            continue
        fields.append((field, value.reveal() if isinstance(value, ApiKey) else value))
    return fields


_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {
    "\\": "\\\\",
    '"': '\\"',
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\f": "\\f",
    "\r": "\\r",
}


def _toml_string(value: str) -> str:
    out = []
    for char in value:
        if char in _ESCAPES:
            out.append(_ESCAPES[char])
        elif char < " " or char == "\x7f":
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return '"' + "".join(out) + '"'


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return _toml_string(value)
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
