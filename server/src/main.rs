//! `trellis`: serve (default), migrate, create an admin, print the effective configuration.

use std::io::Read;
use std::net::SocketAddr;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
use trellis::{app_names, build, listen, migrate, run, setting_errors, shutdown_signal};
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

/// mimalloc instead of glibc's allocator: with thousands of concurrent streams glibc's
/// per-thread arenas keep freed memory (the SSE bench's RSS; docs/PERFORMANCE.md, issue 12).
/// The `system-allocator` feature keeps the C library's malloc, for heap profilers.
#[cfg(not(feature = "system-allocator"))]
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // No transparent huge pages for this process (prctl(2) PR_SET_THP_DISABLE; the flag is
    // the address space's, so every thread started later has it). mimalloc asks for huge
    // pages on its segments; under THP `always` the kernel then backs each touched segment
    // with a zeroed 2 MiB page: the SSE bench measured ~23% of the server's CPU in the
    // kernel's `clear_page` and a higher RSS (docs/PERFORMANCE.md, issue 12). Best effort:
    // a kernel that refuses leaves the default.
    #[cfg(target_os = "linux")]
    let _ = rustix::thread::disable_transparent_huge_pages(true);
    let cli = Cli::parse();
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("trellis: cannot read .env: {e}");
        return ExitCode::from(2);
    }
    let vars: std::collections::HashMap<String, String> = std::env::vars().collect();
    let mut problems = setting_errors(&vars);
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
        let identity = trellis_identity::Settings::from_vars(&vars)
            .map(|s| s.describe())
            .unwrap_or_default();
        for (k, v) in config.describe().into_iter().chain(identity) {
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
    let server = build(config).await?;
    let listener = listen(addr).map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    let base = format!("http://{}", listener.local_addr()?);
    for (app, prefix) in &server.mounted {
        println!("trellis: {app:<10} {base}{prefix}   docs {base}/docs");
    }
    if server.mounted.is_empty() {
        println!(
            "trellis: no app mounted (TRELLIS_APPS); known apps: {}",
            app_names().join(", ")
        );
    }
    println!(
        "trellis: listening on {base} (database {}, key-value {})",
        server.platform.db.kind(),
        server.platform.kv.kind()
    );
    run(listener, server, shutdown_signal()).await?;
    Ok(())
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
