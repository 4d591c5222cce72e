//! The Messenger greeting: the text people see before they first write to
//! the Page, set through the Messenger Profile API whenever the channel is
//! loaded (at start and on every reload).

use std::time::Duration;

use serde_json::json;

use crate::config::{ChannelKind, Workspace};

/// Attempts per Page before giving up until the next reload.
const ATTEMPTS: u32 = 4;

/// Sets the greeting of every Messenger channel that has one. Failures are
/// logged and retried a few times; they never stop the daemon.
pub async fn set_greetings(workspace: &Workspace) {
    let client = match reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .redirect(reqwest::redirect::Policy::none())
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "cannot build the HTTP client for the Graph API");
            return;
        }
    };
    for channel in &workspace.channels {
        let ChannelKind::Messenger(page) = &channel.kind else {
            continue;
        };
        let Some(greeting) = &page.greeting else {
            continue;
        };
        let url = page.graph.url("me/messenger_profile");
        let body = json!({ "greeting": [{ "locale": "default", "text": greeting }] });
        let mut delay = Duration::from_millis(500);
        for attempt in 1..=ATTEMPTS {
            let sent = client
                .post(&url)
                .bearer_auth(page.page_token.expose())
                .json(&body)
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => {
                    tracing::info!(channel = %channel.id, "Messenger greeting set");
                    break;
                }
                Ok(response) => {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    tracing::warn!(channel = %channel.id, %status, body = %text.chars().take(300).collect::<String>(), attempt, "setting the Messenger greeting failed");
                    if status.is_client_error() && status.as_u16() != 429 {
                        break;
                    }
                }
                Err(error) => {
                    tracing::warn!(channel = %channel.id, error = %error.without_url(), attempt, "setting the Messenger greeting failed");
                }
            }
            tokio::time::sleep(delay).await;
            delay *= 2;
        }
    }
}
