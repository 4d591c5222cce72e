//! The validated workspace: agents, teams, inboxes and channels, with the
//! lookups handlers need. Built by `validate`, replaced whole on SIGHUP.

use std::collections::HashMap;

use super::chat::ChatChannel;
use super::custom::CustomChannel;
use super::form::FormChannel;
use super::meta::{MessengerChannel, WhatsappChannel};
use super::raw::{ForwardedSender, Role, SenderName};
use super::routing::{Pipeline, RoutingRule, RoutingSettings, TicketRule};
use super::sms::SmsChannel;
use crate::email_address;

#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub name: String,
}

#[derive(Debug, Clone)]
pub struct Agent {
    pub id: String,
    pub name: String,
    pub email: String,
    /// Further addresses the agent writes from, normalised.
    pub addresses: Vec<String>,
    pub role: Role,
    pub seat: bool,
    pub teams: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Inbox {
    pub id: String,
    pub name: String,
    pub agents: Vec<String>,
    pub teams: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct EmailChannel {
    /// The team address, normalised (lower case).
    pub address: String,
    /// Further addresses that deliver to this channel (forwarding targets).
    pub receive_addresses: Vec<String>,
    /// Addresses whose forwards are re-attributed to the original sender.
    pub forwarders: Vec<String>,
    pub forwarded_sender: ForwardedSender,
    pub sender_name: SenderName,
    /// The company in From names (the inbox name unless configured).
    pub company_name: String,
    /// The From address of replies, normalised.
    pub from_address: String,
    pub signature: Option<String>,
    pub signature_html: Option<String>,
}

#[derive(Debug, Clone)]
pub enum ChannelKind {
    Email(EmailChannel),
    Messenger(MessengerChannel),
    Whatsapp(WhatsappChannel),
    /// Any other app, through the custom channel API.
    Custom(CustomChannel),
    /// SMS/MMS through a Twilio-compatible provider.
    Sms(SmsChannel),
    /// Phone calls through a Twilio-compatible provider.
    Calls(super::calls::CallsChannel),
    /// A web form; answers go out by email through its `reply_via`.
    Form(Box<FormChannel>),
    /// The website chat widget and its visitor socket.
    Chat(Box<ChatChannel>),
}

impl ChannelKind {
    pub fn name(&self) -> &'static str {
        match self {
            ChannelKind::Email(_) => "email",
            ChannelKind::Messenger(_) => "messenger",
            ChannelKind::Whatsapp(_) => "whatsapp",
            ChannelKind::Custom(_) => "custom",
            ChannelKind::Sms(_) => "sms",
            ChannelKind::Calls(_) => "calls",
            ChannelKind::Form(_) => "form",
            ChannelKind::Chat(_) => "chat",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub id: String,
    pub inbox: String,
    pub kind: ChannelKind,
    /// Who gets new conversations; `None`: nobody automatically.
    pub routing: Option<RoutingRule>,
    /// Tickets for new conversations; `None`: no tickets.
    pub tickets: Option<TicketRule>,
}

#[derive(Debug, Clone, Default)]
pub struct Workspace {
    pub teams: Vec<Team>,
    pub agents: Vec<Agent>,
    pub inboxes: Vec<Inbox>,
    pub channels: Vec<Channel>,
    pub pipelines: Vec<Pipeline>,
    pub routing: RoutingSettings,
    /// Normalised receiving address -> index into `channels`.
    email_routes: HashMap<String, usize>,
}

impl Workspace {
    pub(super) fn new(
        teams: Vec<Team>,
        agents: Vec<Agent>,
        inboxes: Vec<Inbox>,
        channels: Vec<Channel>,
        pipelines: Vec<Pipeline>,
        routing: RoutingSettings,
    ) -> Self {
        let mut email_routes = HashMap::new();
        for (index, channel) in channels.iter().enumerate() {
            let ChannelKind::Email(email) = &channel.kind else {
                continue;
            };
            for address in std::iter::once(&email.address).chain(&email.receive_addresses) {
                email_routes.entry(address.clone()).or_insert(index);
            }
        }
        Workspace {
            teams,
            agents,
            inboxes,
            channels,
            pipelines,
            routing,
            email_routes,
        }
    }

    pub fn agent(&self, id: &str) -> Option<&Agent> {
        self.agents.iter().find(|a| a.id == id)
    }

    pub fn inbox(&self, id: &str) -> Option<&Inbox> {
        self.inboxes.iter().find(|i| i.id == id)
    }

    pub fn pipeline(&self, id: &str) -> Option<&Pipeline> {
        self.pipelines.iter().find(|p| p.id == id)
    }

    pub fn channel(&self, id: &str) -> Option<&Channel> {
        self.channels.iter().find(|c| c.id == id)
    }

    /// The email channel an envelope recipient delivers to: the local part is
    /// case-insensitive and a `+tag` suffix is ignored.
    pub fn email_channel_for(&self, recipient: &str) -> Option<&Channel> {
        let normalized = email_address::normalize(recipient)?;
        let index = self.email_routes.get(&normalized).or_else(|| {
            self.email_routes
                .get(&email_address::without_tag(&normalized))
        })?;
        self.channels.get(*index)
    }

    /// Whether `address` belongs to an agent (used to recognise forwards).
    pub fn is_agent_address(&self, address: &str) -> bool {
        self.agent_by_address(address).is_some()
    }

    /// The agent whose `email` or `addresses` is `address`.
    pub fn agent_by_address(&self, address: &str) -> Option<&Agent> {
        let normalized = email_address::normalize(address)?;
        self.agents.iter().find(|a| {
            std::iter::once(&a.email)
                .chain(&a.addresses)
                .any(|own| *own == normalized)
        })
    }

    /// Whether the agent may see and work the inbox: admins everywhere;
    /// agents where the inbox names them or one of their teams, or where the
    /// inbox names nobody at all.
    pub fn can_access(&self, agent: &Agent, inbox: &Inbox) -> bool {
        if agent.role == Role::Admin {
            return true;
        }
        if inbox.agents.is_empty() && inbox.teams.is_empty() {
            return true;
        }
        inbox.agents.contains(&agent.id) || agent.teams.iter().any(|t| inbox.teams.contains(t))
    }

    /// The inboxes the agent may see, in config order.
    pub fn accessible_inboxes(&self, agent: &Agent) -> Vec<&Inbox> {
        self.inboxes
            .iter()
            .filter(|inbox| self.can_access(agent, inbox))
            .collect()
    }
}
