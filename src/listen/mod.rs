//! The daemon's listeners and what every one of them does alike: a
//! [`gate::ConnectionGate`] per listener caps open connections in all and
//! per client address, so that one client (or one listener's flood) cannot
//! take the file descriptors the others need; [`http`] is the HTTP accept
//! loop with its header-read timeout; [`file_limit`] makes the process's
//! open-file limit agree with the caps. The SMTP receiver runs its own
//! accept loop (`channels::email::smtp`) through the same gate.

pub mod file_limit;
pub mod gate;
pub mod http;

use std::io;
use std::time::Duration;

pub use gate::{Admission, ConnectionGate, ConnectionLimits, GateMetrics, Refusal};

/// Accept errors are per connection (the peer gave up) or about resources
/// (out of file descriptors); for the latter, pause instead of spinning,
/// so that connections closing can free what the next accept needs.
pub async fn accept_failed(listener: &'static str, error: io::Error) {
    match error.kind() {
        io::ErrorKind::ConnectionAborted | io::ErrorKind::ConnectionReset => {
            tracing::debug!(listener, %error, "accept failed");
        }
        _ => {
            tracing::warn!(listener, %error, "accept failed, pausing");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}
