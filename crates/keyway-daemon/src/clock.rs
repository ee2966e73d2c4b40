//! The daemon's clocks, passed in as a parameter so that its tests run on virtual time.
//!
//! Two readings: the wall clock (milliseconds since the Unix epoch), which schedules are read
//! on and events are stamped with, and a monotonic clock, which timers run on and which never
//! steps. The controller's own clock is the monotonic one moved to start at the wall time of
//! boot; when the wall clock steps away from it (NTP, an operator), the service tells the
//! controller the new offset (`Controller::set_wall_offset`), so the schedule is read again
//! and a timed unlock keeps its length.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use keyway_core::physics::Millis;
use tokio::sync::watch;

/// A future that completes when a clock has reached an instant (or earlier: the caller
/// looks at the clock again).
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

/// Where the daemon reads the time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// Milliseconds since the Unix epoch on the wall clock.
    fn wall(&self) -> Millis;
    /// Milliseconds on a clock that never steps, from an arbitrary origin.
    fn monotonic(&self) -> Millis;
    /// Completes once `monotonic()` has reached `at`, or sooner when the clock changes in
    /// another way (a virtual clock's wall step): callers look at the clock again.
    fn sleep_until(&self, at: Millis) -> Sleep;
    /// The clock as a [`VirtualClock`], if it is one: time that moves only when told
    /// (`keyway serve --virtual-clock`, `POST /api/sim/clock`).
    fn as_virtual(&self) -> Option<&VirtualClock> {
        None
    }
}

/// The machine's clocks. With a start instant, the wall clock begins there and runs at the
/// monotonic clock's pace (`keyway serve --clock-start`: demos, training, tests that must not
/// depend on the time of day).
#[derive(Debug)]
pub struct SystemClock {
    origin: Instant,
    start: Option<Millis>,
}

impl SystemClock {
    pub fn new() -> SystemClock {
        SystemClock {
            origin: Instant::now(),
            start: None,
        }
    }

    /// A wall clock that reads `start` now and runs on from there.
    pub fn starting_at(start: Millis) -> SystemClock {
        SystemClock {
            origin: Instant::now(),
            start: Some(start),
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        SystemClock::new()
    }
}

impl Clock for SystemClock {
    fn wall(&self) -> Millis {
        match self.start {
            Some(start) => start.saturating_add(self.monotonic()),
            None => SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as Millis),
        }
    }

    fn monotonic(&self) -> Millis {
        self.origin.elapsed().as_millis() as Millis
    }

    fn sleep_until(&self, at: Millis) -> Sleep {
        let deadline = self.origin + Duration::from_millis(at.max(0) as u64);
        Box::pin(tokio::time::sleep_until(tokio::time::Instant::from_std(
            deadline,
        )))
    }
}

/// A clock that moves only when told: the daemon's tests advance it instead of sleeping.
#[derive(Clone, Debug)]
pub struct VirtualClock {
    inner: Arc<VirtualInner>,
}

#[derive(Debug)]
struct VirtualInner {
    /// (wall, monotonic)
    now: Mutex<(Millis, Millis)>,
    changed: watch::Sender<u64>,
}

impl VirtualClock {
    /// A clock whose wall reads `wall` and whose monotonic reading is 0.
    pub fn new(wall: Millis) -> VirtualClock {
        VirtualClock {
            inner: Arc::new(VirtualInner {
                now: Mutex::new((wall, 0)),
                changed: watch::Sender::new(0),
            }),
        }
    }

    /// Both clocks move on by `millis`.
    pub fn advance(&self, millis: Millis) {
        self.change(|now| {
            now.0 = now.0.saturating_add(millis);
            now.1 = now.1.saturating_add(millis);
        });
    }

    /// The wall clock alone steps by `millis` (forward or back), as NTP or an operator would.
    pub fn step_wall(&self, millis: Millis) {
        self.change(|now| now.0 = now.0.saturating_add(millis));
    }

    fn change(&self, f: impl FnOnce(&mut (Millis, Millis))) {
        let mut now = self.inner.now.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut now);
        drop(now);
        self.inner
            .changed
            .send_modify(|generation| *generation += 1);
    }

    fn read(&self) -> (Millis, Millis) {
        *self.inner.now.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl Clock for VirtualClock {
    fn as_virtual(&self) -> Option<&VirtualClock> {
        Some(self)
    }

    fn wall(&self) -> Millis {
        self.read().0
    }

    fn monotonic(&self) -> Millis {
        self.read().1
    }

    fn sleep_until(&self, at: Millis) -> Sleep {
        let clock = self.clone();
        let mut changed = self.inner.changed.subscribe();
        Box::pin(async move {
            if clock.monotonic() >= at {
                return;
            }
            // Any change wakes the sleeper, which looks at the clock again.
            let _ = changed.changed().await;
        })
    }
}

/// The `Instant` that stands for `clock`'s monotonic 0, for what must speak in `Instant`s
/// (hyper's timer, `http.rs`): the one place outside `SystemClock` that reads the machine's
/// monotonic clock, once, to anchor `clock`'s readings to it.
pub fn instant_of_zero(clock: &dyn Clock) -> Instant {
    Instant::now() - Duration::from_millis(clock.monotonic().max(0) as u64)
}

/// An instant (ms since the epoch) in `zone`, to the millisecond, with its offset: how the
/// API shows every time.
pub fn time_in(zone: &jiff::tz::TimeZone, millis: Millis) -> String {
    jiff::Timestamp::from_millisecond(millis)
        .map(|t| {
            t.to_zoned_datetime(zone.clone())
                .strftime("%Y-%m-%dT%H:%M:%S%.3f%:z")
                .to_string()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_virtual_sleep_ends_when_the_clock_is_advanced_not_before() {
        let clock = VirtualClock::new(1_000_000);
        let sleep = clock.sleep_until(500);
        let waiter = tokio::spawn(sleep);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        clock.advance(500);
        waiter.await.unwrap();
        assert_eq!((clock.wall(), clock.monotonic()), (1_000_500, 500));
        clock.step_wall(-3_600_000);
        assert_eq!((clock.wall(), clock.monotonic()), (-2_599_500, 500));
        // Already reached: no wait.
        clock.sleep_until(100).await;
    }

    #[test]
    fn a_started_system_clock_reads_its_start() {
        let clock = SystemClock::starting_at(1_796_659_200_000);
        let wall = clock.wall();
        assert!((1_796_659_200_000..1_796_659_260_000).contains(&wall));
    }
}
