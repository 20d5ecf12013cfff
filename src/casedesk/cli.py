"""The `casedesk` command."""

import click


@click.group()
def main() -> None:
    """casedesk: a keyboard-driven console for case reviewers."""
