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

Then, against the Jenkins simulator (e2e/jenkins-sim, release build, --sim-binary), on SQLite and
then PostgreSQL, each on a fresh server:

  * discovery of 10,000 jobs in nested folders: the client's wall time and the server's
    `duration_ms` and `requests` of `POST /api/v1/integrations/{id}/sync` (first, no change,
    after the tree changed) and of the first sync that starts when an integration is saved;
  * the run result delay: runs of short builds are triggered through the API and read every
    20 ms; the delay is when the API first shows the final status minus the run's `finished_at`
    (Jenkins' timestamp + duration). The run monitor keeps its default polling intervals.

The tables in the output are generated from this run only (except with --jenkins-only, which
measures just the two Jenkins parts and puts their sections into the existing output, keeping
the others and saying so in its header); the "What limits it" section is copied from
e2e/bench-notes.md so that reruns keep the analysis.

Standard library only (the browser part needs node and Debian's chromium). Usage:
python3 e2e/bench.py --binary PATH --sim-binary PATH [--out BENCHMARKS.md]
(--skip-wrk / --skip-web / --skip-postgres / --skip-discovery / --skip-delay leave parts out)
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import datetime as dt
import json
import math
import os
import platform
import random
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
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
DISCOVERY_JOBS = 10_000
AIM_SYNC_S = 3.0  # every sync of the 10,000 jobs, wall time seen by the client, on SQLite
AIM_SYNC_REQUESTS = 20  # requests to Jenkins per sync (fewer than)
AIM_RESULT_DELAY_S = 2.0  # build finished in Jenkins → the API shows the result

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
    def __init__(self, binary: Path, data_dir: Path, database_url: str | None, web_dir: Path | None = None,
                 extra_env: dict[str, str] | None = None) -> None:
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
        env.update(extra_env or {})
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


def postgres_version(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """(the server's version, None) when PostgreSQL can be used, else (None, why not)."""
    if args.skip_postgres:
        return None, "skipped with --skip-postgres"
    if shutil.which("psql") is None:
        return None, "skipped: psql is not installed"
    try:
        return psql(args.pg_url, "show server_version"), None
    except (RuntimeError, subprocess.TimeoutExpired) as err:
        return None, f"skipped: PostgreSQL at {redact(args.pg_url)} is unreachable ({err})"


@contextlib.contextmanager
def fresh_database(args: argparse.Namespace, version: str):
    """A new, empty database (its URL) that is dropped afterwards."""
    database = f"switchboard_bench_{secrets.token_hex(4)}"
    psql(args.pg_url, f'CREATE DATABASE "{database}"')
    log(f"PostgreSQL {version}: created database {database}")
    parts = urllib.parse.urlsplit(args.pg_url)
    try:
        yield urllib.parse.urlunsplit(parts._replace(path="/" + database))
    finally:
        try:
            psql(args.pg_url, f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            log(f"dropped database {database}")
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            log(f"could not drop database {database}: {err}")


def run_postgres(args: argparse.Namespace) -> BackendRun:
    version, skipped = postgres_version(args)
    if skipped:
        return BackendRun("PostgreSQL", "", skipped=skipped)
    with fresh_database(args, version) as url:
        return run_backend(args, "PostgreSQL", f"PostgreSQL {version}, fresh database on 127.0.0.1", url)


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


# --------------------------------------------------------------------------- Jenkins: the simulator


SIM_USER = "admin"
# The Jenkins connector's discovery (crates/connectors/src/jenkins/discover.rs): one `tree=`
# request nests this many levels of `jobs`; containers deeper down get a request of their own.
DISCOVERY_LEVELS = 5
JOB_FIELDS = (
    "_class,name,url,color,buildable,"
    "property[parameterDefinitions[name,type,description,defaultParameterValue[value],choices]],"
    "lastBuild[number,result,building,timestamp,url]"
)
FINAL_STATUSES = {"succeeded", "failed", "unstable", "cancelled", "skipped", "error"}


def discovery_tree() -> str:
    tree = "jobs[name]{0,1}"
    for _ in range(DISCOVERY_LEVELS):
        tree = f"jobs[{JOB_FIELDS},{tree}]"
    return tree


class Sim:
    """A `jenkins-sim` process on 127.0.0.1 (a free port, or `port` to come back on the same URL)."""

    def __init__(self, binary: Path, config: dict, work: Path, label: str, port: int | None = None) -> None:
        self.work = work
        self.label = label
        self.config_path = work / f"{label}.json"
        self.config_path.write_text(json.dumps(config))
        self.out_path = work / f"{label}.out"
        self.err_path = work / f"{label}.log"
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        env = dict(os.environ, JENKINS_SIM_LOG="jenkins_sim=warn")
        deadline = time.monotonic() + 30
        while True:
            with self.out_path.open("wb") as out, self.err_path.open("ab") as err:
                self.process = subprocess.Popen(
                    [str(binary), "--config", str(self.config_path), "--bind", f"127.0.0.1:{self.port}"],
                    env=env, stdout=out, stderr=err,
                )
            if self._wait_listening(deadline):
                return
            # The port may still be held by the previous simulator on it: try again shortly.
            if time.monotonic() > deadline:
                raise RuntimeError(f"jenkins-sim {label} did not start:\n{self.err_path.read_text(errors='replace')[-2000:]}")
            time.sleep(0.3)

    def _wait_listening(self, deadline: float) -> bool:
        while time.monotonic() < deadline:
            text = self.out_path.read_text(errors="replace")
            if "listening on" in text and "jobs" in text:
                self.jobs = int(re.search(r"^(\d+) jobs", text, re.MULTILINE).group(1))
                return True
            if self.process.poll() is not None:
                return False
            time.sleep(0.05)
        return False

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)  # its Ctrl-C handler stops gracefully
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def sim_user(token: str) -> dict:
    return {
        "name": SIM_USER,
        "full_name": "Bench Admin",
        "tokens": [token],
        "permissions": ["Overall/Read", "Job/Read", "Job/Build", "Job/Cancel"],
    }


def tree_jobs(changed: bool = False) -> list[dict]:
    """10,000 buildable jobs over nested folders (see DISCOVERY_TREE_TEXT); `changed` moves one
    project folder (45 jobs) elsewhere, so a sync finds 45 removed and 45 added."""
    counter = 0

    def job(name: str) -> dict:
        nonlocal counter
        counter += 1
        item = {
            "name": name,
            "type": "pipeline" if counter % 2 == 0 else "freestyle",
            "history": [("SUCCESS", "FAILURE", "UNSTABLE")[counter % 3]],
            "build": {"duration_ms": 1000},
        }
        if counter % 5 == 0:
            item["parameters"] = [
                {"type": "choice", "name": "ENVIRONMENT", "choices": ["staging", "production"]},
                {"type": "string", "name": "VERSION", "default": "latest", "description": "Image tag"},
            ]
        return item

    def project(name: str) -> dict:
        jobs = [job(f"job-{k:02d}") for k in range(40)]
        branches = [{"name": b, "history": ["SUCCESS"]} for b in ("main", "develop", "release/1.0", "feature/login", "feature/search")]
        jobs.append({"name": "service", "type": "multibranch", "branches": branches})
        return {"name": name, "type": "folder", "jobs": jobs}

    root = [job(f"tool-{i:02d}") for i in range(50)]
    for t in range(10):
        team = [job(f"team-job-{i}") for i in range(10)]
        for g in range(5):
            group = [job(f"group-job-{i}") for i in range(2)]
            for p in range(4):
                if changed and (t, g, p) == (9, 4, 3):
                    continue
                group.append(project(f"project-{p}"))
            team.append({"name": f"group-{g}", "type": "folder", "jobs": group})
        root.append({"name": f"team-{t:02d}", "type": "folder", "jobs": team})
    if changed:
        moved = {"name": "group-0", "type": "folder", "jobs": [project("project-0")]}
        root.append({"name": "team-10", "type": "folder", "jobs": [moved]})
    batches = [{"name": f"batch-{b}", "type": "folder", "jobs": [job(f"old-job-{k:03d}") for k in range(150)]} for b in range(4)]
    chain = {"name": "older", "type": "folder", "jobs": batches}
    for name in ("old", "archive", "legacy"):
        chain = {"name": name, "type": "folder", "jobs": [chain]}
    root.append(chain)
    repos = [
        {"name": f"repo-{r:02d}", "type": "multibranch", "branches": [{"name": f"branch-{b}", "history": ["SUCCESS"]} for b in range(10)]}
        for r in range(15)
    ]
    root.append({"name": "github-org", "type": "organization_folder", "jobs": repos})
    return root


DISCOVERY_TREE_TEXT = (
    "50 jobs at the root; 10 team folders, each with 10 jobs and 5 group folders; each group with 2 jobs and 4 project folders; "
    "each project with 40 jobs and a multibranch project of 5 branches (jobs 4 levels deep, branches 5: 9,000 of the jobs); "
    "a `legacy/archive/old/older` chain with 4 folders of 150 jobs each 6 levels deep (600 jobs; the only folders below the "
    "connector's 5 levels per request); an organization folder with 15 multibranch repositories of 10 branches (150). "
    "Jobs alternate freestyle/pipeline, every fifth has two parameters, each has one completed build"
)


def count_jobs(items: list[dict]) -> int:
    total = 0
    for item in items:
        if item["type"] in ("folder", "organization_folder"):
            total += count_jobs(item["jobs"])
        elif item["type"] == "multibranch":
            total += len(item["branches"])
        else:
            total += 1
    return total


def tool_side_discovery(base: str, token: str) -> dict:
    """The connector's discovery requests sent from here (same `tree=`, same follow-ups): how many,
    how many bytes, and the time spent waiting for the answers (parsing here is not counted)."""
    auth = "Basic " + base64.b64encode(f"{SIM_USER}:{token}".encode()).decode()
    tree = urllib.parse.quote_plus(discovery_tree(), safe="*")
    requests = 0
    size = 0
    waited = 0.0
    jobs = 0

    def fetch(path: str) -> dict:
        nonlocal requests, size, waited
        started = time.monotonic()
        request = urllib.request.Request(f"{base}{path}api/json?tree={tree}", headers={"Authorization": auth})
        with urllib.request.urlopen(request, timeout=120) as response:
            body = response.read()
        waited += time.monotonic() - started
        requests += 1
        size += len(body)
        return json.loads(body)

    pending: list[list[str]] = []

    def walk(nodes: list[dict], parent: list[str], level: int) -> None:
        nonlocal jobs
        for node in nodes:
            path = parent + [node.get("name", "")]
            cls = node.get("_class", "")
            container = cls in ("com.cloudbees.hudson.plugins.folder.Folder", "jenkins.branch.OrganizationFolder") or "MultiBranchProject" in cls
            if container:
                children = node.get("jobs")
                if level >= DISCOVERY_LEVELS:
                    if children is None or children:
                        pending.append(path)
                else:
                    walk(children or [], path, level + 1)
            elif "color" in node:
                jobs += 1

    walk(fetch("").get("jobs", []), [], 1)
    while pending:
        path = pending.pop()
        prefix = "".join(f"job/{urllib.parse.quote(name, safe='')}/" for name in path)
        walk(fetch(prefix).get("jobs", []), path, 1)
    return {"requests": requests, "bytes": size, "seconds": waited, "jobs": jobs}


# --------------------------------------------------------------------------- Jenkins: discovery


@dataclass
class SyncRow:
    label: str
    wall_s: float  # measured here
    report: dict  # the server's SyncReport
    server_cpu_s: float | None = None
    sim_cpu_s: float | None = None
    postgres_cpu_s: float | None = None


@dataclass
class DiscoveryRun:
    name: str
    skipped: str | None = None
    detail: str = ""
    jobs: int = 0
    rows: list[SyncRow] = field(default_factory=list)
    tool_side: dict = field(default_factory=dict)
    load: str = ""
    on_save_create_s: float | None = None


class CpuMeter:
    """CPU seconds used by the server, the simulator and PostgreSQL between start() and stop()."""

    def __init__(self, server_pid: int, sim_pid: int, with_postgres: bool) -> None:
        self.pids = {"server": [server_pid], "sim": [sim_pid]}
        self.with_postgres = with_postgres

    def _read(self) -> dict[str, dict[int, float]]:
        pids = dict(self.pids)
        if self.with_postgres:
            pids["postgres"] = pids_named("postgres")
        return {who: {pid: proc_cpu_seconds(pid) or 0.0 for pid in found} for who, found in pids.items()}

    def start(self) -> None:
        self.before = self._read()

    def stop(self) -> dict[str, float | None]:
        after = self._read()
        used: dict[str, float | None] = {}
        for who, now in after.items():
            used[who] = sum(seconds - self.before.get(who, {}).get(pid, 0.0) for pid, seconds in now.items())
        used.setdefault("postgres", None)
        return used


def create_jenkins_integration(server: Server, token: str, name: str, url: str, sim_token: str) -> tuple[dict, float]:
    payload = {"name": name, "tool": "jenkins", "urls": {"apiUrl": url}, "credentials": {"username": SIM_USER, "apiToken": sim_token}}
    started = time.monotonic()
    status, body = http("POST", server.base + "/api/v1/integrations", payload, token, timeout=60)
    elapsed = time.monotonic() - started
    if status != 201:
        raise RuntimeError(f"creating integration {name!r} answered {status}: {body[:500]!r}")
    return json.loads(body), elapsed


def get_integration(server: Server, token: str, integration_id: str) -> dict:
    status, body = http("GET", f"{server.base}/api/v1/integrations/{integration_id}", token=token)
    if status != 200:
        raise RuntimeError(f"reading integration {integration_id} answered {status}: {body[:500]!r}")
    return json.loads(body)


def timed_sync(server: Server, token: str, integration_id: str, label: str, meter: CpuMeter) -> SyncRow:
    meter.start()
    started = time.monotonic()
    status, body = http("POST", f"{server.base}/api/v1/integrations/{integration_id}/sync", token=token, timeout=300)
    wall = time.monotonic() - started
    used = meter.stop()
    if status != 200:
        raise RuntimeError(f"sync ({label}) answered {status}: {body[:800]!r}")
    report = json.loads(body)
    log(f"  {label}: {wall * 1000:.0f} ms here, server {report['duration_ms']} ms, {report['requests']} requests, "
        f"+{report['added']} ~{report['updated']} -{report['removed']} = {report['total']}")
    return SyncRow(label, wall, report, used["server"], used["sim"], used["postgres"])


def run_discovery(args: argparse.Namespace, name: str, detail: str, database_url: str | None) -> DiscoveryRun:
    run = DiscoveryRun(name, detail=detail, load=load_average())
    sim_token = "11" + secrets.token_hex(16)
    base_config = {"executors": 2, "users": [sim_user(sim_token)]}
    jobs, changed_jobs = tree_jobs(), tree_jobs(changed=True)
    run.jobs = count_jobs(jobs)
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-discovery-") as tmp:
        work = Path(tmp)
        (work / "data").mkdir()
        server = Server(args.binary, work / "data", database_url)
        sim: Sim | None = None
        try:
            log(f"discovery on {name}: server pid {server.process.pid} on {server.base}")
            server.wait_ready()
            token = login(server)
            # Created while nothing listens on the simulator's port: the check on save fails, so
            # no discovery starts in the background and the first POST /sync finds every job.
            port = free_port()
            url = f"http://127.0.0.1:{port}/"
            integration, _ = create_jenkins_integration(server, token, "Jenkins 10k", url, sim_token)
            if integration.get("last_sync") is not None or integration.get("status") == "connected":
                raise RuntimeError(f"the integration connected before the simulator ran: {integration}")
            sim = Sim(args.sim_binary, {**base_config, "jobs": jobs}, work, "tree", port)
            if sim.jobs != run.jobs:
                raise RuntimeError(f"the simulator reports {sim.jobs} jobs, expected {run.jobs}")
            log(f"  jenkins-sim pid {sim.process.pid} at {sim.url} with {sim.jobs} jobs")
            meter = CpuMeter(server.process.pid, sim.process.pid, database_url is not None)
            run.rows.append(timed_sync(server, token, integration["id"], "first sync, `POST /sync` (store empty)", meter))
            for i in range(args.nochange_syncs):
                run.rows.append(timed_sync(server, token, integration["id"], f"no change #{i + 1}", meter))
            shown = get_integration(server, token, integration["id"])
            if shown.get("pipelines") != run.jobs:
                raise RuntimeError(f"the integration shows {shown.get('pipelines')} pipelines, expected {run.jobs}")
            # The same requests from here, for what the simulator and loopback alone cost.
            run.tool_side = tool_side_discovery(sim.url, sim_token)
            if run.tool_side["jobs"] != run.jobs or run.tool_side["requests"] != run.rows[-1].report["requests"]:
                raise RuntimeError(f"the script's copy of the discovery found {run.tool_side}, the server {run.rows[-1].report}")
            log(f"  the same requests from Python: {run.tool_side['requests']} requests, {run.tool_side['bytes'] / 1e6:.1f} MB, "
                f"{run.tool_side['seconds'] * 1000:.0f} ms waiting")
            # The tree changes: a simulator with one project folder moved comes up on the same URL.
            sim.stop()
            sim = Sim(args.sim_binary, {**base_config, "jobs": changed_jobs}, work, "tree-changed", port)
            meter = CpuMeter(server.process.pid, sim.process.pid, database_url is not None)
            run.rows.append(timed_sync(server, token, integration["id"], "after the tree changed (simulator restarted)", meter))
            run.rows.append(timed_sync(server, token, integration["id"], "no change after that", meter))
            # A fresh integration's first sync, which starts in the background when it is saved.
            meter.start()
            started = time.monotonic()
            created, run.on_save_create_s = create_jenkins_integration(server, token, "Jenkins 10k on save", sim.url, sim_token)
            report = None
            while time.monotonic() - started < 300:
                report = get_integration(server, token, created["id"]).get("last_sync")
                if report:
                    break
                time.sleep(0.02)
            wall = time.monotonic() - started
            used = meter.stop()
            if not report:
                raise RuntimeError(f"the integration created on save showed no last_sync within 300 s:\n{server.log_tail()}")
            run.rows.append(SyncRow("first sync on save (create → `last_sync` shown)", wall, report, used["server"], used["sim"], used["postgres"]))
            log(f"  on save: {wall * 1000:.0f} ms from create to last_sync (create answered in {run.on_save_create_s * 1000:.0f} ms), "
                f"server {report['duration_ms']} ms, {report['requests']} requests, +{report['added']}")
            if server.process.poll() is not None:
                raise RuntimeError(f"the server died during the run:\n{server.log_tail()}")
        finally:
            if sim:
                sim.stop()
            server.stop()
            tail = server.log_tail()
            if tail.strip():
                log(f"discovery on {name}: server log (last lines):\n{tail}")
    return run


# --------------------------------------------------------------------------- Jenkins: run result delay


# (name, build duration ms, result). The short builds' lengths step by 200 ms, so that they end at
# different phases of the monitor's 500 ms polling (lengths all a multiple of it would end at one phase).
LATENCY_JOBS = [(f"build-{1 + 0.2 * i:.1f}s", 1000 + 200 * i, ("SUCCESS", "FAILURE", "UNSTABLE")[i % 3]) for i in range(10)]
# Long enough for the monitor to back off to its 2 s maximum; the lengths step by 400 ms for the same reason.
LONG_JOBS = [(f"long-{24 + 0.4 * i:.1f}s", 24_000 + 400 * i, "SUCCESS") for i in range(5)]
LONG_WAVE = "long builds at once"
LATENCY_QUIET_MS = 100


@dataclass
class FollowedRun:
    pipeline: str
    wave: str
    status: str
    finished_at: float  # epoch s, from the run (the simulator's timestamp + duration)
    seen: float  # epoch s, when the answer showing the final status arrived here
    last_unfinished_sent: float | None  # when the last poll that still showed it active was sent
    triggered: float
    created_at: float
    started_at: float | None
    duration_ms: int | None
    polls: int

    @property
    def delay(self) -> float:
        return self.seen - self.finished_at


@dataclass
class DelayRun:
    name: str
    skipped: str | None = None
    runs: list[FollowedRun] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    load: str = ""


def epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def follow_one(server: Server, token: str, pipeline: dict, wave: str, poll_s: float, out: list, errors: list) -> None:
    try:
        triggered = time.time()
        body = {"parameters": {"RUN": secrets.token_hex(4)}}
        status, answer = http("POST", f"{server.base}/api/v1/pipelines/{pipeline['id']}/runs", body, token)
        if status != 202:
            raise RuntimeError(f"triggering {pipeline['full_path']} answered {status}: {answer[:300]!r}")
        run_id = json.loads(answer)["id"]
        polls = 0
        last_unfinished = None
        deadline = time.monotonic() + 120
        while True:
            sent = time.time()
            status, answer = http("GET", f"{server.base}/api/v1/runs/{run_id}", token=token)
            seen = time.time()
            polls += 1
            if status != 200:
                raise RuntimeError(f"reading run {run_id} answered {status}: {answer[:300]!r}")
            run = json.loads(answer)
            if run["status"] in FINAL_STATUSES:
                break
            last_unfinished = sent
            if time.monotonic() > deadline:
                raise RuntimeError(f"run {run_id} of {pipeline['full_path']} was still {run['status']} after 120 s")
            time.sleep(max(0.0, poll_s - (time.time() - sent)))
        if not run.get("finished_at"):
            raise RuntimeError(f"run {run_id} ended {run['status']} without finished_at: {run}")
        out.append(FollowedRun(
            pipeline=pipeline["full_path"], wave=wave, status=run["status"], finished_at=epoch(run["finished_at"]), seen=seen,
            last_unfinished_sent=last_unfinished, triggered=triggered, created_at=epoch(run["created_at"]),
            started_at=epoch(run["started_at"]) if run.get("started_at") else None, duration_ms=run.get("duration_ms"), polls=polls,
        ))
    except Exception as err:  # noqa: BLE001 - reported in the output
        errors.append(f"{pipeline.get('full_path')}: {err}")


def run_delay(args: argparse.Namespace, name: str, database_url: str | None) -> DelayRun:
    result = DelayRun(name, load=load_average())
    sim_token = "11" + secrets.token_hex(16)
    jobs = [
        {
            "name": job_name, "type": "pipeline", "concurrent": True,
            "parameters": [{"type": "string", "name": "RUN", "default": ""}],
            "build": {"duration_ms": duration, "result": outcome, "log": ["step 1", "step 2"]},
        }
        for job_name, duration, outcome in [*LATENCY_JOBS, *LONG_JOBS]
    ]
    config = {"executors": 16, "quiet_period_ms": LATENCY_QUIET_MS, "users": [sim_user(sim_token)],
              "jobs": [{"name": "latency", "type": "folder", "jobs": jobs}]}
    rng = random.Random(20261125)
    with tempfile.TemporaryDirectory(prefix="switchboard-bench-delay-") as tmp:
        work = Path(tmp)
        (work / "data").mkdir()
        server = Server(args.binary, work / "data", database_url)
        sim = None
        try:
            log(f"run delay on {name}: server pid {server.process.pid} on {server.base}")
            server.wait_ready()
            token = login(server)
            sim = Sim(args.sim_binary, config, work, "latency")
            integration, _ = create_jenkins_integration(server, token, "Jenkins latency", sim.url, sim_token)
            deadline = time.monotonic() + 60
            while not get_integration(server, token, integration["id"]).get("last_sync"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"the latency integration was not discovered within 60 s:\n{server.log_tail()}")
                time.sleep(0.1)
            status, body = http("GET", f"{server.base}/api/v1/pipelines?integration_id={integration['id']}&limit=50", token=token)
            pipelines = sorted(json.loads(body)["items"], key=lambda p: p["full_path"])
            if len(pipelines) != len(LATENCY_JOBS) + len(LONG_JOBS):
                raise RuntimeError(f"expected {len(LATENCY_JOBS) + len(LONG_JOBS)} pipelines, found {len(pipelines)}")
            by_name = {p["name"]: p for p in pipelines}
            order = [by_name[job_name] for job_name, _, _ in LATENCY_JOBS]
            singles = args.delay_runs // 2
            waves: list[tuple[str, list[dict]]] = [("one at a time", [order[i % len(order)]]) for i in range(singles)]
            left, next_job = args.delay_runs - singles, singles
            while left > 0:
                size = min(args.delay_burst, left)
                waves.append((f"{args.delay_burst} at once", [order[(next_job + i) % len(order)] for i in range(size)]))
                left, next_job = left - size, next_job + size
            if args.delay_long_runs > 0:
                waves.append((LONG_WAVE, [by_name[LONG_JOBS[i % len(LONG_JOBS)][0]] for i in range(args.delay_long_runs)]))
            for number, (wave, chosen) in enumerate(waves, 1):
                # A random pause, so the triggers do not keep one phase against the monitor's ticks.
                time.sleep(rng.uniform(0.0, 0.5))
                threads = [
                    threading.Thread(target=follow_one, args=(server, token, p, wave, args.delay_poll_ms / 1000, result.runs, result.errors))
                    for p in chosen
                ]
                for thread in threads:
                    thread.start()
                for thread in threads:
                    thread.join()
                log(f"  wave {number}/{len(waves)} ({wave}): " + ", ".join(f"{r.delay * 1000:.0f} ms" for r in result.runs[-len(chosen):]))
            if server.process.poll() is not None:
                raise RuntimeError(f"the server died during the run:\n{server.log_tail()}")
        finally:
            if sim:
                sim.stop()
            server.stop()
            tail = server.log_tail()
            if tail.strip():
                log(f"run delay on {name}: server log (last lines):\n{tail}")
    return result


def percentile(values: list[float], share: float) -> float:
    """Nearest rank: the smallest value with at least `share` of the values at or below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


# --------------------------------------------------------------------------- Jenkins: both measurements


@dataclass
class JenkinsRuns:
    discovery: list[DiscoveryRun] = field(default_factory=list)
    delay: list[DelayRun] = field(default_factory=list)


def run_jenkins(args: argparse.Namespace) -> JenkinsRuns:
    """Discovery and run-delay measurements on SQLite, then on PostgreSQL when it is reachable."""
    runs = JenkinsRuns()
    wanted = [(kind, skip) for kind, skip in (("discovery", args.skip_discovery), ("delay", args.skip_delay))]
    missing = None if args.sim_binary.is_file() else (
        f"no simulator binary at `{args.sim_binary}` (`cargo build --release -p jenkins-sim`)"
    )
    version, pg_skipped = postgres_version(args)

    def attempt(kind: str, backend: str, detail: str, database_url: str | None):
        try:
            if kind == "discovery":
                return run_discovery(args, backend, detail, database_url)
            return run_delay(args, backend, database_url)
        except Exception as err:  # noqa: BLE001 - the other measurements still get written
            log(f"{kind} on {backend} failed: {err}")
            reason = f"the measurement failed: {str(err).splitlines()[0] if str(err) else type(err).__name__}"
            return DiscoveryRun(backend, skipped=reason) if kind == "discovery" else DelayRun(backend, skipped=reason)

    for kind, skip in wanted:
        target = runs.discovery if kind == "discovery" else runs.delay
        make = DiscoveryRun if kind == "discovery" else DelayRun
        if skip or missing:
            reason = f"skipped with --skip-{kind}" if skip else missing
            target += [make("SQLite", skipped=reason), make("PostgreSQL", skipped=reason)]
            continue
        target.append(attempt(kind, "SQLite", "SQLite (bundled) in a fresh data directory", None))
        if pg_skipped:
            target.append(make("PostgreSQL", skipped=pg_skipped))
            continue
        with fresh_database(args, version) as url:
            target.append(attempt(kind, "PostgreSQL", f"PostgreSQL {version}, fresh database on 127.0.0.1", url))
    return runs


def wrapped(text: str, width: int = 120) -> list[str]:
    """A Markdown list item wrapped like the rest of the file (continuation lines indented)."""
    return textwrap.wrap(text, width=width, subsequent_indent="  ", break_long_words=False, break_on_hyphens=False)


def ordinal(n: int) -> str:
    return f"{n}{'th' if 10 <= n % 100 <= 20 else {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th')}"


def load_average() -> str:
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "unknown"


def fmt_s(seconds: float) -> str:
    return f"{seconds * 1000:,.0f} ms"


def fmt_cpu(seconds: float | None) -> str:
    return "–" if seconds is None else f"{seconds * 1000:,.0f} ms"


def discovery_verdict(run: DiscoveryRun) -> tuple[bool, SyncRow, bool, int]:
    """(every sync under the time aim, the slowest sync, every sync under the request aim, most requests)."""
    slowest = max(run.rows, key=lambda r: r.wall_s)
    most = max(int(r.report["requests"]) for r in run.rows)
    return slowest.wall_s < AIM_SYNC_S, slowest, most < AIM_SYNC_REQUESTS, most


def delay_stats(runs: list[FollowedRun]) -> dict[str, float]:
    delays = [r.delay for r in runs]
    lower = [r.last_unfinished_sent - r.finished_at for r in runs if r.last_unfinished_sent is not None]
    return {
        "n": len(delays),
        "median": statistics.median(delays),
        "p95": percentile(delays, 0.95),
        "max": max(delays),
        "min": min(delays),
        "lower_median": statistics.median(lower) if lower else float("nan"),
    }


def discovery_section(args: argparse.Namespace, facts: dict[str, str], runs: list[DiscoveryRun]) -> list[str]:
    lines = [
        DISCOVERY_HEADING,
        "",
        f"Measured on {facts['date']} at commit `{facts['commit']}`.",
        "",
        f"How long `POST /api/v1/integrations/{{id}}/sync` takes for a Jenkins with {DISCOVERY_JOBS:,} buildable jobs in nested",
        "folders, and how many requests it sends to Jenkins.",
        "",
        *wrapped(f"- Jenkins: [`jenkins-sim`](e2e/jenkins-sim/README.md) (release build) on a free loopback port, user + API token from its "
                  f"configuration. The tree: {DISCOVERY_TREE_TEXT}."),
        "- Server: the release binary with its defaults and a fresh data directory (PostgreSQL: a fresh database), as above.",
        "  The integration is created through the API while nothing listens on the simulator's port, so its check on save",
        "  fails and no discovery starts in the background; then the simulator starts and the first `POST /sync` finds every job.",
        f"- Then {args.nochange_syncs} sync{'s' if args.nochange_syncs != 1 else ''} with nothing changed; then the simulator is restarted on the same URL with one project",
        "  folder (45 jobs) deleted and one (45 jobs) added elsewhere. The restart also re-dates every job's completed build (the",
        "  simulator dates its start-up history from its start), so every job that stayed counts as updated: that sync rewrites",
        "  all rows, the worst case for the store. One more sync with nothing changed follows.",
        "- On save: a second integration created while the simulator runs: its first sync starts in the background when it is",
        "  saved; timed from sending `POST /api/v1/integrations` until `GET /api/v1/integrations/{id}` (polled every 20 ms) shows",
        "  `last_sync`. That includes the connection check on save.",
        "- Columns: *here* is the wall time this script measured around the request; *server* and *requests* are the answer's",
        "  `duration_ms` (discovery and store, from the server's clock) and `requests` (sent to Jenkins). CPU: CPU time the",
        "  process used during the sync, from `/proc`. The simulator, the server, PostgreSQL and this script share the machine's",
        "  cores.",
        "",
    ]
    for run in runs:
        lines += [f"### {run.name}", ""]
        if run.skipped:
            lines += [f"Not measured: {run.skipped}.", ""]
            continue
        pg = any(r.postgres_cpu_s is not None for r in run.rows)
        lines += [
            f"{run.detail}. Load average (1, 5, 15 min) when this part started: {run.load}.",
            "",
            "| sync | here | server | requests | added | updated | removed | total | server CPU | simulator CPU |" + (" postgres CPU |" if pg else ""),
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if pg else ""),
        ]
        for row in run.rows:
            rep = row.report
            lines.append(
                f"| {row.label} | {fmt_s(row.wall_s)} | {rep['duration_ms']:,} ms | {rep['requests']} | {rep['added']:,} | {rep['updated']:,}"
                f" | {rep['removed']:,} | {rep['total']:,} | {fmt_cpu(row.server_cpu_s)} | {fmt_cpu(row.sim_cpu_s)} |"
                + (f" {fmt_cpu(row.postgres_cpu_s)} |" if pg else "")
            )
        side = run.tool_side
        lines += [""]
        if side:
            lines += [
                f"The same discovery requests sent from this script (same `tree=`, same follow-ups): {side['requests']} requests,",
                f"{side['bytes'] / 1e6:.1f} MB of JSON, {fmt_s(side['seconds'])} waiting for the answers (the simulator building them",
                "plus loopback; parsing not counted).",
                "",
            ]
        if run.on_save_create_s is not None:
            lines += [f"On save, `POST /api/v1/integrations` itself answered in {fmt_s(run.on_save_create_s)} (it waits for the connection check).", ""]
    lines += [
        "### Aims for discovery",
        "",
        f"Every sync of the {DISCOVERY_JOBS:,} jobs above (the *here* column) under {AIM_SYNC_S:.0f} s, with fewer than {AIM_SYNC_REQUESTS}",
        "requests to Jenkins, on SQLite. PostgreSQL is shown for comparison.",
        "",
        f"| backend | every sync under {AIM_SYNC_S:.0f} s | under {AIM_SYNC_REQUESTS} requests |",
        "|---|---|---|",
    ]
    for run in runs:
        if run.skipped or not run.rows:
            lines.append(f"| {run.name} | not measured | not measured |")
            continue
        time_ok, slowest, requests_ok, most = discovery_verdict(run)
        lines.append(
            f"| {run.name} | {'met' if time_ok else '**not met**'} (slowest: {fmt_s(slowest.wall_s)}, {slowest.label.split(' (')[0]})"
            f" | {'met' if requests_ok else '**not met**'} (at most {most}) |"
        )
    return lines + [""]


def short_runs(run: DelayRun) -> list[FollowedRun]:
    return [r for r in run.runs if r.wave != LONG_WAVE]


def long_runs(run: DelayRun) -> list[FollowedRun]:
    return [r for r in run.runs if r.wave == LONG_WAVE]


def delay_ok(run: DelayRun) -> bool:
    """The aim: every short build's result shown within AIM_RESULT_DELAY_S, and every run measured."""
    runs = short_runs(run)
    return bool(runs) and max(r.delay for r in runs) < AIM_RESULT_DELAY_S and not run.errors


def delay_section(args: argparse.Namespace, facts: dict[str, str], runs: list[DelayRun]) -> list[str]:
    durations = [ms for _, ms, _ in LATENCY_JOBS]
    singles = args.delay_runs // 2
    lines = [
        DELAY_HEADING,
        "",
        f"Measured on {facts['date']} at commit `{facts['commit']}`.",
        "",
        "How long after a build finishes in Jenkins the API shows the run's result.",
        "",
        *wrapped(f"- Jenkins: `jenkins-sim` (release build) with a folder `latency` of {len(LATENCY_JOBS)} pipeline jobs whose builds take "
                 f"{durations[0] / 1000:g}, {durations[1] / 1000:g}, … {durations[-1] / 1000:g} s (lengths stepping by 200 ms end at different "
                 "phases of the monitor's 500 ms polling) and end SUCCESS, FAILURE, UNSTABLE in turn, and "
                 f"{len(LONG_JOBS)} long ones of {LONG_JOBS[0][1] / 1000:g}, {LONG_JOBS[1][1] / 1000:g}, … {LONG_JOBS[-1][1] / 1000:g} s; concurrent builds allowed, quiet period {LATENCY_QUIET_MS} ms, 16 executors. Each trigger "
                 "passes its own value of a string parameter `RUN`, so Jenkins' queue never merges two triggers into one build."),
        "- Server: the release binary and a fresh data directory (PostgreSQL: a fresh database), **with the run monitor's",
        "  defaults**: `SWITCHBOARD_RUN_POLL_MIN_MS` 500 and `SWITCHBOARD_RUN_POLL_MAX_MS` 1500 (an active run is polled every",
        "  tenth of its age, at least 500 ms and at most 1.5 s apart), `SWITCHBOARD_MONITOR_CONCURRENCY` 8; the script clears",
        "  every `SWITCHBOARD_*` variable it inherits.",
        *wrapped(f"- {args.delay_runs} runs of the short builds through `POST /api/v1/pipelines/{{id}}/runs`: {singles} one at a time, "
                 f"then the rest in groups of {args.delay_burst} triggered at once, each wave after a random 0–0.5 s pause"
                 + (f"; then {args.delay_long_runs} runs of the long builds at once." if args.delay_long_runs else ".")
                 + f" Every run is read with `GET /api/v1/runs/{{id}}` every {args.delay_poll_ms} ms (start to start) until its "
                 "status is final."),
        "- Delay = when the first answer with the final status arrived here − the run's `finished_at` (Jenkins' `timestamp` +",
        "  `duration` in ms, from the simulator, whose clock is this machine's). It overstates by up to one poll interval plus",
        "  one request; *lower bound* uses the sending time of the last poll that still showed the run active instead.",
        "",
        "| backend | builds | runs | median | p95 | max | min | median lower bound | delays (ms, sorted) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    notes = []
    for run in runs:
        if run.skipped or not run.runs:
            reason = run.skipped or "no run finished"
            lines.append(f"| {run.name} | | not measured: {reason} | | | | | | |")
            continue
        one = [r for r in run.runs if r.wave == "one at a time"]
        groups = [r for r in short_runs(run) if r.wave != "one at a time"]
        for label, chosen in (
            (f"{durations[0] / 1000:g}–{durations[-1] / 1000:g} s, all", short_runs(run)),
            ("… one at a time", one),
            (f"… {args.delay_burst} at once", groups),
            (f"{LONG_JOBS[0][1] / 1000:g}–{LONG_JOBS[-1][1] / 1000:g} s, {args.delay_long_runs} at once", long_runs(run)),
        ):
            if not chosen:
                continue
            st = delay_stats(chosen)
            sorted_ms = ", ".join(f"{d * 1000:.0f}" for d in sorted(r.delay for r in chosen))
            lines.append(
                f"| {run.name} | {label} | {st['n']} | {fmt_s(st['median'])} | {fmt_s(st['p95'])} | {fmt_s(st['max'])} | {fmt_s(st['min'])}"
                f" | {fmt_s(st['lower_median'])} | {sorted_ms} |"
            )
        statuses = {}
        for r in run.runs:
            statuses[r.status] = statuses.get(r.status, 0) + 1
        queue = [r.started_at - r.created_at for r in run.runs if r.started_at]
        notes.append(
            f"{run.name}: final statuses " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items()))
            + (f"; from the run's creation to the build's start (quiet period, executor) median {fmt_s(statistics.median(queue))}" if queue else "")
            + f"; load average (1, 5, 15 min) when this part started: {run.load}"
            + (f"; **{len(run.errors)} runs failed to measure**: " + "; ".join(run.errors) if run.errors else "")
            + "."
        )
    lines += ([""] + [f"- {note}" for note in notes] + [""]) if notes else [""]
    lines += [
        f"p95 is the nearest rank (with {args.delay_runs} runs: the {ordinal(max(1, math.ceil(0.95 * args.delay_runs)))} smallest).",
        "",
        "### Aim for the run result delay",
        "",
        f"Every short build's result shown within {AIM_RESULT_DELAY_S:.0f} s of its end (the maximum). The long builds are shown for what",
        "the monitor's backing off costs; they are not part of the aim.",
        "",
        f"| backend | short builds within {AIM_RESULT_DELAY_S:.0f} s (max) | p95 | long builds (max) |",
        "|---|---|---|---|",
    ]
    for run in runs:
        if run.skipped or not short_runs(run):
            lines.append(f"| {run.name} | not measured | not measured | not measured |")
            continue
        st = delay_stats(short_runs(run))
        longs = long_runs(run)
        long_text = "not measured"
        if longs:
            worst = max(r.delay for r in longs)
            long_text = f"{fmt_s(worst)} ({'within' if worst < AIM_RESULT_DELAY_S else '**over**'} {AIM_RESULT_DELAY_S:.0f} s)"
        lines.append(
            f"| {run.name} | {'met' if delay_ok(run) else '**not met**'} ({fmt_s(st['max'])}{', with runs that failed to measure' if run.errors else ''})"
            f" | {fmt_s(st['p95'])} | {long_text} |"
        )
    return lines + [""]


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
        "load": load_average(),
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


def report(args: argparse.Namespace, facts: dict[str, str], runs: list[BackendRun], jenkins: JenkinsRuns) -> str:
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
        f"- Load average (1, 5, 15 min) when the run started: {facts['load']}. Well above 0 means other work shared the cores.",
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
    lines += jenkins_sections(args, facts, jenkins)
    # Measured by e2e/round_trips.py, not by this run: kept as it is.
    lines += existing_section(args.out, ROUND_TRIPS_HEADING)
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
DISCOVERY_HEADING = f"## Discovery of {DISCOVERY_JOBS:,} jobs"
DELAY_HEADING = "## Run result delay"
SEPARATE_RUN_NOTE = "The sections \"Discovery of"


def jenkins_sections(args: argparse.Namespace, facts: dict[str, str], jenkins: JenkinsRuns) -> list[str]:
    return discovery_section(args, facts, jenkins.discovery) + delay_section(args, facts, jenkins.delay)


def splice_jenkins(args: argparse.Namespace, facts: dict[str, str], jenkins: JenkinsRuns) -> None:
    """--jenkins-only: put the discovery and run-delay sections into the existing report, keeping its
    other sections (and their figures) as they are, and say in its header which run they come from."""
    text = args.out.read_text()
    parts: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.startswith("## "):
            parts.append([])
        parts[-1].append(line)
    # A part left out (--skip-discovery / --skip-delay) keeps its section from before.
    fresh = {DISCOVERY_HEADING: None if args.skip_discovery else discovery_section(args, facts, jenkins.discovery),
             DELAY_HEADING: None if args.skip_delay else delay_section(args, facts, jenkins.delay)}
    previous = {part[0]: part for part in parts if part and part[0] in fresh}
    kept = [part for part in parts if not part or part[0] not in fresh]
    headings = [part[0] if part else "" for part in kept]
    at = next((i for i, h in enumerate(headings) if h in ("## Aims", NOTES_HEADING)), len(kept))
    kept[at:at] = [section for heading, new in fresh.items() if (section := new or previous.get(heading))]
    head = [line for line in kept[0] if not line.startswith(SEPARATE_RUN_NOTE)]
    while head and not head[-1].strip():
        head.pop()
    head += [
        "",
        f"{SEPARATE_RUN_NOTE} {DISCOVERY_JOBS:,} jobs\" and \"Run result delay\" were measured separately (`e2e/bench.py"
        f" --jenkins-only`, last on {facts['date']}; each section says when); the other tables come from the run above.",
        "",
    ]
    kept[0] = head
    out: list[str] = []
    for part in kept:
        if part and part[0] == NOTES_HEADING:
            part = [NOTES_HEADING, "", notes_section(args), ""]
        out += part
    args.out.write_text("\n".join(out).rstrip("\n") + "\n")


ROUND_TRIPS_HEADING = "## Database round trips"


def existing_section(path: Path, heading: str) -> list[str]:
    """The lines of `heading`'s section in the report at `path` (none when it has none)."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return []
    if heading not in lines:
        return []
    start = lines.index(heading)
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    section = lines[start:end]
    while section and not section[-1].strip():
        section.pop()
    return [*section, ""]


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
    parser.add_argument("--skip-wrk", action="store_true", help="leave out the wrk load tests (and so the web app, measured on their server)")
    parser.add_argument("--sim-binary", type=Path, default=default_target / "release/jenkins-sim", help="the release `jenkins-sim` binary")
    parser.add_argument("--skip-discovery", action="store_true", help=f"leave out the discovery of {DISCOVERY_JOBS:,} jobs")
    parser.add_argument("--nochange-syncs", type=int, default=3, help="syncs with nothing changed after the first")
    parser.add_argument("--skip-delay", action="store_true", help="leave out the run result delay")
    parser.add_argument("--delay-runs", type=int, default=20, help="runs triggered for the run result delay")
    parser.add_argument("--delay-burst", type=int, default=4, help="runs triggered at once in the second half")
    parser.add_argument("--delay-long-runs", type=int, default=len(LONG_JOBS), help="runs of 24–25.6 s builds triggered at once after the short ones (0: none)")
    parser.add_argument("--delay-poll-ms", type=int, default=20, help="how often each run is read while it is active")
    parser.add_argument("--jenkins-only", action="store_true",
                        help="measure only discovery and the run result delay, and put their sections into the existing output, keeping its other sections")
    parser.add_argument("--notes-only", action="store_true",
                        help="measure nothing: copy the notes into the existing output's \"What limits it\" section")
    args = parser.parse_args()
    args.binary = args.binary.resolve()
    args.out = args.out if args.out.is_absolute() else (Path.cwd() / args.out)
    args.notes = args.notes.resolve()
    args.web_dir = args.web_dir.resolve()
    args.sim_binary = args.sim_binary.resolve()

    if args.notes_only:
        return refresh_notes(args)
    if not args.binary.is_file():
        print(f"bench: no server binary at {args.binary}; run `just build` first", file=sys.stderr)
        return 1
    if args.jenkins_only:
        if not args.out.is_file():
            print(f"bench: --jenkins-only needs an existing {args.out}; run a full benchmark first", file=sys.stderr)
            return 1
        args.skip_wrk = True
    if shutil.which("wrk") is None and not args.skip_wrk:
        print("bench: wrk is not installed (apt-get install wrk)", file=sys.stderr)
        return 1

    started = time.monotonic()
    facts = machine_facts()
    log(f"{facts['nproc']} cores, {facts['cpu']}; commit {facts['commit']}")
    if args.skip_wrk:
        runs = [BackendRun(name, "", skipped="skipped with --skip-wrk") for name in ("SQLite", "PostgreSQL")]
    else:
        web = web_prerequisites(args)
        if web.skipped:
            log(f"web app: {web.skipped}")
        runs = [run_backend(args, "SQLite", "SQLite (bundled) in a fresh data directory", None, web)]
        runs.append(run_postgres(args))
    for run in runs:
        if run.skipped:
            log(f"{run.name}: {run.skipped}")
    jenkins = run_jenkins(args)
    if args.jenkins_only:
        splice_jenkins(args, facts, jenkins)
        runs = []
    else:
        args.out.write_text(report(args, facts, runs, jenkins))
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
    for drun in jenkins.discovery:
        if drun.skipped:
            log(f"discovery on {drun.name}: {drun.skipped}")
        elif drun.rows:
            time_ok, slowest, requests_ok, most = discovery_verdict(drun)
            log(f"discovery on {drun.name}: slowest sync {fmt_s(slowest.wall_s)} ({slowest.label}), at most {most} requests;"
                f" aims: time {'met' if time_ok else 'NOT met'}, requests {'met' if requests_ok else 'NOT met'}")
    for lrun in jenkins.delay:
        if lrun.skipped or not short_runs(lrun):
            log(f"run delay on {lrun.name}: {lrun.skipped or 'no run finished'}")
            continue
        st = delay_stats(short_runs(lrun))
        longs = long_runs(lrun)
        log(f"run delay on {lrun.name}: {st['n']} runs, median {fmt_s(st['median'])}, p95 {fmt_s(st['p95'])}, max {fmt_s(st['max'])};"
            f" aim {'met' if delay_ok(lrun) else 'NOT met'}"
            + (f"; long builds max {fmt_s(max(r.delay for r in longs))}" if longs else "")
            + (f"; {len(lrun.errors)} runs failed" if lrun.errors else ""))
    if runs and runs[0].web is not None and not runs[0].web.skipped:
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
