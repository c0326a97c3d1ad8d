//! `buildbot-master`: one real Buildbot master with its local workers (the test master of
//! `e2e/buildbot/master.cfg`), for people trying Switchboard and for the browser tests.
//!
//! Prints `buildbot listening on http://127.0.0.1:PORT/` and then the users on stdout, and
//! runs until SIGTERM or SIGINT arrives or stdin closes (so `buildbot-master < /dev/null`
//! stops at once; keep stdin open, e.g. from a terminal or a pipe). Then it stops the master
//! and removes its temporary directory. Killed outright (SIGKILL), it leaves nothing behind
//! for long either: the master watches this process and exits when it is gone (master.cfg).
//!
//! Usage: `buildbot-master` (no options). The first start creates the venv
//! `e2e/.venv-buildbot` (python3 and network needed), which takes a minute.

use std::io::{Read, Write};

use buildbot_harness::{ADMIN_PASSWORD, BUILDERS, Master, VIEWER_PASSWORD};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::oneshot;

fn main() {
    if std::env::args().len() > 1 {
        eprintln!(
            "usage: buildbot-master\n\nStarts a Buildbot master with local workers on a free 127.0.0.1 port \
             (e2e/buildbot/master.cfg); stops on SIGTERM, SIGINT or when stdin closes."
        );
        std::process::exit(2);
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let reason = runtime.block_on(async {
        // Listen before the (slow) start, so that a signal sent meanwhile is not lost: it
        // stops the master as soon as it is up.
        let mut term = signal(SignalKind::terminate()).expect("listen for SIGTERM");
        let mut int = signal(SignalKind::interrupt()).expect("listen for SIGINT");
        let (closed_tx, closed_rx) = oneshot::channel::<()>();

        let master = Master::start(serde_json::json!({}));
        {
            let mut out = std::io::stdout().lock();
            let _ = writeln!(out, "buildbot listening on {}", master.url);
            let _ = writeln!(
                out,
                "users: admin / {ADMIN_PASSWORD} (may force, stop, cancel); viewer / {VIEWER_PASSWORD} (read only)"
            );
            let _ = writeln!(out, "builders: {}", BUILDERS.join(", "));
            let _ = out.flush();
        }

        // stdin closing (EOF or an error) is a reason to stop, like a signal. A plain thread:
        // a read blocked on a terminal must not hold up the exit.
        std::thread::spawn(move || {
            let mut stdin = std::io::stdin().lock();
            let mut buf = [0u8; 1024];
            while let Ok(n) = stdin.read(&mut buf) {
                if n == 0 {
                    break;
                }
            }
            let _ = closed_tx.send(());
        });

        let reason = tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = int.recv() => "SIGINT",
            _ = closed_rx => "stdin closed",
        };
        eprintln!("buildbot-master: stopping the master ({reason})");
        drop(master);
        reason
    });
    eprintln!("buildbot-master: stopped ({reason})");
    // Not waiting for the stdin thread, which may still be blocked in a read.
    std::process::exit(0);
}
