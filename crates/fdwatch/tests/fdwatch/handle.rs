//! `LoopHandle`: `call_soon_threadsafe` and `stop` from other threads, handles outliving the
//! loop.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tulip_fdwatch::{EventLoop, LoopHandle};

use crate::support::{bounded, pair};

#[test]
fn loop_handle_is_send_sync_clone() {
    fn check<T: Send + Sync + Clone + 'static>() {}
    check::<LoopHandle>();
}

#[test]
fn stop_from_another_thread_wakes_a_blocked_run() {
    bounded(|| {
        // A watch that never fires and no timer: `run` blocks in the kernel until woken.
        let (a, _b) = pair();
        let mut ev = EventLoop::new().unwrap();
        ev.add_reader(&a, |_, r| panic!("silent fd ready: {r:?}"))
            .unwrap();
        let handle = ev.handle().unwrap();
        let stopped = Arc::new(AtomicBool::new(false));
        let s = Arc::clone(&stopped);
        let thread = std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(50));
            s.store(true, Ordering::SeqCst);
            assert!(handle.stop());
            handle
        });
        ev.run().unwrap();
        assert!(stopped.load(Ordering::SeqCst), "run returned before stop");
        let handle = thread.join().unwrap();
        // The loop still stands, so does the handle; a stop before `run` makes it do one turn.
        assert!(!handle.is_closed());
        assert!(handle.stop());
        ev.run().unwrap();
    });
}

#[test]
fn call_soon_threadsafe_from_many_threads_runs_each_call_once() {
    bounded(|| {
        const THREADS: usize = 8;
        const CALLS: usize = 2_000;
        let mut ev = EventLoop::new().unwrap();
        // What ran, per thread, in the order it ran.
        let ran: Arc<Mutex<Vec<Vec<usize>>>> = Arc::new(Mutex::new(vec![Vec::new(); THREADS]));
        let threads: Vec<_> = (0..THREADS)
            .map(|t| {
                let handle = ev.handle().unwrap();
                let ran = Arc::clone(&ran);
                std::thread::spawn(move || {
                    for i in 0..CALLS {
                        let ran = Arc::clone(&ran);
                        handle
                            .call_soon_threadsafe(move |_| ran.lock().unwrap()[t].push(i))
                            .unwrap();
                        if i % 500 == 0 {
                            std::thread::yield_now();
                        }
                    }
                    // Dropping the last handle is what lets `run` return.
                })
            })
            .collect();
        // Nothing is watched or scheduled: the handles alone keep the loop running, until
        // every thread has dropped its handle and every call has run.
        ev.run().unwrap();
        for thread in threads {
            thread.join().unwrap();
        }
        let ran = ran.lock().unwrap();
        for (t, calls) in ran.iter().enumerate() {
            assert_eq!(*calls, (0..CALLS).collect::<Vec<_>>(), "thread {t}");
        }
    });
}

#[test]
fn a_handle_made_inside_a_running_loop_wakes_it() {
    bounded(|| {
        let (a, _b) = pair();
        let mut ev = EventLoop::new().unwrap();
        ev.add_reader(&a, |_, r| panic!("silent fd ready: {r:?}"))
            .unwrap();
        let got = Rc::new(Cell::new(0));
        let g = Rc::clone(&got);
        ev.call_soon(move |ev| {
            let handle = ev.handle().unwrap();
            std::thread::spawn(move || {
                handle
                    .call_soon_threadsafe(|ev| {
                        ev.call_soon(|ev| ev.stop());
                    })
                    .unwrap();
            });
            g.set(1);
        });
        ev.run().unwrap();
        assert_eq!(got.get(), 1);
    });
}

#[test]
fn handles_outliving_the_loop_are_refused_without_panicking() {
    bounded(|| {
        let mut ev = EventLoop::new().unwrap();
        let handle = ev.handle().unwrap();
        // Pending work that owns things, handles included: all of it is dropped with the loop.
        let owned = Arc::new(());
        let o = Arc::clone(&owned);
        let h = handle.clone();
        ev.call_later(Duration::from_secs(3600), move |_| drop((o, h)));
        let o = Arc::clone(&owned);
        let h = handle.clone();
        handle.call_soon_threadsafe(move |_| drop((o, h))).unwrap();
        let o = Arc::clone(&owned);
        ev.call_soon(move |_| drop(o));
        assert_eq!(Arc::strong_count(&owned), 4);
        drop(ev);
        assert_eq!(
            Arc::strong_count(&owned),
            1,
            "pending callbacks dropped with the loop"
        );

        assert!(handle.is_closed());
        assert!(!handle.stop());
        let refused = handle.call_soon_threadsafe(|_| unreachable!());
        let err = refused.unwrap_err();
        assert_eq!(err.to_string(), "event loop is closed");
        let _callback = err.into_inner();
        // From other threads too, and clones of the handle.
        let clone = handle.clone();
        std::thread::spawn(move || {
            assert!(!clone.stop());
            assert!(clone.call_soon_threadsafe(|_| {}).is_err());
        })
        .join()
        .unwrap();
    });
}

#[test]
fn calls_sent_before_run_run_on_its_first_turn() {
    bounded(|| {
        let mut ev = EventLoop::new().unwrap();
        let handle = ev.handle().unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let r = Arc::clone(&ran);
        std::thread::spawn(move || {
            handle
                .call_soon_threadsafe(move |_| r.store(true, Ordering::SeqCst))
                .unwrap();
        })
        .join()
        .unwrap();
        // The handle is gone: `run` runs the call and, with nothing left, returns.
        ev.run().unwrap();
        assert!(ran.load(Ordering::SeqCst));
    });
}

#[test]
fn a_panicking_call_leaves_the_handles_usable() {
    bounded(|| {
        // Calls run with the inbox unlocked: a panicking one poisons nothing, and the handles
        // (on this thread and others) still send, see the loop as open, then as closed.
        let mut ev = EventLoop::new().unwrap();
        let handle = ev.handle().unwrap();
        handle
            .call_soon_threadsafe(|_| panic!("call panics"))
            .unwrap();
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ev.run()));
        assert!(panicked.is_err());
        assert!(!handle.is_closed());
        let clone = handle.clone();
        std::thread::spawn(move || clone.call_soon_threadsafe(|_| {}).unwrap())
            .join()
            .unwrap();
        assert!(handle.stop());
        drop(ev);
        assert!(handle.is_closed());
        assert!(!handle.stop());
    });
}

#[test]
fn debug_says_whether_a_handle_exists_now() {
    let mut ev = EventLoop::new().unwrap();
    assert!(format!("{ev:?}").contains("has_handles: false"), "{ev:?}");
    let handle = ev.handle().unwrap();
    assert!(format!("{ev:?}").contains("has_handles: true"), "{ev:?}");
    drop(handle);
    // The wake-up fd stays, but no handle is left to keep `run` waiting.
    assert!(format!("{ev:?}").contains("has_handles: false"), "{ev:?}");
}

#[test]
fn timers_mixed_with_cancels_from_outside_and_inside_run_in_model_order() {
    bounded(|| {
        // A pseudo-random mix (fixed seed) of deadlines in the past and the near future, some
        // equal, cancelled before `run` or by earlier timers (enough to rebuild the heap several
        // times): the survivors run once each, in (deadline, scheduling) order, never early,
        // and `cancel` answers as a model of the pending set says.
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let mut next = move |n: u64| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed % n
        };
        let mut ev = EventLoop::new().unwrap();
        let base = Instant::now();
        let ran: Rc<RefCell<Vec<usize>>> = Rc::default();
        let mut timers = Vec::new();
        let mut whens = Vec::new();
        // Which timer each one cancels when it runs (if any).
        let victims: Rc<RefCell<Vec<Option<usize>>>> = Rc::default();
        let handles: Rc<RefCell<Vec<tulip_fdwatch::TimerHandle>>> = Rc::default();
        let cancelled_inside: Rc<RefCell<Vec<(usize, bool)>>> = Rc::default();
        const N: usize = 3_000;
        for i in 0..N {
            // Deadlines from 2 ms in the past to 8 ms ahead, on a 0.5 ms grid: many are equal.
            let when = base - Duration::from_millis(2) + Duration::from_micros(500 * next(20));
            let (ran, victims_of, handles, inside) = (
                Rc::clone(&ran),
                Rc::clone(&victims),
                Rc::clone(&handles),
                Rc::clone(&cancelled_inside),
            );
            let h = ev.call_at(when, move |ev| {
                assert!(Instant::now() >= when, "timer {i} fired early");
                ran.borrow_mut().push(i);
                if let Some(v) = victims_of.borrow()[i] {
                    let h = handles.borrow()[v];
                    inside.borrow_mut().push((v, ev.cancel(h)));
                }
            });
            timers.push(h);
            whens.push(when);
            victims
                .borrow_mut()
                .push((next(4) == 0).then(|| next(N as u64) as usize));
        }
        *handles.borrow_mut() = timers.clone();
        let mut cancelled = vec![false; N];
        for (i, h) in timers.iter().enumerate() {
            if next(3) != 0 {
                assert!(ev.cancel(*h));
                assert!(!ev.cancel(*h), "cancelled twice");
                cancelled[i] = true;
            }
        }
        ev.run().unwrap();

        // The model: walk the timers in (deadline, scheduling) order; each survivor runs,
        // then cancels its victim if that one has not run nor been cancelled.
        let mut order: Vec<usize> = (0..N).collect();
        order.sort_by_key(|&i| (whens[i], i));
        let mut done = cancelled.clone();
        let mut expect_ran = Vec::new();
        let mut expect_inside = Vec::new();
        for i in order {
            if done[i] {
                continue;
            }
            done[i] = true;
            expect_ran.push(i);
            if let Some(v) = victims.borrow()[i] {
                expect_inside.push((v, !done[v]));
                done[v] = true;
            }
        }
        assert_eq!(*ran.borrow(), expect_ran);
        assert_eq!(*cancelled_inside.borrow(), expect_inside);
        for h in timers {
            assert!(!ev.cancel(h), "every timer ran or was cancelled");
        }
    });
}

#[test]
fn run_after_a_callback_panicked_out_of_it_fails_instead_of_waiting() {
    bounded(|| {
        // The other timer due in the panicking turn can no longer run: a `run` that waited for
        // it would wait forever. It fails at once, and dropping the loop frees everything.
        let mut ev = EventLoop::new().unwrap();
        let owned = Arc::new(());
        let o = Arc::clone(&owned);
        ev.call_later(Duration::ZERO, |_| panic!("timer panics"));
        ev.call_later(Duration::ZERO, move |_| drop(o));
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| ev.run()));
        assert!(panicked.is_err());
        let err = ev.run().unwrap_err();
        assert!(err.to_string().contains("already running"), "{err}");
        drop(ev);
        assert_eq!(Arc::strong_count(&owned), 1);
    });
}
