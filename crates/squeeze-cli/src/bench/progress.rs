//! The progress line of a bench run, `[n/N] kernel shape  elapsed  est. remaining`, drawn on
//! stderr only when stderr is a terminal, and cleared before each table row is printed.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    bar: ProgressBar,
    total: usize,
}

impl Progress {
    /// A line for a run of `total` benchmarks; hidden unless stderr is a terminal, so pipes and
    /// logs get the table alone.
    pub fn new(total: usize) -> Self {
        let bar = if std::io::stderr().is_terminal() {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            let style =
                ProgressStyle::with_template("{msg}  {elapsed} elapsed  est. {eta} remaining")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner());
            bar.set_style(style);
            bar.enable_steady_tick(Duration::from_millis(500));
            bar
        } else {
            ProgressBar::hidden()
        };
        Self { bar, total }
    }

    /// Benchmark `index` (from 0) of the run, `kernel` at `shape`, is starting.
    pub fn start(&self, index: usize, kernel: &str, shape: &str) {
        self.bar.set_position(index as u64);
        self.bar
            .set_message(format!("[{}/{}] {kernel} {shape}", index + 1, self.total));
    }

    /// Prints a table line to stdout with the progress line cleared around it.
    pub fn println(&self, line: &str) {
        self.bar.suspend(|| println!("{line}"));
    }

    /// Removes the line.
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}
