"""Print the reliability scenarios' figures as a table (the README quotes it).

    python benchmarks/reliability_report.py                       # reports/reliability.json
    python benchmarks/reliability_report.py reports/reliability-full.json

The records are written by `pytest tests/reliability -m smoke` (or `--full`).
"""

import json
import sys
import textwrap
from pathlib import Path

DEFAULT = Path(__file__).resolve().parent.parent / "reports" / "reliability.json"
FIGURE_WIDTH = 88


def table(records: list[dict[str, object]]) -> str:
    head = f"{'id':<4} {'tier':<8} {'iterations':>10} {'faults':>8} {'failures':>8}  figure"
    lines = [head, "-" * (len(head) + FIGURE_WIDTH - len("figure"))]
    indent = " " * (len(head) - len("figure"))
    for record in records:
        wrapped = textwrap.wrap(str(record.get("figure", "")), FIGURE_WIDTH) or [""]
        lines.append(
            f"{record['id']!s:<4} {record.get('tier', '')!s:<8} {record['iterations']!s:>10} "
            f"{record['faults_injected']!s:>8} {record['failures']!s:>8}  {wrapped[0]}"
        )
        lines += [indent + more for more in wrapped[1:]]
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    path = Path(argv[1]) if len(argv) > 1 else DEFAULT
    try:
        records = json.loads(path.read_text())
    except FileNotFoundError:
        print(f"{path}: no report yet; run `pytest tests/reliability -m smoke`", file=sys.stderr)
        return 1
    print(f"{path.name}: {len(records)} scenarios")
    print(table(records))
    failing = [record["id"] for record in records if record["failures"]]
    if failing:
        print(f"\nfailing: {', '.join(map(str, failing))}")
    return 1 if failing else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
