//! The reference for bench/widget_load.rs: a bare tokio-tungstenite echo
//! server with the visitor socket's buffer settings (4 KiB read and write
//! buffers, 64 KiB message limit), one task per connection, nothing else.
//! Prints `ws_echo ready ADDR` and serves until killed (or after 600 s).

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;

#[tokio::main]
async fn main() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    println!("ws_echo ready {}", listener.local_addr().unwrap());
    let serve = async {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let _ = stream.set_nodelay(true);
            tokio::spawn(async move {
                let config = WebSocketConfig::default()
                    .read_buffer_size(4 * 1024)
                    .write_buffer_size(4 * 1024)
                    .max_write_buffer_size(256 * 1024)
                    .max_message_size(Some(64 * 1024))
                    .max_frame_size(Some(64 * 1024));
                let Ok(mut socket) =
                    tokio_tungstenite::accept_async_with_config(stream, Some(config)).await
                else {
                    return;
                };
                while let Some(Ok(frame)) = socket.next().await {
                    if let Message::Text(_) | Message::Binary(_) = frame {
                        if socket.send(frame).await.is_err() {
                            return;
                        }
                    }
                }
            });
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(600), serve).await;
}
