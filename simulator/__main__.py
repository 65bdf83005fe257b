"""`python -m simulator --players 200 --days 7 --seed 42`: simulate players, send events."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from simulator.players import simulate
from simulator.sender import Sender


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m simulator", description=__doc__)
    parser.add_argument("--url", default="http://localhost:5000", help="the ingest service")
    parser.add_argument("--players", type=int, default=200)
    parser.add_argument("--days", type=int, default=7)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--first-day",
        type=date.fromisoformat,
        help="first simulated day (default: --days days before today, UTC)",
    )
    parser.add_argument("--batch-size", type=int, default=50)
    parser.add_argument("--single-every", type=int, default=10, help="every Nth request is single")
    parser.add_argument("--api-key")
    parser.add_argument("--report", type=Path, help="write every sent event here as JSON lines")
    parser.add_argument("--dry-run", action="store_true", help="only count the events")
    args = parser.parse_args(argv)

    first_day = args.first_day or (datetime.now(UTC).date() - timedelta(days=args.days))
    events = list(simulate(args.players, args.days, args.seed, first_day))
    print(f"simulated {len(events)} events of {args.players} players over {args.days} days")
    if args.dry_run:
        return 0
    sender = Sender(args.url, args.api_key)
    sent = sender.send_all(events, args.batch_size, args.single_every, total=len(events))
    if args.report:
        args.report.parent.mkdir(parents=True, exist_ok=True)
        args.report.write_text("".join(json.dumps(e) + "\n" for e in events))
    print(f"sent {sent} events to {args.url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
