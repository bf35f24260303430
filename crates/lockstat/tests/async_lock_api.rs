//! One program, compiled twice: once against `async_lock` and once against `tulip_lockstat`,
//! so that every use of the API here is proven to mean the same on both. What cannot be the same
//! (`const fn new`, unsized values, owned upgradable reads) is listed in the crate doc's "What
//! differs from `async_lock`" and left out here.

use std::sync::Arc;

/// The program, as a module per implementation (`$lock` is the crate's path).
macro_rules! same_api {
    ($name:ident, $lock:ident) => {
        mod $name {
            use std::sync::Arc;

            use futures_lite::future::block_on;
            use $lock::{
                Mutex, MutexGuard, MutexGuardArc, RwLock, RwLockUpgradableReadGuard, Semaphore,
            };

            #[test]
            fn built_from_a_value_or_its_default() {
                let m: Mutex<u32> = 5.into();
                assert_eq!(m.into_inner(), 5);
                let l: RwLock<Vec<u8>> = RwLock::from(vec![1]);
                assert_eq!(l.into_inner(), [1]);
                assert_eq!(Mutex::<u32>::default().into_inner(), 0);
                assert_eq!(RwLock::<u32>::default().into_inner(), 0);
            }

            #[test]
            fn guards_name_their_lock() {
                let m = Mutex::new(1);
                let g = m.lock_blocking();
                assert!(std::ptr::eq(MutexGuard::source(&g), &m));
                drop(g);
                let a = Arc::new(Mutex::new(1));
                let g = a.lock_arc_blocking();
                assert!(Arc::ptr_eq(MutexGuardArc::source(&g), &a));
            }

            #[test]
            fn every_blocking_variant_acquires() {
                let m = Arc::new(Mutex::new(0));
                *m.lock_blocking() += 1;
                *m.lock_arc_blocking() += 1;
                assert_eq!(*m.try_lock().unwrap(), 2);

                let l = Arc::new(RwLock::new(0));
                *l.write_blocking() += 1;
                *l.write_arc_blocking() += 1;
                let up = l.upgradable_read_blocking();
                assert_eq!(*up, 2);
                *RwLockUpgradableReadGuard::upgrade_blocking(up) += 1;
                let (a, b) = (l.read_blocking(), l.read_arc_blocking());
                assert_eq!(*a + *b, 6);
                assert!(l.try_write().is_none());
                drop((a, b));

                let s = Arc::new(Semaphore::new(2));
                let (a, b) = (s.acquire_blocking(), s.acquire_arc_blocking());
                assert!(s.try_acquire().is_none());
                drop((a, b));
                assert_eq!(s.available_permits(), 2);
            }

            #[test]
            fn a_blocking_lock_waits_for_the_holder() {
                let m = Mutex::new(0);
                let held = m.lock_blocking();
                std::thread::scope(|scope| {
                    let waiter = scope.spawn(|| *m.lock_blocking() += 1);
                    // The waiter cannot add while this guard lives; it adds once it is gone.
                    assert_eq!(*held, 0);
                    drop(held);
                    waiter.join().unwrap();
                });
                assert_eq!(m.into_inner(), 1);
            }

            #[test]
            fn async_acquisitions() {
                block_on(async {
                    let m = Arc::new(Mutex::new(0));
                    *m.lock().await += 1;
                    *m.lock_arc().await += 1;
                    assert_eq!(*m.try_lock_arc().unwrap(), 2);

                    let l = Arc::new(RwLock::new(0));
                    *l.write().await += 1;
                    *l.write_arc().await += 1;
                    let up = l.upgradable_read().await;
                    *RwLockUpgradableReadGuard::upgrade(up).await += 1;
                    assert_eq!(*l.read().await + *l.read_arc().await, 6);

                    let s = Arc::new(Semaphore::new(1));
                    let permit = s.acquire_arc().await;
                    assert!(s.try_acquire_arc().is_none());
                    drop(permit);
                    drop(s.acquire().await);
                });
            }

            #[test]
            fn shareable_across_threads() {
                fn send_sync<T: Send + Sync>() {}
                send_sync::<Mutex<u32>>();
                send_sync::<MutexGuard<'static, u32>>();
                send_sync::<MutexGuardArc<u32>>();
                send_sync::<RwLock<u32>>();
                send_sync::<Semaphore>();
            }
        }
    };
}

same_api!(with_async_lock, async_lock);
same_api!(with_lockstat, tulip_lockstat);

/// lockstat's own promise on top of the shared API: a blocking acquisition is recorded like an
/// async one, waits and call site included.
#[test]
fn blocking_waits_are_recorded() {
    let m = Arc::new(tulip_lockstat::Mutex::new(0));
    let held = m.lock_blocking();
    let waiter = {
        let m = m.clone();
        std::thread::spawn(move || *m.lock_blocking() += 1)
    };
    // Release only once the waiter is in line (bounded: 10 s at most).
    for _ in 0..10_000 {
        if m.report().longest_queue == 1 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(m.report().longest_queue, 1, "the waiter never queued");
    drop(held);
    waiter.join().unwrap();
    let report = m.report();
    assert_eq!((report.acquisitions, report.contended), (2, 1));
    let site = report.sites[0].location.as_deref().unwrap();
    assert!(
        site.starts_with("crates/lockstat/tests/async_lock_api.rs:"),
        "{site}"
    );
}
