//! One question to the nameservers: the query message, UDP with a TCP retry when truncated, the
//! checks a reply must pass, and what its answer means.
//!
//! Everything here runs inside the caller's future (no task is spawned): dropping it frees its
//! IDs on its thread's socket to the server (see `socket`) and stops the retries.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::rt::Timer;
use async_net::TcpStream;
use futures_lite::{AsyncReadExt, AsyncWriteExt, FutureExt};
use hickory_proto::rr::{DNSClass, RecordType};

use crate::Inner;
use crate::error::DnsError;
use crate::pipe::Pipe;
use crate::qname::QName;
use crate::reply::{self, Reply, Said};
use crate::socket;

/// What the servers said about one name and type; cached for `ttl` seconds when it has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Answer {
    /// The addresses (never empty).
    Addrs(Vec<IpAddr>),
    /// NOERROR without a record of the type (NODATA).
    NoData,
    /// NXDOMAIN.
    NxDomain,
}

/// An answer and how long it may be cached: the smallest TTL of the answer's records, or for a
/// negative answer the SOA's (RFC 2308: the smaller of its TTL and its minimum); `None` for a
/// negative answer without an SOA, which must not be cached.
pub(crate) type Timed = (Answer, Option<u32>);

/// Why one try at one server gave no answer.
enum TryError {
    ServerFailure,
    /// REFUSED: the server's policy, which asking it again will not change.
    Refused,
    Timeout,
    Io(io::Error),
}

/// How long a UDP query waits for its reply before it is sent again (doubling each time, within
/// the try's timeout): a lost datagram is common under a burst, and the usual 5 s timeout per
/// try would make each loss cost 5 s.
pub(crate) const RETRANSMIT: Duration = Duration::from_millis(400);

/// Asks the servers about `name` for each of `rtypes` (one socket per try carries them all),
/// `attempts` rounds in order, each try bounded by the timeout and the deadline, until each
/// type has an answer; the results come in the order of `rtypes`.
pub(crate) async fn query(
    inner: &Inner,
    name: &QName,
    rtypes: &[RecordType],
    deadline: Instant,
) -> Vec<Result<Timed, DnsError>> {
    let mut pending: Vec<Pending> = rtypes.iter().map(|&rtype| Pending::new(rtype)).collect();
    'rounds: for _ in 0..inner.attempts {
        for (&server, pipe) in inner.servers.iter().zip(&inner.pipes) {
            let now = Instant::now();
            if now >= deadline || pending.iter().all(|p| p.answer.is_some()) {
                break 'rounds;
            }
            let try_deadline = deadline.min(now + inner.timeout);
            let server = (server, pipe);
            ask(inner, server, name, &mut pending, try_deadline).await;
        }
    }
    pending.into_iter().map(Pending::result).collect()
}

/// One type's query across the tries: its answer once there is one, and why tries failed.
struct Pending {
    rtype: RecordType,
    answer: Option<Timed>,
    failed: bool,
    /// The servers that refused it, not asked again in later rounds.
    refused: Vec<SocketAddr>,
    io: Option<io::Error>,
    /// This try's ID and message.
    id: u16,
    bytes: Vec<u8>,
}

impl Pending {
    fn new(rtype: RecordType) -> Pending {
        Pending {
            rtype,
            answer: None,
            failed: false,
            refused: Vec::new(),
            io: None,
            id: 0,
            bytes: Vec::new(),
        }
    }

    fn settle(&mut self, server: SocketAddr, outcome: Result<Timed, TryError>) {
        match outcome {
            Ok(answer) => self.answer = Some(answer),
            Err(TryError::ServerFailure) => self.failed = true,
            Err(TryError::Refused) => {
                self.failed = true;
                self.refused.push(server);
            }
            Err(TryError::Io(e)) => self.io = Some(e),
            Err(TryError::Timeout) => {}
        }
    }

    fn result(self) -> Result<Timed, DnsError> {
        match (self.answer, self.failed, self.io) {
            (Some(answer), _, _) => Ok(answer),
            (None, true, _) => Err(DnsError::ServerFailure),
            (None, false, Some(e)) => Err(e.into()),
            (None, false, None) => Err(DnsError::Timeout),
        }
    }
}

/// One try at one server for every type still without an answer: over UDP on one socket, and
/// again over TCP for a type whose reply was truncated.
async fn ask(
    inner: &Inner,
    server: (SocketAddr, &Pipe),
    name: &QName,
    pending: &mut [Pending],
    deadline: Instant,
) {
    let mut open: Vec<&mut Pending> = pending
        .iter_mut()
        .filter(|p| p.answer.is_none() && !p.refused.contains(&server.0))
        .collect();
    if open.is_empty() {
        return;
    }
    for p in open.iter_mut() {
        p.bytes = encode(name, p.rtype);
    }
    if let Err(e) = udp(inner, server, &mut open, deadline).await {
        // A socket error (an ICMP "port unreachable", say) ends the try for every type.
        for p in open.iter_mut().filter(|p| p.answer.is_none()) {
            p.settle(
                server.0,
                Err(TryError::Io(io::Error::new(e.kind(), e.to_string()))),
            );
        }
    }
}

/// A query for `name` and `rtype` on the wire, with ID 0 (the caller sets its own) and
/// recursion desired: a header and one question, written here because a query is that simple
/// and hickory's general encoder (name compression, every section) does far more work for it
/// (a test checks the bytes are the ones hickory writes).
pub(crate) fn encode(name: &[u8], rtype: RecordType) -> Vec<u8> {
    // ID 0; flags: a standard query, recursion desired; one question, no records.
    const HEADER: [u8; 12] = [0, 0, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    let mut bytes = Vec::with_capacity(HEADER.len() + name.len() + 4);
    bytes.extend_from_slice(&HEADER);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(&u16::from(rtype).to_be_bytes());
    bytes.extend_from_slice(&u16::from(DNSClass::IN).to_be_bytes());
    bytes
}

/// Sends every open query on the thread's socket to the server as its window lets it and takes the
/// replies as they come, resending each unanswered one at [`RETRANSMIT`] (doubling) until the
/// deadline. A query is closed when its reply is interpreted; an error of the socket itself is
/// returned.
async fn udp(
    inner: &Inner,
    (server, pipe): (SocketAddr, &Pipe),
    open: &mut [&mut Pending],
    deadline: Instant,
) -> io::Result<()> {
    let ids = socket::reserve(server, open.len())?;
    for (p, &id) in open.iter_mut().zip(ids.ids()) {
        // The ID is the message's first two bytes: the one reserved on the socket replaces
        // the one the message was built with.
        p.id = id;
        p.bytes[..2].copy_from_slice(&id.to_be_bytes());
    }
    let mut out = vec![Sent::default(); open.len()];
    // One timer for the try: it fires at the next resend, at the oldest query leaving a full
    // window, or at the deadline, whichever is first.
    let mut timer = Timer::at(deadline);
    let mut timer_at = deadline;
    loop {
        let now = Instant::now();
        if now >= deadline {
            for (p, _) in open.iter_mut().zip(&out).filter(|(_, o)| !o.done) {
                p.settle(server, Err(TryError::Timeout));
            }
            return Ok(());
        }
        // Lost datagrams are resent with the same ID, so that a loss costs a fraction of a
        // second rather than the whole try, and a late reply to an earlier copy still counts.
        // A copy goes out at once, outside the window: it stands for a datagram taken for
        // lost, and names that are never answered, whose copies keep coming, would otherwise
        // fill the window and hold the live names back.
        for (p, o) in open.iter().zip(&mut out) {
            if !o.done && o.seq != 0 && o.send_at <= now {
                ids.send(&p.bytes)?;
                inner.stats.queries.fetch_add(1, Ordering::Relaxed);
                o.sent(pipe.latest(), now);
            }
        }
        let unsent = out.iter().filter(|o| o.seq == 0).count();
        let mut full = None;
        if unsent > 0 {
            match pipe.enter(unsent, now) {
                Ok((mut number, mut granted)) => {
                    let first = number;
                    for (p, o) in open.iter().zip(&mut out) {
                        if o.seq != 0 || granted == 0 {
                            continue;
                        }
                        granted -= 1;
                        ids.send(&p.bytes)?;
                        inner.stats.queries.fetch_add(1, Ordering::Relaxed);
                        o.sent(number, now);
                        number += 1;
                    }
                    if number < first + unsent as u64 {
                        // The rest wait for room (the next round listens for it).
                        continue;
                    }
                }
                Err(f) => full = Some(f),
            }
        }
        let mut wake = out
            .iter()
            .filter(|o| !o.done && o.seq != 0)
            .map(|o| o.send_at)
            .fold(deadline, Instant::min);
        if let Some(f) = &full {
            wake = wake.min(f.until);
        }
        if wake != timer_at {
            timer.set_at(wake);
            timer_at = wake;
        }
        let reply = async { Some(std::future::poll_fn(|cx| ids.poll_reply(cx)).await) };
        let fired = async {
            (&mut timer).await;
            None
        };
        let room = async {
            match full {
                Some(f) => f.listener.await,
                None => std::future::pending().await,
            }
            None
        };
        let Some(datagram) = reply.or(fired).or(room).await else {
            // The timer, once fired, must be set again even for the same instant.
            timer_at = now;
            continue;
        };
        let datagram = datagram?;
        let Some((i, reply)) = (0..open.len())
            .filter(|&i| !out[i].done)
            .find_map(|i| Some((i, reply::read(&datagram, &open[i].bytes)?)))
        else {
            continue;
        };
        pipe.answered(out[i].seq, Instant::now());
        let p = &mut *open[i];
        let outcome = if reply.truncated {
            // Another query reads the socket while this one is busy over TCP.
            ids.pause();
            let tcp = tcp(inner, server, &p.bytes);
            let timeout = async {
                Timer::at(deadline).await;
                Err(TryError::Timeout)
            };
            tcp.or(timeout).await.and_then(interpret)
        } else {
            interpret(reply)
        };
        p.settle(server, outcome);
        out[i].done = true;
        if out.iter().all(|o| o.done) {
            return Ok(());
        }
    }
}

/// Where one query of a try stands: the number its latest copy got from the window (0 before
/// the first), when it is sent again, the interval after that, and whether it is answered.
#[derive(Clone, Copy)]
struct Sent {
    seq: u64,
    send_at: Instant,
    wait: Duration,
    done: bool,
}

impl Default for Sent {
    fn default() -> Sent {
        Sent {
            seq: 0,
            send_at: Instant::now(),
            wait: RETRANSMIT,
            done: false,
        }
    }
}

impl Sent {
    /// A copy went out now as query `seq`: the next one waits twice as long.
    fn sent(&mut self, seq: u64, now: Instant) {
        self.seq = seq;
        self.send_at = now + self.wait;
        self.wait = self.wait.saturating_mul(2);
    }
}

async fn tcp(inner: &Inner, server: SocketAddr, query: &[u8]) -> Result<Reply, TryError> {
    let mut stream = TcpStream::connect(server).await.map_err(TryError::Io)?;
    let mut framed = (query.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(query);
    stream.write_all(&framed).await.map_err(TryError::Io)?;
    inner.stats.queries.fetch_add(1, Ordering::Relaxed);
    inner.stats.tcp_queries.fetch_add(1, Ordering::Relaxed);
    loop {
        let mut len = [0u8; 2];
        stream.read_exact(&mut len).await.map_err(TryError::Io)?;
        let mut buf = vec![0u8; u16::from_be_bytes(len).into()];
        stream.read_exact(&mut buf).await.map_err(TryError::Io)?;
        if let Some(reply) = reply::read(&buf, query) {
            return Ok(reply);
        }
    }
}

/// What a reply says about the question.
fn interpret(reply: Reply) -> Result<Timed, TryError> {
    match reply.said {
        Said::Answer(answer) => Ok(answer),
        Said::Refused => Err(TryError::Refused),
        Said::ServerFailure => Err(TryError::ServerFailure),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Message, MessageType, OpCode, Query};
    use hickory_proto::rr::Name;

    #[test]
    fn a_query_is_what_hickory_writes() {
        let long = format!("{}.{}.", "a".repeat(63), "B".repeat(63));
        // Names are asked in lower case.
        for name in ["h1.test.", "a.b.c.Example.COM.", ".", long.as_str()] {
            let name = Name::from_ascii(name).unwrap();
            for rtype in [RecordType::A, RecordType::AAAA, RecordType::MX] {
                let mut request = Message::new(0, MessageType::Query, OpCode::Query);
                request.metadata.recursion_desired = true;
                request.add_query(Query::query(name.to_lowercase(), rtype));
                assert_eq!(
                    encode(&crate::qname::of(&name), rtype),
                    request.to_vec().unwrap(),
                    "{name} {rtype}"
                );
            }
        }
    }
}
