//! `artifacts`: the command-line client of the edge artifact store (docs/cli.md).
//!
//! - `push` ([`push`]): a directory, a file or NDJSON → records ([`map`]) → requests under the
//!   ingest limits ([`plan`]) → a few threads sending them, each answer settled line by line
//!   ([`retry`]), progress ([`progress`]) and a [`checkpoint`] so a killed push resumes.
//! - `get`, `ls` ([`read`]): reads through serve.
//! - `token`: dev tokens, minted as `make token` does (`shared::token::dev`).
//!
//! Configuration: `ARTIFACTS_URL` (ingest), `ARTIFACTS_READ_URL` (serve), `ARTIFACTS_TOKEN`, or
//! the flags of the same meaning.

mod checkpoint;
mod map;
mod plan;
mod progress;
mod push;
mod read;
mod retry;

use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// `make dev`'s ingest.
const DEFAULT_URL: &str = "http://127.0.0.1:8787";
/// `make dev`'s serve.
const DEFAULT_READ_URL: &str = "http://127.0.0.1:8788";

#[derive(Parser)]
#[command(name = "artifacts", version, about = "Publish build output to the edge artifact store and read it back.")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Clone)]
struct Auth {
    /// Bearer token (`make token`, or one minted for CI: docs/deploy.md).
    #[arg(long, env = "ARTIFACTS_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// Seconds one HTTP exchange may take.
    #[arg(long, default_value_t = 300)]
    timeout: u64,
}

#[derive(Subcommand)]
enum Command {
    /// Push a directory (each file a record field), one file, or NDJSON (a .ndjson/.jsonl file or `-` for stdin).
    Push(PushArgs),
    /// Read one representation: `<ns>/<type>/<id>.<ext>`.
    Get {
        /// `ns/type/id.ext` (the id may be nested).
        reference: String,
        /// Write it to this file instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
        /// Bypass serve's cache (needs a token).
        #[arg(long)]
        fresh: bool,
        /// Serve's URL.
        #[arg(long, env = "ARTIFACTS_READ_URL", default_value = DEFAULT_READ_URL)]
        read_url: String,
        #[command(flatten)]
        auth: Auth,
    },
    /// List the ids of `<ns>/<type>/` (every page).
    Ls {
        /// `ns/type/`.
        listing: String,
        /// Only ids starting with this.
        #[arg(long, default_value = "")]
        prefix: String,
        /// One JSON item a line ({id, ts, size_bytes, visibility, content_hash}).
        #[arg(long)]
        json: bool,
        /// Items a page (serve allows 1 to 1,000).
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1000))]
        page_size: u64,
        /// Serve's URL.
        #[arg(long, env = "ARTIFACTS_READ_URL", default_value = DEFAULT_READ_URL)]
        read_url: String,
        #[command(flatten)]
        auth: Auth,
    },
    /// Print a dev token signed with the dev secret (as `make token`).
    Token {
        #[arg(long, default_value = "acme")]
        org: String,
        #[arg(long, default_value = "alice")]
        sub: String,
        /// Space-separated scopes.
        #[arg(long, default_value = "write:* read:*")]
        scopes: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 86400, value_parser = clap::value_parser!(u64).range(1..))]
        ttl: u64,
    },
}

#[derive(Args)]
struct PushArgs {
    /// A directory, a file, or `-` (NDJSON on stdin).
    source: String,
    /// Namespace of the records (files and directories).
    #[arg(long)]
    ns: Option<String>,
    /// Type of the records (files and directories).
    #[arg(long = "type")]
    ty: Option<String>,
    /// preview, build or bulk.
    #[arg(long, default_value = "build", value_parser = ["preview", "build", "bulk"])]
    mode: String,
    /// public, unlisted, org or user (default: the tenant's). Not applied to NDJSON input.
    #[arg(long, value_parser = ["public", "unlisted", "org", "user"])]
    visibility: Option<String>,
    /// Map names that are not path-safe (`my file.md` → id `my-file`) instead of refusing them.
    #[arg(long)]
    slugify: bool,
    /// Refuse the push when a file maps to no field (default: list and skip it).
    #[arg(long)]
    strict: bool,
    /// Show the records and requests; send nothing.
    #[arg(long)]
    dry_run: bool,
    /// No progress; the summary and errors only.
    #[arg(short, long)]
    quiet: bool,
    /// The summary as one JSON object.
    #[arg(long)]
    json: bool,
    /// Requests in flight.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..=64))]
    concurrency: u64,
    /// Most records a request.
    #[arg(long, default_value_t = plan::DEFAULT_LIMITS.max_records as u64, value_parser = clap::value_parser!(u64).range(1..))]
    max_records: u64,
    /// Most bytes of NDJSON (before gzip) a request.
    #[arg(long, default_value_t = plan::DEFAULT_LIMITS.max_bytes as u64, value_parser = clap::value_parser!(u64).range(1..))]
    max_request_bytes: u64,
    /// Attempts after a network error or a 5xx, per request (429 and 409 waits are not counted).
    #[arg(long, default_value_t = 8)]
    retries: u32,
    /// The longest Retry-After honoured, in seconds.
    #[arg(long, default_value_t = 120)]
    max_wait: u64,
    /// The checkpoint file (removed when the push finishes).
    #[arg(long, default_value = ".artifacts-push.checkpoint")]
    checkpoint: PathBuf,
    /// Seconds after a resumed push starts before it sends again what the killed run had sent
    /// without an answer (so a copy still on its way lands first).
    #[arg(long, default_value_t = 5)]
    resume_grace: u64,
    /// Seconds between progress lines when stderr is not a terminal.
    #[arg(long, default_value_t = 10)]
    progress_every: u64,
    /// Ingest's URL.
    #[arg(long, env = "ARTIFACTS_URL", default_value = DEFAULT_URL)]
    url: String,
    #[command(flatten)]
    auth: Auth,
}

fn source_of(arg: &str) -> push::Source {
    if arg == "-" {
        return push::Source::Stdin;
    }
    let path = PathBuf::from(arg);
    if path.is_dir() {
        push::Source::Dir(path)
    } else if arg.ends_with(".ndjson") || arg.ends_with(".jsonl") {
        push::Source::Ndjson(path)
    } else {
        push::Source::File(path)
    }
}

fn token(org: &str, sub: &str, scopes: &str, ttl: u64) -> u8 {
    let now = match std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => d.as_secs(),
        Err(e) => {
            eprintln!("error: system clock is before 1970: {e}");
            return 1;
        }
    };
    // The same places `make token` looks: ./wrangler/.dev.vars, then the workspace's.
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../wrangler/.dev.vars");
    let (secret, source) = shared::token::dev::secret(&[PathBuf::from("wrangler/.dev.vars"), workspace]);
    let scopes = scopes.split_whitespace().map(String::from).collect();
    match shared::token::dev::mint(org.trim(), sub.trim(), scopes, ttl, now, &secret) {
        Ok((token, claims)) => {
            eprintln!(
                "token for sub={} org={} scopes=[{}], expires at unix {} (in {ttl} s), signed with the secret from {source}",
                claims.sub,
                claims.org,
                claims.scopes.join(" "),
                claims.exp
            );
            println!("{token}");
            0
        }
        Err(e) => {
            eprintln!("error: {e}");
            1
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let code = match cli.command {
        Command::Push(a) => {
            let o = push::Options {
                url: a.url,
                token: a.auth.token,
                ns: a.ns,
                ty: a.ty,
                mode: a.mode,
                visibility: a.visibility,
                source: source_of(&a.source),
                slugify: a.slugify,
                strict: a.strict,
                dry_run: a.dry_run,
                quiet: a.quiet,
                json: a.json,
                concurrency: usize::try_from(a.concurrency).unwrap_or(4),
                limits: plan::Limits {
                    max_records: usize::try_from(a.max_records).unwrap_or(usize::MAX),
                    max_bytes: usize::try_from(a.max_request_bytes).unwrap_or(usize::MAX),
                },
                retries: a.retries,
                checkpoint: a.checkpoint,
                progress_every: Duration::from_secs(a.progress_every),
                timeout: Duration::from_secs(a.auth.timeout),
                max_wait: Duration::from_secs(a.max_wait),
                resume_grace: Duration::from_secs(a.resume_grace),
            };
            push::run(&o)
        }
        Command::Get { reference, output, fresh, read_url, auth } => {
            read::Reader::new(&read_url, auth.token, Duration::from_secs(auth.timeout)).get_content(&reference, output.as_deref(), fresh)
        }
        Command::Ls { listing, prefix, json, page_size, read_url, auth } => match read::parse_listing(&listing) {
            Ok((ns, ty)) => {
                read::Reader::new(&read_url, auth.token, Duration::from_secs(auth.timeout)).list(&ns, &ty, &prefix, json, page_size)
            }
            Err(e) => {
                eprintln!("artifacts ls: {e}");
                2
            }
        },
        Command::Token { org, sub, scopes, ttl } => token(&org, &sub, &scopes, ttl),
    };
    ExitCode::from(code)
}
