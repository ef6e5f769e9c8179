//! The monitor thread: one blocking wait over every reader and the reader
//! list, with no timeout and no polling (the backend's [`ReaderMonitor`]).
//! Shutdown wakes it through the monitor's canceller. When pcscd goes
//! away, only a new monitor helps, so one is made again, with backoff.

use std::sync::atomic::Ordering;
use std::sync::mpsc as std_mpsc;
use std::sync::{Arc, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{Event, Job, ReaderHandle, Shared};
use sscard_transport::{Backend, ReaderMonitor, TransportError, WaitError};

/// The first wait before trying pcscd again; it doubles up to the maximum.
const FIRST_BACKOFF: Duration = Duration::from_millis(50);

pub(super) fn run<B: Backend>(shared: &Arc<Shared<B>>, woken: &std_mpsc::Receiver<()>, max_backoff: Duration) {
    let mut backoff = FIRST_BACKOFF;
    let mut next_id: u32 = 0;
    while !shared.stopping.load(Ordering::SeqCst) {
        let mut monitor = match shared.backend.monitor() {
            Ok(monitor) => monitor,
            Err(e) => {
                tracing::debug!("pcscd not reachable ({e}); next try in {} ms", backoff.as_millis());
                if woken.recv_timeout(backoff).is_ok() {
                    return;
                }
                backoff = (backoff * 2).min(max_backoff);
                continue;
            }
        };
        *shared.monitor_cancel.lock().unwrap_or_else(PoisonError::into_inner) = Some(monitor.canceller());
        if shared.stopping.load(Ordering::SeqCst) {
            return;
        }
        match watch(shared, &mut monitor, &mut next_id) {
            Ended::Stopping => return,
            Ended::ServiceLost => {
                tracing::warn!("pcscd went away; reconnecting");
                shared.available.store(false, Ordering::SeqCst);
                remove_all_readers(shared, None);
                shared.emit(Event::Service { available: false });
                *shared.monitor_cancel.lock().unwrap_or_else(PoisonError::into_inner) = None;
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
    /// The backend's count of insertions and removals in this reader.
    events: u32,
}

fn watch<B: Backend>(shared: &Arc<Shared<B>>, monitor: &mut B::Monitor, next_id: &mut u32) -> Ended {
    let mut names: Vec<String> = Vec::new();
    let mut watched: Vec<Watched> = Vec::new();
    let mut list_again = true;
    let mut first = true;
    loop {
        if list_again {
            match monitor.list_readers() {
                Ok(now) => sync_readers(shared, &now, &mut names, &mut watched, next_id),
                Err(TransportError::NoService) => return Ended::ServiceLost,
                Err(e) => tracing::warn!("cannot list readers: {e}"),
            }
            if first {
                shared.available.store(true, Ordering::SeqCst);
                shared.emit(Event::Service { available: true });
                first = false;
            }
        }
        // Checked just before waiting: a cancel sent before the wait began
        // may be lost.
        if shared.stopping.load(Ordering::SeqCst) {
            return Ended::Stopping;
        }
        let seen = match monitor.wait(&names) {
            Ok(seen) => seen,
            Err(WaitError::Cancelled) if shared.stopping.load(Ordering::SeqCst) => return Ended::Stopping,
            Err(WaitError::Cancelled) => {
                list_again = false;
                continue;
            }
            Err(WaitError::ReaderGone) => {
                // A reader left between listing and waiting: list again,
                // after a pause, so that a reader that keeps failing cannot
                // make this a busy loop.
                std::thread::sleep(Duration::from_millis(50));
                if shared.stopping.load(Ordering::SeqCst) {
                    return Ended::Stopping;
                }
                list_again = true;
                continue;
            }
            Err(WaitError::ServiceLost) => return Ended::ServiceLost,
        };
        if shared.stopping.load(Ordering::SeqCst) {
            return Ended::Stopping;
        }
        list_again = seen.readers_changed;
        for (slot, was) in seen.slots.iter().zip(watched.iter_mut()) {
            // A card swapped between two waits shows as present both times,
            // with the event count moved on by two.
            let swapped = slot.present && was.present && slot.events.wrapping_sub(was.events) >= 2;
            let changed = slot.present != was.present;
            was.events = slot.events;
            if !changed && !swapped {
                continue;
            }
            tracing::debug!(id = was.id, present = slot.present, events = slot.events, "reader state");
            was.present = slot.present;
            if swapped || !slot.present {
                send(shared, was.id, Job::CardRemoved);
            }
            if slot.present {
                send(shared, was.id, Job::Classify { atr: slot.atr.clone() });
            }
        }
    }
}

/// Adds workers for new readers and removes those of readers that left.
fn sync_readers<B: Backend>(
    shared: &Arc<Shared<B>>,
    now: &[String],
    names: &mut Vec<String>,
    watched: &mut Vec<Watched>,
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
        remove_reader(shared, id);
    }
    for name in now {
        if names.contains(name) {
            continue;
        }
        let id = *next_id;
        *next_id = next_id.saturating_add(1);
        if let Err(e) = add_reader(shared, id, name) {
            tracing::error!(reader = %name, "cannot start a worker: {e}");
            continue;
        }
        names.push(name.clone());
        watched.push(Watched { id, present: false, events: 0 });
    }
}

fn add_reader<B: Backend>(shared: &Arc<Shared<B>>, id: u32, name: &str) -> std::io::Result<()> {
    let (jobs, queue) = std_mpsc::channel();
    let thread = {
        let shared = Arc::clone(shared);
        let name = name.to_owned();
        std::thread::Builder::new()
            .name(format!("reader-{id}"))
            .spawn(move || super::worker::run(id, name, shared, queue))?
    };
    // Asked once, as the reader appears: a driver answers these itself,
    // without the card or the USB link.
    let features = shared.backend.features(name);
    tracing::info!(
        reader = %name,
        id,
        pin_pad = features.pin_pad(),
        extended_apdu = features.extended_apdu(),
        "reader added"
    );
    shared
        .readers()
        .insert(id, ReaderHandle { name: name.to_owned(), features: features.clone(), jobs, thread: Some(thread) });
    shared.emit(Event::ReaderAdded { id, name: name.to_owned(), features });
    Ok(())
}

/// Removes a reader's object and closes its worker's queue: the worker
/// ends after its current job (whose thread this answers).
fn remove_reader<B: Backend>(shared: &Arc<Shared<B>>, id: u32) -> Option<JoinHandle<()>> {
    let handle = shared.readers().remove(&id);
    // What was known of its card goes with it, now, not when its worker ends.
    shared.card_profiles.lock().unwrap_or_else(PoisonError::into_inner).remove(&id);
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
pub(super) fn remove_all_readers<B: Backend>(shared: &Arc<Shared<B>>, grace: Option<Duration>) {
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

fn send<B: Backend>(shared: &Arc<Shared<B>>, id: u32, job: Job) {
    if let Some(handle) = shared.readers().get(&id) {
        let _ = handle.jobs.send(job);
    }
}
