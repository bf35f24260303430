//! Unit tests of the recording: each builds a scenario step by step, polling futures by hand, so
//! the order of events is exactly the one the test names.

use std::future::Future;
use std::pin::pin;
use std::time::Duration;

use futures_lite::future::{block_on, poll_once};

use crate::{Mutex, Recording, RwLock, RwLockUpgradableReadGuard, Semaphore};

/// Polls a pinned future once and says whether it is still pending.
fn pending<F: Future>(f: std::pin::Pin<&mut F>) -> bool {
    block_on(poll_once(f)).is_none()
}

#[test]
fn uncontended_acquisitions_are_counted_and_their_holds_timed() {
    let m = Mutex::new(0);
    for _ in 0..3 {
        let mut g = block_on(m.lock());
        *g += 1;
        std::thread::sleep(Duration::from_millis(2));
    }
    drop(m.try_lock().unwrap());
    let r = m.report();
    assert_eq!((r.acquisitions, r.contended, r.overtakes), (4, 0, 0));
    assert_eq!(r.longest_queue, 0);
    assert_eq!(r.wait_max, Duration::ZERO);
    assert!(r.sites.is_empty());
    // Three holds of at least 2 ms each were recorded.
    assert!(r.hold_max >= Duration::from_millis(2), "{r:?}");
    assert!(r.hold_total >= Duration::from_millis(6), "{r:?}");
    assert!(r.hold_p50 >= Duration::from_millis(1), "{r:?}");
}

#[test]
fn a_waiter_is_contended_with_its_wait_and_call_site() {
    let m = Mutex::new(());
    let holder = m.try_lock().unwrap();
    let line = line!() + 1;
    let mut waiter = pin!(m.lock());
    assert!(pending(waiter.as_mut()));
    assert_eq!(m.report().longest_queue, 1);
    std::thread::sleep(Duration::from_millis(2));
    drop(holder);
    drop(block_on(waiter));

    let r = m.report();
    assert_eq!((r.acquisitions, r.contended, r.overtakes), (2, 1, 0));
    assert!(r.wait_max >= Duration::from_millis(2), "{r:?}");
    assert_eq!(
        r.wait_p50, r.wait_max,
        "one wait: every percentile is that wait"
    );
    assert_eq!(r.sites.len(), 1);
    let site = &r.sites[0];
    let want = format!("{}:{line}:", file!());
    assert!(
        site.location.as_deref().unwrap().starts_with(&want),
        "{site:?}"
    );
    assert_eq!(site.waits, 1);
    assert_eq!(site.total_wait, r.wait_total);
}

#[test]
fn longest_queue_counts_waiters_at_once() {
    let m = Mutex::new(());
    let holder = m.try_lock().unwrap();
    let mut a = pin!(m.lock());
    let mut b = pin!(m.lock());
    let mut c = pin!(m.lock());
    for w in [a.as_mut(), b.as_mut()] {
        assert!(pending(w));
    }
    assert!(pending(c.as_mut()));
    drop(holder);
    drop(block_on(a));
    drop(block_on(b));
    drop(block_on(c));
    // Later waits, one at a time, do not lower the mark.
    let holder = m.try_lock().unwrap();
    let mut d = pin!(m.lock());
    assert!(pending(d.as_mut()));
    drop(holder);
    drop(block_on(d));
    let r = m.report();
    assert_eq!((r.longest_queue, r.contended, r.acquisitions), (3, 4, 6));
}

#[test]
fn barging_in_overtakes_every_queued_waiter() {
    let m = Mutex::new(());
    let holder = m.try_lock().unwrap();
    let mut a = pin!(m.lock());
    let mut b = pin!(m.lock());
    assert!(pending(a.as_mut()));
    assert!(pending(b.as_mut()));
    drop(holder);
    // The lock is free but the woken waiter has not run yet: a newcomer takes it first.
    let barger = m.try_lock().expect("lock is free");
    drop(barger);
    drop(block_on(a));
    drop(block_on(b));
    let r = m.report();
    assert_eq!((r.acquisitions, r.contended, r.overtakes), (4, 2, 2));

    // Served in arrival order, nobody is overtaken.
    m.reset_report();
    let holder = m.try_lock().unwrap();
    let mut c = pin!(m.lock());
    let mut d = pin!(m.lock());
    assert!(pending(c.as_mut()));
    assert!(pending(d.as_mut()));
    drop(holder);
    drop(block_on(c));
    drop(block_on(d));
    let r = m.report();
    assert_eq!((r.acquisitions, r.contended, r.overtakes), (3, 2, 0));
}

#[test]
fn a_later_waiter_served_first_overtakes_the_earlier_one() {
    let m = Mutex::new(());
    let holder = m.try_lock().unwrap();
    let mut first = pin!(m.lock());
    assert!(pending(first.as_mut()));
    drop(holder);
    // A second waiter arrives after the first and, since the lock is free when it is first
    // polled, gets it at once: it overtook the first waiter.
    let mut second = pin!(m.lock());
    let second = block_on(poll_once(second.as_mut())).expect("free lock");
    let mut third = pin!(m.lock());
    assert!(pending(third.as_mut()));
    drop(second);
    drop(block_on(first));
    drop(block_on(third));
    let r = m.report();
    // `first` was overtaken by `second`; `third` arrived after `second` was served, so it was
    // not (it queued behind `first`, which was served before it).
    assert_eq!((r.acquisitions, r.contended, r.overtakes), (4, 2, 1));
}

#[test]
fn a_waiter_that_gives_up_is_abandoned_and_leaves_the_queue() {
    let m = Mutex::new(());
    let holder = m.try_lock().unwrap();
    {
        let mut quitter = pin!(m.lock());
        assert!(pending(quitter.as_mut()));
    }
    let mut stayer = pin!(m.lock());
    assert!(pending(stayer.as_mut()));
    drop(holder);
    drop(block_on(stayer));
    let r = m.report();
    assert_eq!((r.abandoned, r.contended, r.acquisitions), (1, 1, 2));
    assert_eq!(
        r.longest_queue, 1,
        "the quitter had left when the stayer arrived"
    );
    assert!(r.to_string().contains("abandoned      1"));
}

#[test]
fn recording_off_records_nothing_and_can_be_switched_on() {
    let m = Mutex::with_recording(0, Recording::Off);
    assert_eq!(m.recording(), Recording::Off);
    {
        let holder = m.try_lock().unwrap();
        let mut waiter = pin!(m.lock());
        assert!(pending(waiter.as_mut()));
        drop(holder);
        *block_on(waiter) += 1;
    }
    let nothing = crate::Report {
        recording: Recording::Off,
        ..Default::default()
    };
    assert_eq!(m.report(), nothing);
    assert_eq!(m.report().to_string(), "recording is off: nothing recorded");

    m.set_recording(Recording::Every);
    *block_on(m.lock()) += 1;
    let r = m.report();
    assert_eq!(r.recording, Recording::Every);
    assert_eq!(r.acquisitions, 1);
    m.set_recording(Recording::Off);
    *block_on(m.lock()) += 1;
    assert_eq!(m.report().acquisitions, 1);
    assert_eq!(m.into_inner(), 3);
}

#[test]
fn waits_are_attributed_to_each_call_site() {
    let m = Mutex::new(());
    let holder = m.try_lock().unwrap();
    let mut a = pin!(m.lock());
    let mut b = pin!(m.lock());
    let mut c = pin!(m.lock());
    for w in [a.as_mut(), b.as_mut()] {
        assert!(pending(w));
    }
    assert!(pending(c.as_mut()));
    drop(holder);
    drop(block_on(a));
    drop(block_on(b));
    drop(block_on(c));
    let r = m.report();
    // Three call sites, one wait each.
    assert_eq!(r.sites.len(), 3);
    assert!(r.sites.iter().all(|s| s.waits == 1));
    let mut lines: Vec<_> = r
        .sites
        .iter()
        .map(|s| s.location.clone().unwrap())
        .collect();
    lines.dedup();
    assert_eq!(lines.len(), 3);
}

#[test]
fn report_text_names_every_figure() {
    let m = Mutex::new(());
    let holder = m.try_lock().unwrap();
    let mut w = pin!(m.lock());
    assert!(pending(w.as_mut()));
    drop(holder);
    drop(block_on(w));
    let text = m.report().to_string();
    for want in [
        "acquisitions   2\n",
        "contended      1 (50.0%)\n",
        "wait           p50 ",
        " p99 ",
        "hold           p50 ",
        "overtakes      0\n",
        "longest queue  1\n",
        "waits by call site:\n",
        " 1 wait, total ",
    ] {
        assert!(text.contains(want), "{want:?} not in\n{text}");
    }
    // `println!("{report}")` must not print a blank line after it.
    assert!(!text.ends_with('\n'), "{text:?}");
}

#[test]
fn counts_are_exact_across_threads() {
    // Updates made under an exclusive lock use plain stores: the lock must order them, so no
    // count is lost even with threads racing for it.
    let m = std::sync::Arc::new(Mutex::new(0u64));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let m = m.clone();
            std::thread::spawn(move || {
                for _ in 0..2000 {
                    *block_on(m.lock()) += 1;
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    let r = m.report();
    assert_eq!(*block_on(m.lock()), 8000);
    assert_eq!(r.acquisitions, 8000);
    assert!(r.contended <= 8000);
}

#[test]
fn rwlock_readers_share_and_writers_wait() {
    let l = RwLock::new(1);
    let (r1, r2) = (l.try_read().unwrap(), block_on(l.read()));
    assert_eq!(*r1 + *r2, 2);
    // A writer waits for both readers.
    let mut w = pin!(l.write());
    assert!(pending(w.as_mut()));
    drop((r1, r2));
    *block_on(w) += 1;
    // A reader waits for a writer.
    let writer = l.try_write().unwrap();
    let mut r = pin!(l.read());
    assert!(pending(r.as_mut()));
    drop(writer);
    assert_eq!(*block_on(r), 2);

    let report = l.report();
    assert_eq!((report.reads.acquisitions, report.reads.contended), (3, 1));
    assert_eq!(
        (report.writes.acquisitions, report.writes.contended),
        (2, 1)
    );
    let text = report.to_string();
    assert!(text.starts_with("readers:\n  acquisitions   3\n"), "{text}");
    assert!(text.contains("writers:\n  acquisitions   2\n"), "{text}");
    assert!(!text.ends_with('\n'), "{text:?}");
}

#[test]
fn rwlock_upgradable_reads_count_as_writers_and_keep_their_hold() {
    let l = RwLock::new(0);
    let up = block_on(l.upgradable_read());
    let reader = l.try_read().expect("readers share with an upgradable read");
    assert!(l.try_upgradable_read().is_none());
    // The upgrade waits for the reader; the hold goes on in the write guard.
    let up = match RwLockUpgradableReadGuard::try_upgrade(up) {
        Ok(_) => panic!("a reader holds the lock"),
        Err(up) => up,
    };
    drop(reader);
    let mut w = block_on(RwLockUpgradableReadGuard::upgrade(up));
    *w = 7;
    std::thread::sleep(Duration::from_millis(2));
    drop(w);
    let report = l.report();
    assert_eq!(
        (report.writes.acquisitions, report.reads.acquisitions),
        (1, 1)
    );
    assert!(report.writes.hold_max >= Duration::from_millis(2));
    assert_eq!(l.into_inner(), 7);
}

#[test]
fn semaphore_waits_when_permits_run_out() {
    let s = Semaphore::new(2);
    let a = s.try_acquire().unwrap();
    let b = block_on(s.acquire());
    assert!(s.try_acquire().is_none());
    let mut c = pin!(s.acquire());
    let mut d = pin!(s.acquire());
    assert!(pending(c.as_mut()));
    assert!(pending(d.as_mut()));
    drop(a);
    let c = block_on(c);
    b.forget();
    assert_eq!(s.available_permits(), 0);
    drop(c);
    drop(block_on(d));
    let r = s.report();
    assert_eq!((r.acquisitions, r.contended, r.longest_queue), (4, 2, 2));
    assert_eq!(r.overtakes, 0);
    assert_eq!(s.available_permits(), 1, "one permit was forgotten");
    s.add_permits(1);
    assert_eq!(s.available_permits(), 2);
}

#[test]
fn reset_forgets_and_keeps_recording() {
    let s = Semaphore::new(1);
    drop(block_on(s.acquire()));
    s.reset_report();
    let r = s.report();
    assert_eq!((r.acquisitions, r.hold_max), (0, Duration::ZERO));
    assert_eq!(r.recording, Recording::Sampled);
    drop(block_on(s.acquire()));
    assert_eq!(s.report().acquisitions, 1);
}

#[test]
fn futures_poll_to_completion_only_once() {
    // An acquisition future that completed is not counted again if dropped afterwards.
    let m = Mutex::new(());
    let mut f = pin!(m.lock());
    let g = match block_on(poll_once(f.as_mut())) {
        Some(g) => g,
        None => panic!("free lock"),
    };
    drop(g);
    assert_eq!((m.report().acquisitions, m.report().abandoned), (1, 0));
}

#[test]
fn sampled_recording_counts_everything_and_times_a_share() {
    // Far past the exactly-timed start: counts stay exact, the times come from samples that
    // each stand for ONE_IN acquisitions.
    let n = 20_000u64;
    for (recording, sampled) in [(Recording::Sampled, true), (Recording::Every, false)] {
        let m = Mutex::with_recording((), recording);
        for _ in 0..n {
            drop(m.try_lock().unwrap());
        }
        let r = m.report();
        assert_eq!(r.acquisitions, n);
        assert_eq!(r.sampled, sampled);
        assert_eq!(m.report().to_string().contains("times sampled"), sampled);
        // The hold histogram's weighted count estimates the number of holds.
        let timed = m.stats_for_tests().hold_count();
        if sampled {
            let err = (timed as f64 - n as f64).abs() / n as f64;
            assert!(err < 0.1, "estimated {timed} holds of {n}");
        } else {
            assert_eq!(timed, n);
        }
    }
}

#[test]
fn the_first_acquisitions_are_all_timed_when_sampling() {
    let m = Mutex::new(());
    for _ in 0..crate::EXACT_FIRST {
        drop(m.try_lock().unwrap());
    }
    assert_eq!(m.stats_for_tests().hold_count(), crate::EXACT_FIRST);
    assert!(!m.report().sampled);
}

#[test]
fn owned_guards_record_like_borrowed_ones() {
    let m = std::sync::Arc::new(Mutex::new(0));
    {
        let held = m.try_lock_arc().unwrap();
        assert!(m.try_lock().is_none());
        let mut waiter = pin!(m.lock_arc());
        assert!(pending(waiter.as_mut()));
        drop(held);
        *block_on(waiter) += 1;
    }
    // An owned guard can go to a 'static task on another thread.
    let guard = block_on(m.lock_arc());
    std::thread::spawn(move || {
        let mut guard = guard;
        *guard += 1;
    })
    .join()
    .unwrap();
    let r = m.report();
    assert_eq!((r.acquisitions, r.contended, r.longest_queue), (3, 1, 1));
    assert_eq!(*block_on(m.lock()), 2);
    let m = std::sync::Arc::try_unwrap(m).expect("no guard left");
    assert_eq!(m.into_inner(), 2);
}

#[test]
fn owned_rwlock_and_semaphore_guards_record() {
    let l = std::sync::Arc::new(RwLock::new(1));
    {
        let r = l.try_read_arc().unwrap();
        let mut w = pin!(l.write_arc());
        assert!(pending(w.as_mut()));
        drop(r);
        let mut w = block_on(w);
        *w += 1;
        assert!(l.try_read_arc().is_none());
    }
    let r = block_on(l.read_arc());
    assert_eq!(std::thread::spawn(move || *r).join().unwrap(), 2);
    drop(l.try_write_arc().unwrap());
    let report = l.report();
    assert_eq!((report.reads.acquisitions, report.reads.contended), (2, 0));
    assert_eq!(
        (report.writes.acquisitions, report.writes.contended),
        (2, 1)
    );

    let s = std::sync::Arc::new(Semaphore::new(1));
    {
        let a = s.try_acquire_arc().unwrap();
        let mut b = pin!(s.acquire_arc());
        assert!(pending(b.as_mut()));
        drop(a);
        block_on(b).forget();
    }
    assert_eq!(s.available_permits(), 0);
    s.add_permits(1);
    let r = s.report();
    assert_eq!((r.acquisitions, r.contended, r.longest_queue), (2, 1, 1));
}

#[test]
fn a_waiter_dropped_after_being_handed_the_lock_passes_it_on_and_leaves_the_line() {
    let m = Mutex::new(());
    let holder = m.try_lock().unwrap();
    let mut b = pin!(m.lock());
    {
        let mut a = pin!(m.lock());
        assert!(pending(a.as_mut()));
        assert!(pending(b.as_mut()));
        // The release notifies `a`, the first in line; `a` is dropped before it runs.
        drop(holder);
    }
    // async-lock passes the notification on: `b` gets the lock without anyone else releasing.
    let b = block_on(poll_once(b.as_mut())).expect("the dropped waiter passed the lock on");
    // Two more waiters queue behind `b`: the line is 2 long, not 3, since `a` left it.
    let mut c = pin!(m.lock());
    let mut d = pin!(m.lock());
    assert!(pending(c.as_mut()));
    assert!(pending(d.as_mut()));
    drop(b);
    drop(block_on(c));
    drop(block_on(d));
    let r = m.report();
    assert_eq!((r.acquisitions, r.contended, r.abandoned), (4, 3, 1));
    assert_eq!(r.longest_queue, 2);
    assert_eq!(r.overtakes, 0, "nobody still in line was passed over");
}

#[test]
fn a_barger_overtakes_the_waiters_still_in_line_not_the_one_that_left() {
    let m = Mutex::new(());
    let holder = m.try_lock().unwrap();
    let mut a = pin!(m.lock());
    let mut c = pin!(m.lock());
    assert!(pending(a.as_mut()));
    {
        let mut b = pin!(m.lock());
        assert!(pending(b.as_mut()));
        assert!(pending(c.as_mut()));
    }
    drop(holder);
    drop(m.try_lock().expect("free until the woken waiter runs"));
    drop(block_on(a));
    drop(block_on(c));
    let r = m.report();
    assert_eq!((r.acquisitions, r.contended, r.abandoned), (4, 2, 1));
    assert_eq!(r.overtakes, 2, "`a` and `c` were passed over; `b` had left");
    assert_eq!(r.longest_queue, 3);
}

#[test]
fn reset_keeps_the_line_of_waiters_right() {
    let m = Mutex::new(());
    // Some history: three contended acquisitions, then one waiter that gives up.
    for _ in 0..3 {
        let holder = m.try_lock().unwrap();
        let mut w = pin!(m.lock());
        assert!(pending(w.as_mut()));
        drop(holder);
        drop(block_on(w));
    }
    let holder = m.try_lock().unwrap();
    {
        let mut quitter = pin!(m.lock());
        assert!(pending(quitter.as_mut()));
    }
    // A waiter in line while the report is reset is served in order: not an overtake.
    let mut w = pin!(m.lock());
    assert!(pending(w.as_mut()));
    m.reset_report();
    drop(holder);
    drop(block_on(w));
    // One waiter at a time after the reset: the line is 1 long (it read 5 when the reset
    // forgot the waiters served before it but tickets kept counting).
    let holder = m.try_lock().unwrap();
    let mut x = pin!(m.lock());
    assert!(pending(x.as_mut()));
    drop(holder);
    drop(block_on(x));
    let r = m.report();
    assert_eq!((r.acquisitions, r.contended, r.abandoned), (3, 2, 0));
    assert_eq!(r.overtakes, 0);
    assert_eq!(r.longest_queue, 1);
}
