//! The workspace every target parses against: an email, a Messenger and a
//! WhatsApp channel (the ids and numbers of the seed corpus), built once
//! from config text; secrets come from environment variables set here.

use std::sync::OnceLock;

use switchboard::config::{self, Workspace};

const CONFIG: &str = r#"
[storage]
path = "fuzz-data"
[http]
listen = "127.0.0.1:0"
[[agents]]
id = "alice"
name = "Alice"
email = "alice@example.com"
role = "admin"
[[inboxes]]
id = "support"
name = "Support"
[[channels]]
id = "support-email"
inbox = "support"
kind = "email"
address = "support@example.com"
forwarders = ["alice@example.com"]
[[channels]]
id = "fb-page"
inbox = "support"
kind = "messenger"
page_id = "1001"
app_id = "2002"
app_secret_env = "SWITCHBOARD_FUZZ_SECRET"
verify_token = "fuzz"
page_token_env = "SWITCHBOARD_FUZZ_SECRET"
[[channels]]
id = "wa-number"
inbox = "support"
kind = "whatsapp"
phone_number_id = "106540352242922"
app_secret_env = "SWITCHBOARD_FUZZ_SECRET"
verify_token = "fuzz"
access_token_env = "SWITCHBOARD_FUZZ_SECRET"
"#;

pub fn get() -> &'static Workspace {
    static WORKSPACE: OnceLock<Workspace> = OnceLock::new();
    WORKSPACE.get_or_init(|| {
        std::env::set_var("SWITCHBOARD_FUZZ_SECRET", "fuzz-secret");
        match config::parse(CONFIG, std::path::Path::new(".")) {
            Ok(config) => config.workspace,
            Err(error) => panic!("the fuzz workspace is invalid: {error}"),
        }
    })
}
