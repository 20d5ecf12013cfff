"""Where casedesk keeps its files, and how it creates them privately.

The config, data and cache directories come from platformdirs (app name
`casedesk`); `CASEDESK_HOME` overrides all three with `$CASEDESK_HOME/config`,
`/data` and `/cache`. Directories casedesk creates are 0700 and files 0600,
whatever the umask: they hold API keys, cached cases and the outbox.
"""

import os
import re
import tempfile
from pathlib import Path
from typing import Final

import platformdirs

APP_NAME: Final = "casedesk"
HOME_ENV: Final = "CASEDESK_HOME"
CONFIG_FILE_NAME: Final = "config.toml"
DIR_MODE: Final = 0o700
FILE_MODE: Final = 0o600

_PROFILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def casedesk_home() -> Path | None:
    """The `CASEDESK_HOME` directory, absolute, or None when it is not set."""
    value = os.environ.get(HOME_ENV, "").strip()
    if not value:
        return None
    return Path(value).expanduser().absolute()


def config_dir() -> Path:
    """Where `config.toml` lives."""
    home = casedesk_home()
    if home is not None:
        return home / "config"
    return platformdirs.user_config_path(APP_NAME, appauthor=False)


def data_dir() -> Path:
    """Where each profile's cache, outbox and drafts live (one subdirectory per profile)."""
    home = casedesk_home()
    if home is not None:
        return home / "data"
    return platformdirs.user_data_path(APP_NAME, appauthor=False)


def cache_dir() -> Path:
    """Where files that can be rebuilt at any time live."""
    home = casedesk_home()
    if home is not None:
        return home / "cache"
    return platformdirs.user_cache_path(APP_NAME, appauthor=False)


def config_file() -> Path:
    """The profiles file, `config.toml` in the config directory."""
    return config_dir() / CONFIG_FILE_NAME


def check_profile_name(name: str) -> str:
    """`name` if it can name a profile (and its data directory), else ValueError."""
    if not _PROFILE_NAME.match(name):
        raise ValueError(
            f"profile name {name!r} must be 1-64 letters, digits, '.', '_' or '-', "
            "starting with a letter or digit"
        )
    return name


def profile_data_dir(profile: str) -> Path:
    """The data directory of one profile: `<data dir>/<profile>` (not created here)."""
    return data_dir() / check_profile_name(profile)


def ensure_private_dir(path: Path) -> Path:
    """Create `path` and any missing parents as 0700 directories; return it.

    Directories that already exist are left as they are (`~/.config` is not ours).
    """
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        try:
            directory.mkdir(mode=DIR_MODE)
        except FileExistsError:
            continue  # created meanwhile by another process
        os.chmod(directory, DIR_MODE)  # mkdir's mode is filtered by the umask
    return path


def create_private_file(path: Path) -> Path:
    """Create `path` as an empty 0600 file if it does not exist (in a 0700 directory)."""
    ensure_private_dir(path.parent)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        return path
    try:
        _force_mode(descriptor, path)
    finally:
        os.close(descriptor)
    return path


def write_private_file(path: Path, data: bytes) -> None:
    """Replace `path` with `data` atomically, as a 0600 file (temp file, fsync, rename).

    A reader sees the old content or the new, never a mix; a crash leaves at
    worst a stray temp file next to it.
    """
    ensure_private_dir(path.parent)
    descriptor, temp_name = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp", dir=path.parent
    )
    try:
        with os.fdopen(descriptor, "wb") as stream:
            _force_mode(stream.fileno(), Path(temp_name))  # mkstemp makes 0600; say it anyway
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _force_mode(descriptor: int, path: Path) -> None:
    if hasattr(os, "fchmod"):
        os.fchmod(descriptor, FILE_MODE)
    else:  # pragma: no cover - Windows before 3.13
        os.chmod(path, FILE_MODE)


def _fsync_dir(directory: Path) -> None:
    if os.name != "posix":  # pragma: no cover - directories cannot be opened there
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
