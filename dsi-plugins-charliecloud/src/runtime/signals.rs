//! How dsi passes SIGINT, SIGTERM and SIGHUP on to the running container
//! (see [`Interrupts`]).

use std::sync::{Mutex, OnceLock};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};

/// How dsi reacts to SIGINT, SIGTERM and SIGHUP.
///
/// A thread of signal-hook's iterator receives them. While at least one run
/// is in progress, the first such signal is recorded (every run in progress
/// sees it) and sent on to the process group of every running container
/// instead of ending dsi, so the run can be recorded; a second one is also
/// sent on and then ends dsi with the default action. With no run in
/// progress the default action applies at once.
///
/// Each step runs in its own process group, so the container's children
/// (a shell's foreground command, say) get the signal too, and a terminal's
/// Ctrl-C reaches the container once, through dsi.
pub(crate) struct Interrupts {
    state: Mutex<InterruptState>,
}

#[derive(Default)]
struct InterruptState {
    /// Runs in progress.
    active: usize,
    /// Signals received while runs were in progress (a generation counter).
    received: u64,
    /// The last of them.
    last: i32,
    /// Whether one was received since runs started (a second one is fatal).
    interrupted: bool,
    /// Process groups of the containers now running.
    groups: Vec<i32>,
}

fn signal_group(group: i32, sig: i32) {
    if let (Some(pid), Some(sig)) = (
        rustix::process::Pid::from_raw(group),
        rustix::process::Signal::from_named_raw(sig),
    ) {
        let _ = rustix::process::kill_process_group(pid, sig);
    }
}

impl Interrupts {
    /// The process-wide instance; `None` if the handlers cannot be installed
    /// (then signals keep their default action).
    fn get() -> Option<&'static Interrupts> {
        static INTERRUPTS: OnceLock<Option<Interrupts>> = OnceLock::new();
        INTERRUPTS
            .get_or_init(|| {
                let mut signals =
                    signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP]).ok()?;
                std::thread::Builder::new()
                    .name("dsi-signals".into())
                    .spawn(move || {
                        for sig in signals.forever() {
                            if let Some(i) = Interrupts::get() {
                                i.received(sig);
                            }
                        }
                    })
                    .ok()?;
                Some(Interrupts {
                    state: Mutex::new(InterruptState::default()),
                })
            })
            .as_ref()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, InterruptState> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn received(&self, sig: i32) {
        let mut st = self.lock();
        if st.active > 0 {
            for &g in &st.groups {
                signal_group(g, sig);
            }
            if !st.interrupted {
                st.interrupted = true;
                st.received += 1;
                st.last = sig;
                return;
            }
        }
        drop(st);
        let _ = signal_hook::low_level::emulate_default_handler(sig);
    }

    /// Starts a run; returns its view of the signal counter.
    fn arm(&self) -> u64 {
        let mut st = self.lock();
        st.active += 1;
        st.received
    }

    fn disarm(&self) {
        let mut st = self.lock();
        st.active -= 1;
        if st.active == 0 {
            st.interrupted = false;
        }
    }

    /// The signal received since the run that armed at `since` started.
    fn pending(&self, since: u64) -> Option<i32> {
        let st = self.lock();
        (st.received > since).then_some(st.last)
    }

    /// A step's container started as process group `group`; a signal that
    /// arrived since the run started is sent to it at once.
    pub(crate) fn add_group(&self, group: i32, since: u64) {
        let mut st = self.lock();
        st.groups.push(group);
        if st.received > since {
            signal_group(group, st.last);
        }
    }

    pub(crate) fn remove_group(&self, group: i32) {
        self.lock().groups.retain(|&g| g != group);
    }
}

/// One run's view of [`Interrupts`]; disarms when dropped.
pub(crate) struct Armed {
    pub(crate) interrupts: Option<&'static Interrupts>,
    pub(crate) since: u64,
}

impl Armed {
    pub(crate) fn new() -> Armed {
        let interrupts = Interrupts::get();
        let since = interrupts.map_or(0, Interrupts::arm);
        Armed { interrupts, since }
    }

    pub(crate) fn pending(&self) -> Option<i32> {
        self.interrupts.and_then(|i| i.pending(self.since))
    }
}

impl Drop for Armed {
    fn drop(&mut self) {
        if let Some(i) = self.interrupts {
            i.disarm();
        }
    }
}
