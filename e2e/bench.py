#!/usr/bin/env python3
"""Load-test the Switchboard release server with wrk and write BENCHMARKS.md.

For each backend (SQLite, then PostgreSQL when reachable) this starts the release
binary on a free loopback port with a fresh data directory, signs in as the first
admin, creates 100 jenkins integrations, then measures with wrk, on the same server
in the same run:

  * GET /api/v1/integrations?limit=100  (with the Bearer token)
  * GET /healthz

It also samples the CPU time used by the server, by wrk and (for PostgreSQL) by the
postgres processes during each measured run, from /proc.

When the web app is built (frontend/dist, or --web-dir), the SQLite server also serves it, and
after wrk e2e/browser/measure-load.mjs measures in headless Chromium: the first-load transfer
size of /login (wasm, JS, CSS, gzipped) and the time from navigation until the integrations
table shows the 100 integrations (median of --web-runs runs). That section ("Web app") is
skipped with a note when the app, node or Chromium is missing (or with --skip-web).

The tables in the output are generated from this run only; the "What limits it"
section is copied from e2e/bench-notes.md so that reruns keep the analysis.

Standard library only (the browser part needs node and Debian's chromium). Usage:
python3 e2e/bench.py --binary PATH [--out BENCHMARKS.md]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import resource
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LIST_PATH = "/api/v1/integrations?limit=100"
HEALTH_PATH = "/healthz"
INTEGRATIONS = 100
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The aims this benchmark checks.
AIM_LIST_SHARE_OF_HEALTHZ = 0.5
AIM_LIST_P99_MS = 20.0
AIM_WEB_FIRST_LOAD_KB = 400.0  # wasm + JS + CSS of the first load, gzipped (1 KB = 1,000 bytes)
AIM_WEB_TABLE_MS = 500.0  # navigation to a rendered table of 100 integrations, median

BROWSER_DIR = REPO / "e2e/browser"
MEASURE_LOAD = BROWSER_DIR / "measure-load.mjs"
CHROMIUM_JSON = BROWSER_DIR / "chromium.json"


def log(message: str) -> None:
    print(f"bench: {message}", flush=True)


# --------------------------------------------------------------------------- HTTP


def http(method: str, url: str, body: dict | None = None, token: str | None = None, timeout: float = 30.0) -> tuple[int, bytes]:
    data = None
    headers = {"Accept": "application/json"}
    if body is not None:
        data = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --------------------------------------------------------------------------- CPU accounting


def proc_cpu_seconds(pid: int) -> float | None:
    """utime + stime of a process (all its threads), in seconds."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def pids_named(name: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == name:
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def machine_busy_idle() -> tuple[int, int]:
    parts = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = parts[3] + parts[4]  # idle + iowait
    return sum(parts[:8]) - idle, idle


@dataclass
class CpuSample:
    server: float | None
    postgres: dict[int, float]
    machine: tuple[int, int]


def cpu_sample(server_pid: int, with_postgres: bool) -> CpuSample:
    postgres = {}
    if with_postgres:
        for pid in pids_named("postgres"):
            seconds = proc_cpu_seconds(pid)
            if seconds is not None:
                postgres[pid] = seconds
    return CpuSample(proc_cpu_seconds(server_pid), postgres, machine_busy_idle())


# --------------------------------------------------------------------------- wrk


@dataclass
class WrkResult:
    endpoint: str
    requests_per_sec: float
    p50_ms: float
    p99_ms: float
    requests: int
    non_2xx: int
    socket_errors: str
    transfer_per_sec: str
    server_cpu_pct: float | None = None
    wrk_cpu_pct: float | None = None
    postgres_cpu_pct: float | None = None
    machine_cpu_pct: float | None = None
    raw: str = field(default="", repr=False)


UNIT_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def parse_latency(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text.strip())
    if not match:
        raise ValueError(f"unreadable latency {text!r}")
    return float(match.group(1)) * UNIT_MS[match.group(2)]


def parse_wrk(endpoint: str, output: str) -> WrkResult:
    def find(pattern: str) -> re.Match:
        match = re.search(pattern, output, re.MULTILINE)
        if not match:
            raise ValueError(f"wrk output has no line matching {pattern!r}:\n{output}")
        return match

    non_2xx = re.search(r"^\s*Non-2xx or 3xx responses:\s*(\d+)", output, re.MULTILINE)
    errors = re.search(r"^\s*Socket errors:\s*(.+)$", output, re.MULTILINE)
    return WrkResult(
        endpoint=endpoint,
        requests_per_sec=float(find(r"^Requests/sec:\s*([\d.]+)").group(1)),
        p50_ms=parse_latency(find(r"^\s*50%\s+(\S+)").group(1)),
        p99_ms=parse_latency(find(r"^\s*99%\s+(\S+)").group(1)),
        requests=int(find(r"^\s*(\d+) requests in").group(1)),
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=errors.group(1).strip() if errors else "none",
        transfer_per_sec=find(r"^Transfer/sec:\s*(\S+)").group(1),
        raw=output,
    )


def run_wrk(args: argparse.Namespace, url: str, token: str | None, duration: int, server_pid: int, with_postgres: bool) -> tuple[str, dict]:
    command = ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}s", "--latency", "--timeout", "10s"]
    if token:
        command += ["-H", f"Authorization: Bearer {token}"]
    command.append(url)
    before = cpu_sample(server_pid, with_postgres)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.monotonic()
    wrk = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=duration + 60)
    output = wrk.stdout
    elapsed = time.monotonic() - started
    # wrk is the only child reaped meanwhile, so the children's rusage grew by its CPU time.
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_cpu = (children_after.ru_utime + children_after.ru_stime) - (children_before.ru_utime + children_before.ru_stime)
    after = cpu_sample(server_pid, with_postgres)
    if wrk.returncode != 0:
        raise RuntimeError(f"wrk failed ({wrk.returncode}):\n{output}")
    busy = after.machine[0] - before.machine[0]
    idle = after.machine[1] - before.machine[1]
    postgres = sum(seconds - before.postgres.get(pid, 0.0) for pid, seconds in after.postgres.items())
    usage = {
        "server": None if before.server is None or after.server is None else 100.0 * (after.server - before.server) / elapsed,
        "wrk": 100.0 * wrk_cpu / elapsed,
        "postgres": 100.0 * postgres / elapsed if with_postgres else None,
        "machine": 100.0 * os.cpu_count() * busy / (busy + idle) if busy + idle else None,
    }
    return output, usage


def measure(args: argparse.Namespace, base: str, token: str, server_pid: int, with_postgres: bool) -> list[WrkResult]:
    results = []
    for endpoint, path, auth in (("GET /api/v1/integrations?limit=100", LIST_PATH, token), ("GET /healthz", HEALTH_PATH, None)):
        if args.warmup > 0:
            run_wrk(args, base + path, auth, args.warmup, server_pid, with_postgres)
        output, usage = run_wrk(args, base + path, auth, args.duration, server_pid, with_postgres)
        print(output, flush=True)
        result = parse_wrk(endpoint, output)
        result.server_cpu_pct = usage["server"]
        result.wrk_cpu_pct = usage["wrk"]
        result.postgres_cpu_pct = usage["postgres"]
        result.machine_cpu_pct = usage["machine"]
        results.append(result)
    return results


# --------------------------------------------------------------------------- the server


class Server:
    def __init__(self, binary: Path, data_dir: Path, database_url: str | None, web_dir: Path | None = None) -> None:
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.password = "bench-" + secrets.token_urlsafe(18)
        self.log_path = data_dir / "server.log"
        env = dict(os.environ)
        for key in [k for k in env if k.startswith("SWITCHBOARD_")]:
            del env[key]
        env.update(
            SWITCHBOARD_BIND=f"127.0.0.1:{self.port}",
            SWITCHBOARD_DATA_DIR=str(data_dir),
            SWITCHBOARD_ADMIN_PASSWORD=self.password,
            SWITCHBOARD_LOG_FORMAT="text",
            RUST_LOG="warn",
        )
        if database_url:
            env["SWITCHBOARD_DATABASE_URL"] = database_url
        if web_dir:
            env["SWITCHBOARD_WEB_DIR"] = str(web_dir)
        self.log_file = self.log_path.open("wb")
        self.process = subprocess.Popen([str(binary), "serve"], env=env, stdout=self.log_file, stderr=subprocess.STDOUT)

    def log_tail(self) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])
        except OSError:
            return ""

    def wait_ready(self, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited with {self.process.returncode}:\n{self.log_tail()}")
            try:
                status, _ = http("GET", self.base + "/readyz", timeout=2)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"the server was not ready within {timeout:.0f}s:\n{self.log_tail()}")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                log("the server did not stop within 40s of SIGTERM; killing it")
                self.process.kill()
                self.process.wait()
        self.log_file.close()


def login(server: Server) -> str:
    status, body = http("POST", server.base + "/api/v1/auth/login", {"username": "admin", "password": server.password})
    if status != 200:
        raise RuntimeError(f"login answered {status}: {body[:500]!r}")
    return json.loads(body)["access_token"]


def create_integrations(server: Server, token: str) -> None:
    for i in range(INTEGRATIONS):
        payload = {
            "name": f"Jenkins {i:03d}",
            "tool": "jenkins",
            "urls": {"apiUrl": f"https://jenkins{i:03d}.example.com/"},
            "credentials": {"username": "alice", "apiToken": secrets.token_hex(16)},
        }
        status, body = http("POST", server.base + "/api/v1/integrations", payload, token)
        if status != 201:
            raise RuntimeError(f"creating integration {i} answered {status}: {body[:500]!r}")


def check_list(server: Server, token: str) -> int:
    status, body = http("GET", server.base + LIST_PATH, token=token)
    if status != 200:
        raise RuntimeError(f"the list answered {status}: {body[:500]!r}")
    items = json.loads(body).get("items", [])
    if len(items) != INTEGRATIONS:
        raise RuntimeError(f"the list has {len(items)} items, expected {INTEGRATIONS}")
    return len(body)


@dataclass
class WebRun:
    """The app-load figures from e2e/browser/measure-load.mjs, or why there are none."""

    skipped: str | None = None
    data: dict = field(default_factory=dict)


@dataclass
class BackendRun:
    name: str
    detail: str
    results: list[WrkResult] = field(default_factory=list)
    list_bytes: int = 0
    skipped: str | None = None
    web: WebRun | None = None


def run_backend(args: argparse.Namespace, name: str, detail: str, database_url: str | None, web: WebRun | None = None) -> BackendRun:
    """Measure one backend; with `web` (not skipped) the server also serves the app and the browser measures it."""
    run = BackendRun(name, detail, web=web)
    with_web = web is not None and web.skipped is None
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-") as tmp:
        server = Server(args.binary, Path(tmp), database_url, args.web_dir if with_web else None)
        try:
            log(f"{name}: server pid {server.process.pid} on {server.base}")
            server.wait_ready()
            token = login(server)
            started = time.monotonic()
            create_integrations(server, token)
            log(f"{name}: created {INTEGRATIONS} integrations in {time.monotonic() - started:.1f}s")
            run.list_bytes = check_list(server, token)
            run.results = measure(args, server.base, token, server.process.pid, database_url is not None)
            if server.process.poll() is not None:
                raise RuntimeError(f"the server died during the run:\n{server.log_tail()}")
            if with_web:
                run.web = measure_web(args, server)
        finally:
            server.stop()
            tail = server.log_tail()
            if tail.strip():
                log(f"{name}: server log (last lines):\n{tail}")
    return run


# --------------------------------------------------------------------------- PostgreSQL


def psql(admin_url: str, sql: str) -> str:
    completed = subprocess.run(
        ["psql", admin_url, "-X", "-v", "ON_ERROR_STOP=1", "-Atqc", sql], capture_output=True, text=True, timeout=30
    )
    if completed.returncode != 0:
        raise RuntimeError(completed.stderr.strip() or f"psql exited {completed.returncode}")
    return completed.stdout.strip()


def run_postgres(args: argparse.Namespace) -> BackendRun:
    if args.skip_postgres:
        return BackendRun("PostgreSQL", "", skipped="skipped with --skip-postgres")
    if shutil.which("psql") is None:
        return BackendRun("PostgreSQL", "", skipped="skipped: psql is not installed")
    try:
        version = psql(args.pg_url, "show server_version")
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        return BackendRun("PostgreSQL", "", skipped=f"skipped: PostgreSQL at {redact(args.pg_url)} is unreachable ({err})")
    database = f"switchboard_bench_{secrets.token_hex(4)}"
    psql(args.pg_url, f'CREATE DATABASE "{database}"')
    log(f"PostgreSQL {version}: created database {database}")
    parts = urllib.parse.urlsplit(args.pg_url)
    url = urllib.parse.urlunsplit(parts._replace(path="/" + database))
    try:
        return run_backend(args, "PostgreSQL", f"PostgreSQL {version}, fresh database on 127.0.0.1", url)
    finally:
        try:
            psql(args.pg_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            log(f"dropped database {database}")
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            log(f"could not drop database {database}: {err}")


def redact(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.password:
        netloc = f"{parts.username}:***@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
        return urllib.parse.urlunsplit(parts._replace(netloc=netloc))
    return url


# --------------------------------------------------------------------------- the web app in a browser


def chromium_path() -> Path:
    configured = "/usr/bin/chromium"
    try:
        configured = json.loads(CHROMIUM_JSON.read_text()).get("executablePath", configured)
    except (OSError, ValueError):
        pass
    return Path(os.environ.get("SWITCHBOARD_CHROMIUM") or configured)


def web_prerequisites(args: argparse.Namespace) -> WebRun:
    """A WebRun ready to measure, or skipped with the reason (installs e2e/browser/node_modules if missing)."""
    if args.skip_web:
        return WebRun(skipped="skipped with --skip-web")
    shown = args.web_dir.relative_to(REPO) if args.web_dir.is_relative_to(REPO) else args.web_dir
    if not (args.web_dir / "index.html").is_file():
        return WebRun(skipped=f"`{shown}` does not exist (or has no index.html): build the web app first (`just web`)")
    if shutil.which("node") is None:
        return WebRun(skipped="node is not installed (apt-get install nodejs npm)")
    chromium = chromium_path()
    if not os.access(chromium, os.X_OK):
        return WebRun(skipped=f"Chromium is not installed at {chromium} (apt-get install chromium)")
    if not (BROWSER_DIR / "node_modules/playwright-core/package.json").is_file():
        if shutil.which("npm") is None:
            return WebRun(skipped="e2e/browser/node_modules is missing and npm is not installed")
        log("installing e2e/browser/node_modules (npm ci)")
        env = dict(os.environ, PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD="1")
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=BROWSER_DIR, env=env, capture_output=True, text=True)
        if done.returncode != 0:
            last = (done.stderr or done.stdout).strip().splitlines()[-1:] or [""]
            return WebRun(skipped=f"`npm ci` in e2e/browser failed: {last[0]}")
    return WebRun()


def measure_web(args: argparse.Namespace, server: Server) -> WebRun:
    """Run e2e/browser/measure-load.mjs against the server (which serves the app and holds the integrations)."""
    command = [
        "node", str(MEASURE_LOAD), "--base", server.base, "--username", "admin", "--password", server.password,
        "--runs", str(args.web_runs), "--rows", str(INTEGRATIONS),
    ]
    log("web app: measuring in headless Chromium")
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=900)
    except subprocess.TimeoutExpired:
        return WebRun(skipped="measure-load.mjs did not finish within 15 minutes")
    for line in done.stderr.strip().splitlines():
        log(f"web app: {line}")
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        last = done.stderr.strip().splitlines()[-1:] or [f"exit {done.returncode}"]
        return WebRun(skipped=f"measure-load.mjs failed ({last[0]})")
    try:
        return WebRun(data=json.loads(lines[-1]))
    except ValueError as err:
        return WebRun(skipped=f"measure-load.mjs printed no JSON ({err})")


# --------------------------------------------------------------------------- facts about the run


def command_output(command: list[str]) -> str:
    try:
        completed = subprocess.run(command, capture_output=True, text=True, timeout=30, cwd=REPO)
        return (completed.stdout or completed.stderr).strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine_facts() -> dict[str, str]:
    model = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    except OSError:
        pass
    commit = command_output(["git", "rev-parse", "--short=12", "HEAD"]) or "unknown"
    changed = command_output(["git", "diff", "--name-only", "HEAD"]).splitlines()
    # Name where the uncommitted changes are (top-level entries), so a reader can tell whether
    # the server's code differed from the commit.
    tops = sorted({path.split("/")[0] for path in changed if path.strip()})
    dirty = ", ".join(tops)
    wrk_version = command_output(["wrk", "-v"]).splitlines()
    return {
        "nproc": command_output(["nproc"]) or str(os.cpu_count()),
        "cpu": model,
        "memory": memory,
        "kernel": platform.release(),
        "commit": commit + (f"` with uncommitted changes in `{dirty}" if dirty else ""),
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "wrk": wrk_version[0].split(" [")[0] if wrk_version else "wrk",
        "rustc": command_output(["rustc", "--version"]),
    }


# --------------------------------------------------------------------------- the report


def fmt_ms(value: float) -> str:
    return f"{value * 1000:.0f} µs" if value < 1 else f"{value:.2f} ms"


def fmt_pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}%"


def verdicts(run: BackendRun) -> tuple[float, bool, bool, WrkResult, WrkResult]:
    listing, health = run.results
    ratio = listing.requests_per_sec / health.requests_per_sec if health.requests_per_sec else 0.0
    return ratio, ratio >= AIM_LIST_SHARE_OF_HEALTHZ, listing.p99_ms < AIM_LIST_P99_MS, listing, health


def fmt_kb(size: float) -> str:
    return f"{size / 1000:,.1f} KB"


def web_verdicts(web: WebRun) -> tuple[float | None, float | None]:
    """(first-load app bytes gzipped, median cold table ms), each None when not measured."""
    if web.skipped or not web.data:
        return None, None
    transfer, load = web.data.get("transfer", {}), web.data.get("load", {})
    size = transfer.get("app", {}).get("gzip") if transfer.get("rendered") else None
    cold = load.get("cold") if load.get("reached") else None
    return size, (cold or {}).get("median_ms")


def web_section(args: argparse.Namespace, web: WebRun | None) -> list[str]:
    lines = ["## Web app", ""]
    if web is None:
        return lines + ["Not measured: the SQLite run did not reach it.", ""]
    if web.skipped:
        return lines + [f"Not measured: {web.skipped}.", ""]
    data = web.data
    transfer, load = data["transfer"], data["load"]
    shown = args.web_dir.relative_to(REPO) if args.web_dir.is_relative_to(REPO) else args.web_dir
    try:
        built = dt.datetime.fromtimestamp((args.web_dir / "index.html").stat().st_mtime, dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    except OSError:
        built = "unknown"
    lines += [
        f"`{shown}` (index.html written {built}), served by the SQLite server above and measured after wrk in",
        f"headless Chromium {data.get('chromium', '')} by [`e2e/browser/measure-load.mjs`](e2e/browser/measure-load.mjs). 1 KB = 1,000 bytes.",
        "",
        "### First load of `/login`",
        "",
        "Everything a fresh browser context (empty cache) fetches loading `/login` with `Accept-Encoding: gzip`, until",
        "the network is idle. On the wire: the response bodies as received. Gzipped: the same when the server sent",
        "gzip, else `gzip -6` of the body"
        + (" (the server sent the app's files gzipped)." if transfer.get("server_gzips") else " (the server sent the app's files uncompressed)."),
        "",
    ]
    if not transfer.get("rendered"):
        lines += [f"The app did not render the sign-in page: {(transfer.get('error') or 'unknown error').rstrip('.')}.", ""]
    names = {"wasm": "wasm", "js": "JS", "css": "CSS", "other": "other (HTML, icons, API)"}
    zero = {"count": 0, "raw": 0, "transferred": 0, "gzip": 0}
    lines += ["| what | files | raw | on the wire | gzipped |", "|---|---:|---:|---:|---:|"]
    rows = [(names[k], transfer["by_kind"].get(k, zero)) for k in names]
    rows += [("**app: wasm + JS + CSS**", transfer["app"]), ("**everything**", transfer["total"])]
    for label, sizes in rows:
        lines.append(f"| {label} | {sizes['count']} | {fmt_kb(sizes['raw'])} | {fmt_kb(sizes['transferred'])} | {fmt_kb(sizes['gzip'])} |")
    lines += [
        "",
        f"### Integrations table with {load['rows']} rows",
        "",
        "From the start of the navigation to `/integrations` (signed in by putting the session into sessionStorage)",
        f"until the table holds {load['rows']} rows (`tbody tr`, seen by a MutationObserver; `performance.now()`).",
        "Cold: a fresh browser context each run (empty HTTP cache); warm: a second navigation in the same context.",
        "",
    ]
    if load.get("failure"):
        lines += [f"Not reached: {load['failure'].rstrip('.')}.", ""]
    if load.get("cold"):
        lines += ["| load | median | min | max | runs (ms) | median, next frame |", "|---|---:|---:|---:|---|---:|"]
        for label in ("cold", "warm"):
            r = load.get(label)
            if r:
                runs_ms = ", ".join(f"{v:.0f}" for v in r["runs_ms"])
                lines.append(
                    f"| {label} | {r['median_ms']:.0f} ms | {r['min_ms']:.0f} ms | {r['max_ms']:.0f} ms | {runs_ms} | {r['median_frame_ms']:.0f} ms |"
                )
        lines.append("")
    size, table_ms = web_verdicts(web)
    size_result = "not measured" if size is None else f"{'met' if size / 1000 < AIM_WEB_FIRST_LOAD_KB else '**not met**'} ({fmt_kb(size)})"
    table_result = "not measured" if table_ms is None else f"{'met' if table_ms < AIM_WEB_TABLE_MS else '**not met**'} ({table_ms:.0f} ms)"
    lines += [
        "### Aims for the web app",
        "",
        "| aim | result |",
        "|---|---|",
        f"| first load (wasm + JS + CSS, gzipped) under {AIM_WEB_FIRST_LOAD_KB:.0f} KB | {size_result} |",
        f"| table with {INTEGRATIONS} rows under {AIM_WEB_TABLE_MS:.0f} ms (median, cold) | {table_result} |",
        "",
    ]
    return lines


def report(args: argparse.Namespace, facts: dict[str, str], runs: list[BackendRun]) -> str:
    lines = [
        "# Benchmarks",
        "",
        f"Generated by `just bench` ([`e2e/bench.py`](e2e/bench.py)) on {facts['date']}. The tables come from that run",
        "alone; rerun `just bench` to refresh them. The section \"What limits it\" is kept in",
        "[`e2e/bench-notes.md`](e2e/bench-notes.md) and copied here on every run (or alone, with",
        "`python3 e2e/bench.py --notes-only`).",
        "",
        "## Setup",
        "",
        f"- Machine: {facts['nproc']} cores (`nproc`), {facts['cpu']}, {facts['memory']} memory, Linux {facts['kernel']}.",
        f"- Code: commit `{facts['commit']}`, release build (`cargo build --release`), {facts['rustc']}.",
        "- Server: `switchboard serve` with its defaults (one HTTP worker per core; a database pool of twice the cores, at least 4",
        "  connections), `RUST_LOG=warn`, a fresh data directory, listening on a free loopback port.",
        f"- Load: {facts['wrk']}, {args.threads} threads, {args.connections} connections, {args.duration} s per endpoint"
        + (f" after a {args.warmup} s warm-up" if args.warmup else "")
        + ", `--latency`.",
        "  wrk runs on the same machine and shares its cores with the server (and with PostgreSQL).",
        f"- Data: {INTEGRATIONS} jenkins integrations created through the API. The list endpoint is",
        f"  `GET {LIST_PATH}` with `Authorization: Bearer <token>`: it returns all {INTEGRATIONS} in one page.",
        "- CPU columns: CPU time each process used during the measured run divided by its wall time",
        f"  (100% = one core; the machine has {facts['nproc']}), read from `/proc`.",
        "",
    ]
    measured = [run for run in runs if not run.skipped]
    for run in runs:
        lines += [f"## {run.name}", ""]
        if run.skipped:
            lines += [f"Not measured: {run.skipped}.", ""]
            continue
        ratio, _, _, listing, health = verdicts(run)
        pg = run.name == "PostgreSQL"
        lines += [
            f"{run.detail}. List response: {run.list_bytes:,} bytes of JSON.",
            "",
            "| endpoint | req/s | p50 | p99 | requests | non-2xx | server CPU | wrk CPU |" + (" postgres CPU |" if pg else "") + " whole machine |",
            "|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if pg else "") + "---:|",
        ]
        for result in (listing, health):
            lines.append(
                f"| `{result.endpoint}` | {result.requests_per_sec:,.0f} | {fmt_ms(result.p50_ms)} | {fmt_ms(result.p99_ms)}"
                f" | {result.requests:,} | {result.non_2xx} | {fmt_pct(result.server_cpu_pct)} | {fmt_pct(result.wrk_cpu_pct)}"
                + (f" | {fmt_pct(result.postgres_cpu_pct)}" if pg else "")
                + f" | {fmt_pct(result.machine_cpu_pct)} |"
            )
        errors = [f"{r.endpoint}: {r.socket_errors}" for r in (listing, health) if r.socket_errors != "none"]
        lines += [
            "",
            f"List / `/healthz` requests per second: **{ratio:.2f}** ({ratio * 100:.0f}%).",
            "",
        ]
        if errors:
            lines += ["wrk socket errors: " + "; ".join(errors) + ".", ""]
    lines += web_section(args, runs[0].web if runs else None)
    lines += [
        "## Aims",
        "",
        f"- The list serves at least {AIM_LIST_SHARE_OF_HEALTHZ:.0%} of the requests per second of `/healthz`.",
        f"- The list's p99 latency stays under {AIM_LIST_P99_MS:.0f} ms at {args.connections} connections.",
        "",
        f"| backend | list ≥ {AIM_LIST_SHARE_OF_HEALTHZ:.0%} of /healthz req/s | list p99 < {AIM_LIST_P99_MS:.0f} ms |",
        "|---|---|---|",
    ]
    for run in runs:
        if run.skipped:
            lines.append(f"| {run.name} | not measured | not measured |")
            continue
        ratio, share_ok, p99_ok, listing, _ = verdicts(run)
        clean = all(r.non_2xx == 0 and r.socket_errors == "none" for r in run.results)
        suffix = "" if clean else " (with errors: see above)"
        lines.append(
            f"| {run.name} | {'met' if share_ok else '**not met**'} ({ratio * 100:.0f}%){suffix}"
            f" | {'met' if p99_ok else '**not met**'} ({fmt_ms(listing.p99_ms)}){suffix} |"
        )
    if not measured:
        lines.append("")
        lines.append("Nothing was measured.")
    lines += ["", NOTES_HEADING, "", notes_section(args), ""]
    return "\n".join(lines)


NOTES_HEADING = "## What limits it"


def notes_section(args: argparse.Namespace) -> str:
    notes = args.notes.read_text() if args.notes.is_file() else ""
    if notes.strip():
        return notes.strip()
    shown = args.notes.relative_to(REPO) if args.notes.is_relative_to(REPO) else args.notes
    return f"_No notes yet: write them in `{shown}`._"


def refresh_notes(args: argparse.Namespace) -> int:
    """Replace the notes in an existing report, keeping its measured tables."""
    try:
        text = args.out.read_text()
    except OSError as err:
        print(f"bench: cannot read {args.out}: {err}; run a benchmark first", file=sys.stderr)
        return 1
    if NOTES_HEADING not in text:
        print(f"bench: {args.out} has no {NOTES_HEADING!r} section", file=sys.stderr)
        return 1
    head = text[: text.index(NOTES_HEADING)]
    args.out.write_text(f"{head}{NOTES_HEADING}\n\n{notes_section(args)}\n")
    log(f"copied {args.notes} into {args.out}")
    return 0


def main() -> int:
    default_target = Path(os.environ.get("CARGO_TARGET_DIR", Path.home() / ".cache/switchboard/target"))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", type=Path, default=default_target / "release/switchboard", help="the release `switchboard` binary")
    parser.add_argument("--out", type=Path, default=REPO / "BENCHMARKS.md")
    parser.add_argument("--notes", type=Path, default=REPO / "e2e/bench-notes.md", help="analysis copied under \"What limits it\"")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured endpoint")
    parser.add_argument("--warmup", type=int, default=2, help="seconds of unmeasured load before each endpoint")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--pg-url", default=os.environ.get("SWITCHBOARD_BENCH_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres"),
                        help="PostgreSQL to create the benchmark database in")
    parser.add_argument("--skip-postgres", action="store_true")
    parser.add_argument("--web-dir", type=Path, default=REPO / "frontend/dist", help="the built web app the SQLite server serves")
    parser.add_argument("--web-runs", type=int, default=5, help="browser runs for the table timing (median)")
    parser.add_argument("--skip-web", action="store_true", help="leave out the \"Web app\" section's measurements")
    parser.add_argument("--notes-only", action="store_true",
                        help="measure nothing: copy the notes into the existing output's \"What limits it\" section")
    args = parser.parse_args()
    args.binary = args.binary.resolve()
    args.out = args.out if args.out.is_absolute() else (Path.cwd() / args.out)
    args.notes = args.notes.resolve()
    args.web_dir = args.web_dir.resolve()

    if args.notes_only:
        return refresh_notes(args)
    if not args.binary.is_file():
        print(f"bench: no server binary at {args.binary}; run `just build` first", file=sys.stderr)
        return 1
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1

    started = time.monotonic()
    facts = machine_facts()
    log(f"{facts['nproc']} cores, {facts['cpu']}; commit {facts['commit']}")
    web = web_prerequisites(args)
    if web.skipped:
        log(f"web app: {web.skipped}")
    runs = [run_backend(args, "SQLite", "SQLite (bundled) in a fresh data directory", None, web)]
    runs.append(run_postgres(args))
    for run in runs:
        if run.skipped:
            log(f"{run.name}: {run.skipped}")
    args.out.write_text(report(args, facts, runs))
    log(f"wrote {args.out} in {time.monotonic() - started:.0f}s")
    for run in runs:
        if run.skipped:
            continue
        ratio, share_ok, p99_ok, listing, health = verdicts(run)
        log(
            f"{run.name}: list {listing.requests_per_sec:,.0f} req/s p50 {fmt_ms(listing.p50_ms)} p99 {fmt_ms(listing.p99_ms)};"
            f" healthz {health.requests_per_sec:,.0f} req/s p50 {fmt_ms(health.p50_ms)} p99 {fmt_ms(health.p99_ms)};"
            f" ratio {ratio:.2f}; aims: share {'met' if share_ok else 'NOT met'}, p99 {'met' if p99_ok else 'NOT met'}"
        )
    if runs[0].web is not None and not runs[0].web.skipped:
        size, table_ms = web_verdicts(runs[0].web)
        log(
            "web app: first load "
            + ("not measured" if size is None else f"{fmt_kb(size)} gzipped ({'met' if size / 1000 < AIM_WEB_FIRST_LOAD_KB else 'NOT met'})")
            + f"; {INTEGRATIONS}-row table "
            + ("not measured" if table_ms is None else f"{table_ms:.0f} ms median ({'met' if table_ms < AIM_WEB_TABLE_MS else 'NOT met'})")
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
