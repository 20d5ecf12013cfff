"""Helpers the console's tests share."""

import html
import re

from textual.app import App


def screen_text(app: App[None]) -> str:
    """The whole screen as a reviewer reads it (from the SVG screenshot), spaces collapsed."""
    svg = app.export_screenshot()
    lines = re.findall(r"<text [^>]*>(.*?)</text>", svg)
    return " ".join(html.unescape("".join(lines)).replace("\xa0", " ").split())
