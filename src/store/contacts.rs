//! Contact edits and search, and agents' availability.

use sled::transaction::{ConflictableTransactionError, TransactionError};
use sled::Transactional;

use super::{decode, encode, keys, Store, StoreError};
use crate::email_address;
use crate::ids::Id;
use crate::model::{ConsentRecord, Contact};

/// What to change on a contact; `None` leaves a field as it is,
/// `Some(None)` clears it.
#[derive(Debug, Clone, Default)]
pub struct ContactPatch {
    pub name: Option<Option<String>>,
    pub email: Option<Option<String>>,
    pub phone: Option<Option<String>>,
    pub owner: Option<Option<String>>,
}

/// Why a contact edit was refused.
#[derive(Debug, thiserror::Error)]
pub enum ContactUpdateError {
    #[error("contact not found")]
    NotFound,
    #[error("{0} belongs to another contact")]
    IdentityTaken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl Store {
    /// Applies `patch` (blocking). A new email address or phone number is
    /// also recorded as an identity of the contact, so later messages from
    /// it join this contact; one that belongs to another contact is refused.
    pub fn update_contact(
        &self,
        id: Id,
        patch: &ContactPatch,
    ) -> Result<Contact, ContactUpdateError> {
        let _writer = self.lock_writer();
        let mut contact = self.contact(id)?.ok_or(ContactUpdateError::NotFound)?;
        let mut identities = Vec::new();
        if let Some(email) = &patch.email {
            let normalized = email.as_deref().and_then(email_address::normalize);
            if let Some(address) = &normalized {
                identities.push(keys::identity("email", address));
            }
            contact.email = normalized.or(email.clone());
        }
        if let Some(phone) = &patch.phone {
            if let Some(number) = phone {
                identities.push(keys::identity("phone", number));
            }
            contact.phone = phone.clone();
        }
        if let Some(name) = &patch.name {
            contact.name = name.clone();
        }
        if let Some(owner) = &patch.owner {
            contact.owner = owner.clone();
        }
        for key in &identities {
            if let Some(owner) = self.trees.identities.get(key).map_err(StoreError::from)? {
                if owner.as_ref() != id.to_bytes() {
                    let text = String::from_utf8_lossy(key).replace('\0', ":");
                    return Err(ContactUpdateError::IdentityTaken(text));
                }
            }
        }
        let bytes = encode(&contact);
        let result: Result<(), TransactionError<()>> =
            (&self.trees.identities, &self.trees.contacts).transaction(
                |(identity_tree, contacts)| {
                    for key in &identities {
                        identity_tree.insert(key.as_slice(), &id.to_bytes())?;
                    }
                    contacts.insert(&id.to_bytes(), bytes.as_slice())?;
                    Ok::<(), ConflictableTransactionError<()>>(())
                },
            );
        result.map_err(|e| StoreError::Transaction(format!("{e:?}")))?;
        Ok(contact)
    }

    /// Contacts whose name, email or phone contains `query` (any case) and
    /// that `visible` keeps, up to `limit`, newest first. `visible` is asked
    /// only about matches, and before the limit counts them, so that
    /// contacts the caller may not see never take a place on the page.
    pub fn search_contacts(
        &self,
        query: &str,
        limit: usize,
        mut visible: impl FnMut(&Contact) -> Result<bool, StoreError>,
    ) -> Result<Vec<Contact>, StoreError> {
        let needle = query.to_lowercase();
        let mut found = Vec::new();
        for entry in self.trees.contacts.iter().rev() {
            let contact: Contact = decode(&entry?.1)?;
            let matches = [&contact.name, &contact.email, &contact.phone]
                .into_iter()
                .flatten()
                .any(|field| field.to_lowercase().contains(&needle));
            if matches && visible(&contact)? {
                found.push(contact);
                if found.len() == limit {
                    break;
                }
            }
        }
        Ok(found)
    }

    /// Records whether an agent is available for new conversations.
    pub fn set_availability(&self, agent: &str, available: bool) -> Result<(), StoreError> {
        self.trees
            .availability
            .insert(agent.as_bytes(), &[u8::from(available)])?;
        Ok(())
    }

    /// Whether the agent said they are available (false until they do).
    pub fn is_available(&self, agent: &str) -> Result<bool, StoreError> {
        Ok(self
            .trees
            .availability
            .get(agent.as_bytes())?
            .is_some_and(|value| value.first() == Some(&1)))
    }
}

impl Store {
    /// The contact an identity belongs to, if it is known.
    pub fn contact_by_identity(
        &self,
        kind: &str,
        handle: &str,
    ) -> Result<Option<Contact>, StoreError> {
        match self.trees.identities.get(keys::identity(kind, handle))? {
            Some(id) => self
                .required(&self.trees.contacts, &id, "contact")
                .map(Some),
            None => Ok(None),
        }
    }

    /// Records a person's consent on their contact (blocking).
    pub fn record_consent(&self, id: Id, consent: ConsentRecord) -> Result<Contact, StoreError> {
        let _writer = self.lock_writer();
        let mut contact = self
            .contact(id)?
            .ok_or(StoreError::NotFound { what: "contact" })?;
        contact.consent = Some(consent);
        let mut writes = super::write_set::WriteSet::default();
        writes.put(
            super::write_set::TreeId::Contacts,
            id.to_bytes(),
            encode(&contact),
        );
        self.commit(&writes)?;
        Ok(contact)
    }

    /// Records an SMS opt-out on a contact, or clears it (`None`: the person
    /// opted back in); blocking. Returns the contact as written.
    pub fn set_opt_out(
        &self,
        id: Id,
        opted_out: Option<crate::model::OptOutRecord>,
    ) -> Result<Contact, StoreError> {
        let _writer = self.lock_writer();
        let mut contact = self
            .contact(id)?
            .ok_or(StoreError::NotFound { what: "contact" })?;
        contact.opted_out = opted_out;
        let mut writes = super::write_set::WriteSet::default();
        writes.put(
            super::write_set::TreeId::Contacts,
            id.to_bytes(),
            encode(&contact),
        );
        self.commit(&writes)?;
        Ok(contact)
    }
}
