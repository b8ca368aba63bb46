//! `make token`: mints a signed dev token and prints it as the last line of stdout.
//!
//! Usage: `token [--org ORG] [--sub SUB] [--scopes 'write:* read:*'] [--ttl SECONDS]`
//! (defaults: `acme`, `alice`, `write:* read:*`, `86400`; `--flag=value` also works).
//!
//! The secret is `AUTH_SECRET` from the environment, else the `AUTH_SECRET=` line of
//! `wrangler/.dev.vars` (in the current directory, then in the workspace), else [`DEV_SECRET`].
//! One explanatory line goes to stderr. Exit code 2 for bad arguments.

use shared::token::{sign, verify, Claims};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

/// The documented dev secret, used when neither `AUTH_SECRET` nor `wrangler/.dev.vars` sets one.
const DEV_SECRET: &str = "dev-secret-change-me";

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

/// The `AUTH_SECRET` value in dotenv-style text (`KEY=value`, optional quotes, `#` comments).
fn secret_from_dev_vars(text: &str) -> Option<String> {
    text.lines().rev().find_map(|line| {
        let rest = line.trim().strip_prefix("AUTH_SECRET")?.trim_start().strip_prefix('=')?;
        let value = rest.trim();
        let value = ['"', '\''].iter().find_map(|q| value.strip_prefix(*q).and_then(|v| v.strip_suffix(*q))).unwrap_or(value);
        (!value.is_empty()).then(|| value.to_string())
    })
}

/// The secret and a description of where it came from.
fn secret() -> (String, String) {
    if let Ok(s) = std::env::var("AUTH_SECRET") {
        if !s.is_empty() {
            return (s, "$AUTH_SECRET".into());
        }
    }
    let workspace = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("wrangler/.dev.vars");
    for path in [std::path::PathBuf::from("wrangler/.dev.vars"), workspace] {
        if let Some(s) = std::fs::read_to_string(&path).ok().as_deref().and_then(secret_from_dev_vars) {
            return (s, path.display().to_string());
        }
    }
    (DEV_SECRET.into(), "the dev default".into())
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
    let Some(exp) = now.checked_add(args.ttl) else {
        eprintln!("error: `--ttl` {} is too large", args.ttl);
        return ExitCode::from(2);
    };
    let (secret, source) = secret();
    let claims = Claims { sub: args.sub, org: args.org, scopes: args.scopes, exp, nbf: None, iat: Some(now) };
    let token = sign(&claims, secret.as_bytes());
    // Self-check: the workers must accept what we print (e.g. it is not over MAX_TOKEN_BYTES).
    if let Err(e) = verify(&token, secret.as_bytes(), now) {
        eprintln!("error: the minted token does not verify: {e}");
        return ExitCode::FAILURE;
    }
    eprintln!(
        "token for sub={} org={} scopes=[{}], expires at unix {exp} (in {} s), signed with the secret from {source}",
        claims.sub,
        claims.org,
        claims.scopes.join(" "),
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

    #[test]
    fn dev_vars_parsing() {
        assert_eq!(secret_from_dev_vars("AUTH_SECRET=abc\n"), Some("abc".into()));
        assert_eq!(secret_from_dev_vars("X=1\nAUTH_SECRET = \"a b\"\n"), Some("a b".into()));
        assert_eq!(secret_from_dev_vars("AUTH_SECRET='q'"), Some("q".into()));
        assert_eq!(secret_from_dev_vars("# AUTH_SECRET=no\nAUTH_SECRETS=no"), None);
        assert_eq!(secret_from_dev_vars("AUTH_SECRET=\n"), None);
        assert_eq!(secret_from_dev_vars(""), None);
    }
}
