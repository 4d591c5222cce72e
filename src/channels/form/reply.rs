//! Agents' answers to form submissions: an email to the contact's address,
//! composed with the settings of the form's `reply_via` email channel (its
//! From address and name, signature, and reply address, so the customer's
//! answer threads back into the conversation) and sent through the relay
//! like any email reply.

use crate::channels::email::compose::compose;
use crate::channels::email::relay::EmailSender;
use crate::config::FormChannel;
use crate::outbox::{OutboundDelivery, SendOutcome};

/// Sends one answer to a form submission.
pub async fn send(
    sender: &EmailSender,
    delivery: &OutboundDelivery,
    form: &FormChannel,
) -> SendOutcome {
    let Some(email) = &form.reply_email else {
        return SendOutcome::Failed {
            reason: format!(
                "the form's reply_via channel \"{}\" is not an email channel",
                form.reply_via
            ),
        };
    };
    match compose(delivery, email) {
        Ok(message) => sender.send_message(message).await,
        Err(error) => SendOutcome::Failed {
            reason: format!("cannot compose the email: {error}"),
        },
    }
}
