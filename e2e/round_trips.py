#!/usr/bin/env python3
"""Count the database round trips of `PATCH /api/v1/integrations/{id}` and of
`POST /api/v1/pipelines/{id}/runs`, and write the "Database round trips" section of
BENCHMARKS.md (replacing it, or before "Aims").

Each path is measured on a fresh server (a debug or release `switchboard` binary: the counts do
not depend on the build) against the Jenkins simulator, with a fresh database, two ways:

  * foreground: the statements the requests themselves ran, from the server's
    `switchboard_http_request_db_statements` metric (servers that have it);
  * PostgreSQL, everything: the statements PostgreSQL logged for the database
    (`log_statement = 'all'` on it; needs the server log readable, --pg-log) while N requests
    were made one after another and for 3 s after them, less what the idle server ran in the
    same time. This includes the background work a request starts — after a PATCH, the
    connection check's discovery; after a trigger, the run's first poll — and works for any
    server version, so it is how an older commit is measured (--before-binary).

With --before-binary the older server is measured too and its figures are kept in
e2e/round-trips-before.json; without it the figures kept there are shown.

Standard library only (it reuses e2e/bench.py's helpers). Usage:
python3 e2e/round_trips.py --binary PATH --sim-binary PATH [--before-binary PATH --before-label TEXT]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench  # noqa: E402

SECTION = "## Database round trips"
REQUESTS = 20
SETTLE_S = 3.0
IDLE_S = 6.0
PATCH_ROUTE = ("PATCH", "/api/v1/integrations/{id}")
TRIGGER_ROUTE = ("POST", "/api/v1/pipelines/{id}/runs")
BEFORE_FILE = bench.REPO / "e2e/round-trips-before.json"
# After its first poll a run is not polled again within the measurement; no run ends in it.
QUIET_MONITOR = {"SWITCHBOARD_RUN_POLL_MIN_MS": "60000", "SWITCHBOARD_RUN_POLL_MAX_MS": "300000",
                 "SWITCHBOARD_CHECK_INTERVAL_SECS": "3600"}


class PgLog:
    """The statements PostgreSQL logged for one database, counted from a point on."""

    def __init__(self, path: Path, database: str) -> None:
        self.path = path
        self.marker = f"@{database} "
        self.offset = path.stat().st_size

    def take(self) -> int:
        with self.path.open("rb") as log:
            log.seek(self.offset)
            text = log.read().decode(errors="replace")
            self.offset = log.tell()
        return sum(1 for line in text.splitlines()
                   if self.marker in line and ("LOG:  statement: " in line or "LOG:  execute " in line))


def statements_metric(server: bench.Server) -> dict[tuple[str, str], tuple[int, int]]:
    status, body = bench.http("GET", server.base + "/metrics")
    if status != 200:
        raise RuntimeError(f"/metrics answered {status}")
    found: dict[tuple[str, str], list[int]] = {}
    for line in body.decode().splitlines():
        m = re.match(r'switchboard_http_request_db_statements_(sum|count)\{method="([^"]+)",route="([^"]+)"\} (\d+)', line)
        if m:
            kind, method, route, value = m.groups()
            found.setdefault((method, route), [0, 0])[0 if kind == "sum" else 1] = int(value)
    return {key: (pair[0], pair[1]) for key, pair in found.items()}


def measure(binary: Path, sim_binary: Path, database_url: str | None, pg_log: tuple[Path, str] | None) -> dict:
    sim_token = "11" + secrets.token_hex(16)
    config = {"executors": 4, "quiet_period_ms": 0, "users": [bench.sim_user(sim_token)],
              "jobs": [{"name": "deploy", "type": "pipeline", "concurrent": True,
                        "parameters": [{"type": "string", "name": "VERSION", "default": "1.0"}],
                        "build": {"duration_ms": 3_600_000, "result": "SUCCESS", "log": ["deploying"]}}]}
    with tempfile.TemporaryDirectory(prefix="switchboard-round-trips-") as tmp:
        work = Path(tmp)
        (work / "data").mkdir()
        server = bench.Server(binary, work / "data", database_url, extra_env=QUIET_MONITOR)
        sim = None
        try:
            server.wait_ready()
            token = bench.login(server)
            sim = bench.Sim(sim_binary, config, work, "round-trips")
            integration, _ = bench.create_jenkins_integration(server, token, "Jenkins", sim.url, sim_token)
            deadline = time.monotonic() + 60
            while not bench.get_integration(server, token, integration["id"]).get("last_sync"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the integration was not discovered within 60 s:\n{server.log_tail()}")
                time.sleep(0.1)
            status, body = bench.http("GET", f"{server.base}/api/v1/pipelines?integration_id={integration['id']}", token=token)
            pipeline = json.loads(body)["items"][0]
            time.sleep(SETTLE_S)
            log = PgLog(*pg_log) if pg_log else None

            def window(requests) -> float | None:
                """Statements per request PostgreSQL logged for `requests` and what they started."""
                if log is None:
                    return None
                log.take()
                started = time.monotonic()
                time.sleep(IDLE_S)
                idle_rate = log.take() / (time.monotonic() - started)
                started = time.monotonic()
                requests()
                time.sleep(SETTLE_S)
                busy = log.take()
                return max(0.0, busy - idle_rate * (time.monotonic() - started)) / REQUESTS

            def patches() -> None:
                for i in range(REQUESTS):
                    status, body = bench.http("PATCH", f"{server.base}/api/v1/integrations/{integration['id']}",
                                              {"name": f"Jenkins {i}"}, token)
                    if status != 200:
                        raise RuntimeError(f"PATCH answered {status}: {body[:300]!r}")

            def triggers() -> None:
                for i in range(REQUESTS):
                    status, body = bench.http("POST", f"{server.base}/api/v1/pipelines/{pipeline['id']}/runs",
                                              {"parameters": {"VERSION": f"1.{i}"}}, token)
                    if status != 202:
                        raise RuntimeError(f"trigger answered {status}: {body[:300]!r}")

            patch_all = window(patches) if log else (patches() or None)
            trigger_all = window(triggers) if log else (triggers() or None)
            metric = statements_metric(server)

            def foreground(route: tuple[str, str]) -> float | None:
                total, count = metric.get(route, (0, 0))
                return total / count if count else None

            return {"patch_foreground": foreground(PATCH_ROUTE), "trigger_foreground": foreground(TRIGGER_ROUTE),
                    "patch_all": patch_all, "trigger_all": trigger_all}
        finally:
            if sim:
                sim.stop()
            server.stop()


def on_postgres(args: argparse.Namespace, binary: Path, version: str) -> dict:
    with bench.fresh_database(args, version) as url:
        database = url.rsplit("/", 1)[1]
        readable = args.pg_log.is_file()
        if readable:
            bench.psql(args.pg_url, f"ALTER DATABASE \"{database}\" SET log_statement = 'all'")
        else:
            bench.log(f"{args.pg_log} is not readable: PostgreSQL's own count is left out")
        return measure(binary, args.sim_binary, url, (args.pg_log, database) if readable else None)


def fmt(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f}"


def section(args: argparse.Namespace, facts: dict[str, str], after_pg: dict, after_sqlite: dict, before: dict | None) -> list[str]:
    lines = [
        SECTION,
        "",
        f"Measured by `python3 e2e/round_trips.py` ([`e2e/round_trips.py`](e2e/round_trips.py)) on {facts['date']},"
        f" commit `{facts['commit']}`"
        + (f"; before: {before['label']}, measured on {before['date']}" if before else "") + ".",
        f"{REQUESTS} requests of each kind, one after another, on a fresh server and database against the Jenkins simulator;",
        "statements (each one round trip to PostgreSQL) per request:",
        "",
        "- **foreground**: the statements the request itself ran (`switchboard_http_request_db_statements` in `/metrics`,",
        "  authentication included; not in servers older than this measurement);",
        f"- **PostgreSQL, all**: what PostgreSQL logged for the database during the requests and {SETTLE_S:.0f} s after them, less",
        "  what the idle server ran in the same time — including the background work a request starts (after a PATCH the",
        "  discovery that follows a good check; after a trigger the run's first poll).",
        "",
        "| path | before: PostgreSQL, all | after: PostgreSQL, all | after: PostgreSQL, foreground | after: SQLite, foreground |",
        "|---|---:|---:|---:|---:|",
    ]
    for label, key in (("`PATCH /api/v1/integrations/{id}` (rename)", "patch"), ("`POST /api/v1/pipelines/{id}/runs`", "trigger")):
        lines.append(
            f"| {label} | {fmt(before.get(key + '_all') if before else None)} | {fmt(after_pg.get(key + '_all'))}"
            f" | {fmt(after_pg.get(key + '_foreground'))} | {fmt(after_sqlite.get(key + '_foreground'))} |"
        )
    lines.append("")
    return lines


def splice(out: Path, new: list[str]) -> None:
    text = out.read_text() if out.is_file() else "# Benchmarks\n"
    parts: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("## "):
            parts.append([])
        parts[-1].append(line)
    kept = [part for part in parts if not part or part[0] != SECTION]
    headings = [part[0] if part else "" for part in kept]
    at = next((i for i, h in enumerate(headings) if h in ("## Aims", bench.NOTES_HEADING)), len(kept))
    kept[at:at] = [new]
    out.write_text("\n".join(line for part in kept for line in part).rstrip("\n") + "\n")


def main() -> int:
    default_target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/switchboard/target"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, default=default_target / "release/switchboard")
    parser.add_argument("--sim-binary", type=Path, default=default_target / "release/jenkins-sim")
    parser.add_argument("--before-binary", type=Path, help="an older `switchboard` binary to measure as \"before\"")
    parser.add_argument("--before-label", default="an older commit", help="what the older binary is, e.g. its commit")
    parser.add_argument("--out", type=Path, default=bench.REPO / "BENCHMARKS.md")
    parser.add_argument("--pg-url", default=os.environ.get("SWITCHBOARD_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"))
    parser.add_argument("--pg-log", type=Path, default=Path("/var/log/postgresql/postgresql-15-main.log"),
                        help="PostgreSQL's server log (log_line_prefix with %%d, as Debian's default)")
    parser.add_argument("--skip-postgres", action="store_true")
    args = parser.parse_args()
    for path in (args.binary, args.sim_binary):
        if not path.is_file():
            print(f"round trips: no binary at {path}", file=sys.stderr)
            return 1
    facts = {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
             "commit": subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True,
                                      cwd=bench.REPO).stdout.strip() or "unknown"}
    version, skipped = bench.postgres_version(args)
    if skipped:
        bench.log(f"PostgreSQL: {skipped}")
    after_sqlite = measure(args.binary.resolve(), args.sim_binary.resolve(), None, None)
    bench.log(f"after, SQLite: {after_sqlite}")
    after_pg = on_postgres(args, args.binary.resolve(), version) if version else {}
    bench.log(f"after, PostgreSQL: {after_pg}")
    before = json.loads(BEFORE_FILE.read_text()) if BEFORE_FILE.is_file() else None
    if args.before_binary and version:
        measured = on_postgres(args, args.before_binary.resolve(), version)
        bench.log(f"before, PostgreSQL: {measured}")
        before = {"label": args.before_label, "date": facts["date"], **measured}
        BEFORE_FILE.write_text(json.dumps(before, indent=2) + "\n")
    splice(args.out, section(args, facts, after_pg, after_sqlite, before))
    bench.log(f"wrote the \"{SECTION[3:]}\" section of {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
