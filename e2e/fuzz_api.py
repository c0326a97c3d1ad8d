#!/usr/bin/env python3
"""Fuzz the API from its own OpenAPI document with schemathesis.

Starts the `switchboard` binary on a free loopback port with a fresh data directory, signs in
as the first administrator, and runs schemathesis (every phase, fixed seed, bounded examples)
against /api/openapi.json. Fails if schemathesis finds anything: a 500, an undocumented status,
a body that breaks the documented schema, a valid request refused or an invalid one accepted.
"""

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

PASSWORD = "fuzzing administrator password"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_ready(base: str, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if server.poll() is not None:
            sys.exit(f"fuzz: the server exited with {server.returncode}")
        try:
            with urllib.request.urlopen(f"{base}/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    sys.exit("fuzz: the server did not become ready")


def sign_in(base: str) -> str:
    body = json.dumps({"username": "admin", "password": PASSWORD}).encode()
    request = urllib.request.Request(f"{base}/api/v1/auth/login", body, {"content-type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)["access_token"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--binary", type=Path, required=True)
    parser.add_argument("--schemathesis", type=Path, required=True)
    parser.add_argument("--max-examples", type=int, default=25)
    parser.add_argument("--seed", type=int, default=20261125)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="switchboard-fuzz-") as data_dir:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        env = dict(
            os.environ,
            SWITCHBOARD_BIND=f"127.0.0.1:{port}",
            SWITCHBOARD_DATA_DIR=data_dir,
            SWITCHBOARD_ADMIN_PASSWORD=PASSWORD,
            # Generated integration URLs are checked on save and by /test: keep every
            # outbound request on loopback (anything else is refused before DNS).
            SWITCHBOARD_OUTBOUND_ALLOWED_HOSTS="127.0.0.1",
            SWITCHBOARD_OUTBOUND_TIMEOUT_SECS="2",
            RUST_LOG="warn",
        )
        env.pop("SWITCHBOARD_DATABASE_URL", None)
        log = open(Path(data_dir) / "server.log", "w")
        server = subprocess.Popen([str(args.binary), "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_ready(base, server)
            token = sign_in(base)
            command = [
                str(args.schemathesis.resolve()), "run", f"{base}/api/openapi.json",
                "--header", f"Authorization: Bearer {token}",
                "--seed", str(args.seed),
                "--max-examples", str(args.max_examples),
                # Sign-in and password changes are rate limited by design, switching a tool
                # off makes creating integrations of it fail by design, and signing out ends
                # the session this run uses: each would read as a false finding.
                "--exclude-operation-id", "create_session",
                "--exclude-operation-id", "change_password",
                "--exclude-operation-id", "delete_session",
                "--exclude-operation-id", "update_tool",
                "--request-timeout", "10",
                # "Valid by the schema, so it must be accepted" cannot hold here: which
                # credential keys are valid depends on the integration's tool, which a PATCH
                # body does not name, and on stored state (names taken, tools switched off).
                "--exclude-checks", "positive_data_acceptance",
            ]
            print("fuzz:", " ".join(c if "Bearer" not in c else "Authorization: Bearer ***" for c in command), flush=True)
            # 502 and 504 are the documented answers when a CI/CD tool fails or times out, and
            # the fuzzed integrations point at hosts the allow list refuses; any other 5xx is
            # a finding. schemathesis reads schemathesis.toml from its working directory.
            (Path(data_dir) / "schemathesis.toml").write_text(
                "[checks.not_a_server_error]\n"
                'expected-statuses = ["2xx", "3xx", "4xx", "502", "504"]\n'
            )
            # Run from the temporary directory so schemathesis keeps its cache out of the checkout.
            result = subprocess.run(command, env=dict(os.environ, NO_COLOR="1"), cwd=data_dir)
            if server.poll() is not None:
                print(f"fuzz: the server died during the run (exit {server.returncode})", file=sys.stderr)
                return 1
            log.flush()
            panics = [line for line in open(Path(data_dir) / "server.log") if "panicked" in line]
            if panics:
                print("fuzz: the server panicked:\n" + "".join(panics), file=sys.stderr)
                return 1
            return result.returncode
        finally:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
