//! The visitor socket's limits per client address (the channel's
//! `[per_address]`): open sockets, counted by a slot taken before the
//! upgrade and given back when the socket ends (or the upgrade fails); new
//! visitors a minute (token-less hellos, each a conversation to be); and
//! messages a minute, across all the address's sockets and visitors, so
//! that dropping the visitor token does not start a fresh allowance.
//!
//! An address is keyed with its channel (each channel counts by its own
//! limits) and counts as `client_addr::limit_key` says (IPv6 by /64). The
//! socket table holds only addresses with a socket open and at most
//! `MAX_SOCKETS_LIMIT` slots in all; the two rate tables are
//! `rate_limit::Limiter`s, whose idle entries expire and whose size is
//! capped.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use crate::client_addr::limit_key;
use crate::config::MAX_SOCKETS_LIMIT;
use crate::model::Millis;
use crate::rate_limit::Limiter;

const MINUTE: Duration = Duration::from_secs(60);

/// The key an address is limited under on `channel`.
pub fn address_key(channel: &str, address: IpAddr) -> String {
    format!("{channel}\0{}", limit_key(address))
}

#[derive(Debug, Default)]
struct OpenSockets {
    by_address: HashMap<String, u32>,
    total: usize,
}

fn lock(sockets: &Mutex<OpenSockets>) -> MutexGuard<'_, OpenSockets> {
    sockets.lock().unwrap_or_else(|p| p.into_inner())
}

/// Why no socket slot was given.
#[derive(Debug, PartialEq, Eq)]
pub enum SocketRefused {
    /// The address holds its `max_sockets` already (`429`).
    TooMany,
    /// The daemon holds `MAX_SOCKETS_LIMIT` sockets (`503`).
    Full,
}

/// One open socket of an address; dropping it gives the slot back.
#[derive(Debug)]
pub struct SocketSlot {
    sockets: Arc<Mutex<OpenSockets>>,
    key: String,
}

impl Drop for SocketSlot {
    fn drop(&mut self) {
        let mut sockets = lock(&self.sockets);
        sockets.total = sockets.total.saturating_sub(1);
        if let Some(count) = sockets.by_address.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                sockets.by_address.remove(&self.key);
            }
        }
    }
}

#[derive(Debug, Default)]
pub struct AddressLimits {
    sockets: Arc<Mutex<OpenSockets>>,
    new_visitors: Limiter,
    messages: Limiter,
}

impl AddressLimits {
    /// A slot for one more socket of `key`, if it holds fewer than `max`.
    pub fn open_socket(&self, key: &str, max: u32) -> Result<SocketSlot, SocketRefused> {
        let mut sockets = lock(&self.sockets);
        if sockets.total >= MAX_SOCKETS_LIMIT as usize {
            return Err(SocketRefused::Full);
        }
        let count = sockets.by_address.get(key).copied().unwrap_or(0);
        if count >= max {
            return Err(SocketRefused::TooMany);
        }
        sockets.by_address.insert(key.to_string(), count + 1);
        sockets.total += 1;
        Ok(SocketSlot {
            sockets: self.sockets.clone(),
            key: key.to_string(),
        })
    }

    /// Sockets `key` holds open now.
    pub fn open_sockets(&self, key: &str) -> u32 {
        lock(&self.sockets)
            .by_address
            .get(key)
            .copied()
            .unwrap_or(0)
    }

    /// Takes one new visitor from `key`'s `per_minute`, or `Err(wait)`.
    pub fn new_visitor(&self, key: &str, per_minute: u32, now: Millis) -> Result<(), Duration> {
        self.new_visitors.take(key, per_minute, MINUTE, now)
    }

    /// Takes one message from `key`'s `per_minute`, or `Err(wait)`.
    pub fn message(&self, key: &str, per_minute: u32, now: Millis) -> Result<(), Duration> {
        self.messages.take(key, per_minute, MINUTE, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sockets_are_capped_per_address_and_given_back_on_drop() {
        let limits = AddressLimits::default();
        let home = address_key("web", "2001:db8:1:2::10".parse().unwrap());
        let same_home = address_key("web", "2001:db8:1:2:ffff::99".parse().unwrap());
        let other = address_key("web", "203.0.113.9".parse().unwrap());
        assert_eq!(home, same_home, "one /64 is one address");
        let first = limits.open_socket(&home, 2).unwrap();
        let _second = limits.open_socket(&same_home, 2).unwrap();
        assert_eq!(
            limits.open_socket(&home, 2).unwrap_err(),
            SocketRefused::TooMany
        );
        let _elsewhere = limits.open_socket(&other, 2).unwrap();
        let _other_channel = limits
            .open_socket(&address_key("shop", "2001:db8:1:2::10".parse().unwrap()), 2)
            .unwrap();
        drop(first);
        assert_eq!(limits.open_sockets(&home), 1);
        let _again = limits.open_socket(&home, 2).unwrap();
        assert_eq!(limits.open_sockets(&home), 2);
    }

    #[test]
    fn the_socket_table_forgets_addresses_without_sockets() {
        let limits = AddressLimits::default();
        let slots: Vec<SocketSlot> = (0..100u32)
            .map(|i| {
                let address = IpAddr::from([198, 51, 100, i as u8]);
                limits
                    .open_socket(&address_key("web", address), 20)
                    .unwrap()
            })
            .collect();
        assert_eq!(lock(&limits.sockets).by_address.len(), 100);
        drop(slots);
        let sockets = lock(&limits.sockets);
        assert!(sockets.by_address.is_empty());
        assert_eq!(sockets.total, 0);
    }

    #[test]
    fn new_visitors_and_messages_refill_per_minute() {
        let limits = AddressLimits::default();
        let key = address_key("web", "203.0.113.9".parse().unwrap());
        for _ in 0..10 {
            limits.new_visitor(&key, 10, 0).unwrap();
        }
        assert_eq!(
            limits.new_visitor(&key, 10, 0).unwrap_err(),
            Duration::from_secs(6)
        );
        assert!(limits.new_visitor(&key, 10, 6_000).is_ok());
        assert!(limits.message(&key, 1, 0).is_ok(), "a table of its own");
        assert!(limits.message(&key, 1, 0).is_err());
    }
}
