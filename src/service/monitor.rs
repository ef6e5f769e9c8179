//! The monitor thread: one `SCardGetStatusChange` over every reader and
//! the PnP pseudo-reader, with no timeout and no polling. Shutdown wakes
//! it with `SCardCancel`. When pcscd goes away, the old context answers
//! `NoService` forever (pcsc-rust issue 21), so a new one is established,
//! with backoff.

use std::ffi::CString;
use std::sync::atomic::Ordering;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use pcsc::{Context, ReaderState, Scope, State};

use super::{Event, Job, ReaderHandle, Shared};

/// The first wait before trying pcscd again; it doubles up to the maximum.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

pub(super) fn run(shared: &Arc<Shared>, woken: &std_mpsc::Receiver<()>, max_backoff: Duration) {
    let mut backoff = FIRST_BACKOFF;
    let mut next_id: u32 = 0;
    while !shared.stopping.load(Ordering::SeqCst) {
        let ctx = match Context::establish(Scope::User) {
            Ok(ctx) => ctx,
            Err(e) => {
                tracing::debug!("pcscd not reachable ({e}); next try in {} ms", backoff.as_millis());
                if woken.recv_timeout(backoff).is_ok() {
                    return;
                }
                backoff = (backoff * 2).min(max_backoff);
                continue;
            }
        };
        *shared.monitor_context.lock().unwrap_or_else(PoisonError::into_inner) = Some(ctx.clone());
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        match watch(shared, &ctx, &mut next_id) {
            Ended::Stopping => return,
            Ended::ServiceLost => {
                tracing::warn!("pcscd went away; reconnecting");
                shared.available.store(false, Ordering::SeqCst);
                remove_all_readers(shared, None);
                shared.emit(Event::Service { available: false });
                *shared.monitor_context.lock().unwrap_or_else(PoisonError::into_inner) = None;
                backoff = FIRST_BACKOFF;
                if woken.recv_timeout(backoff).is_ok() {
                    return;
                }
            }
        }
    }
}

enum Ended {
    Stopping,
    ServiceLost,
}

/// What the monitor last saw of a reader.
struct Watched {
    id: u32,
    present: bool,
    /// pcsc-lite's count of insertions and removals in this reader.
    events: u32,
}

fn watch(shared: &Arc<Shared>, ctx: &Context, next_id: &mut u32) -> Ended {
    let mut names: Vec<String> = Vec::new();
    let mut watched: Vec<Watched> = Vec::new();
    let mut states: Vec<ReaderState> = vec![ReaderState::new(pcsc::PNP_NOTIFICATION(), State::UNAWARE)];
    let mut first = true;
    loop {
        if first || states[0].event_state().contains(State::CHANGED) {
            match crate::transport::list_readers(ctx) {
                Ok(now) => sync_readers(shared, &now, &mut names, &mut watched, &mut states, next_id),
                Err(crate::transport::TransportError::NoService) => return Ended::ServiceLost,
                Err(e) => tracing::warn!("cannot list readers: {e}"),
            }
            if first {
                shared.available.store(true, Ordering::SeqCst);
                shared.emit(Event::Service { available: true });
                first = false;
            }
        }
        for state in states.iter_mut() {
            state.sync_current_state();
        }
        // Checked just before waiting: a cancel sent before the wait began
        // would be lost.
        if shared.stopping.load(Ordering::SeqCst) {
            return Ended::Stopping;
        }
        match ctx.get_status_change(None, &mut states) {
            Ok(()) => {}
            Err(pcsc::Error::Cancelled) if shared.stopping.load(Ordering::SeqCst) => return Ended::Stopping,
            Err(pcsc::Error::Cancelled | pcsc::Error::Timeout) => continue,
            Err(pcsc::Error::UnknownReader | pcsc::Error::ReaderUnavailable) => {
                // A reader left between listing and waiting: list again,
                // after a pause, so that a reader that keeps failing cannot
                // make this a busy loop.
                if woken_during(shared, Duration::from_millis(50)) {
                    return Ended::Stopping;
                }
                match crate::transport::list_readers(ctx) {
                    Ok(now) => sync_readers(shared, &now, &mut names, &mut watched, &mut states, next_id),
                    Err(_) => return Ended::ServiceLost,
                }
                continue;
            }
            Err(e) => {
                tracing::debug!("SCardGetStatusChange: {e}");
                return Ended::ServiceLost;
            }
        }
        if shared.stopping.load(Ordering::SeqCst) {
            return Ended::Stopping;
        }
        for (state, seen) in states.iter().skip(1).zip(watched.iter_mut()) {
            let now = state.event_state();
            if !now.contains(State::CHANGED) {
                continue;
            }
            let present = now.contains(State::PRESENT) && !now.contains(State::MUTE);
            let events = state.event_count();
            tracing::debug!(id = seen.id, state = ?now, present, events, "reader state");
            // A card swapped between two waits shows as present both times,
            // with the event count moved on by two.
            let swapped = present && seen.present && events.wrapping_sub(seen.events) >= 2;
            let changed = present != seen.present;
            seen.events = events;
            if !changed && !swapped {
                continue;
            }
            seen.present = present;
            if swapped || !present {
                send(shared, seen.id, Job::CardRemoved);
            }
            if present {
                send(shared, seen.id, Job::Classify { atr: state.atr().to_vec() });
            }
        }
    }
}

/// Adds workers for new readers and removes those of readers that left.
fn sync_readers(
    shared: &Arc<Shared>,
    now: &[String],
    names: &mut Vec<String>,
    watched: &mut Vec<Watched>,
    states: &mut Vec<ReaderState>,
    next_id: &mut u32,
) {
    let mut i = 0;
    while i < names.len() {
        if now.contains(&names[i]) {
            i += 1;
            continue;
        }
        let id = watched[i].id;
        names.remove(i);
        watched.remove(i);
        states.remove(i + 1);
        remove_reader(shared, id);
    }
    for name in now {
        if names.contains(name) {
            continue;
        }
        let Ok(c_name) = CString::new(name.as_str()) else { continue };
        let id = *next_id;
        *next_id = next_id.saturating_add(1);
        if let Err(e) = add_reader(shared, id, name) {
            tracing::error!(reader = %name, "cannot start a worker: {e}");
            continue;
        }
        names.push(name.clone());
        watched.push(Watched { id, present: false, events: 0 });
        states.push(ReaderState::new(c_name, State::UNAWARE));
    }
}

fn add_reader(shared: &Arc<Shared>, id: u32, name: &str) -> std::io::Result<()> {
    let (jobs, queue) = std_mpsc::channel();
    let thread = {
        let shared = Arc::clone(shared);
        let name = name.to_owned();
        std::thread::Builder::new()
            .name(format!("reader-{id}"))
            .spawn(move || super::worker::run(id, name, shared, queue))?
    };
    tracing::info!(reader = %name, id, "reader added");
    shared.readers().insert(id, ReaderHandle { name: name.to_owned(), jobs, thread: Some(thread) });
    shared.emit(Event::ReaderAdded { id, name: name.to_owned() });
    Ok(())
}

/// Removes a reader's object and closes its worker's queue: the worker
/// ends after its current job (whose thread this answers).
fn remove_reader(shared: &Arc<Shared>, id: u32) -> Option<JoinHandle<()>> {
    let handle = shared.readers().remove(&id);
    // Its PSAM, if any, goes with it (and with it the last handle on the
    // worker's queue but the one below, and those of operations under way).
    let events = Arc::clone(shared);
    shared.sam.remove(id, |now| events.emit(Event::SamReader { id: now }));
    let mut handle = handle?;
    tracing::info!(reader = %handle.name, id, "reader removed");
    drop(handle.jobs);
    shared.emit(Event::ReaderRemoved { id });
    handle.thread.take()
}

/// Removes every reader. At shutdown, `grace` is how long the workers may
/// take to finish the operations under way, all together; a worker still
/// busy after it is left behind. Otherwise they end on their own.
pub(super) fn remove_all_readers(shared: &Arc<Shared>, grace: Option<Duration>) {
    let deadline = grace.map(|grace| Instant::now() + grace);
    let ids: Vec<u32> = shared.readers().keys().copied().collect();
    let workers: Vec<(u32, JoinHandle<()>)> =
        ids.into_iter().filter_map(|id| remove_reader(shared, id).map(|thread| (id, thread))).collect();
    let Some(deadline) = deadline else { return };
    for (id, thread) in workers {
        while !thread.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        if thread.is_finished() {
            let _ = thread.join();
        } else {
            tracing::warn!(id, "a reader's worker is still busy after the shutdown grace; leaving it");
        }
    }
}

/// Sleeps for `pause` unless shutdown begins; answers whether it did.
fn woken_during(shared: &Arc<Shared>, pause: Duration) -> bool {
    std::thread::sleep(pause);
    shared.stopping.load(Ordering::SeqCst)
}

fn send(shared: &Arc<Shared>, id: u32, job: Job) {
    if let Some(handle) = shared.readers().get(&id) {
        let _ = handle.jobs.send(job);
    }
}
