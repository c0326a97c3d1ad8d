# Switchboard tasks. `just` lists them; `just ci` is what .ci/run runs.
# Every recipe installs only what is missing, so running one twice does no extra work.
# Needs just 1.x (`cargo install just --locked`).

set shell := ["bash", "-euo", "pipefail", "-c"]

# One build cache for every checkout, CI run and tool.
export CARGO_TARGET_DIR := env("CARGO_TARGET_DIR", home_directory() / ".cache/switchboard/target")

# Prefix for commands that need root: nothing as root, `sudo` otherwise.
sudo := if `id -u` == "0" { "" } else { "sudo" }

# The release binary `just build` makes.
server_bin := CARGO_TARGET_DIR / "release/switchboard"

# List the recipes.
default:
    @just --list

# Install system and toolchain pieces that are missing: libpq-dev, clippy, rustfmt, the wasm32 target.
deps:
    #!/usr/bin/env bash
    set -euo pipefail
    if ! dpkg -s libpq-dev >/dev/null 2>&1; then
        echo "deps: installing libpq-dev"
        {{ sudo }} apt-get update
        {{ sudo }} env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpq-dev
    fi
    components="$(rustup component list --installed)"
    for component in clippy rustfmt; do
        if ! grep -q "^${component}-" <<<"$components"; then
            echo "deps: adding rustup component $component"
            rustup component add "$component"
        fi
    done
    targets="$(rustup target list --installed)"
    if ! grep -qx "wasm32-unknown-unknown" <<<"$targets"; then
        echo "deps: adding rustup target wasm32-unknown-unknown"
        rustup target add wasm32-unknown-unknown
    fi

# Create e2e/.venv with e2e/requirements.txt (the OpenAPI validator).
venv: (_venv "e2e/.venv" "e2e/requirements.txt")

# Create e2e/.venv-fuzz with e2e/requirements-fuzz.txt (schemathesis).
venv-fuzz: (_venv "e2e/.venv-fuzz" "e2e/requirements-fuzz.txt")

# Create a venv and install its requirements (again only when that file changes).
_venv dir requirements:
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -x "{{ dir }}/bin/python" ]; then
        if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
            echo "venv: installing python3-venv"
            {{ sudo }} apt-get update
            {{ sudo }} env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends python3-venv
        fi
        echo "venv: creating {{ dir }}"
        python3 -m venv "{{ dir }}"
    fi
    stamp="{{ dir }}/.requirements.sha256"
    want="$(sha256sum "{{ requirements }}" | cut -d' ' -f1)"
    if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
        echo "venv: installing {{ requirements }}"
        "{{ dir }}/bin/python" -m pip install --quiet --disable-pip-version-check -r "{{ requirements }}"
        echo "$want" > "$stamp"
    fi

# Build the release server binary.
build: deps
    cargo build --release --locked -p switchboard-server

# Build and serve (data in $SWITCHBOARD_DATA_DIR, default ./data); extra arguments go to `switchboard serve`.
run *ARGS: build
    SWITCHBOARD_DATA_DIR="${SWITCHBOARD_DATA_DIR:-data}" exec "{{ server_bin }}" serve {{ ARGS }}

# Run every Rust test (PostgreSQL ones too when SWITCHBOARD_TEST_PG_URL is set), validate api-spec/openapi.json and fuzz the API.
test: deps venv venv-fuzz
    @if [ -n "${SWITCHBOARD_TEST_PG_URL:-}" ]; then echo "test: PostgreSQL tests use SWITCHBOARD_TEST_PG_URL"; else echo "test: SWITCHBOARD_TEST_PG_URL is not set; PostgreSQL tests are skipped"; fi
    cargo test --workspace --locked
    e2e/.venv/bin/python e2e/validate_spec.py api-spec/openapi.json
    e2e/.venv-fuzz/bin/python e2e/fuzz_api.py --binary "{{ CARGO_TARGET_DIR }}/debug/switchboard" --schemathesis e2e/.venv-fuzz/bin/schemathesis

# Write the OpenAPI document to api-spec/openapi.json.
spec:
    #!/usr/bin/env bash
    set -euo pipefail
    mkdir -p api-spec
    tmp="$(mktemp api-spec/.openapi.json.XXXXXX)"
    trap 'rm -f "$tmp"' EXIT
    cargo run --quiet --locked -p switchboard-server -- openapi > "$tmp"
    chmod 0644 "$tmp"
    mv "$tmp" api-spec/openapi.json
    echo "spec: wrote api-spec/openapi.json"

# Check formatting and run clippy (host, all targets; domain crate also for wasm32).
lint: deps
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked -- -D warnings
    cargo clippy -p switchboard-domain --target wasm32-unknown-unknown --locked -- -D warnings

# What CI runs: lint, then test.
ci: lint test

# Load-test the release server with wrk on SQLite and PostgreSQL; writes BENCHMARKS.md.
bench: build
    #!/usr/bin/env bash
    set -euo pipefail
    if ! command -v wrk >/dev/null 2>&1; then
        echo "bench: installing wrk"
        {{ sudo }} apt-get update
        {{ sudo }} env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk
    fi
    python3 e2e/bench.py --binary "{{ server_bin }}" --out BENCHMARKS.md
