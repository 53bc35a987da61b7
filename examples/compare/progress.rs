//! Progress on stderr, one bar per section (`indicatif`: drawn only when
//! stderr is a terminal), and the time each section took.

use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

/// A bar for `section`, `len` steps long.
pub fn bar(section: &str, len: usize) -> ProgressBar {
    let style = ProgressStyle::with_template(
        "{prefix:>12} [{bar:30}] {pos:>3}/{len:3} {elapsed:>4} {wide_msg}",
    )
    .expect("a valid template")
    .progress_chars("=> ");
    ProgressBar::new(len as u64)
        .with_style(style)
        .with_prefix(section.to_string())
}

/// The sections run so far and how long each took.
pub struct Sections {
    started: Instant,
    done: Vec<(&'static str, Duration)>,
}

impl Sections {
    pub fn new() -> Self {
        Sections {
            started: Instant::now(),
            done: Vec::new(),
        }
    }

    /// Runs `section`, timing it.
    pub fn run<T>(&mut self, name: &'static str, section: impl FnOnce() -> T) -> T {
        let start = Instant::now();
        let out = section();
        self.done.push((name, start.elapsed()));
        out
    }

    /// One line on stderr: the total and each section's share.
    pub fn report(&self) {
        let parts: Vec<String> = self
            .done
            .iter()
            .map(|(name, d)| format!("{name} {:.1} s", d.as_secs_f64()))
            .collect();
        eprintln!(
            "[compare] {:.1} s in all: {}",
            self.started.elapsed().as_secs_f64(),
            parts.join(", ")
        );
    }
}
