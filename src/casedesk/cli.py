"""The `casedesk` command: the one place that wires the parts together."""

from pathlib import Path

import click

from casedesk import __version__


@click.group()
@click.version_option(__version__, prog_name="casedesk")
def main() -> None:
    """casedesk: a keyboard-driven console for case reviewers, and its case API."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("casedesk-data"),
    show_default=True,
    help="Where the database and uploaded documents live.",
)
@click.option("--demo", is_flag=True, help="Seed demo data if the database is empty.")
@click.option("--demo-cases", default=2000, show_default=True, type=click.IntRange(1))
@click.option("--seed", default=0, show_default=True, type=int, help="Demo data seed.")
@click.option("--fault-latency-ms", default=0.0, type=click.FloatRange(0), help="Testing: delay.")
@click.option("--fault-error-rate", default=0.0, type=click.FloatRange(0, 1), help="Testing: 500s.")
@click.option("--rate-limit", default=0.0, type=click.FloatRange(0), help="Testing: requests/s.")
@click.option("--log-level", default="warning", show_default=True)
def serve(
    host: str,
    port: int,
    data_dir: Path,
    demo: bool,
    demo_cases: int,
    seed: int,
    fault_latency_ms: float,
    fault_error_rate: float,
    rate_limit: float,
    log_level: str,
) -> None:
    """Run the case API (FastAPI + SQLite)."""
    from casedesk.server.faults import FaultConfig
    from casedesk.server.run import ServeOptions
    from casedesk.server.run import serve as run_server

    run_server(
        ServeOptions(
            host=host,
            port=port,
            data_dir=data_dir,
            demo=demo,
            demo_cases=demo_cases,
            seed=seed,
            faults=FaultConfig(
                latency_ms=fault_latency_ms,
                error_rate=fault_error_rate,
                rate_limit_per_s=rate_limit,
            ),
            log_level=log_level,
        )
    )
