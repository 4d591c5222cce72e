//! Website-chat load: visitor sockets held and their memory, and latencies
//! at a steady message rate, each against a bare tokio-tungstenite echo
//! server with the same buffer settings (bench/ws_echo.rs) in the same run.
//!
//! 1. Held sockets: `SOCKETS` (10,000) visitor sockets are opened (in
//!    batches of 200), each says `hello` and waits for `welcome` (the echo
//!    server echoes the hello); then RSS per socket = (RSS held - RSS idle)
//!    / SOCKETS, for the daemon and for the echo server.
//! 2. Visitor message -> agent event: `VISITORS` (100) visitors send `MSGS`
//!    (2,000) messages at `RATE` (1,000) per second, open loop; timed from
//!    the send until an agent's live event socket has the `message.created`
//!    event (and until the durable `ack`).
//! 3. Agent reply -> visitor: `MSGS` replies POSTed through the API at
//!    `RATE` per second to those visitors' conversations; timed from the
//!    POST until the visitor's socket has the `message` frame (the outbox
//!    runs `OUTBOX_CONCURRENCY`, 64, deliveries at once).
//! 4. Reference: the same number of round trips at the same rate over
//!    `VISITORS` sockets of the echo server.
//!
//! Run by bench/widget.sh (release build, inside `unshare -n`).

#[path = "support/mod.rs"]
mod support;

use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures_util::stream::SplitStream;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::net::TcpStream;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use support::Daemon;

const ORIGIN: &str = "http://bench.example";
const BATCH: usize = 200;
const DEADLINE: Duration = Duration::from_secs(60);

type Socket = WebSocketStream<TcpStream>;
/// Frames for one socket's writer task.
type Queue = mpsc::UnboundedSender<String>;
/// The conversation a visitor's acks named.
type Conversation = Arc<Mutex<Option<String>>>;

/// Arrival times (ns since the start), 0 until it happened.
struct Times {
    start: Instant,
    at: Vec<AtomicU64>,
}

impl Times {
    fn new(start: Instant, n: usize) -> Arc<Times> {
        Arc::new(Times {
            start,
            at: (0..n).map(|_| AtomicU64::new(0)).collect(),
        })
    }
    fn mark(&self, i: usize) {
        if let Some(slot) = self.at.get(i) {
            let ns = self.start.elapsed().as_nanos().max(1) as u64;
            let _ = slot.compare_exchange(0, ns, Ordering::SeqCst, Ordering::SeqCst);
        }
    }
    fn done(&self) -> usize {
        self.at
            .iter()
            .filter(|a| a.load(Ordering::SeqCst) > 0)
            .count()
    }
    /// Sorted latencies of every `i` marked in both.
    fn since(&self, sent: &Times) -> Vec<Duration> {
        let mut all: Vec<Duration> = self
            .at
            .iter()
            .zip(&sent.at)
            .filter_map(|(end, start)| {
                let (end, start) = (end.load(Ordering::SeqCst), start.load(Ordering::SeqCst));
                (end > 0 && start > 0).then(|| Duration::from_nanos(end.saturating_sub(start)))
            })
            .collect();
        all.sort();
        all
    }
}

fn small_buffers() -> WebSocketConfig {
    WebSocketConfig::default()
        .read_buffer_size(4 * 1024)
        .write_buffer_size(4 * 1024)
}

async fn connect(url: &str) -> Socket {
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("Origin", ORIGIN.parse().unwrap());
    let host = request.uri().authority().unwrap().as_str().to_string();
    let stream = TcpStream::connect(host).await.unwrap();
    stream.set_nodelay(true).unwrap();
    let (socket, _) =
        tokio_tungstenite::client_async_with_config(request, stream, Some(small_buffers()))
            .await
            .unwrap();
    socket
}

/// Opens `n` sockets to `url`, each saying hello and reading one frame.
async fn hold(url: &str, n: usize) -> Vec<Socket> {
    let mut held = Vec::with_capacity(n);
    while held.len() < n {
        let batch = BATCH.min(n - held.len());
        let opened = futures_util::future::join_all((0..batch).map(|_| async {
            let mut socket = connect(url).await;
            socket
                .send(Message::Text(json!({"type": "hello"}).to_string().into()))
                .await
                .unwrap();
            let _ = socket.next().await;
            socket
        }))
        .await;
        held.extend(opened);
    }
    held
}

fn rss_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse::<f64>().ok())
        .unwrap_or(0.0)
        / 1024.0
}

/// Held sockets and memory per socket: `(sockets, idle MiB, held MiB, KB/socket)`.
async fn memory(url: &str, pid: u32, n: usize) -> (usize, f64, f64, f64) {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let idle = rss_mib(pid);
    let held = hold(url, n).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let loaded = rss_mib(pid);
    let count = held.len();
    for mut socket in held {
        let _ = socket.close(None).await;
    }
    (count, idle, loaded, (loaded - idle) * 1024.0 / count as f64)
}

fn start_echo() -> (Child, SocketAddr) {
    let bin = std::env::current_exe().unwrap().with_file_name("ws_echo");
    let mut child = Command::new(bin)
        .stdout(Stdio::piped())
        .spawn()
        .expect("the ws_echo example (cargo build --example ws_echo)");
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let addr = line
        .trim()
        .strip_prefix("ws_echo ready ")
        .unwrap()
        .parse()
        .unwrap();
    (child, addr)
}

/// Reads a visitor's frames: acks (`c<i>`), agent replies (`reply-<i>`) and
/// echoes (`e-<i>`).
async fn read_frames(
    mut stream: SplitStream<Socket>,
    acks: Arc<Times>,
    replies: Arc<Times>,
    conversation: Arc<Mutex<Option<String>>>,
) {
    while let Some(Ok(frame)) = stream.next().await {
        let Message::Text(text) = frame else { continue };
        let Ok(value) = serde_json::from_str::<Value>(text.as_str()) else {
            continue;
        };
        let index = |field: &str, prefix: &str| {
            value[field]
                .as_str()
                .and_then(|t| t.strip_prefix(prefix))
                .and_then(|n| n.parse::<usize>().ok())
        };
        match value["type"].as_str() {
            Some("ack") => {
                if let Some(i) = index("client_id", "c") {
                    acks.mark(i);
                }
                *conversation.lock().unwrap() = value["conversation"].as_str().map(str::to_string);
            }
            Some("message") if value["from"] == "agent" => {
                if let Some(i) = index("text", "reply-") {
                    replies.mark(i);
                }
            }
            Some("echo") => {
                if let Some(i) = index("text", "e-") {
                    replies.mark(i);
                }
            }
            _ => {}
        }
    }
}

/// Starts one task per socket; returns their send queues.
fn drive(
    sockets: Vec<Socket>,
    acks: &Arc<Times>,
    replies: &Arc<Times>,
) -> (Vec<Queue>, Vec<Conversation>) {
    let mut queues = Vec::new();
    let mut conversations = Vec::new();
    for socket in sockets {
        let (mut sink, stream) = socket.split();
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let conversation = Arc::new(Mutex::new(None));
        tokio::spawn(read_frames(
            stream,
            acks.clone(),
            replies.clone(),
            conversation.clone(),
        ));
        tokio::spawn(async move {
            while let Some(frame) = rx.recv().await {
                if sink.send(Message::Text(frame.into())).await.is_err() {
                    return;
                }
            }
        });
        queues.push(tx);
        conversations.push(conversation);
    }
    (queues, conversations)
}

/// Calls `each(i)` `n` times at `rate` per second, open loop.
async fn paced(n: usize, rate: usize, mut each: impl FnMut(usize)) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
    for i in 0..n {
        tick.tick().await;
        each(i);
    }
}

async fn wait_for(times: &Times, n: usize, what: &str) {
    let deadline = Instant::now() + DEADLINE;
    while times.done() < n && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    if times.done() < n {
        eprintln!("{what}: only {} of {n} within {DEADLINE:?}", times.done());
    }
}

fn row(name: &str, latencies: &[Duration]) -> String {
    format!(
        "| {name} | {} | {:.2} | {:.2} | {:.2} | {:.2} |",
        latencies.len(),
        support::quantile_ms(latencies, 0.5),
        support::quantile_ms(latencies, 0.99),
        support::quantile_ms(latencies, 0.999),
        latencies
            .last()
            .map_or(f64::NAN, |d| d.as_secs_f64() * 1000.0),
    )
}

#[tokio::main]
async fn main() {
    let sockets = support::env_usize("SOCKETS", 10_000);
    let visitors = support::env_usize("VISITORS", 100);
    let msgs = support::env_usize("MSGS", 2_000);
    let rate = support::env_usize("RATE", 1_000);
    // Deliveries in flight at once (the daemon's default is 8).
    let outbox = support::env_usize("OUTBOX_CONCURRENCY", 64);
    let dir = tempfile::tempdir().unwrap();
    let extra = format!(
        "[[channels]]\nid = \"web\"\ninbox = \"support\"\nkind = \"chat\"\n\
         allowed_origins = [\"{ORIGIN}\"]\nmessages_per_minute = 1000000\n\
         [channels.per_address]\nmax_sockets = 50000\n\
         new_conversations_per_minute = 50000\nmessages_per_minute = 100000\n\
         [outbox]\nconcurrency = {outbox}\n"
    );
    let daemon = Daemon::start(&support::daemon_bin(), dir.path(), &support::config(&extra));
    let chat_url = format!("ws://{}/ws/chat?channel=web", daemon.http);
    let (mut echo, echo_addr) = start_echo();
    let echo_url = format!("ws://{echo_addr}/");

    // 1. Held sockets.
    let load = support::load_average();
    let ours = memory(&chat_url, daemon.pid(), sockets).await;
    let theirs = memory(&echo_url, echo.id(), sockets).await;
    println!("### Idle visitor sockets held (load average {load})");
    println!();
    println!("| server | sockets held | RSS idle (MiB) | RSS held (MiB) | per socket (KB) |");
    println!("|---|---|---|---|---|");
    for (name, (count, idle, held, per)) in [
        ("switchboard `/ws/chat` (hello + welcome)", ours),
        ("tokio-tungstenite echo, 4 KiB buffers", theirs),
    ] {
        println!("| {name} | {count} | {idle:.1} | {held:.1} | {per:.1} |");
    }

    // 2. Visitor message -> agent event (and -> durable ack).
    let start = Instant::now();
    let sent = Times::new(start, msgs);
    let acks = Times::new(start, msgs);
    let events = Times::new(start, msgs);
    let replies = Times::new(start, msgs);
    let mut request = format!("ws://{}/api/v1/events", daemon.http)
        .into_client_request()
        .unwrap();
    request.headers_mut().insert(
        "Authorization",
        format!("Bearer {}", daemon.token).parse().unwrap(),
    );
    let (agent, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    let agent_events = events.clone();
    tokio::spawn(async move {
        let (_, mut stream) = agent.split();
        while let Some(Ok(Message::Text(text))) = stream.next().await {
            let Ok(event) = serde_json::from_str::<Value>(text.as_str()) else {
                continue;
            };
            if event["kind"] == "message.created" {
                if let Some(i) = event["payload"]["text"]
                    .as_str()
                    .and_then(|t| t.strip_prefix("lat-"))
                    .and_then(|n| n.parse().ok())
                {
                    agent_events.mark(i);
                }
            }
        }
    });
    let held = hold(&chat_url, visitors).await;
    let (queues, conversations) = drive(held, &acks, &replies);
    let load = support::load_average();
    paced(msgs, rate, |i| {
        sent.mark(i);
        let frame =
            json!({"type": "message", "client_id": format!("c{i}"), "text": format!("lat-{i}")});
        let _ = queues[i % visitors].send(frame.to_string());
    })
    .await;
    wait_for(&acks, msgs, "acks").await;
    wait_for(&events, msgs, "agent events").await;

    // 3. Agent reply -> visitor.
    let http = reqwest::Client::new();
    let conversation_ids: Vec<String> = conversations
        .iter()
        .map(|c| c.lock().unwrap().clone().unwrap_or_default())
        .collect();
    let posted = Times::new(start, msgs);
    paced(msgs, rate, |i| {
        posted.mark(i);
        let url = daemon.url(&format!(
            "/api/v1/conversations/{}/messages",
            conversation_ids[i % visitors]
        ));
        let request = http
            .post(url)
            .bearer_auth(&daemon.token)
            .json(&json!({"text": format!("reply-{i}")}));
        tokio::spawn(async move {
            let _ = request.send().await;
        });
    })
    .await;
    wait_for(&replies, msgs, "replies at the visitors").await;

    // 4. Reference: echo round trips at the same rate.
    let echo_sent = Times::new(start, msgs);
    let echoed = Times::new(start, msgs);
    let echo_sockets = hold(&echo_url, visitors).await;
    let unused = Times::new(start, 0);
    let (echo_queues, _) = drive(echo_sockets, &unused, &echoed);
    paced(msgs, rate, |i| {
        echo_sent.mark(i);
        let frame = json!({"type": "echo", "text": format!("e-{i}")});
        let _ = echo_queues[i % visitors].send(frame.to_string());
    })
    .await;
    wait_for(&echoed, msgs, "echoes").await;

    println!();
    println!(
        "### Latency at {rate} messages/s, {msgs} messages over {visitors} visitors (load average {load})"
    );
    println!();
    println!("| path | n | p50 ms | p99 ms | p99.9 ms | max ms |");
    println!("|---|---|---|---|---|---|");
    println!(
        "{}",
        row("visitor message -> durable ack", &acks.since(&sent))
    );
    println!(
        "{}",
        row("visitor message -> agent event", &events.since(&sent))
    );
    println!(
        "{}",
        row("agent reply POST -> visitor frame", &replies.since(&posted))
    );
    println!(
        "{}",
        row(
            "reference: tokio-tungstenite echo round trip",
            &echoed.since(&echo_sent)
        )
    );
    let _ = echo.kill();
    let _ = echo.wait();
}
