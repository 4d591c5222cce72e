//! The workspace every fuzz target reads with: one email, one Messenger and
//! one WhatsApp channel, secrets in a scratch folder.

use std::path::PathBuf;

use switchboard::config::{self, Workspace};

const CONFIG: &str = r#"
[storage]
path = "data"
[smtp]
listen = "127.0.0.1:0"
hostname = "mx.fuzz.test"
[http]
listen = "127.0.0.1:0"
[[agents]]
id = "admin"
name = "Admin"
email = "admin@example.com"
role = "admin"
[[inboxes]]
id = "support"
name = "Support"
[[channels]]
id = "support-email"
inbox = "support"
kind = "email"
address = "support@example.com"
forwarders = ["relay@partner.example"]
forwarded_sender = "forwarder"
[[channels]]
id = "fb-page"
inbox = "support"
kind = "messenger"
page_id = "1234567890"
app_id = "111"
app_secret_file = "secret"
verify_token = "verify"
page_token_file = "secret"
[[channels]]
id = "wa-number"
inbox = "support"
kind = "whatsapp"
phone_number_id = "106540352242922"
app_secret_file = "secret"
verify_token = "verify"
access_token_file = "secret"
"#;

pub fn workspace() -> Workspace {
    let dir: PathBuf = std::env::temp_dir().join(format!("switchboard-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("secret"), "fuzz-secret\n").unwrap();
    config::parse(CONFIG, &dir).expect("fuzz config").workspace
}
