"""A sentinel API key, and the places it must never show up."""

import io
import secrets

import pytest
from rich.console import Console
from rich.traceback import Traceback

SECRET_PART = secrets.token_urlsafe(24)
SENTINEL = f"cdk_SENTINEL_{SECRET_PART}"
TELLTALES = (SENTINEL, SECRET_PART[:12])
"""The whole key, and enough of it to notice a truncated copy."""


def leaks(text: str) -> bool:
    return any(telltale in text for telltale in TELLTALES)


def crash_report(error: BaseException) -> str:
    """What Textual prints when it crashes: a rich traceback with every frame's locals."""
    out = io.StringIO()
    console = Console(file=out, width=5000, color_system=None)
    console.print(
        Traceback.from_exception(
            type(error),
            error,
            error.__traceback__,
            width=5000,
            show_locals=True,
            locals_max_length=5,
        )
    )
    return out.getvalue()


def assert_no_leak(error: BaseException, caplog: pytest.LogCaptureFixture) -> None:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None and len(chain) < 10:
        chain.append(current)
        current = current.__cause__ or current.__context__
    for link in chain:
        assert not leaks(str(link)), str(link)
        assert not leaks(repr(link)), repr(link)
        assert not leaks(repr(link.args))
        assert not leaks(repr(vars(link)))
    assert not leaks(crash_report(error))
    for record in caplog.records:
        assert not leaks(record.getMessage()), record.getMessage()
        assert not leaks(repr(record.args))
