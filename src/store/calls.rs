//! Call items updated in place. A call enters the store through ingest as
//! one message (external id = the provider's `CallSid`, so the dedupe
//! index finds it again); each later callback is folded into that message
//! here, under the writer lock, in one transaction with its events: the
//! updated message (`message.created` with the same id, as attachment
//! updates do: clients replace the message they have) and, when the call
//! became missed or left a voicemail, the conversation reopened and routed
//! like a new message.

use super::routing::AssignmentPlan;
use super::write_set::{TreeId, WriteSet};
use super::{encode, keys, Store, StoreError};
use crate::channels::calls::item::{Applied, CallDetails, CallUpdate};
use crate::events::{Event, EventKind};
use crate::model::{Contact, Conversation, ConversationStatus, Message, Millis};

/// What an update did to a call item.
#[derive(Debug, Clone)]
pub struct CallChange {
    /// The item as stored after the update.
    pub message: Message,
    pub applied: Applied,
}

impl Store {
    /// Folds `update` into the call item stored on `channel` under
    /// `initial.call_sid` (blocking), starting from `initial` if the item
    /// has no call details yet. `None` when no such item is stored. `plan`
    /// routes a conversation whose call became missed and that nobody has.
    /// The caller awaits `durable()` before acknowledging.
    pub fn update_call(
        &self,
        channel: &str,
        initial: &CallDetails,
        update: &CallUpdate,
        plan: Option<&AssignmentPlan>,
        now: Millis,
    ) -> Result<Option<CallChange>, StoreError> {
        let _writer = self.lock_writer();
        let t = &self.trees;
        let Some(entries) = t.dedupe.get(keys::dedupe(channel, &initial.call_sid))? else {
            return Ok(None);
        };
        // A CallSid names one call: the first message stored under it.
        let Some(stored_ref) = super::dedupe::stored_keys(&entries).next() else {
            return Ok(None);
        };
        let mut message: Message = self.required(&t.messages, stored_ref, "message")?;
        let first = message.call.is_none();
        let mut call = match message.call.take() {
            Some(call) => call,
            None => CallDetails {
                started_at: message.created_at,
                ..initial.clone()
            },
        };
        let mut applied = call.apply(update, &mut message.attachments, now);
        applied.changed |= first;
        let text = call.summary();
        if message.text.as_deref() != Some(text.as_str()) {
            message.text = Some(text);
            applied.changed = true;
        }
        message.call = Some(call);
        if !applied.changed {
            return Ok(Some(CallChange { message, applied }));
        }
        let old: Conversation = self.required(
            &t.conversations,
            &message.conversation.to_bytes(),
            "conversation",
        )?;
        let mut conversation = old.clone();
        let mut writes = WriteSet::default();
        let mut events = Vec::new();
        if applied.follow_up {
            self.follow_up(&mut writes, &mut conversation, plan, now)?;
            events.push(Event::conversation(
                EventKind::ConversationUpdated,
                &conversation,
                now,
            ));
            self.put_conversation(&mut writes, Some(&old), &conversation, now)?;
        }
        events.push(Event::message(&conversation, &message, now));
        let stamped = self.stamp(events);
        stamped.add_to(&mut writes);
        writes.put(TreeId::Messages, stored_ref, encode(&message));
        self.commit(&writes)?;
        self.mark_committed(&stamped);
        Ok(Some(CallChange { message, applied }))
    }

    /// A missed call or a voicemail asks for a call back: the conversation
    /// is open again and on top of the inbox, and if nobody has it, the
    /// channel's routing picks someone as for a new conversation.
    fn follow_up(
        &self,
        writes: &mut WriteSet,
        conversation: &mut Conversation,
        plan: Option<&AssignmentPlan>,
        now: Millis,
    ) -> Result<(), StoreError> {
        conversation.status = ConversationStatus::Open;
        conversation.last_message_at = conversation.last_message_at.max(now);
        let Some(plan) = plan.filter(|_| conversation.assignee.is_none()) else {
            return Ok(());
        };
        let contact: Contact = self.required(
            &self.trees.contacts,
            &conversation.contact.to_bytes(),
            "contact",
        )?;
        if let Some((record, notify)) = self.choose_assignee(plan, &contact, now)? {
            conversation.assignee = record.agent.clone();
            conversation.assignment_history.push(record);
            if let Some(owner) = &notify {
                self.queue_owner_notification(writes, conversation, owner, now);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::tests::{inbound, request};
    use super::*;
    use crate::channels::calls::item::CallStatus;

    #[tokio::test]
    async fn a_call_item_is_updated_in_place_and_a_missed_call_reopens_its_conversation() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let mut call = inbound("phone", "CA1", "+14155550100");
        call.attachments.clear();
        let accepted = store.ingest(request(call, 1_000)).unwrap();
        store
            .update_conversation(
                accepted.conversation,
                &crate::store::ConversationPatch {
                    status: Some(ConversationStatus::Closed),
                    ..Default::default()
                },
                1_500,
            )
            .unwrap();
        let seq_before = store.events(1, u64::MAX, 1_000).unwrap().len();
        let missed = CallUpdate::Dial {
            status: "no-answer".into(),
            duration: None,
        };
        let initial = CallDetails::inbound("CA1", "+14155550100", "+15005550006", 1_000);
        let change = store
            .update_call("phone", &initial, &missed, None, 2_000)
            .unwrap()
            .unwrap();
        assert!(change.applied.follow_up);
        let stored = store.message(accepted.message).unwrap().unwrap();
        assert_eq!(stored.call.as_ref().unwrap().status, CallStatus::Missed);
        assert_eq!(stored.text.as_deref(), Some("Missed call"));
        let conversation = store.conversation(accepted.conversation).unwrap().unwrap();
        assert_eq!(conversation.status, ConversationStatus::Open);
        assert_eq!(conversation.message_count, 1, "updated, not added");
        let events = store.events(1, u64::MAX, 1_000).unwrap();
        assert_eq!(events.len(), seq_before + 2, "conversation and message");

        // The same callback again changes nothing and logs nothing.
        let again = store
            .update_call("phone", &initial, &missed, None, 3_000)
            .unwrap()
            .unwrap();
        assert!(!again.applied.changed);
        assert_eq!(
            store.events(1, u64::MAX, 1_000).unwrap().len(),
            events.len()
        );
        let unknown = CallDetails::inbound("CA404", "+1", "+2", 1_000);
        assert!(store
            .update_call("phone", &unknown, &missed, None, 3_000)
            .unwrap()
            .is_none());
    }
}
