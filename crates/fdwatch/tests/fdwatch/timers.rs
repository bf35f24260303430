//! Timers: `call_later` / `call_at` / `cancel`, their order, cancelling, and waits that signals
//! interrupt.

use std::cell::Cell;
use std::os::fd::AsRawFd;
use std::process::{Command, Stdio};
use std::rc::Rc;
use std::time::{Duration, Instant};

use tulip_fdwatch::EventLoop;

use crate::support::{Log, bounded, log, pair};

/// Records, in a timer callback, its name and whether it ran no earlier than its deadline.
fn record(log: &Log, name: &str, when: Instant) -> impl FnOnce(&mut EventLoop) + 'static {
    let log = Rc::clone(log);
    let name = name.to_string();
    move |_| {
        assert!(Instant::now() >= when, "timer {name} fired early");
        log.borrow_mut().push(name);
    }
}

#[test]
fn timers_run_by_deadline_then_in_scheduling_order_and_never_early() {
    bounded(|| {
        let mut ev = EventLoop::new().unwrap();
        let log = log();
        let base = Instant::now() + Duration::from_millis(30);
        let late = base + Duration::from_millis(20);
        ev.call_at(late, record(&log, "late", late));
        ev.call_at(base, record(&log, "base 1", base));
        ev.call_at(base, record(&log, "base 2", base));
        let t = ev.call_later(Duration::ZERO, |_| {});
        ev.call_at(t.when(), record(&log, "zero", t.when()));
        ev.call_at(base, record(&log, "base 3", base));
        // Sub-millisecond delays: the kernel's millisecond waits must not end them early.
        for micros in [1, 499, 500, 999, 1_000, 1_001, 1_500] {
            let h = ev.call_later(Duration::from_micros(micros), |_| {});
            ev.call_at(h.when(), record(&log, &format!("{micros}us"), h.when()));
        }
        // Nothing is watched: the timers alone keep `run` going until the last has run.
        ev.run().unwrap();
        assert!(Instant::now() >= late);
        let log = log.borrow();
        assert_eq!(log.len(), 12, "{log:?}");
        // The first timers: their deadline is zero and the sub-millisecond ones.
        assert_eq!(
            log[..8],
            [
                "zero", "1us", "499us", "500us", "999us", "1000us", "1001us", "1500us"
            ]
        );
        assert_eq!(log[8..], ["base 1", "base 2", "base 3", "late"]);
    });
}

#[test]
fn timers_scheduled_by_callbacks_wait_for_a_later_turn() {
    bounded(|| {
        // A writer on an idle socket is ready on every turn: it numbers the turns.
        let (a, _b) = pair();
        let mut ev = EventLoop::new().unwrap();
        let log = log();
        let turn = Rc::new(Cell::new(0u32));
        let (counter, l) = (Rc::clone(&turn), Rc::clone(&log));
        let fd = a.as_raw_fd();
        ev.add_writer(fd, move |ev, _| {
            counter.set(counter.get() + 1);
            l.borrow_mut().push(format!("turn {}", counter.get()));
            if counter.get() == 3 {
                ev.remove_writer(fd);
            }
            if counter.get() == 1 {
                let l = Rc::clone(&l);
                ev.call_later(Duration::ZERO, move |_| {
                    l.borrow_mut().push("from writer".into())
                });
            }
        })
        .unwrap();
        let l = Rc::clone(&log);
        ev.call_soon(move |ev| {
            l.borrow_mut().push("soon 1".into());
            let l = Rc::clone(&l);
            ev.call_later(Duration::ZERO, move |_| {
                l.borrow_mut().push("from soon".into())
            });
        });
        let (l, t) = (Rc::clone(&log), Rc::clone(&turn));
        ev.call_later(Duration::ZERO, move |ev| {
            l.borrow_mut()
                .push(format!("first timer in turn {}", t.get()));
            let past = Instant::now() - Duration::from_secs(1);
            let (l2, l3, l4) = (Rc::clone(&l), Rc::clone(&l), Rc::clone(&l));
            ev.call_later(Duration::ZERO, move |_| l2.borrow_mut().push("now".into()));
            ev.call_at(past, move |_| l3.borrow_mut().push("past".into()));
            ev.call_soon(move |_| l4.borrow_mut().push("soon".into()));
        });
        ev.run().unwrap();
        let log = log.borrow();
        // Turn 1 as asyncio's: the queued callbacks, then the readiness callback, then the
        // timers. The first timer runs in turn 1 (it was due when the loop started); the timers
        // that turn 1's callbacks schedule for "now" run in turn 2, after its queued and
        // readiness callbacks, by deadline ("past" first), then in the order they were
        // scheduled ("from soon" before "from writer").
        assert_eq!(
            *log,
            [
                "soon 1",
                "turn 1",
                "first timer in turn 1",
                "soon",
                "turn 2",
                "past",
                "from soon",
                "from writer",
                "now",
                "turn 3",
            ],
            "{log:?}"
        );
    });
}

#[test]
fn cancel_says_whether_the_timer_was_pending_and_drops_its_callback() {
    bounded(|| {
        let mut ev = EventLoop::new().unwrap();
        let log = log();
        // Cancelled before it is due: never runs, its captures are dropped at once.
        let captured = Rc::new(());
        let keep = Rc::clone(&captured);
        let l = Rc::clone(&log);
        let far = ev.call_later(Duration::from_secs(3600), move |_| {
            let _keep = keep;
            l.borrow_mut().push("far".into());
        });
        assert_eq!(Rc::strong_count(&captured), 2);
        assert!(ev.cancel(far));
        assert_eq!(Rc::strong_count(&captured), 1);
        assert!(!ev.cancel(far), "a second cancel is a no-op");
        // A delay beyond what `Instant` can hold is "a century", not a panic.
        let never = ev.call_later(Duration::MAX, |_| panic!("ran"));
        assert!(never.when() > Instant::now() + Duration::from_secs(3600 * 24 * 365));
        assert!(ev.cancel(never));

        // Due in the same turn: the first cancels the second, which then does not run; a timer
        // cancelling itself while it runs gets false.
        let when = Instant::now() + Duration::from_millis(10);
        let second = Rc::new(Cell::new(None));
        let (s, l) = (Rc::clone(&second), Rc::clone(&log));
        let first = ev.call_at(when, move |ev| {
            l.borrow_mut().push(format!(
                "first cancels second: {}",
                ev.cancel(s.get().unwrap())
            ));
        });
        let l = Rc::clone(&log);
        second.set(Some(
            ev.call_at(when, move |_| l.borrow_mut().push("second".into())),
        ));
        let own = Rc::new(Cell::new(None));
        let (o, l) = (Rc::clone(&own), Rc::clone(&log));
        own.set(Some(ev.call_at(when, move |ev| {
            l.borrow_mut()
                .push(format!("self cancel: {}", ev.cancel(o.get().unwrap())));
        })));

        // A handle of another loop cancels nothing here.
        let mut other = EventLoop::new().unwrap();
        let foreign = other.call_at(when, |_| {});
        assert!(!ev.cancel(foreign));
        assert!(other.cancel(foreign));

        // The 3600 s timer is cancelled, so it does not hold `run` for an hour.
        ev.run().unwrap();
        assert_eq!(
            *log.borrow(),
            ["first cancels second: true", "self cancel: false"]
        );
        assert!(!ev.cancel(first), "fired timers cannot be cancelled");
        assert!(!ev.cancel(second.get().unwrap()));
    });
}

#[test]
fn a_timer_cancelled_while_run_waits_for_it_lets_run_return() {
    bounded(|| {
        let mut ev = EventLoop::new().unwrap();
        let far = ev.call_later(Duration::from_secs(3600), |_| panic!("cancelled timer ran"));
        let ran = Rc::new(Cell::new(false));
        let r = Rc::clone(&ran);
        ev.call_later(Duration::from_millis(20), move |ev| {
            r.set(true);
            assert!(ev.cancel(far));
        });
        ev.run().unwrap();
        assert!(ran.get());
    });
}

#[test]
fn many_cancelled_timers_do_not_outlive_their_cancel() {
    bounded(|| {
        // Enough cancellations to make the heap rebuild itself; the survivors still run in
        // order.
        let mut ev = EventLoop::new().unwrap();
        let log = log();
        let start = Instant::now();
        let mut keep = Vec::new();
        for i in 0..2_000u32 {
            let when = start + Duration::from_micros(u64::from(i % 50) * 100);
            let h = ev.call_at(when, record(&log, &format!("{:02}-{i:04}", i % 50), when));
            if i % 10 != 0 {
                keep.push(h);
            }
        }
        for h in &keep {
            assert!(ev.cancel(*h));
        }
        ev.run().unwrap();
        let log = log.borrow();
        assert_eq!(log.len(), 200);
        let mut sorted = log.clone();
        sorted.sort();
        assert_eq!(*log, sorted, "deadline order, then scheduling order");
    });
}

#[test]
fn a_timer_ends_the_wait_for_a_silent_fd() {
    bounded(|| {
        // The reader never becomes ready: only the timer's deadline can end the wait.
        let (a, _b) = pair();
        let mut ev = EventLoop::new().unwrap();
        ev.add_reader(&a, |_, r| panic!("silent fd ready: {r:?}"))
            .unwrap();
        let start = Instant::now();
        ev.call_later(Duration::from_millis(30), |ev| ev.stop());
        ev.run().unwrap();
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert_eq!(ev.is_watched(&a), (true, false));
    });
}

/// The child half of `a_timer_is_not_pushed_back_by_stops_and_continues`: one timer, nothing
/// else; says when it fired.
fn interrupted_timer_child() {
    let mut ev = EventLoop::new().unwrap();
    let start = Instant::now();
    ev.call_later(Duration::from_millis(300), move |_| {
        println!("FIRED after {:?}", start.elapsed());
    });
    ev.run().unwrap();
}

#[test]
#[cfg(target_os = "linux")]
fn a_timer_is_not_pushed_back_by_stops_and_continues() {
    use rustix::process::{Pid, Signal, kill_process};
    if std::env::var_os("FDWATCH_TIMER_CHILD").is_some() {
        return interrupted_timer_child();
    }
    // A stop and continue (as a signal with a handler would) makes the loop's wait fail with
    // EINTR. If the wait were simply restarted with the timeout computed before it, a timer
    // would be pushed back by every interruption: interrupted every 20 ms, a 300 ms timer
    // would never fire.
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "timers::a_timer_is_not_pushed_back_by_stops_and_continues",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("FDWATCH_TIMER_CHILD", "1")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let pid = Pid::from_raw(child.id() as i32).unwrap();
    let start = Instant::now();
    let mut exited = false;
    while start.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(20));
        if child.try_wait().unwrap().is_some() {
            exited = true;
            break;
        }
        let _ = kill_process(pid, Signal::STOP);
        std::thread::sleep(Duration::from_millis(1));
        let _ = kill_process(pid, Signal::CONT);
    }
    if !exited {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        exited,
        "the timer never fired while the loop was interrupted: {stdout}"
    );
    assert!(out.status.success(), "{stdout}");
    assert!(stdout.contains("FIRED after"), "{stdout}");
}
