#!/usr/bin/env python3
"""Generate both SDKs from api-spec/openapi.json and run one scenario with each against a real
server and the Jenkins simulator.

- Python: openapi-python-client generates `switchboard_client` (into a temporary directory,
  never committed); any warning it prints fails the run; e2e/sdk/scenario.py drives it.
- TypeScript: openapi-typescript generates the types (e2e/sdk/generated/, ignored by git),
  `tsc --noEmit` type-checks e2e/sdk/scenario.ts against them, then the compiled scenario runs
  on Node with openapi-fetch.

The server starts with approval on, so the scenarios add their integration through a change
request that the administrator approves.
"""

import argparse
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SDK = REPO / "e2e" / "sdk"
SPEC = REPO / "api-spec" / "openapi.json"
SIM_CONFIG = REPO / "e2e" / "browser" / "support" / "jenkins-sim.json"
# The simulator's `admin` user's API token (e2e/browser/support/jenkins-sim.json).
SIM_TOKEN = "11a7e1d6b1c2d3e4f5a6b7c8d9e0f1a2b3"
PASSWORD = "sdk scenario administrator password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_simulator(binary: Path, log_path: Path) -> tuple[subprocess.Popen, str]:
    log = open(log_path, "w")
    sim = subprocess.Popen(
        [str(binary), "--config", str(SIM_CONFIG), "--bind", "127.0.0.1:0"],
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    deadline = time.monotonic() + 30
    assert sim.stdout is not None
    while time.monotonic() < deadline:
        line = sim.stdout.readline()
        match = re.search(r"jenkins-sim listening on (\S+)", line)
        if match:
            return sim, match.group(1)
        if sim.poll() is not None:
            break
    sim.kill()
    sys.exit(f"sdk: the Jenkins simulator did not start (see {log_path})")


def start_server(binary: Path, data_dir: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(
        os.environ,
        SWITCHBOARD_BIND=f"127.0.0.1:{port}",
        SWITCHBOARD_DATA_DIR=data_dir,
        SWITCHBOARD_ADMIN_PASSWORD=PASSWORD,
        SWITCHBOARD_APPROVAL="on",
        SWITCHBOARD_OUTBOUND_ALLOWED_HOSTS="127.0.0.1",
        SWITCHBOARD_CHECK_RETRY_SECS="1",
        RUST_LOG="warn",
    )
    env.pop("SWITCHBOARD_DATABASE_URL", None)
    log = open(Path(data_dir) / "server.log", "w")
    server = subprocess.Popen([str(binary), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"sdk: the server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return server, base
        except OSError:
            time.sleep(0.1)
    server.kill()
    sys.exit("sdk: the server did not become ready")


def run(command: list[str], **kwargs) -> subprocess.CompletedProcess:
    print("sdk:", " ".join(command), flush=True)
    return subprocess.run(command, text=True, **kwargs)


def python_scenario(venv: Path, work: Path, env: dict) -> int:
    package = work / "switchboard_client"
    # ruff (in the venv) formats what openapi-python-client writes; without it on PATH the
    # generator warns.
    gen_env = dict(os.environ, PATH=f"{venv / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}")
    generated = run(
        [str(venv / "bin" / "openapi-python-client"), "generate", "--path", str(SPEC),
         "--output-path", str(package), "--meta", "none",
         "--config", str(SDK / "openapi-python-client.yaml")],
        env=gen_env, capture_output=True,
    )
    output = generated.stdout + generated.stderr
    print(output, flush=True)
    if generated.returncode != 0:
        return generated.returncode
    if re.search(r"warning|skipping|error", output, re.IGNORECASE):
        print("sdk: openapi-python-client warned while generating", file=sys.stderr)
        return 1
    return run(
        [str(venv / "bin" / "python"), str(SDK / "scenario.py")],
        env=dict(env, PYTHONPATH=str(work), SB_SUFFIX="py"),
    ).returncode


def typescript_scenario(env: dict) -> int:
    npx = ["npx", "--prefix", str(SDK), "--no-install"]
    generated = SDK / "generated"
    generated.mkdir(exist_ok=True)
    steps = [
        npx + ["openapi-typescript", str(SPEC), "-o", str(generated / "schema.d.ts")],
        npx + ["tsc", "-p", str(SDK / "tsconfig.json"), "--noEmit"],
        npx + ["tsc", "-p", str(SDK / "tsconfig.json")],
    ]
    for command in steps:
        code = run(command, cwd=SDK).returncode
        if code != 0:
            return code
    return run(["node", str(generated / "js" / "scenario.js")], env=dict(env, SB_SUFFIX="ts")).returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", type=Path, required=True)
    parser.add_argument("--sim-binary", type=Path, required=True)
    parser.add_argument("--venv", type=Path, required=True, help="a venv with e2e/requirements-sdk.txt")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="switchboard-sdk-") as work:
        work_dir = Path(work)
        data_dir = work_dir / "data"
        data_dir.mkdir()
        sim, sim_url = start_simulator(args.sim_binary, work_dir / "jenkins-sim.log")
        server, base = start_server(args.binary, str(data_dir))
        try:
            env = dict(os.environ, SB_BASE=base, SB_ADMIN_PASSWORD=PASSWORD, SIM_URL=sim_url, SIM_TOKEN=SIM_TOKEN)
            results = {
                "python": python_scenario(args.venv.resolve(), work_dir, env),
                "typescript": typescript_scenario(env),
            }
        finally:
            server.terminate()
            sim.terminate()
            server.wait(timeout=30)
            sim.wait(timeout=30)
        failed = [name for name, code in results.items() if code != 0]
        if failed:
            print(f"sdk: the {' and '.join(failed)} scenario failed; the server's log:", file=sys.stderr)
            print((data_dir / "server.log").read_text(errors="replace")[-5000:], file=sys.stderr)
            return 1
        print("sdk: both scenarios passed", flush=True)
        return 0


if __name__ == "__main__":
    sys.exit(main())
