//! The integration tests: each module runs one of tulip's binaries and snapshots what it prints.

// The shared fixture: how a binary is started, where snapshots live, what is redacted.
#[macro_use]
mod fixture;

// socketpair-reader over crates/fdwatch.
mod socketpair_reader;

// fetch-headers over crates/headers, against crates/stub servers.
mod fetch_headers;

// fetch-headers reading its input as it fetches: bad lines mid-list, the input-order window,
// --resume after SIGKILL.
mod fetch_headers_stream;

// fetch-headers with https targets (TLS stubs, nginx over TLS) and -L redirect chains.
mod fetch_headers_tls;

// fetch-headers resolving names: a DNS stub, --resolver, --resolve, typed DNS failures.
mod fetch_headers_dns;

// fetch-headers' pacing, retries and sharding (--rate, --per-host, --retries, --shard).
mod fetch_headers_scale;

// fetch-headers' certificate facts, --expires-within and timings.
mod fetch_headers_certs;

// prodcons over crates/queue.
mod prodcons;

// lock-demo over crates/lockstat.
mod lock_demo;

// spinner over crates/fdwatch's timers and LoopHandle.
mod spinner;

// taxi over crates/queue's priority order.
mod taxi;
