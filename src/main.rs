//! The `switchboard` command: serve, check the config, create API tokens,
//! set agents' web passwords, check the store.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tokio_util::sync::CancellationToken;

use switchboard::config::{self, AssignTo, ChannelKind, Config};
use switchboard::daemon::{self, Listeners};
use switchboard::tokens::TokenRegistry;
use switchboard::web::passwords::PasswordFile;

/// Exit code for a config that does not validate (EX_CONFIG).
const EXIT_CONFIG: u8 = 78;

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "Customer channels into shared inboxes"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the daemon.
    Serve {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Validate a config file and print a summary.
    CheckConfig {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Manage agents' web sign-in.
    Agent {
        #[command(subcommand)]
        command: AgentCommand,
    },
    /// Look after the store.
    Store {
        #[command(subcommand)]
        command: StoreCommand,
    },
}

#[derive(Subcommand)]
enum StoreCommand {
    /// Read every record and index entry of the stopped daemon's store (or
    /// a copy) and report problems; exits 1 if any is left.
    Check {
        #[arg(long, short)]
        config: PathBuf,
        /// Rebuild index entries from the records where possible.
        #[arg(long)]
        repair: bool,
    },
}

#[derive(Subcommand)]
enum AgentCommand {
    /// Set an agent's web inbox password, read from stdin (first line).
    SetPassword {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        agent: String,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Create a token for an agent and print it once.
    Create {
        #[arg(long, short)]
        config: PathBuf,
        #[arg(long)]
        agent: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    switchboard::logging::init();
    let result = match cli.command {
        Command::Serve { config } => serve(config),
        Command::CheckConfig { config } => return check_config(&config),
        Command::Token {
            command: TokenCommand::Create { config, agent },
        } => create_token(&config, &agent),
        Command::Agent {
            command: AgentCommand::SetPassword { config, agent },
        } => set_password(&config, &agent),
        Command::Store {
            command: StoreCommand::Check { config, repair },
        } => return check_store(&config, repair),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("switchboard: {error:#}");
            ExitCode::FAILURE
        }
    }
}

fn load(path: &Path) -> Result<Config, ExitCode> {
    config::load(path).map_err(|error| {
        eprintln!("{}: invalid configuration", path.display());
        for problem in error.problems() {
            eprintln!("  {problem}");
        }
        ExitCode::from(EXIT_CONFIG)
    })
}

fn serve(path: PathBuf) -> anyhow::Result<()> {
    let config = match load(&path) {
        Ok(config) => config,
        Err(_) => anyhow::bail!("not started: fix the configuration"),
    };
    for warning in &config.warnings {
        tracing::warn!(%warning, "config");
    }
    let runtime = tokio::runtime::Runtime::new().context("starting the runtime")?;
    runtime.block_on(async move {
        let shutdown = CancellationToken::new();
        daemon::cancel_on_signals(shutdown.clone()).context("installing signal handlers")?;
        let listeners = Listeners::bind(&config).await?;
        daemon::run(config, Some(path), listeners, shutdown).await?;
        Ok(())
    })
}

fn check_config(path: &Path) -> ExitCode {
    let config = match load(path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let ws = &config.workspace;
    println!("{}: ok", path.display());
    println!(
        "storage   {} (free-space reserve {} MiB)",
        config.storage.path.display(),
        config.storage.min_free_bytes / (1024 * 1024)
    );
    match &config.smtp {
        Some(smtp) => println!(
            "smtp      {} as {} (max {} bytes, {} recipients, {} sessions, {} per address{})",
            smtp.listen,
            smtp.hostname,
            smtp.max_message_bytes,
            smtp.max_recipients,
            smtp.max_sessions,
            smtp.max_sessions_per_address,
            if smtp.tls.is_some() { ", STARTTLS" } else { "" }
        ),
        None => println!("smtp      off"),
    }
    println!(
        "http      {} (max {} connections, {} per address, {} s for a request head)",
        config.http.listen,
        config.http.max_connections,
        config.http.max_connections_per_address,
        config.http.header_read_timeout.as_secs()
    );
    let scrape = match &config.metrics.token {
        Some(_) => "metrics token",
        None if config.metrics.listen.is_some() => "open",
        None => "admin API token",
    };
    match config.metrics.listen {
        Some(addr) => println!("metrics   {addr}/metrics ({scrape})"),
        None => println!("metrics   /metrics on the http listener ({scrape})"),
    }
    match &config.outbound_smtp {
        Some(relay) => println!(
            "relay     {}:{} ({:?}{})",
            relay.host,
            relay.port,
            relay.tls,
            if relay.username.is_some() {
                ", with login"
            } else {
                ""
            }
        ),
        None => println!("relay     none: email replies are refused"),
    }
    println!(
        "teams     {}",
        ws.teams
            .iter()
            .map(|t| t.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "agents    {}",
        ws.agents
            .iter()
            .map(|a| a.id.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    for inbox in &ws.inboxes {
        println!("inbox     {} ({})", inbox.id, inbox.name);
        for channel in ws.channels.iter().filter(|c| c.inbox == inbox.id) {
            match &channel.kind {
                ChannelKind::Email(email) => {
                    println!("  channel {} email {}", channel.id, email.address);
                    for extra in &email.receive_addresses {
                        println!("          also {extra}");
                    }
                }
                ChannelKind::Messenger(page) => {
                    println!("  channel {} messenger page {}", channel.id, page.page_id);
                }
                ChannelKind::Whatsapp(number) => {
                    println!(
                        "  channel {} whatsapp number {}",
                        channel.id, number.phone_number_id
                    );
                }
                ChannelKind::Chat(chat) => {
                    println!(
                        "  channel {} chat widget for {}",
                        channel.id,
                        chat.allowed_origins.join(", ")
                    );
                }
                ChannelKind::Sms(sms) => {
                    let sender = match &sms.sender {
                        switchboard::config::SmsSender::From(number) => number.clone(),
                        switchboard::config::SmsSender::MessagingService(sid) => {
                            format!("messaging service {sid}")
                        }
                    };
                    println!(
                        "  channel {} sms {} (account {})",
                        channel.id, sender, sms.account_sid
                    );
                }
                ChannelKind::Calls(calls) => {
                    println!(
                        "  channel {} calls {} (account {}, rings {} phones)",
                        channel.id,
                        calls.number,
                        calls.provider.account_sid,
                        calls.agent_numbers.len()
                    );
                }
                ChannelKind::Form(form) => {
                    println!(
                        "  channel {} form /forms/{} ({} fields), replies via {}",
                        channel.id,
                        channel.id,
                        form.fields.len(),
                        form.reply_via
                    );
                }
                ChannelKind::Custom(custom) => {
                    // Scheme, host and port only: a path may carry a secret.
                    let url = &custom.webhook_url;
                    println!(
                        "  channel {} custom webhook {}://{}{}{}",
                        channel.id,
                        url.scheme(),
                        url.host_str().unwrap_or_default(),
                        url.port().map(|p| format!(":{p}")).unwrap_or_default(),
                        if custom.allow_private_targets {
                            " (private targets allowed)"
                        } else {
                            ""
                        }
                    );
                    let caps = custom.capabilities;
                    println!(
                        "          text up to {}, attachments {}, rich text {}",
                        caps.max_text_length
                            .map(|m| format!("{m} characters"))
                            .unwrap_or_else(|| "any length".into()),
                        if caps.attachments { "yes" } else { "no" },
                        if caps.rich_text { "yes" } else { "no" },
                    );
                }
            }
            if let Some(rule) = &channel.routing {
                println!(
                    "          routes {} to {} ({}{})",
                    match rule.assign_to {
                        AssignTo::UsersAndTeams => "users_and_teams",
                        AssignTo::ContactOwner => "contact_owner",
                    },
                    rule.candidates.join(", "),
                    if rule.only_available {
                        "when available"
                    } else {
                        "always"
                    },
                    rule.max_open_per_agent
                        .map(|m| format!(", at most {m} open each"))
                        .unwrap_or_default()
                );
            }
            if let Some(tickets) = &channel.tickets {
                println!(
                    "          tickets in {}/{}",
                    tickets.pipeline, tickets.stage
                );
            }
        }
    }
    for warning in &config.warnings {
        println!("warning   {warning}");
    }
    ExitCode::SUCCESS
}

fn create_token(path: &Path, agent: &str) -> anyhow::Result<()> {
    let config = match load(path) {
        Ok(config) => config,
        Err(_) => anyhow::bail!("fix the configuration first"),
    };
    if config.workspace.agent(agent).is_none() {
        anyhow::bail!("no agent \"{agent}\" in {}", path.display());
    }
    let token = TokenRegistry::new(&config.storage.path).create(agent)?;
    println!("{token}");
    eprintln!("Keep this token: it is shown once; only its hash is stored.");
    Ok(())
}

/// `agent set-password`: the first line of stdin becomes the agent's
/// password; only its Argon2id hash is stored. Sessions opened before stop
/// working.
fn set_password(path: &Path, agent: &str) -> anyhow::Result<()> {
    let config = match load(path) {
        Ok(config) => config,
        Err(_) => anyhow::bail!("fix the configuration first"),
    };
    if config.workspace.agent(agent).is_none() {
        anyhow::bail!("no agent \"{agent}\" in {}", path.display());
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdin()) {
        eprintln!("Password for {agent} (the line is shown as you type):");
    }
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("reading the password from stdin")?;
    let password = line.trim_end_matches(['\r', '\n']);
    std::fs::create_dir_all(&config.storage.path).context("creating the storage folder")?;
    PasswordFile::new(&config.storage.path).set(agent, password)?;
    eprintln!("Password set for {agent}; their earlier web sessions are signed out.");
    Ok(())
}

/// `store check`: prints what was read and every problem; 0 when none is
/// left, 1 otherwise (2 when the store cannot be opened).
fn check_store(path: &Path, repair: bool) -> ExitCode {
    let config = match load(path) {
        Ok(config) => config,
        Err(code) => return code,
    };
    let storage = &config.storage.path;
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("switchboard: starting the runtime: {error}");
            return ExitCode::from(2);
        }
    };
    let report = runtime.block_on(async {
        let store =
            switchboard::store::Store::open_with_cache(storage, config.storage.cache_bytes)?;
        let report = tokio::task::spawn_blocking(move || store.check(repair))
            .await
            .map_err(|e| switchboard::store::StoreError::Transaction(e.to_string()))??;
        Ok::<_, switchboard::store::StoreError>(report)
    });
    let report = match report {
        Ok(report) => report,
        Err(error) => {
            eprintln!("switchboard: {error}");
            if error.to_string().contains("could not acquire lock") {
                eprintln!("  the daemon is running: stop it, or check a copy of the folder");
            }
            return ExitCode::from(2);
        }
    };
    println!("store {}", storage.display());
    let counts: Vec<String> = report
        .counts
        .iter()
        .map(|(what, n)| format!("{what} {n}"))
        .collect();
    println!("read    {}", counts.join(", "));
    for problem in &report.problems {
        let outcome = match (problem.repaired, repair) {
            (Some(done), _) => format!(" [repaired: {done}]"),
            (None, true) => " [not repaired: the records do not allow it]".to_string(),
            (None, false) => String::new(),
        };
        println!(
            "problem {} {}: {}{outcome}",
            problem.tree, problem.key, problem.what
        );
    }
    let left = report.left();
    let found = report.problems.len();
    match (found, left) {
        (0, _) => println!("ok      no problems"),
        (_, 0) => println!("ok      {found} problems found, all repaired"),
        _ if repair => println!("failed  {found} problems found, {left} not repaired"),
        _ => println!(
            "failed  {found} problems found; `--repair` rebuilds index entries from the records"
        ),
    }
    if left == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
