//! phantom-config: what the feeder and the signer share about reading their config file:
//! the error type (every refusal names the dotted path of the offending key) and TOML
//! parsing into a typed view with that path attached (`pools[2].vaults[1]: ...`).
//! Each executable validates its own tables on top. Also the one URL redaction both use
//! wherever an endpoint URL is shown ([`redact_url`]).
#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]

use serde::de::DeserializeOwned;
use std::path::{Path, PathBuf};

/// Why a config was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read config {path}: {source}")]
    Read {
        /// The config file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// A key is missing, unknown, or has a bad value.
    #[error("{key}: {message}")]
    Invalid {
        /// Dotted path of the key, e.g. `feeder.endpoints[1].ws` (`config` for the file).
        key: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ConfigError {
    /// A refusal of `key`.
    pub fn invalid(key: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key: key.into(),
            message: message.into(),
        }
    }

    /// The offending key's path, if the error is about a key.
    pub fn key(&self) -> Option<&str> {
        match self {
            ConfigError::Invalid { key, .. } => Some(key),
            ConfigError::Read { .. } => None,
        }
    }
}

/// The config file's text.
pub fn read(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Parse TOML `text` into `T`; an error names the key it is about and the line.
pub fn parse<T: DeserializeOwned>(text: &str) -> Result<T, ConfigError> {
    let de = toml::Deserializer::parse(text).map_err(|e| toml_error("config", &e, text))?;
    serde_path_to_error::deserialize(de).map_err(|e| {
        let path = e.path().to_string();
        let key = if path == "." {
            "config".to_owned()
        } else {
            path
        };
        toml_error(&key, e.inner(), text)
    })
}

fn toml_error(key: &str, e: &toml::de::Error, text: &str) -> ConfigError {
    // serde quotes names with backticks; the messages read better with plain quotes.
    let mut message = e.message().replace('`', "\"");
    if let Some(span) = e.span() {
        let line = text
            .get(..span.start)
            .map_or(0, |s| s.bytes().filter(|&b| b == b'\n').count())
            + 1;
        message.push_str(&format!(" (line {line})"));
    }
    ConfigError::invalid(key, message)
}

/// `scheme://host[:port]` of `url`, the rest (path, query, fragment, user info: where API
/// keys live) replaced by `/…`. Every log line, error and `Debug` output that names an
/// endpoint goes through this.
///
/// ```
/// use phantom_config::redact_url;
/// assert_eq!(redact_url("https://rpc.example.com/v2/SECRET?k=1"), "https://rpc.example.com/…");
/// assert_eq!(redact_url("ws://127.0.0.1:8900"), "ws://127.0.0.1:8900");
/// ```
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "<not a URL>".to_owned();
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = authority.rsplit('@').next().unwrap_or("");
    let tail = if rest.len() > authority.len() || authority.contains('@') {
        "/…"
    } else {
        ""
    };
    format!("{scheme}://{host}{tail}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct View {
        pools: Vec<Pool>,
    }

    #[derive(serde::Deserialize, Debug)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Pool {
        kind: String,
    }

    #[test]
    fn redact_url_keeps_only_scheme_and_host() {
        assert_eq!(redact_url("http://127.0.0.1:8899"), "http://127.0.0.1:8899");
        assert_eq!(redact_url("https://x.pro/TOKEN/"), "https://x.pro/…");
        assert_eq!(redact_url("https://x.pro?api-key=TOKEN"), "https://x.pro/…");
        assert_eq!(redact_url("wss://x.pro#TOKEN"), "wss://x.pro/…");
        assert_eq!(redact_url("https://user:pw@host/"), "https://host/…");
        assert_eq!(redact_url("https://user:pw@host"), "https://host/…");
        assert_eq!(redact_url("nonsense"), "<not a URL>");
    }

    #[test]
    fn errors_name_the_key_and_the_line() {
        let e = parse::<View>("pools = [{ kind = \"a\" }, { kind = 3 }]\n").expect_err("bad");
        assert_eq!(e.key(), Some("pools[1].kind"), "{e}");
        assert!(e.to_string().contains("(line 1)"), "{e}");
        let e = parse::<View>("[[pools]]\nkind = \"a\"\nkindd = 1\n").expect_err("unknown");
        assert!(e.to_string().starts_with("pools[0]"), "{e}");
        assert!(e.to_string().contains("unknown field \"kindd\""), "{e}");
        let e = parse::<View>("pools = [").expect_err("syntax");
        assert_eq!(e.key(), Some("config"));
    }

    #[test]
    fn an_unreadable_file_names_the_file() {
        let e = read(Path::new("/nonexistent/phantom.toml")).expect_err("missing");
        assert!(e.to_string().contains("/nonexistent/phantom.toml"), "{e}");
        assert_eq!(e.key(), None);
    }
}
