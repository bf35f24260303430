//! The session store every connection of a [`TlsConfig`](super::TlsConfig) shares, so that new
//! connections to one server resume TLS 1.3 sessions rather than shake hands in full.

use std::collections::{HashMap, VecDeque};

use rustls::NamedGroup;
use rustls::client::{ClientSessionStore, Tls12ClientSessionValue, Tls13ClientSessionValue};
use rustls_pki_types::ServerName;

/// Tickets kept per server: enough for a full concurrency's worth of new connections to the
/// same host to resume at once (rustls' own cache keeps 8, too few for a burst of connections
/// to one server, whose later ones then shake hands in full).
const TICKETS_PER_SERVER: usize = 512;

/// Servers whose tickets are kept; past it, one server's tickets make room for the newcomer.
const TICKET_SERVERS: usize = 1024;

/// The session store every connection of a [`TlsConfig`] shares: rustls' memory cache for key
/// exchange hints and TLS 1.2 sessions, and up to [`TICKETS_PER_SERVER`] TLS 1.3 tickets per
/// server (each used at most once, as the trait requires).
#[derive(Debug)]
pub(super) struct TicketStore {
    inner: rustls::client::ClientSessionMemoryCache,
    tls13: std::sync::Mutex<HashMap<ServerName<'static>, VecDeque<Tls13ClientSessionValue>>>,
}

impl TicketStore {
    pub(super) fn new() -> TicketStore {
        TicketStore {
            inner: rustls::client::ClientSessionMemoryCache::new(256),
            tls13: std::sync::Mutex::new(HashMap::new()),
        }
    }

    fn tickets(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<ServerName<'static>, VecDeque<Tls13ClientSessionValue>>>
    {
        // A panic elsewhere leaves the map valid: tickets are independent values.
        self.tls13.lock().unwrap_or_else(|e| e.into_inner())
    }
}

impl ClientSessionStore for TicketStore {
    fn set_kx_hint(&self, server_name: ServerName<'static>, group: NamedGroup) {
        self.inner.set_kx_hint(server_name, group);
    }

    fn kx_hint(&self, server_name: &ServerName<'_>) -> Option<NamedGroup> {
        self.inner.kx_hint(server_name)
    }

    fn set_tls12_session(&self, server_name: ServerName<'static>, value: Tls12ClientSessionValue) {
        self.inner.set_tls12_session(server_name, value);
    }

    fn tls12_session(&self, server_name: &ServerName<'_>) -> Option<Tls12ClientSessionValue> {
        self.inner.tls12_session(server_name)
    }

    fn remove_tls12_session(&self, server_name: &ServerName<'static>) {
        self.inner.remove_tls12_session(server_name);
    }

    fn insert_tls13_ticket(
        &self,
        server_name: ServerName<'static>,
        value: Tls13ClientSessionValue,
    ) {
        let mut tickets = self.tickets();
        if tickets.len() >= TICKET_SERVERS && !tickets.contains_key(&server_name) {
            let evicted = tickets.keys().next().cloned();
            if let Some(evicted) = evicted {
                tickets.remove(&evicted);
            }
        }
        let queue = tickets.entry(server_name).or_default();
        if queue.len() >= TICKETS_PER_SERVER {
            queue.pop_front();
        }
        queue.push_back(value);
    }

    fn take_tls13_ticket(
        &self,
        server_name: &ServerName<'static>,
    ) -> Option<Tls13ClientSessionValue> {
        // The newest first: the likeliest to be still valid.
        self.tickets().get_mut(server_name)?.pop_back()
    }
}
