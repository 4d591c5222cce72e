//! Facebook Messenger and WhatsApp Business channels: their validated
//! settings and the checks that build them (secrets loaded, a Page or a
//! number connected to one channel only).

use std::collections::HashSet;
use std::path::Path;

use super::raw::{Consent, RawMessengerChannel, RawWhatsappChannel};
use super::secret::{self, Secret};

pub const DEFAULT_GRAPH_BASE_URL: &str = "https://graph.facebook.com";
pub const DEFAULT_API_VERSION: &str = "v21.0";

/// Where the Graph API is and which version to call.
#[derive(Debug, Clone)]
pub struct GraphApi {
    pub base_url: String,
    pub version: String,
}

impl GraphApi {
    fn new(base_url: Option<String>, version: Option<String>) -> Self {
        GraphApi {
            base_url: base_url
                .unwrap_or_else(|| DEFAULT_GRAPH_BASE_URL.to_string())
                .trim_end_matches('/')
                .to_string(),
            version: version.unwrap_or_else(|| DEFAULT_API_VERSION.to_string()),
        }
    }

    /// `{base}/{version}/{path}`.
    pub fn url(&self, path: &str) -> String {
        format!(
            "{}/{}/{}",
            self.base_url,
            self.version,
            path.trim_start_matches('/')
        )
    }
}

#[derive(Debug, Clone)]
pub struct MessengerChannel {
    pub page_id: String,
    pub app_id: String,
    pub app_secret: Secret,
    pub verify_token: Secret,
    pub page_token: Secret,
    pub greeting: Option<String>,
    pub instant_reply: Option<String>,
    pub consent: Consent,
    pub consent_text: Option<String>,
    pub human_agent_tag: bool,
    pub graph: GraphApi,
    /// Media links from webhooks may point at non-public addresses.
    pub allow_private_targets: bool,
}

#[derive(Debug, Clone)]
pub struct WhatsappChannel {
    pub phone_number_id: String,
    pub app_secret: Secret,
    pub verify_token: Secret,
    pub access_token: Secret,
    pub instant_reply: Option<String>,
    pub graph: GraphApi,
    /// Media links from webhooks may point at non-public addresses.
    pub allow_private_targets: bool,
}

/// Page ids and phone number ids seen so far, to refuse a second channel
/// for the same account.
#[derive(Default)]
pub(super) struct Accounts(HashSet<String>);

type Found = Vec<(String, String)>;

pub(super) fn messenger(
    raw: &RawMessengerChannel,
    path: &str,
    base: &Path,
    accounts: &mut Accounts,
    found: &mut Found,
) -> Option<MessengerChannel> {
    if !accounts.0.insert(format!("page:{}", raw.page_id)) {
        found.push((
            format!("{path}.page_id"),
            format!(
                "page {} is already connected to another channel",
                raw.page_id
            ),
        ));
    }
    if raw.consent != Consent::None && raw.consent_text.is_none() {
        found.push((
            format!("{path}.consent_text"),
            "required when consent is implied or explicit".into(),
        ));
    }
    if raw.verify_token.trim().is_empty() {
        found.push((format!("{path}.verify_token"), "must not be empty".into()));
    }
    let app_secret = secret::load(
        raw.app_secret_file.as_deref(),
        raw.app_secret_env.as_deref(),
        base,
        path,
        "app_secret",
        found,
    );
    let page_token = secret::load(
        raw.page_token_file.as_deref(),
        raw.page_token_env.as_deref(),
        base,
        path,
        "page_token",
        found,
    );
    Some(MessengerChannel {
        page_id: raw.page_id.clone(),
        app_id: raw.app_id.clone(),
        app_secret: app_secret?,
        verify_token: Secret::new(raw.verify_token.clone()),
        page_token: page_token?,
        greeting: raw.greeting.clone(),
        instant_reply: raw.instant_reply.clone(),
        consent: raw.consent,
        consent_text: raw.consent_text.clone(),
        human_agent_tag: raw.human_agent_tag,
        graph: GraphApi::new(raw.graph_base_url.clone(), raw.api_version.clone()),
        allow_private_targets: raw.allow_private_targets,
    })
}

pub(super) fn whatsapp(
    raw: &RawWhatsappChannel,
    path: &str,
    base: &Path,
    accounts: &mut Accounts,
    found: &mut Found,
) -> Option<WhatsappChannel> {
    if !accounts.0.insert(format!("phone:{}", raw.phone_number_id)) {
        found.push((
            format!("{path}.phone_number_id"),
            format!(
                "number {} is already connected to another channel",
                raw.phone_number_id
            ),
        ));
    }
    if raw.verify_token.trim().is_empty() {
        found.push((format!("{path}.verify_token"), "must not be empty".into()));
    }
    let app_secret = secret::load(
        raw.app_secret_file.as_deref(),
        raw.app_secret_env.as_deref(),
        base,
        path,
        "app_secret",
        found,
    );
    let access_token = secret::load(
        raw.access_token_file.as_deref(),
        raw.access_token_env.as_deref(),
        base,
        path,
        "access_token",
        found,
    );
    Some(WhatsappChannel {
        phone_number_id: raw.phone_number_id.clone(),
        app_secret: app_secret?,
        verify_token: Secret::new(raw.verify_token.clone()),
        access_token: access_token?,
        instant_reply: raw.instant_reply.clone(),
        graph: GraphApi::new(raw.graph_base_url.clone(), raw.api_version.clone()),
        allow_private_targets: raw.allow_private_targets,
    })
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    fn config(dir: &Path, second_page: &str) -> String {
        std::fs::write(dir.join("secret"), "app-secret\n").unwrap();
        std::fs::write(dir.join("token"), "page-token\n").unwrap();
        format!(
            r#"
            [storage]
            path = "data"
            [http]
            listen = "127.0.0.1:0"
            [[inboxes]]
            id = "social"
            name = "Social"
            [[channels]]
            id = "page-a"
            inbox = "social"
            kind = "messenger"
            page_id = "111"
            app_id = "9"
            app_secret_file = "secret"
            verify_token = "v"
            page_token_file = "token"
            [[channels]]
            id = "page-b"
            inbox = "social"
            kind = "messenger"
            page_id = "{second_page}"
            app_id = "9"
            app_secret_file = "secret"
            verify_token = "v"
            page_token_env = "SWITCHBOARD_TEST_UNSET_TOKEN"
            "#
        )
    }

    #[test]
    fn a_page_connects_to_one_channel_and_secrets_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let errors = crate::config::parse(&config(dir.path(), "111"), dir.path())
            .unwrap_err()
            .problems();
        let joined = errors.join("\n");
        assert!(
            joined.contains("channels[1].page_id: page 111 is already connected"),
            "{joined}"
        );
        assert!(joined.contains("channels[1].page_token_env: environment variable SWITCHBOARD_TEST_UNSET_TOKEN is not set"), "{joined}");
        assert!(
            !joined.contains("app-secret"),
            "secrets never appear in errors"
        );
    }

    #[test]
    fn secrets_are_read_from_files_and_never_printed() {
        let dir = tempfile::tempdir().unwrap();
        let text = config(dir.path(), "222").replace(
            "page_token_env = \"SWITCHBOARD_TEST_UNSET_TOKEN\"",
            "page_token_file = \"token\"",
        );
        let config = crate::config::parse(&text, dir.path()).unwrap();
        let channel = config.workspace.channel("page-a").unwrap();
        let crate::config::ChannelKind::Messenger(page) = &channel.kind else {
            panic!("a messenger channel")
        };
        assert_eq!(page.app_secret.expose(), "app-secret");
        assert_eq!(page.page_token.expose(), "page-token");
        assert!(!format!("{page:?}").contains("page-token"));
    }

    #[test]
    fn media_links_are_public_only_unless_allowed() {
        let dir = tempfile::tempdir().unwrap();
        let text = config(dir.path(), "222").replace(
            "page_token_env = \"SWITCHBOARD_TEST_UNSET_TOKEN\"",
            "page_token_file = \"token\"\nallow_private_targets = true",
        );
        let config = crate::config::parse(&text, dir.path()).unwrap();
        let allowed = |id: &str| match &config.workspace.channel(id).unwrap().kind {
            crate::config::ChannelKind::Messenger(page) => page.allow_private_targets,
            other => panic!("{other:?}"),
        };
        assert!(!allowed("page-a"), "false by default");
        assert!(allowed("page-b"));
        let typo = text.replace("allow_private_targets", "allow_private_target");
        let errors = crate::config::parse(&typo, dir.path())
            .unwrap_err()
            .problems()
            .join("\n");
        assert!(errors.contains("allow_private_target"), "{errors}");
        let not_a_bool = text.replace(
            "allow_private_targets = true",
            "allow_private_targets = \"yes\"",
        );
        assert!(crate::config::parse(&not_a_bool, dir.path()).is_err());
    }
}
