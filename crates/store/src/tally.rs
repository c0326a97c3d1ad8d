//! Counting database statements: every statement any connection of the pool runs, and, for
//! one piece of work (an HTTP request), those run on its behalf — for the metrics and the
//! round-trip figures in BENCHMARKS.md.
//!
//! A statement is one round trip to PostgreSQL (SQLite runs in-process; the count still says
//! how much work a path asks of the database). Work is attached on the thread that runs it
//! (the store is synchronous and runs on blocking threads), so statements of background work
//! running at the same time are not counted for a request.

use std::cell::RefCell;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use diesel::connection::{Instrumentation, InstrumentationEvent};

thread_local! {
    /// The tally of the work this thread runs now, if any.
    static ATTACHED: RefCell<Option<Arc<AtomicU64>>> = const { RefCell::new(None) };
}

/// The statements run on behalf of one piece of work.
#[derive(Debug, Clone, Default)]
pub struct StatementTally(Arc<AtomicU64>);

impl StatementTally {
    pub fn count(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }

    /// Runs `work` on this thread with every statement it runs counted here too.
    pub fn attach<R>(&self, work: impl FnOnce() -> R) -> R {
        /// Puts back what was attached before, also when `work` panics (threads are reused).
        struct Restore(Option<Arc<AtomicU64>>);
        impl Drop for Restore {
            fn drop(&mut self) {
                let previous = self.0.take();
                ATTACHED.with_borrow_mut(|attached| *attached = previous);
            }
        }
        let previous = ATTACHED.with_borrow_mut(|attached| attached.replace(self.0.clone()));
        let _restore = Restore(previous);
        work()
    }
}

/// Set on every pooled connection: counts its statements into the pool's total and the
/// tally attached to the thread.
pub(crate) struct CountStatements(pub(crate) Arc<AtomicU64>);

impl Instrumentation for CountStatements {
    fn on_connection_event(&mut self, event: InstrumentationEvent<'_>) {
        if let InstrumentationEvent::StartQuery { .. } = event {
            self.0.fetch_add(1, Ordering::Relaxed);
            ATTACHED.with_borrow(|attached| {
                if let Some(tally) = attached {
                    tally.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use diesel::connection::SimpleConnection;
    use diesel::{Connection, SqliteConnection};

    #[test]
    fn statements_count_for_the_attached_work_only() {
        let total = Arc::new(AtomicU64::new(0));
        let mut conn = SqliteConnection::establish(":memory:").expect("sqlite");
        conn.set_instrumentation(CountStatements(total.clone()));
        let mut statement = || conn.batch_execute("SELECT 1").expect("select");
        statement();
        let tally = StatementTally::default();
        tally.attach(&mut statement);
        tally.attach(|| {
            let inner = StatementTally::default();
            inner.attach(&mut statement);
            assert_eq!(inner.count(), 1);
            statement();
        });
        statement();
        assert_eq!(
            tally.count(),
            2,
            "the nested work's statement is the inner tally's"
        );
        assert_eq!(total.load(Ordering::Relaxed), 5);
    }
}
