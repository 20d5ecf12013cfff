"""Where the console's stylesheets live: inside the wheel, or the checkout's `styles/`."""

from pathlib import Path, PurePath

STYLESHEETS = ("base.tcss", "queue.tcss", "case.tcss", "forms.tcss", "outbox.tcss")


def styles_dir() -> Path:
    """`casedesk/styles` in an installed wheel; `<checkout>/styles` in an editable install."""
    packaged = Path(__file__).resolve().parent.parent / "styles"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "styles"


def stylesheets() -> list[str | PurePath]:
    folder = styles_dir()
    return [folder / name for name in STYLESHEETS if (folder / name).is_file()]
