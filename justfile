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

# The web build tools (docs: docs/toolchain.md). wasm-bindgen-cli must equal the
# `wasm-bindgen` crate in Cargo.lock; wasm-opt comes from npm binaryen (Debian's breaks the app).
trunk_version := "0.21.14"
wasm_bindgen_version := "0.2.130"
binaryen_version := "132"

# Where `just web` writes the web app; `just run` and the browser tests serve it.
web_dist := justfile_directory() / "frontend/dist"

# The web app (switchboard-web) builds for wasm32 only: host clippy and tests leave it out.
exclude_web := if path_exists(justfile_directory() / "frontend/Cargo.toml") == "true" { "--exclude switchboard-web" } else { "" }

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

# Create e2e/.venv-sdk with e2e/requirements-sdk.txt (openapi-python-client and what its client imports).
venv-sdk: (_venv "e2e/.venv-sdk" "e2e/requirements-sdk.txt")

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

# Install npm (Debian's nodejs and npm) if it is missing.
_npm:
    #!/usr/bin/env bash
    set -euo pipefail
    if ! command -v npm >/dev/null 2>&1; then
        echo "npm: installing Debian's nodejs and npm"
        {{ sudo }} apt-get update
        {{ sudo }} env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends nodejs npm
    fi

# Install the web build tools that are missing: trunk, wasm-bindgen-cli, wasm-opt (npm binaryen in frontend/).
web-tools: deps _npm
    #!/usr/bin/env bash
    set -euo pipefail
    export PATH="${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
    # reports TOOL VERSION: whether `TOOL --version` names VERSION.
    reports() { command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -qwF -- "$2"; }
    # cargo_tool CRATE BINARY VERSION [ARGS]: cargo install CRATE unless BINARY is that version,
    # waiting first for a `cargo install CRATE` already running (it holds cargo's install lock).
    cargo_tool() {
        local crate=$1 binary=$2 version=$3 waited=0
        shift 3
        reports "$binary" "$version" && return 0
        while pgrep -f "cargo install $crate( |$)" >/dev/null; do
            if [ "$waited" -eq 0 ]; then echo "web-tools: waiting for the running \`cargo install $crate\`"; fi
            if [ "$waited" -ge 3600 ]; then echo "web-tools: \`cargo install $crate\` still runs after an hour; giving up" >&2; return 1; fi
            sleep 5
            waited=$((waited + 5))
        done
        reports "$binary" "$version" && return 0
        echo "web-tools: installing $crate $version"
        cargo install "$crate" --version "$version" "$@"
        if ! reports "$binary" "$version"; then
            echo "web-tools: \`$binary --version\` does not report $version after the install; is another $binary earlier on PATH? ($(command -v "$binary"))" >&2
            return 1
        fi
    }
    cargo_tool trunk trunk "{{ trunk_version }}" --locked
    # No --locked: wasm-bindgen-cli's lockfile pins a crate version the registry mirror lacks.
    cargo_tool wasm-bindgen-cli wasm-bindgen "{{ wasm_bindgen_version }}"
    locked="$(awk '$0 == "name = \"wasm-bindgen\"" { getline; gsub(/"/, "", $3); print $3 }' Cargo.lock)"
    if [ -n "$locked" ] && [ "$locked" != "{{ wasm_bindgen_version }}" ]; then
        echo "web-tools: Cargo.lock has wasm-bindgen $locked but the justfile installs wasm-bindgen-cli {{ wasm_bindgen_version }}; they must be equal" >&2
        exit 1
    fi
    if [ ! -f frontend/package.json ]; then
        echo "web-tools: frontend/package.json is missing (it pins npm binaryen {{ binaryen_version }} for wasm-opt)" >&2
        exit 1
    fi
    if ! frontend/node_modules/.bin/wasm-opt --version 2>/dev/null | grep -qwF "version {{ binaryen_version }}"; then
        echo "web-tools: installing frontend/node_modules (binaryen {{ binaryen_version }} for wasm-opt)"
        npm ci --prefix frontend --no-audit --no-fund
    fi

# Build the web app into frontend/dist (release, offline); skipped when no input changed since the last build.
web: web-tools
    #!/usr/bin/env bash
    set -euo pipefail
    export PATH="$PWD/frontend/node_modules/.bin:${CARGO_HOME:-$HOME/.cargo}/bin:$PATH"
    # Trunk writes wasm-opt's output to one path in the shared target directory, so two builds at
    # once (two checkouts, `just run` beside `just test`) can ship each other's half-written wasm.
    mkdir -p "{{ CARGO_TARGET_DIR }}"
    exec 9>"{{ CARGO_TARGET_DIR }}/.trunk-build.lock"
    if ! flock -n 9; then
        echo "web: waiting for another web build using {{ CARGO_TARGET_DIR }}"
        flock 9
    fi
    # Everything the build reads: the web app, the domain crate it uses, the workspace manifest
    # and lock, and the tools. The stamp is a dot file, which the server never serves.
    stamp=frontend/dist/.inputs.sha256
    want="$(
        {
            find frontend crates/domain \( -path frontend/dist -o -path frontend/node_modules -o -path frontend/target \) -prune \
                -o -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
            sha256sum Cargo.toml Cargo.lock
            trunk --version; wasm-bindgen --version; wasm-opt --version; rustc --version
        } | sha256sum | cut -d' ' -f1
    )"
    if [ -f frontend/dist/index.html ] && [ "$(cat "$stamp" 2>/dev/null || true)" = "$want" ]; then
        echo "web: frontend/dist is up to date"
        exit 0
    fi
    cargo fetch --locked
    (cd frontend && trunk build --release --offline --locked)
    # A trunk build run by hand at the same time can still leave a broken wasm: check it.
    shopt -s nullglob
    wasm=(frontend/dist/*.wasm)
    if [ "${#wasm[@]}" -eq 0 ]; then
        echo "web: trunk wrote no .wasm to frontend/dist" >&2
        exit 1
    fi
    for file in "${wasm[@]}"; do
        if ! node -e 'process.exit(WebAssembly.validate(require("fs").readFileSync(process.argv[1])) ? 0 : 1)' "$file"; then
            echo "web: $file is not a valid WebAssembly module (was another trunk build running?); run \`just web\` again" >&2
            exit 1
        fi
    done
    node frontend/precompress.mjs frontend/dist
    echo "$want" > "$stamp"
    echo "web: built frontend/dist"

# Build the release server binary.
build: deps
    cargo build --release --locked -p switchboard-server

# Build the web app and the server, and serve both (data in $SWITCHBOARD_DATA_DIR, default ./data); extra arguments go to `switchboard serve`.
run *ARGS: web build
    SWITCHBOARD_DATA_DIR="${SWITCHBOARD_DATA_DIR:-data}" SWITCHBOARD_WEB_DIR="${SWITCHBOARD_WEB_DIR:-{{ web_dist }}}" exec "{{ server_bin }}" serve {{ ARGS }}

# A newcomer's tour: the Jenkins simulator (e2e/jenkins-sim/examples/demo.json), a real Buildbot master + worker (e2e/buildbot, in a venv) and the server with both registered; pipelines appear within seconds; approval on, a second administrator (bea) and an operator's request to review. Data in a fresh ./demo-data.
demo: web
    #!/usr/bin/env bash
    set -euo pipefail
    cargo build --release --locked -p switchboard-server -p jenkins-sim -p buildbot-harness
    data=demo-data
    rm -rf "$data"
    mkdir -p "$data"
    pids=()
    trap 'for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done' EXIT
    # wait_for FILE PREFIX: the URL a child printed after PREFIX (the first line of its stdout).
    wait_for() {
        for _ in $(seq 1 1200); do
            if grep -q "^$2" "$1" 2>/dev/null; then sed -n "s/^$2//p" "$1" | head -1; return 0; fi
            sleep 0.1
        done
        return 1
    }
    "{{ CARGO_TARGET_DIR }}/release/jenkins-sim" --config e2e/jenkins-sim/examples/demo.json --bind 127.0.0.1:0 --context-path /jenkins \
        >"$data/jenkins-sim.out" 2>"$data/jenkins-sim.log" &
    pids+=($!)
    # The Buildbot master keeps running while its standard input is open.
    sleep infinity | "{{ CARGO_TARGET_DIR }}/release/buildbot-master" >"$data/buildbot.out" 2>"$data/buildbot.log" &
    pids+=($!)
    jenkins_url="$(wait_for "$data/jenkins-sim.out" 'jenkins-sim listening on ')" || { echo "demo: the Jenkins simulator did not start; see $data/jenkins-sim.log" >&2; exit 1; }
    echo "demo: Jenkins simulator at $jenkins_url (user admin; its token is in e2e/jenkins-sim/examples/demo.json)"
    echo "demo: starting Buildbot (the first time creates e2e/.venv-buildbot, about a minute)"
    buildbot_url="$(wait_for "$data/buildbot.out" 'buildbot listening on ')" || { echo "demo: Buildbot did not start; see $data/buildbot.log" >&2; exit 1; }
    echo "demo: Buildbot at $buildbot_url (user admin; password in e2e/buildbot/master.cfg)"
    SWITCHBOARD_CREDENTIAL_APITOKEN=11a7e1d6b1c2d3e4f5a6b7c8d9e0f1a2b3 "{{ server_bin }}" integration add \
        --data-dir "$data" --name "Demo Jenkins" --tool jenkins --url "apiUrl=$jenkins_url" --credential username=admin
    SWITCHBOARD_CREDENTIAL_PASSWORD=admin-password-do-not-show "{{ server_bin }}" integration add \
        --data-dir "$data" --name "Demo Buildbot" --tool buildbot --url "apiUrl=$buildbot_url" --credential username=admin
    # Approval is on (the default): a second administrator and an operator, so a request can
    # be discussed and approved by four eyes; the operator's request waits for review.
    # (Added once the server's first start has created `admin`.)
    SWITCHBOARD_WEB_DIR="{{ web_dist }}" "{{ server_bin }}" serve --data-dir "$data" &
    pids+=($!)
    for _ in $(seq 1 300); do curl -fsS http://127.0.0.1:8080/readyz >/dev/null 2>&1 && break; sleep 0.2; done
    echo "demo-bea-password" | "{{ server_bin }}" user add bea --role admin --password-stdin --data-dir "$data" >/dev/null
    echo "demo-otto-password" | "{{ server_bin }}" user add otto --role operator --password-stdin --data-dir "$data" >/dev/null
    otto="$(curl -fsS http://127.0.0.1:8080/api/v1/auth/login -H 'content-type: application/json' \
        -d '{"username":"otto","password":"demo-otto-password"}' | sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p')"
    curl -fsS -o /dev/null http://127.0.0.1:8080/api/v1/integrations -H "authorization: Bearer $otto" -H 'content-type: application/json' \
        -d '{"name": "Demo Jenkins (payments)", "tool": "jenkins", "urls": {"apiUrl": "'"$jenkins_url"'"},
             "credentials": {"username": "admin", "apiToken": "11a7e1d6b1c2d3e4f5a6b7c8d9e0f1a2b3"},
             "business_need": "The payments team deploys from this controller and wants its pipelines in Switchboard."}'
    echo "demo: open http://127.0.0.1:8080 and sign in as admin with the password above (or bea / demo-bea-password, otto / demo-otto-password)."
    echo "demo: CI/CD → Pipelines has the demo pipelines; CI/CD → Requests has otto's request waiting for review. Ctrl-C stops everything"
    wait

# Run every Rust test (PostgreSQL ones too when SWITCHBOARD_TEST_PG_URL is set), validate api-spec/openapi.json, fuzz the API, then the browser tests.
test: deps web venv venv-fuzz
    @if [ -n "${SWITCHBOARD_TEST_PG_URL:-}" ]; then echo "test: PostgreSQL tests use SWITCHBOARD_TEST_PG_URL"; else echo "test: SWITCHBOARD_TEST_PG_URL is not set; PostgreSQL tests are skipped (under CI they fail)"; fi
    cargo test --workspace --locked {{ exclude_web }}
    e2e/.venv/bin/python e2e/validate_spec.py api-spec/openapi.json
    python3 e2e/spec_compat.py api-spec/openapi.json
    e2e/.venv-fuzz/bin/python e2e/fuzz_api.py --binary "{{ CARGO_TARGET_DIR }}/debug/switchboard" --schemathesis e2e/.venv-fuzz/bin/schemathesis
    "{{ just_executable() }}" sdk-test
    "{{ just_executable() }}" browser-test

# Generate the Python and TypeScript SDKs from api-spec/openapi.json and run one scenario with each (e2e/sdk) against the debug server and the Jenkins simulator.
sdk-test: deps venv-sdk _npm
    #!/usr/bin/env bash
    set -euo pipefail
    if ! npm ls --prefix e2e/sdk --depth=0 >/dev/null 2>&1; then
        echo "sdk-test: installing e2e/sdk/node_modules"
        npm ci --prefix e2e/sdk --no-audit --no-fund
    fi
    cargo build --locked -p switchboard-server -p jenkins-sim
    python3 e2e/sdk/run.py --binary "{{ CARGO_TARGET_DIR }}/debug/switchboard" \
        --sim-binary "{{ CARGO_TARGET_DIR }}/debug/jenkins-sim" --venv e2e/.venv-sdk

# Run the Playwright browser tests (e2e/browser) with Debian's chromium against the debug server serving frontend/dist.
browser-test: deps web _npm
    #!/usr/bin/env bash
    set -euo pipefail
    if [ ! -f e2e/browser/package.json ]; then
        echo "browser-test: e2e/browser/package.json is missing, so there are no browser tests to run; failing rather than passing without them" >&2
        exit 1
    fi
    if [ ! -x /usr/bin/chromium ]; then
        echo "browser-test: installing Debian's chromium"
        {{ sudo }} apt-get update
        {{ sudo }} env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium
    fi
    export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
    if ! npm ls --prefix e2e/browser --depth=0 >/dev/null 2>&1; then
        echo "browser-test: installing e2e/browser/node_modules"
        npm ci --prefix e2e/browser --no-audit --no-fund
    fi
    cargo build --locked -p switchboard-server
    SWITCHBOARD_BIN="{{ CARGO_TARGET_DIR }}/debug/switchboard" SWITCHBOARD_WEB_DIR="{{ web_dist }}" \
        npx --prefix e2e/browser playwright test -c e2e/browser/playwright.config.ts

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

# Check formatting and run clippy (host, all targets but the web app; domain crate and web app for wasm32).
lint: deps
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets --locked {{ exclude_web }} -- -D warnings
    cargo clippy -p switchboard-domain --target wasm32-unknown-unknown --locked -- -D warnings
    if [ -f frontend/Cargo.toml ]; then cargo clippy -p switchboard-web --target wasm32-unknown-unknown --locked -- -D warnings; fi

# What CI runs: lint, then test.
ci: lint test

# Benchmark the release server on SQLite and PostgreSQL: wrk load, the web app's load, discovery of 10,000 jobs, the run result delay against jenkins-sim and the database round trips of a PATCH and a trigger; writes BENCHMARKS.md.
bench: web build
    #!/usr/bin/env bash
    set -euo pipefail
    if ! command -v wrk >/dev/null 2>&1; then
        echo "bench: installing wrk"
        {{ sudo }} apt-get update
        {{ sudo }} env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends wrk
    fi
    cargo build --release --locked -p jenkins-sim
    python3 e2e/bench.py --binary "{{ server_bin }}" --sim-binary "{{ CARGO_TARGET_DIR }}/release/jenkins-sim" --out BENCHMARKS.md
    python3 e2e/round_trips.py --binary "{{ server_bin }}" --sim-binary "{{ CARGO_TARGET_DIR }}/release/jenkins-sim" --out BENCHMARKS.md
