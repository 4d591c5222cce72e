//! Which contacts an agent may see, the one rule every contact endpoint
//! (read, search, edit, merge, the web inbox's contact panel) applies:
//! admins see every contact; an agent sees a contact that has a
//! conversation in an inbox they can open (`CurrentAgent::can_see`, the
//! rule conversations follow), or that they own. A contact the agent may
//! not see is answered as missing, so that ids cannot be probed.

use super::auth::CurrentAgent;
use super::error::ApiError;
use crate::app::App;
use crate::config::Role;
use crate::ids::Id;
use crate::model::Contact;
use crate::store::StoreError;

/// Whether the agent may see `contact`. Costs at most one index prefix
/// scan and one read per channel the contact wrote on.
pub fn can_see_contact(
    app: &App,
    agent: &CurrentAgent,
    contact: &Contact,
) -> Result<bool, StoreError> {
    if agent.agent.role == Role::Admin || contact.owner.as_deref() == Some(&agent.agent.id) {
        return Ok(true);
    }
    app.store
        .contact_has_conversation_in(contact.id, |inbox| agent.can_see(inbox))
}

/// Loads a contact the agent may see; others are reported as missing,
/// exactly like an id that names no contact.
pub fn visible_contact(app: &App, agent: &CurrentAgent, id: Id) -> Result<Contact, ApiError> {
    match app.store.contact(id)? {
        Some(contact) if can_see_contact(app, agent, &contact)? => Ok(contact),
        _ => Err(ApiError::NotFound { what: "contact" }),
    }
}
