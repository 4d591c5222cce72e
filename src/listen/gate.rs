//! The connection gate of one listener: at most `max_open` connections at
//! once, and at most `max_per_address` from one client address. A connection
//! is admitted before anything is read from it and holds an [`Admission`]
//! until it closes; a refused one is answered in the listener's own words
//! (HTTP `503`, SMTP `421`) and closed. Without the gate, one client that
//! opens connections and never finishes a request holds file descriptors
//! until the whole process runs out, and every listener stops accepting.
//!
//! An IPv6 client counts by its /64 (one host is given a whole /64, so it
//! could otherwise open the cap from each of 2^64 addresses); an IPv4 client,
//! or an IPv4 address mapped into IPv6, by its address.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex, MutexGuard};

use prometheus::{IntCounter, IntGauge};

/// The caps of one listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// Connections open at once on the listener.
    pub max_open: usize,
    /// Connections open at once from one client address (or IPv6 /64).
    pub max_per_address: usize,
}

/// Why a connection was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The listener has `max_open` connections.
    ListenerFull,
    /// The client's address has `max_per_address` connections.
    AddressFull,
}

impl Refusal {
    /// The `reason` label of `switchboard_connections_refused_total`.
    pub fn label(self) -> &'static str {
        match self {
            Refusal::ListenerFull => "listener_full",
            Refusal::AddressFull => "address_full",
        }
    }
}

/// What the gate counts, as metric handles (`switchboard_connections_*`
/// with this listener's label).
#[derive(Clone)]
pub struct GateMetrics {
    pub open: IntGauge,
    pub listener_full: IntCounter,
    pub address_full: IntCounter,
}

/// The clients counted alike: an IPv4 address, or an IPv6 /64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum ClientKey {
    V4([u8; 4]),
    V6Prefix([u8; 8]),
}

impl ClientKey {
    fn of(ip: IpAddr) -> ClientKey {
        match ip {
            IpAddr::V4(v4) => ClientKey::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(v4.octets()),
                None => ClientKey::V6Prefix(prefix_64(v6)),
            },
        }
    }
}

fn prefix_64(ip: Ipv6Addr) -> [u8; 8] {
    let mut prefix = [0; 8];
    prefix.copy_from_slice(&ip.octets()[..8]);
    prefix
}

#[derive(Default)]
struct Counts {
    open: usize,
    per_client: HashMap<ClientKey, usize>,
}

/// One listener's gate; shared by its accept loop and the admissions.
pub struct ConnectionGate {
    limits: ConnectionLimits,
    counts: Mutex<Counts>,
    metrics: Option<GateMetrics>,
}

impl ConnectionGate {
    pub fn new(limits: ConnectionLimits, metrics: Option<GateMetrics>) -> Arc<ConnectionGate> {
        Arc::new(ConnectionGate {
            limits,
            counts: Mutex::new(Counts::default()),
            metrics,
        })
    }

    pub fn limits(&self) -> ConnectionLimits {
        self.limits
    }

    /// Admits a connection from `peer`, or says why not (and counts it).
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Admission, Refusal> {
        let key = ClientKey::of(peer);
        let refused = {
            let mut counts = self.lock();
            let from_client = counts.per_client.get(&key).copied().unwrap_or(0);
            if counts.open >= self.limits.max_open {
                Some(Refusal::ListenerFull)
            } else if from_client >= self.limits.max_per_address {
                Some(Refusal::AddressFull)
            } else {
                counts.open += 1;
                counts.per_client.insert(key, from_client + 1);
                None
            }
        };
        if let Some(metrics) = &self.metrics {
            match refused {
                None => metrics.open.inc(),
                Some(Refusal::ListenerFull) => metrics.listener_full.inc(),
                Some(Refusal::AddressFull) => metrics.address_full.inc(),
            }
        }
        match refused {
            Some(refusal) => Err(refusal),
            None => Ok(Admission {
                gate: self.clone(),
                key,
            }),
        }
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.lock().open
    }

    fn release(&self, key: ClientKey) {
        {
            let mut counts = self.lock();
            counts.open = counts.open.saturating_sub(1);
            if let Some(from_client) = counts.per_client.get_mut(&key) {
                *from_client -= 1;
                if *from_client == 0 {
                    // Addresses with no connection are forgotten, so the
                    // table never outgrows the connections open.
                    counts.per_client.remove(&key);
                }
            }
        }
        if let Some(metrics) = &self.metrics {
            metrics.open.dec();
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        // The counts stay consistent under a panic elsewhere (every update
        // is one statement), so a poisoned lock is still usable.
        self.counts
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// An admitted connection; leaving the gate when dropped.
#[must_use = "the connection leaves the gate when this is dropped"]
pub struct Admission {
    gate: Arc<ConnectionGate>,
    key: ClientKey,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.gate.release(self.key);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gate(max_open: usize, max_per_address: usize) -> Arc<ConnectionGate> {
        ConnectionGate::new(
            ConnectionLimits {
                max_open,
                max_per_address,
            },
            None,
        )
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_address_gets_its_share_and_the_listener_its_cap() {
        let gate = gate(3, 2);
        let a1 = gate.admit(ip("192.0.2.1")).unwrap();
        let _a2 = gate.admit(ip("192.0.2.1")).unwrap();
        assert_eq!(
            gate.admit(ip("192.0.2.1")).err(),
            Some(Refusal::AddressFull)
        );
        let _b1 = gate.admit(ip("192.0.2.2")).unwrap();
        assert_eq!(
            gate.admit(ip("192.0.2.3")).err(),
            Some(Refusal::ListenerFull)
        );
        drop(a1);
        assert_eq!(gate.open(), 2);
        let _a3 = gate.admit(ip("192.0.2.1")).unwrap();
    }

    #[test]
    fn an_ipv6_slash_64_counts_as_one_client_and_mapped_ipv4_as_its_address() {
        let gate = gate(10, 1);
        let _a = gate.admit(ip("2001:db8:1:2::1")).unwrap();
        assert_eq!(
            gate.admit(ip("2001:db8:1:2:ffff::9")).err(),
            Some(Refusal::AddressFull)
        );
        let _b = gate.admit(ip("2001:db8:1:3::1")).unwrap();
        let _c = gate.admit(ip("198.51.100.7")).unwrap();
        assert_eq!(
            gate.admit(ip("::ffff:198.51.100.7")).err(),
            Some(Refusal::AddressFull)
        );
    }

    #[test]
    fn closed_connections_leave_no_entry_behind() {
        let gate = gate(1000, 10);
        let admitted: Vec<_> = (0..200)
            .map(|i| {
                gate.admit(IpAddr::from([10, 0, (i / 256) as u8, i as u8]))
                    .unwrap()
            })
            .collect();
        assert_eq!(gate.lock().per_client.len(), 200);
        drop(admitted);
        assert_eq!(gate.open(), 0);
        assert!(gate.lock().per_client.is_empty());
    }
}
