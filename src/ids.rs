//! Identifiers: ULIDs, time-sortable and unguessable, stored as 16 big-endian
//! bytes so that sled range scans run in time order.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use ulid::Ulid;

/// The id of a contact, conversation or message.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Id(Ulid);

impl Id {
    /// A new id whose time part is `millis` since the epoch.
    pub fn new_at(millis: i64) -> Self {
        let millis = u64::try_from(millis).unwrap_or(0);
        Id(Ulid::from_parts(millis, rand::random::<u128>()))
    }

    pub fn to_bytes(self) -> [u8; 16] {
        self.0 .0.to_be_bytes()
    }

    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        let array: [u8; 16] = bytes.try_into().ok()?;
        Some(Id(Ulid(u128::from_be_bytes(array))))
    }
}

/// Hands out ids that strictly increase, even within one millisecond, so
/// that records written in order also sort in order.
#[derive(Debug, Default)]
pub struct IdGenerator {
    last: std::sync::Mutex<u128>,
}

impl IdGenerator {
    /// A new id at `millis`, greater than every id this generator gave before.
    pub fn next(&self, millis: i64) -> Id {
        let candidate = Id::new_at(millis).0 .0;
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        let value = if candidate > *last {
            candidate
        } else {
            // Same (or an earlier) millisecond: step forward by a random
            // amount, so the next id is still not guessable from this one.
            last.saturating_add(1 + u128::from(rand::random::<u32>()))
        };
        *last = value;
        Id(Ulid(value))
    }
}

impl fmt::Display for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Debug for Id {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Id({})", self.0)
    }
}

impl FromStr for Id {
    type Err = ulid::DecodeError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ulid::from_string(s).map(Id)
    }
}

impl Serialize for Id {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Id {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_sort_in_time_order() {
        let a = Id::new_at(1_000);
        let b = Id::new_at(2_000);
        assert!(a.to_bytes() < b.to_bytes());
        assert_eq!(Id::from_bytes(&a.to_bytes()), Some(a));
    }

    #[test]
    fn generated_ids_increase_within_one_millisecond() {
        let generator = IdGenerator::default();
        let ids: Vec<Id> = (0..1000).map(|_| generator.next(5_000)).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]));
        assert!(generator.next(4_000) > ids[999], "never goes backwards");
    }

    #[test]
    fn text_round_trips() {
        let id = Id::new_at(42);
        assert_eq!(id.to_string().parse::<Id>().unwrap(), id);
    }
}
