//! The answer cache, which also makes concurrent lookups of one name and type share one query.
//!
//! A key's slot is either a cached answer with its expiry or a query in flight. The first
//! lookup to miss leads the query; later ones wait for its result. If the leader's future is
//! dropped, its guard empties the slot and wakes the waiters, and one of them leads anew, so a
//! cancelled lookup never strands the others. A waiter whose deadline is later than the
//! leader's sets no timer of its own, because the leader's query ends by its deadline: this
//! holds as long as the leader's future is polled or dropped, not left aside unpolled.
//!
//! At most `capacity` answers are kept: past that, the oldest answer not used since it was
//! last passed over goes (CLOCK, the second-chance order), so a list of millions of names
//! keeps the memory of the last ones only, and a name used all along stays.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::rt::Timer;
use event_listener::{Event, EventListener};
use futures_lite::FutureExt;
use hickory_proto::rr::RecordType;

use crate::Inner;
use crate::error::DnsError;
use crate::qname::QName;
use crate::wire::{Answer, Timed};

/// A name and the type asked: hashed and compared as plain bytes, which a hickory `Name` is not.
type Key = (QName, RecordType);

#[derive(Debug)]
enum Slot {
    Ready {
        answer: Answer,
        expires: Instant,
        /// Its place in the eviction order (`Slots::order` holds it with this stamp).
        stamp: u64,
        /// Used since the eviction order last passed over it.
        used: bool,
    },
    Flight(Arc<Flight>),
}

/// A query in flight: its result, once there is one, and the event that announces it.
#[derive(Debug)]
struct Flight {
    /// The leader's deadline, by which its query ends (or its guard wakes the waiters).
    deadline: Instant,
    done: Event,
    result: Mutex<Option<Result<Answer, DnsError>>>,
}

/// Answers by name and type, at most `capacity` of them.
#[derive(Debug)]
pub(crate) struct Cache {
    slots: Mutex<Slots>,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Slots {
    /// foldhash, not SipHash: every lookup hashes its keys, and foldhash's per-process seed
    /// still keeps a hostile list of names from choosing collisions.
    map: HashMap<Key, Slot, foldhash::fast::RandomState>,
    /// Answers in the order they were stored (or passed over while used), with their stamps;
    /// an entry whose slot holds another stamp, or none, is stale and skipped.
    order: VecDeque<(Key, u64)>,
    next_stamp: u64,
}

impl Slots {
    /// Stores an answer, then drops answers while more are kept than `capacity`.
    fn store(&mut self, key: &Key, answer: Answer, expires: Instant, capacity: usize) {
        let stamp = self.next_stamp;
        self.next_stamp += 1;
        let ready = Slot::Ready {
            answer,
            expires,
            stamp,
            used: false,
        };
        self.map.insert(key.clone(), ready);
        self.order.push_back((key.clone(), stamp));
        while self.order.len() > capacity {
            let Some((key, stamp)) = self.order.pop_front() else {
                break;
            };
            match self.map.get_mut(&key) {
                Some(Slot::Ready { stamp: s, used, .. }) if *s == stamp => {
                    if std::mem::take(used) {
                        // A second chance: back to the end of the order.
                        self.order.push_back((key, stamp));
                    } else {
                        self.map.remove(&key);
                    }
                }
                // Stale: the slot was asked again, removed or is in flight.
                _ => {}
            }
        }
    }

    /// How many slots are held (answers and queries in flight).
    fn len(&self) -> usize {
        self.map.len()
    }
}

enum Claim {
    Hit(Answer),
    Wait(Arc<Flight>, EventListener),
    Lead(Arc<Flight>),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Cache {
    /// A cache that keeps at most `capacity` answers.
    pub(crate) fn new(capacity: usize) -> Cache {
        Cache {
            slots: Mutex::new(Slots::default()),
            capacity,
        }
    }

    /// How many slots are held (answers and queries in flight).
    pub(crate) fn len(&self) -> usize {
        lock(&self.slots).len()
    }

    /// The answers for `name` and each of `rtypes`, in their order: cached, shared with a
    /// query in flight, or asked (the types this lookup leads are asked together).
    pub(crate) async fn get(
        &self,
        inner: &Inner,
        name: &QName,
        rtypes: &[RecordType],
        deadline: Instant,
    ) -> Vec<Result<Answer, DnsError>> {
        let mut results: Vec<Option<Result<Answer, DnsError>>> = vec![None; rtypes.len()];
        while results.iter().any(Option::is_none) {
            let (mut leads, mut waits) = (Vec::new(), Vec::new());
            for (i, &rtype) in rtypes.iter().enumerate() {
                if results[i].is_some() {
                    continue;
                }
                let key = (name.clone(), rtype);
                match self.claim(&key, inner.clock.now(), deadline) {
                    Claim::Hit(answer) => {
                        inner.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                        results[i] = Some(Ok(answer));
                    }
                    Claim::Lead(flight) => leads.push((
                        i,
                        Lead {
                            cache: self,
                            key,
                            flight,
                            finished: false,
                        },
                    )),
                    Claim::Wait(flight, listener) => waits.push((i, flight, listener)),
                }
            }
            // Our own queries first, then the others' flights: a lookup never waits while it
            // leads, so two lookups leading one type each cannot wait on each other.
            if !leads.is_empty() {
                let asked: Vec<RecordType> = leads.iter().map(|(i, _)| rtypes[*i]).collect();
                let answers = crate::ask(inner, name, &asked, deadline).await;
                for ((i, mut guard), answer) in leads.into_iter().zip(answers) {
                    results[i] = Some(guard.finish(answer, inner.clock.now()));
                }
            }
            for (i, flight, listener) in waits {
                results[i] = wait(inner, &flight, listener, deadline).await;
            }
        }
        results.into_iter().flatten().collect()
    }

    fn claim(&self, key: &Key, now: Instant, deadline: Instant) -> Claim {
        let mut slots = lock(&self.slots);
        let lead = || {
            Arc::new(Flight {
                deadline,
                done: Event::new(),
                result: Mutex::new(None),
            })
        };
        // One hash of the name, whether it is found or not.
        match slots.map.entry(key.clone()) {
            Entry::Occupied(mut slot) => match slot.get_mut() {
                Slot::Ready {
                    answer,
                    expires,
                    used,
                    ..
                } if *expires > now => {
                    *used = true;
                    Claim::Hit(answer.clone())
                }
                // The listener is made under the lock, so the leader's notice cannot slip past.
                Slot::Flight(flight) => Claim::Wait(flight.clone(), flight.done.listen()),
                Slot::Ready { .. } => {
                    let flight = lead();
                    slot.insert(Slot::Flight(flight.clone()));
                    Claim::Lead(flight)
                }
            },
            Entry::Vacant(slot) => {
                let flight = lead();
                slot.insert(Slot::Flight(flight.clone()));
                Claim::Lead(flight)
            }
        }
    }
}

/// The leader's hold on a slot in flight; dropped unfinished (its lookup cancelled), it frees
/// the slot and wakes the waiters so that one of them takes over.
impl Flight {
    /// Wakes the lookups waiting for this flight. Each listens under the cache's lock, and the
    /// leader takes that lock before this, so a count of zero means nobody waits: no notice
    /// then, which would allocate the event's state for nothing.
    fn wake_waiters(&self) {
        if self.done.total_listeners() > 0 {
            self.done.notify(usize::MAX);
        }
    }
}

struct Lead<'a> {
    cache: &'a Cache,
    key: Key,
    flight: Arc<Flight>,
    finished: bool,
}

impl Lead<'_> {
    fn finish(
        &mut self,
        result: Result<Timed, DnsError>,
        now: Instant,
    ) -> Result<Answer, DnsError> {
        let shared = result.map(|(answer, ttl)| {
            let mut slots = lock(&self.cache.slots);
            match ttl.filter(|&t| t > 0) {
                Some(ttl) => {
                    let expires = now + Duration::from_secs(ttl.into());
                    let capacity = self.cache.capacity;
                    slots.store(&self.key, answer.clone(), expires, capacity);
                }
                None => {
                    slots.map.remove(&self.key);
                }
            }
            answer
        });
        *lock(&self.flight.result) = Some(shared.clone());
        if shared.is_err() {
            lock(&self.cache.slots).map.remove(&self.key);
        }
        self.finished = true;
        self.flight.wake_waiters();
        shared
    }
}

impl Drop for Lead<'_> {
    fn drop(&mut self) {
        if !self.finished {
            lock(&self.cache.slots).map.remove(&self.key);
            self.flight.wake_waiters();
        }
    }
}

/// The result of another lookup's query, or `None` if it has none for us (its leader was
/// dropped, or ran out of its own time while ours goes on): then ask again.
async fn wait(
    inner: &Inner,
    flight: &Flight,
    listener: EventListener,
    deadline: Instant,
) -> Option<Result<Answer, DnsError>> {
    if deadline >= flight.deadline {
        // The flight ends first: no timer of our own (a thousand waiters on one name would
        // otherwise each set one).
        listener.await;
    } else {
        let woken = async {
            listener.await;
            true
        };
        let expired = async {
            Timer::at(deadline).await;
            false
        };
        if !woken.or(expired).await {
            return Some(Err(DnsError::Timeout));
        }
    }
    let result = lock(&flight.result).clone();
    match result {
        // The leader ran out of its own time; this lookup may have more.
        Some(Err(DnsError::Timeout)) if Instant::now() < deadline => None,
        Some(result) => {
            inner.stats.coalesced.fetch_add(1, Ordering::Relaxed);
            Some(result)
        }
        // The leader was dropped before it had a result.
        None => None,
    }
}
