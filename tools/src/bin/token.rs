//! `make token`: mints a signed dev token and prints it as the last line of stdout.
//!
//! Usage: `token [--org ORG] [--sub SUB] [--scopes 'write:* read:*'] [--ttl SECONDS]`
//! (defaults: `acme`, `alice`, `write:* read:*`, `86400`; `--flag=value` also works).
//!
//! The secret is `AUTH_SECRET` from the environment, else the `AUTH_SECRET=` line of
//! `wrangler/.dev.vars` (in the current directory, then in the workspace), else the dev default
//! (`shared::token::dev`, which `artifacts token` shares). One explanatory line goes to stderr.
//! Exit code 2 for bad arguments.

use shared::token::dev;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

const USAGE: &str = "usage: token [--org ORG] [--sub SUB] [--scopes 'write:* read:*'] [--ttl SECONDS]";

#[derive(Debug, PartialEq)]
struct Args {
    org: String,
    sub: String,
    scopes: Vec<String>,
    ttl: u64,
}

/// What the command line asks for: a token, or the usage text.
#[derive(Debug, PartialEq)]
enum Command {
    Mint(Args),
    Help,
}

fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Command, String> {
    let mut org = "acme".to_string();
    let mut sub = "alice".to_string();
    let mut scopes = "write:* read:*".to_string();
    let mut ttl = "86400".to_string();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        if arg == "-h" || arg == "--help" {
            return Ok(Command::Help);
        }
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_string(), Some(v.to_string())),
            _ => (arg.clone(), None),
        };
        let slot = match flag.as_str() {
            "--org" => &mut org,
            "--sub" => &mut sub,
            "--scopes" => &mut scopes,
            "--ttl" => &mut ttl,
            _ => return Err(format!("unknown argument `{arg}`")),
        };
        *slot = match inline {
            Some(v) => v,
            None => args.next().ok_or_else(|| format!("`{flag}` needs a value"))?,
        };
    }
    if org.trim().is_empty() {
        return Err("`--org` must not be empty".into());
    }
    if sub.trim().is_empty() {
        return Err("`--sub` must not be empty".into());
    }
    let ttl: u64 = ttl.trim().parse().map_err(|_| format!("`--ttl` must be a whole number of seconds, got `{ttl}`"))?;
    if ttl == 0 {
        return Err("`--ttl` must be at least 1 second".into());
    }
    let scopes = scopes.split_whitespace().map(String::from).collect();
    Ok(Command::Mint(Args { org: org.trim().into(), sub: sub.trim().into(), scopes, ttl }))
}

/// The secret and a description of where it came from.
fn secret() -> (String, String) {
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("wrangler/.dev.vars");
    dev::secret(&[PathBuf::from("wrangler/.dev.vars"), workspace])
}

fn main() -> ExitCode {
    let args = match parse_args(std::env::args().skip(1)) {
        Ok(Command::Mint(a)) => a,
        Ok(Command::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("error: {e}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let now = match SystemTime::now().duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs(),
        Err(e) => {
            eprintln!("error: system clock is before 1970: {e}");
            return ExitCode::FAILURE;
        }
    };
    let (secret, source) = secret();
    let (token, claims) = match dev::mint(&args.org, &args.sub, args.scopes, args.ttl, now, &secret) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "token for sub={} org={} scopes=[{}], expires at unix {} (in {} s), signed with the secret from {source}",
        claims.sub,
        claims.org,
        claims.scopes.join(" "),
        claims.exp,
        args.ttl,
    );
    println!("{token}");
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Command, String> {
        parse_args(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn defaults() {
        let want = Args { org: "acme".into(), sub: "alice".into(), scopes: vec!["write:*".into(), "read:*".into()], ttl: 86400 };
        assert_eq!(parse(&[]), Ok(Command::Mint(want)));
    }

    #[test]
    fn flags_with_separate_and_inline_values() {
        let got = parse(&["--org", "o", "--sub=s", "--scopes", "read:docs", "--ttl=60"]).unwrap();
        let want = Args { org: "o".into(), sub: "s".into(), scopes: vec!["read:docs".into()], ttl: 60 };
        assert_eq!(got, Command::Mint(want));
        assert_eq!(parse(&["--help"]), Ok(Command::Help));
    }

    #[test]
    fn bad_arguments() {
        for bad in [
            &["--ttl"][..],
            &["--ttl", "abc"],
            &["--ttl", "-5"],
            &["--ttl", "0"],
            &["--ttl", ""],
            &["--org", ""],
            &["--sub", " "],
            &["--nope"],
            &["stray"],
        ] {
            assert!(parse(bad).is_err(), "{bad:?}");
        }
    }
}
