//! `trellis`: serve (default), migrate, create an admin, print the effective configuration.

use std::io::Read;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
use trellis::{APPS, app_setting_errors, build, migrate};
use trellis_identity::domain::Role;
use trellis_kernel::Platform;
use trellis_kernel::config::Config;

#[derive(Parser)]
#[command(
    name = "trellis",
    version,
    about = "Self-hosted backend for the Workflow Platform, Momentum, the pet diet planner and MicroDock"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every enabled app (the default).
    Serve,
    /// Apply database migrations and exit.
    Migrate,
    /// Manage administrator accounts.
    Admin {
        #[command(subcommand)]
        command: AdminCommand,
    },
    /// Print the effective configuration with secrets masked.
    Config,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an administrator; the password comes from stdin or --password-env.
    Create {
        #[arg(long)]
        username: String,
        #[arg(long)]
        email: String,
        /// Name of an environment variable holding the password.
        #[arg(long)]
        password_env: Option<String>,
        /// `admin` or `super_admin`.
        #[arg(long, default_value = "admin")]
        role: String,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let _ = dotenvy::dotenv();
    let vars: std::collections::HashMap<String, String> = std::env::vars().collect();
    let mut problems = app_setting_errors(&vars);
    let config = Config::from_vars(&vars);
    if let Err(e) = &config {
        problems.splice(0..0, e.0.iter().cloned());
    }
    let config = match config {
        Ok(c) if problems.is_empty() => c,
        _ => {
            eprintln!(
                "trellis: {}",
                trellis_kernel::config::ConfigErrors(problems)
            );
            return ExitCode::from(2);
        }
    };
    if let Some(Command::Config) = cli.command {
        for (k, v) in config.describe() {
            println!("{k}={v}");
        }
        return ExitCode::SUCCESS;
    }
    trellis_kernel::telemetry::init(&config);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("trellis: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            None | Some(Command::Serve) => serve(config).await,
            Some(Command::Migrate) => {
                let p = Platform::open(config).await?;
                migrate(&p).await?;
                println!("migrations applied ({})", p.db.kind());
                Ok(())
            }
            Some(Command::Admin {
                command:
                    AdminCommand::Create {
                        username,
                        email,
                        password_env,
                        role,
                    },
            }) => create_admin(config, &username, &email, password_env.as_deref(), &role).await,
            Some(Command::Config) => Ok(()),
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trellis: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: Config) -> anyhow::Result<()> {
    let addr = SocketAddr::new(config.host, config.port);
    let grace = Duration::from_secs(config.shutdown_grace_seconds);
    let server = build(config).await?;
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let base = format!("http://{}", listener.local_addr()?);
    for (app, prefix) in &server.mounted {
        println!("trellis: {app:<10} {base}{prefix}   docs {base}/docs");
    }
    if server.mounted.is_empty() {
        println!(
            "trellis: no app mounted (TRELLIS_APPS); known apps: {}",
            APPS.join(", ")
        );
    }
    println!(
        "trellis: listening on {base} (database {}, key-value {})",
        server.platform.db.kind(),
        server.platform.kv.kind()
    );
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let serving = axum::serve(
        listener,
        server
            .router
            .into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async move {
        shutdown_signal().await;
        tracing::info!(
            grace_seconds = grace.as_secs(),
            "shutting down: draining in-flight requests"
        );
        let _ = stop_tx.send(true);
    });
    let mut stop = stop_rx.clone();
    let deadline = async move {
        let _ = stop.wait_for(|s| *s).await;
        tokio::time::sleep(grace).await;
    };
    tokio::select! {
        r = serving => r?,
        _ = deadline => tracing::warn!("grace period over; closing remaining connections"),
    }
    server.platform.db.close().await;
    tracing::info!("stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn create_admin(
    config: Config,
    username: &str,
    email: &str,
    password_env: Option<&str>,
    role: &str,
) -> anyhow::Result<()> {
    let role = match Role::parse(role) {
        Some(r @ (Role::Admin | Role::SuperAdmin)) => r,
        _ => anyhow::bail!("--role must be admin or super_admin"),
    };
    let password = match password_env {
        Some(var) => std::env::var(var)
            .map_err(|_| anyhow::anyhow!("environment variable {var} is not set"))?,
        None => {
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s)?;
            s.trim_end_matches(['\r', '\n']).to_string()
        }
    };
    let password = secrecy::SecretString::from(password);
    let server = build(config).await?;
    let user = server
        .identity
        .create_admin(username, email, password.expose_secret(), role)
        .await
        .map_err(|e| anyhow::anyhow!(trellis_kernel::ApiError::from(e).message.to_string()))?;
    println!("created {} {} ({})", role.as_str(), user.username, user.id);
    Ok(())
}
