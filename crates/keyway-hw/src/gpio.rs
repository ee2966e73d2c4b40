//! GPIO lines: relay outputs and debounced inputs (door position switch, REX, key-override
//! sensor, fire alarm input, AC-fail…), behind two small traits.
//!
//! The real driver ([`GpiocdevOutput`], [`GpiocdevInputs`]) is a thin layer over the Linux GPIO
//! character device (`gpiocdev`); the fakes ([`FakeOutput`], [`FakeInputs`]) sit beside it for
//! tests and simulated parts. Debouncing is done in [`Debouncer`], plain code on timestamps, so
//! it behaves the same on a chip with kernel debounce and on one without.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Microseconds on the caller's clock.
pub type Micros = u64;

/// Where a line is and how it is wired.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineConfig {
    /// The GPIO character device, such as `/dev/gpiochip0`.
    pub chip: PathBuf,
    /// The line's offset on the chip.
    pub line: u32,
    /// Active when the pin is low (a contact pulling it to ground).
    pub active_low: bool,
    /// An input must hold a new level this long to count.
    pub debounce: Duration,
}

#[derive(Debug, thiserror::Error)]
pub enum GpioError {
    #[error("GPIO {chip}:{line}: {source}")]
    Line {
        chip: String,
        line: u32,
        source: gpiocdev::Error,
    },
}

/// A relay (or any output line). `true` is active: the relay energized.
pub trait OutputLine: Send {
    fn set(&mut self, active: bool) -> Result<(), GpioError>;
}

/// A change of an input line, after debouncing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputEdge {
    /// Which of the configured inputs, by position.
    pub input: usize,
    pub active: bool,
    pub at: Micros,
}

/// A set of input lines that report raw edges (before debouncing).
pub trait InputLines: Send {
    /// Whether each line is active now, in the order configured: read once at start-up, so
    /// that a contact already active (a fire alarm, an open door) counts.
    fn levels(&mut self) -> Result<Vec<bool>, GpioError>;

    /// The next raw edge, waiting at most `timeout`; `None` when none came.
    fn next_edge(&mut self, timeout: Duration) -> Result<Option<InputEdge>, GpioError>;
}

/// Debounces one input: a new level counts only once it has held for the debounce period
/// without a change. Feed it every raw edge, and ask [`Debouncer::poll`] at or after
/// [`Debouncer::deadline`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Debouncer {
    period: Micros,
    /// The level reported last.
    stable: bool,
    /// A different level seen, and since when.
    candidate: Option<(bool, Micros)>,
}

impl Debouncer {
    pub fn new(period: Duration, initial: bool) -> Self {
        Debouncer {
            period: period.as_micros() as Micros,
            stable: initial,
            candidate: None,
        }
    }

    pub fn level(&self) -> bool {
        self.stable
    }

    /// A raw edge to `active` at `at`.
    pub fn edge(&mut self, active: bool, at: Micros) {
        self.candidate = if active == self.stable {
            None
        } else {
            Some((active, at))
        };
    }

    /// When the pending level will count, if one is pending.
    pub fn deadline(&self) -> Option<Micros> {
        self.candidate.map(|(_, since)| since + self.period)
    }

    /// The new level, once it has held for the period.
    pub fn poll(&mut self, now: Micros) -> Option<bool> {
        let (level, since) = self.candidate?;
        if now < since + self.period {
            return None;
        }
        self.candidate = None;
        self.stable = level;
        Some(level)
    }
}

/// An output that only remembers: every value set, in order.
#[derive(Clone, Debug, Default)]
pub struct FakeOutput {
    pub history: Arc<Mutex<Vec<bool>>>,
}

impl OutputLine for FakeOutput {
    fn set(&mut self, active: bool) -> Result<(), GpioError> {
        if let Ok(mut history) = self.history.lock() {
            history.push(active);
        }
        Ok(())
    }
}

/// Inputs fed by a test: their levels at start-up, then edges queued in advance, in order.
#[derive(Clone, Debug, Default)]
pub struct FakeInputs {
    pub levels: Arc<Mutex<Vec<bool>>>,
    pub queue: Arc<Mutex<VecDeque<InputEdge>>>,
}

impl InputLines for FakeInputs {
    fn levels(&mut self) -> Result<Vec<bool>, GpioError> {
        Ok(self.levels.lock().map(|l| l.clone()).unwrap_or_default())
    }

    fn next_edge(&mut self, _timeout: Duration) -> Result<Option<InputEdge>, GpioError> {
        Ok(self.queue.lock().ok().and_then(|mut q| q.pop_front()))
    }
}

fn line_error(config: &LineConfig) -> impl Fn(gpiocdev::Error) -> GpioError + '_ {
    move |source| GpioError::Line {
        chip: config.chip.display().to_string(),
        line: config.line,
        source,
    }
}

/// A relay on a GPIO line. Requested inactive: a relay starts at rest.
#[derive(Debug)]
pub struct GpiocdevOutput {
    request: gpiocdev::Request,
    config: LineConfig,
}

impl GpiocdevOutput {
    pub fn open(config: LineConfig) -> Result<Self, GpioError> {
        let mut builder = gpiocdev::Request::builder();
        builder
            .on_chip(&config.chip)
            .with_consumer("keyway")
            .with_line(config.line)
            .as_output(gpiocdev::line::Value::Inactive);
        if config.active_low {
            builder.as_active_low();
        }
        let request = builder.request().map_err(line_error(&config))?;
        Ok(GpiocdevOutput { request, config })
    }
}

impl OutputLine for GpiocdevOutput {
    fn set(&mut self, active: bool) -> Result<(), GpioError> {
        let value = if active {
            gpiocdev::line::Value::Active
        } else {
            gpiocdev::line::Value::Inactive
        };
        self.request
            .set_value(self.config.line, value)
            .map_err(line_error(&self.config))
    }
}

/// Input lines of one chip, with edge detection on both edges (and the kernel's debounce
/// where the chip has it; [`Debouncer`] does it in any case).
#[derive(Debug)]
pub struct GpiocdevInputs {
    request: gpiocdev::Request,
    configs: Vec<LineConfig>,
}

impl GpiocdevInputs {
    /// All `configs` must be on the same chip.
    pub fn open(configs: Vec<LineConfig>) -> Result<Self, GpioError> {
        let first = configs.first().cloned().unwrap_or(LineConfig {
            chip: PathBuf::from("/dev/gpiochip0"),
            line: 0,
            active_low: false,
            debounce: Duration::ZERO,
        });
        let mut builder = gpiocdev::Request::builder();
        builder.on_chip(&first.chip).with_consumer("keyway");
        for config in &configs {
            builder
                .with_line(config.line)
                .as_input()
                .with_edge_detection(gpiocdev::line::EdgeDetection::BothEdges);
            if config.active_low {
                builder.as_active_low();
            }
            if !config.debounce.is_zero() {
                builder.with_debounce_period(config.debounce);
            }
        }
        let request = builder.request().map_err(line_error(&first))?;
        Ok(GpiocdevInputs { request, configs })
    }
}

impl InputLines for GpiocdevInputs {
    fn levels(&mut self) -> Result<Vec<bool>, GpioError> {
        self.configs
            .iter()
            .map(|config| {
                self.request
                    .value(config.line)
                    .map(|v| v == gpiocdev::line::Value::Active)
                    .map_err(line_error(config))
            })
            .collect()
    }

    fn next_edge(&mut self, timeout: Duration) -> Result<Option<InputEdge>, GpioError> {
        let Some(first) = self.configs.first() else {
            return Ok(None);
        };
        let error = line_error(first);
        if !self.request.wait_edge_event(timeout).map_err(&error)? {
            return Ok(None);
        }
        let event = self.request.read_edge_event().map_err(&error)?;
        let Some(input) = self.configs.iter().position(|c| c.line == event.offset) else {
            return Ok(None);
        };
        Ok(Some(InputEdge {
            input,
            active: event.kind == gpiocdev::line::EdgeKind::Rising,
            at: event.timestamp_ns / 1_000,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounces_shorter_than_the_period_are_ignored() {
        let mut switch = Debouncer::new(Duration::from_millis(20), false);
        // A door contact closing with bounces: 0 → 1 at 1000 µs, chatter until 6000 µs.
        for (at, level) in [
            (1_000, true),
            (1_500, false),
            (2_200, true),
            (4_000, false),
            (6_000, true),
        ] {
            switch.edge(level, at);
            assert_eq!(switch.poll(at), None);
        }
        assert_eq!(switch.deadline(), Some(26_000));
        assert_eq!(switch.poll(25_999), None);
        assert_eq!(switch.poll(26_000), Some(true));
        assert!(switch.level());
        // A spike back and forth within the period changes nothing.
        switch.edge(false, 30_000);
        switch.edge(true, 30_400);
        assert_eq!(switch.poll(60_000), None);
        assert!(switch.level());
    }

    #[test]
    fn fakes_record_and_replay() {
        let mut relay = FakeOutput::default();
        relay.set(true).unwrap();
        relay.set(false).unwrap();
        assert_eq!(*relay.history.lock().unwrap(), [true, false]);
        let mut inputs = FakeInputs::default();
        inputs.queue.lock().unwrap().push_back(InputEdge {
            input: 2,
            active: true,
            at: 7,
        });
        assert_eq!(
            inputs.next_edge(Duration::ZERO).unwrap(),
            Some(InputEdge {
                input: 2,
                active: true,
                at: 7
            })
        );
        assert_eq!(inputs.next_edge(Duration::ZERO).unwrap(), None);
    }

    #[test]
    fn the_real_driver_reports_a_missing_chip_clearly() {
        let config = LineConfig {
            chip: PathBuf::from("/dev/no-such-gpiochip"),
            line: 17,
            active_low: false,
            debounce: Duration::ZERO,
        };
        let error = GpiocdevOutput::open(config).unwrap_err().to_string();
        assert!(error.contains("/dev/no-such-gpiochip:17"), "{error}");
    }
}
