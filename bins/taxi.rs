//! taxi: the classic asyncio taxi fleet simulation, a discrete-event simulation on tulip's
//! priority queue (crates/queue).
//!
//! Each taxi is a process that leaves the garage, picks up and drops off passengers a number of
//! times, and goes home; each step is an event at a time of the simulated clock. The simulator
//! keeps the next event of every taxi in a priority queue ordered by time, takes the earliest,
//! prints it, advances the clock to it and asks that taxi for its next event, after a random
//! (exponentially distributed) duration. Nothing sleeps: the clock jumps from event to event, so
//! a run takes no time and the same seed prints the same lines.
//!
//! ```text
//! cargo run --bin taxi
//! cargo run --bin taxi -- --taxis 5 --end-time 360 --seed 7
//! ```

use std::collections::VecDeque;
use std::fmt;
use std::io::{self, Write};
use std::process::ExitCode;

use clap::Parser;
use queue::{Priority, Queue};

/// A taxi fleet simulated on a priority queue of events, with a simulated clock.
#[derive(Parser, Debug)]
#[command(name = "taxi", version)]
struct Args {
    /// Taxis in the fleet; taxi i leaves the garage at time 5*i and makes 2*(i+1) trips.
    #[arg(long, default_value_t = 3, value_name = "N",
          value_parser = clap::value_parser!(u32).range(1..=100))]
    taxis: u32,
    /// The simulation stops after the first event at or after this time.
    #[arg(long, default_value_t = 180, value_name = "T",
          value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    end_time: u64,
    /// Seed of the random durations: the same seed prints the same events.
    #[arg(long, default_value_t = 0, value_name = "S")]
    seed: u64,
}

/// The mean time to find a passenger.
const SEARCH_DURATION: f64 = 5.0;
/// The mean length of a trip.
const TRIP_DURATION: f64 = 20.0;
/// The time between two taxis leaving the garage.
const DEPARTURE_INTERVAL: u64 = 5;

/// What a taxi does at an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Action {
    LeaveGarage,
    PickUp,
    DropOff,
    GoHome,
}

impl Action {
    fn name(self) -> &'static str {
        match self {
            Action::LeaveGarage => "leave garage",
            Action::PickUp => "pick up passenger",
            Action::DropOff => "drop off passenger",
            Action::GoHome => "going home",
        }
    }

    /// The mean time until the taxi's next event.
    fn mean_duration(self) -> f64 {
        match self {
            // The taxi is prowling for a passenger.
            Action::LeaveGarage | Action::DropOff => SEARCH_DURATION,
            // The taxi is on a trip.
            Action::PickUp => TRIP_DURATION,
            Action::GoHome => 1.0,
        }
    }
}

/// One step of one taxi. Ordered by time, then taxi: the queue hands out the earliest first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Event {
    time: u64,
    taxi: u32,
    action: Action,
}

impl fmt::Display for Event {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Event(time={}, proc={}, action='{}')",
            self.time,
            self.taxi,
            self.action.name()
        )
    }
}

/// A taxi's process: the events it still has to yield, each at the time the simulator sends it.
struct Taxi {
    id: u32,
    to_do: VecDeque<Action>,
}

impl Taxi {
    /// Taxi `id` and its first event: leaving the garage at `start`.
    fn new(id: u32, trips: u32, start: u64) -> (Taxi, Event) {
        let mut to_do = VecDeque::new();
        for _ in 0..trips {
            to_do.push_back(Action::PickUp);
            to_do.push_back(Action::DropOff);
        }
        to_do.push_back(Action::GoHome);
        let first = Event {
            time: start,
            taxi: id,
            action: Action::LeaveGarage,
        };
        (Taxi { id, to_do }, first)
    }

    /// The taxi's next event, at `time`; `None` once it went home.
    fn send(&mut self, time: u64) -> Option<Event> {
        let action = self.to_do.pop_front()?;
        Some(Event {
            time,
            taxi: self.id,
            action,
        })
    }
}

/// An exponentially distributed duration with the action's mean, in whole time units, at least 1.
fn duration(rng: &mut fastrand::Rng, after: Action) -> u64 {
    // 1 - u is in (0, 1], so its logarithm is finite.
    let exp = -(1.0 - rng.f64()).ln() * after.mean_duration();
    exp as u64 + 1
}

/// How a simulation ended.
enum End {
    /// The clock reached the end time with this many events still queued.
    Time(usize),
    /// Every taxi went home first.
    NoEvents,
}

/// Runs the simulation, writing each event as it happens.
async fn simulate(args: &Args, out: &mut impl Write) -> io::Result<End> {
    let mut rng = fastrand::Rng::with_seed(args.seed);
    // Each taxi has at most one event queued.
    let events: Queue<Event, Priority> = Queue::priority(args.taxis as usize);
    let mut taxis = Vec::new();
    for id in 0..args.taxis {
        let (taxi, first) = Taxi::new(id, (id + 1) * 2, u64::from(id) * DEPARTURE_INTERVAL);
        events
            .put(first)
            .await
            .expect("the queue is never shut down");
        taxis.push(Some(taxi));
    }
    let mut time = 0;
    while time < args.end_time {
        // Take the earliest event and advance the clock to it.
        let Ok(event) = events.try_get() else {
            return Ok(End::NoEvents);
        };
        time = event.time;
        writeln!(
            out,
            "taxi: {} {:pad$} {event}",
            event.taxi,
            "",
            pad = event.taxi as usize
        )?;
        // Ask the taxi for its next event, after the time its action takes.
        let next_time = time + duration(&mut rng, event.action);
        let slot = &mut taxis[event.taxi as usize];
        match slot.as_mut().and_then(|taxi| taxi.send(next_time)) {
            Some(next) => events
                .put(next)
                .await
                .expect("the queue is never shut down"),
            None => *slot = None,
        }
    }
    Ok(End::Time(events.len()))
}

fn main() -> ExitCode {
    let args = Args::parse();
    let mut out = io::BufWriter::new(io::stdout().lock());
    let result = futures_lite::future::block_on(simulate(&args, &mut out)).and_then(|end| {
        match end {
            End::Time(pending) => writeln!(
                out,
                "*** end of simulation time: {pending} events pending ***"
            ),
            End::NoEvents => writeln!(out, "*** end of events ***"),
        }?;
        out.flush()
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A reader that stopped early (`| head`) is not an error.
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => ExitCode::SUCCESS,
        Err(e) => {
            let _ = writeln!(io::stderr(), "error: cannot write to stdout: {e}");
            ExitCode::FAILURE
        }
    }
}
