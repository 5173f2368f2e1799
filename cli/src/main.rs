//! `ivr`: the operator's command line. `serve` runs every route locally,
//! `check` validates a config before it is deployed, `call` plays Twilio's
//! part in a simulated call, `graph` draws the flow.

mod adapters;
mod call;
mod graph;
mod serve;
mod worker;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use shared::config::Config;

#[derive(Parser)]
#[command(
    name = "ivr",
    version,
    about = "A config.ini-driven Twilio IVR: serve it locally, check it before deploying, try a call, draw the flow"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve every route on 127.0.0.1, with the same handlers as the Lambda functions.
    Serve {
        /// config.ini to serve (default: $IVR_CONFIG, else ./config.ini)
        #[arg(long)]
        config: Option<PathBuf>,
        #[arg(long, default_value_t = 3000)]
        port: u16,
        #[command(flatten)]
        limits: serve::Limits,
    },
    /// Validate a config.ini: exit 0 if valid, 1 with `PATH:LINE: [section] key: message` lines if not.
    Check {
        /// default: ./config.ini
        path: Option<PathBuf>,
        /// Print only `[aws] lambda_ping_frequency_minutes` (with its default) of a valid config, for `make deploy`.
        #[arg(long)]
        print_ping_rate: bool,
    },
    /// Simulate a call: play Twilio's part against a running IVR (--url) or a config in-process (--config).
    #[command(after_help = call::EXAMPLES)]
    Call(Box<call::CallArgs>),
    /// Print the call flow as a Mermaid flowchart (or Graphviz with --format dot).
    Graph {
        /// default: ./config.ini
        path: Option<PathBuf>,
        #[arg(long, value_enum, default_value_t = graph::Format::Mermaid)]
        format: graph::Format,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Check {
            path,
            print_ping_rate,
        } => check(
            path.unwrap_or_else(|| PathBuf::from("config.ini")),
            print_ping_rate,
        ),
        Command::Serve {
            config,
            port,
            limits,
        } => serve::run(config, port, limits),
        Command::Call(args) => call::run(*args),
        Command::Graph { path, format } => {
            graph::run(&path.unwrap_or_else(|| PathBuf::from("config.ini")), format)
        }
    }
}

fn check(path: PathBuf, print_ping_rate: bool) -> ExitCode {
    let shown = path.display().to_string();
    match Config::load(&path) {
        Ok(loaded) if print_ping_rate => {
            println!("{}", loaded.config.aws.ping_frequency_minutes);
            ExitCode::SUCCESS
        }
        Ok(loaded) => {
            for w in &loaded.warnings {
                println!("{}", w.render(&shown));
            }
            let c = &loaded.config;
            eprintln!(
                "{shown}: ok ({} actions, {} menus, {} hours sections, {} agent lines, {} warnings)",
                c.actions.len(),
                c.menus.len() + 1,
                c.hours.len(),
                c.agent_lines.len(),
                loaded.warnings.len()
            );
            ExitCode::SUCCESS
        }
        Err(e) => {
            for d in &e.diagnostics {
                println!("{}", d.render(&shown));
            }
            eprintln!("{shown}: {} error(s)", e.diagnostics.len());
            ExitCode::from(1)
        }
    }
}
