//! A real Buildbot 4.3.0 master (with local workers) for Switchboard's tests: the
//! connector's tests (`crates/connectors/tests/buildbot*.rs`) and the server's contract
//! suite (`crates/server/tests/api/contract`). Dev-only; never a dependency of a shipped crate.
//!
//! The master runs from the Python venv `e2e/.venv-buildbot`, created from
//! `e2e/buildbot/requirements.txt` when missing or out of date (under a file lock, so that
//! test binaries running in parallel create it once). Each master gets a temporary directory
//! with `e2e/buildbot/master.cfg` (plus an optional [`Extension`] appended to it) and its own
//! free ports on 127.0.0.1, runs as a child process in its own process group
//! (`buildbot start --nodaemon`), and is stopped and its directory removed when dropped —
//! also when a test panics. A master shared by a test binary ([`shared`], or a static of the
//! binary's own) is never dropped: it notices that the test process is gone, removes its
//! directory and exits by itself (see master.cfg).
//!
//! Users: `admin` ([`ADMIN_PASSWORD`], may force, stop and cancel) and `viewer`
//! ([`VIEWER_PASSWORD`], may only read). Builders: see the head of `e2e/buildbot/master.cfg`.

use std::fs::{self, File};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, Once, OnceLock};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

pub const ADMIN_PASSWORD: &str = "admin-password-do-not-show";
pub const VIEWER_PASSWORD: &str = "viewer-password-do-not-show";

/// How long any wait in these tests may take before it counts as a failure. Generous: it
/// only bounds a test that would otherwise hang.
pub const DEADLINE: Duration = Duration::from_secs(60);

/// How long a master may take to start (the first run also creates the venv).
const START_DEADLINE: Duration = Duration::from_secs(120);

/// The builders of `e2e/buildbot/master.cfg` a master waits for before it counts as ready.
pub const BUILDERS: [&str; 5] = ["greet", "fails", "warns", "sleeper", "one-at-a-time"];

fn e2e() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Python appended to `master.cfg` in a master's directory, for tests that need builders
/// the default master lacks. It runs after master.cfg, so it can use (and add to) what
/// that defines: `c`, `settings`, `util`, `steps`, `schedulers`, `worker`, and the helpers
/// `shell(name, script)` and `builder(name, factory, workername)`.
#[derive(Debug, Clone, Copy)]
pub struct Extension {
    pub config: &'static str,
    /// The builders it adds: the master is ready once they are configured too.
    pub builders: &'static [&'static str],
}

/// The venv's directory, created or brought up to date first.
pub fn venv() -> &'static Path {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| {
        let venv = e2e().join(".venv-buildbot");
        let requirements = e2e().join("buildbot/requirements.txt");
        let wanted = fs::read_to_string(&requirements).expect("e2e/buildbot/requirements.txt");
        let marker = venv.join(".switchboard-requirements");
        let lock_path = std::env::temp_dir().join("switchboard-venv-buildbot.lock");
        let lock = File::create(&lock_path).expect("venv lock file");
        lock.lock().expect("lock the venv");
        if fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
            create_venv(&venv, &requirements);
            fs::write(&marker, &wanted).expect("venv marker");
        }
        let _ = lock.unlock();
        venv
    })
}

fn create_venv(venv: &Path, requirements: &Path) {
    let python = Command::new("python3").arg("--version").output();
    if !python.is_ok_and(|out| out.status.success()) {
        panic!(
            "the Buildbot tests need python3 (with the venv module) on PATH to create {}: install Python 3.9 or newer",
            venv.display()
        );
    }
    let run = |command: &mut Command, what: &str| {
        let out = command.output().unwrap_or_else(|e| panic!("{what}: {e}"));
        assert!(
            out.status.success(),
            "{what} failed ({}):\n{}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(
        Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(venv),
        "python3 -m venv e2e/.venv-buildbot",
    );
    // Keep the venv out of git without touching the repository's .gitignore.
    fs::write(venv.join(".gitignore"), "*\n").expect("venv .gitignore");
    run(
        Command::new(venv.join("bin/pip"))
            .args(["install", "--disable-pip-version-check", "-q", "-r"])
            .arg(requirements),
        "pip install -r e2e/buildbot/requirements.txt",
    );
}

/// A free TCP port on 127.0.0.1 (free when asked; a start that loses it retries).
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

/// A GET over HTTP/1.0 (so no chunked answer); `None` when nothing answers.
fn http_get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.0\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\r\n"
    )
    .ok()?;
    let mut answer = String::new();
    stream.read_to_string(&mut answer).ok()?;
    let status = answer.split(' ').nth(1)?.parse().ok()?;
    let body = answer
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())?;
    Some((status, body))
}

pub struct Master {
    /// The master's root URL, e.g. `http://127.0.0.1:41234/`.
    pub url: String,
    pub www_port: u16,
    settings: Value,
    builders: Vec<&'static str>,
    child: Child,
    dir: tempfile::TempDir,
}

/// The directories of the masters running in this process, for [`report_on_panic`].
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// The end of the log of every master running in this process.
pub fn live_logs() -> String {
    let dirs = LIVE.lock().map(|dirs| dirs.clone()).unwrap_or_default();
    dirs.iter()
        .map(|dir| {
            let log = fs::read_to_string(dir.join("twistd.log")).unwrap_or_default();
            let lines: Vec<&str> = log.lines().collect();
            format!(
                "--- the end of the Buildbot master's log ({}) ---\n{}",
                dir.display(),
                lines[lines.len().saturating_sub(80)..].join("\n")
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Makes a failing test print the end of each running master's log: what the master was
/// doing when a request to it went unanswered is otherwise gone with its directory.
fn report_on_panic() {
    static HOOK: Once = Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            eprintln!("{}", live_logs());
        }));
    });
}

/// The master of this test binary, started on first use. Tests that share it use
/// different builders (or only read).
pub fn shared() -> &'static Master {
    static SHARED: OnceLock<Master> = OnceLock::new();
    SHARED.get_or_init(|| Master::start(json!({})))
}

impl Master {
    /// Starts a master with harness settings (see master.cfg) over the defaults.
    pub fn start(settings: Value) -> Master {
        Self::start_extended(settings, None)
    }

    /// Like [`Master::start`], with `extension` appended to master.cfg.
    pub fn start_extended(settings: Value, extension: Option<&Extension>) -> Master {
        let venv = venv();
        let mut last_error = String::new();
        for _ in 0..3 {
            match Self::try_start(venv, &settings, extension) {
                Ok(master) => return master,
                Err(error) => last_error = error,
            }
        }
        panic!("the Buildbot master did not start: {last_error}");
    }

    fn try_start(
        venv: &Path,
        overrides: &Value,
        extension: Option<&Extension>,
    ) -> Result<Master, String> {
        let dir = tempfile::Builder::new()
            .prefix("switchboard-buildbot-")
            .tempdir()
            .map_err(|e| format!("temp dir: {e}"))?;
        let basedir = dir.path().to_path_buf();
        let out = Command::new(venv.join("bin/buildbot"))
            .args(["create-master", "-q"])
            .arg(&basedir)
            .output()
            .map_err(|e| format!("buildbot create-master: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "buildbot create-master failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let mut config = fs::read_to_string(e2e().join("buildbot/master.cfg"))
            .map_err(|e| format!("read e2e/buildbot/master.cfg: {e}"))?;
        let mut builders = BUILDERS.to_vec();
        if let Some(extension) = extension {
            config.push_str(
                "\n\n# --- appended by the test harness (buildbot_harness::Extension) ---\n",
            );
            config.push_str(extension.config);
            builders.extend_from_slice(extension.builders);
        }
        fs::write(basedir.join("master.cfg"), config)
            .map_err(|e| format!("write master.cfg: {e}"))?;
        let www_port = free_port();
        let pb_port = free_port();
        let mut settings = json!({
            "www_port": www_port,
            "pb_port": pb_port,
            "admins": ["admin"],
            "retired": false,
            "parent_pid": std::process::id(),
        });
        if let (Some(settings), Some(overrides)) = (settings.as_object_mut(), overrides.as_object())
        {
            settings.extend(overrides.clone());
        }
        write_settings(&basedir, &settings);
        let output = File::create(dir.path().join("output.log")).map_err(|e| e.to_string())?;
        // Buildbot prints each step's environment at the top of its log: the master and its
        // local workers get a minimal one, never the caller's (which may hold secrets).
        let mut command = Command::new(venv.join("bin/buildbot"));
        command.env_clear();
        for name in ["PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "USER"] {
            if let Some(value) = std::env::var_os(name) {
                command.env(name, value);
            }
        }
        let child = command
            .args(["start", "--nodaemon"])
            .arg(&basedir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(output.try_clone().map_err(|e| e.to_string())?))
            .stderr(Stdio::from(output))
            .process_group(0)
            .spawn()
            .map_err(|e| format!("buildbot start: {e}"))?;
        report_on_panic();
        if let Ok(mut live) = LIVE.lock() {
            live.push(basedir.clone());
        }
        let mut master = Master {
            url: format!("http://127.0.0.1:{www_port}/"),
            www_port,
            settings,
            builders,
            child,
            dir,
        };
        master.wait_ready()?;
        Ok(master)
    }

    fn basedir(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// The end of the master's log, for failure messages.
    pub fn log_tail(&self) -> String {
        let log = fs::read_to_string(self.basedir().join("twistd.log")).unwrap_or_default();
        let lines: Vec<&str> = log.lines().collect();
        lines[lines.len().saturating_sub(40)..].join("\n")
    }

    /// Waits until the web server answers, every builder is configured and every worker
    /// is connected.
    fn wait_ready(&mut self) -> Result<(), String> {
        let give_up = Instant::now() + START_DEADLINE;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!(
                    "the master exited ({status}):\n{}",
                    self.log_tail()
                ));
            }
            if self.log_tail().contains("CannotListenError") {
                return Err(format!("a port was taken:\n{}", self.log_tail()));
            }
            if self.ready() {
                return Ok(());
            }
            if Instant::now() > give_up {
                return Err(format!("not ready in time:\n{}", self.log_tail()));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn ready(&self) -> bool {
        let json = |path: &str| -> Option<Value> {
            let (status, body) = http_get(self.www_port, path)?;
            (status == 200).then(|| serde_json::from_str(&body).ok())?
        };
        let Some(workers) = json("/api/v2/workers") else {
            return false;
        };
        let connected = workers["workers"].as_array().is_some_and(|workers| {
            workers.len() >= 3
                && workers.iter().all(|w| {
                    w["connected_to"]
                        .as_array()
                        .is_some_and(|masters| !masters.is_empty())
                })
        });
        let Some(builders) = json("/api/v2/builders") else {
            return false;
        };
        let configured: Vec<&str> = builders["builders"]
            .as_array()
            .map(|builders| {
                builders
                    .iter()
                    .filter(|b| b["masterids"].as_array().is_some_and(|m| !m.is_empty()))
                    .filter_map(|b| b["name"].as_str())
                    .collect()
            })
            .unwrap_or_default();
        connected && self.builders.iter().all(|name| configured.contains(name))
    }

    /// Rewrites harness.json with `changes` and makes the master reload its configuration
    /// (SIGHUP, as `buildbot reconfig` does); returns once `done` holds for the builders
    /// list (`GET api/v2/builders`).
    pub fn reconfigure(&mut self, changes: Value, done: impl Fn(&Value) -> bool) {
        if let (Some(settings), Some(changes)) =
            (self.settings.as_object_mut(), changes.as_object())
        {
            settings.extend(changes.clone());
        }
        write_settings(&self.basedir(), &self.settings);
        let status = Command::new("kill")
            .args(["-HUP", &self.child.id().to_string()])
            .status()
            .expect("kill -HUP");
        assert!(status.success(), "kill -HUP failed");
        let give_up = Instant::now() + DEADLINE;
        loop {
            if let Some((200, body)) = http_get(self.www_port, "/api/v2/builders")
                && let Ok(builders) = serde_json::from_str::<Value>(&body)
                && done(&builders)
            {
                return;
            }
            assert!(
                Instant::now() < give_up,
                "the reconfig never took effect:\n{}",
                self.log_tail()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn signal_group(&self, signal: &str) {
        let _ = Command::new("kill")
            .args([signal, "--", &format!("-{}", self.child.id())])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

fn write_settings(basedir: &Path, settings: &Value) {
    fs::write(
        basedir.join("harness.json"),
        serde_json::to_vec_pretty(settings).expect("settings"),
    )
    .expect("harness.json");
}

impl Drop for Master {
    fn drop(&mut self) {
        let basedir = self.basedir();
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|dir| *dir != basedir);
        }
        // The master's process group: the master and its local workers (their commands
        // run in groups of their own and end with the master, see master.cfg).
        self.signal_group("-TERM");
        let give_up = Instant::now() + Duration::from_secs(15);
        while Instant::now() < give_up {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        self.signal_group("-KILL");
        let _ = self.child.wait();
        // The temporary directory goes with `dir`.
    }
}
