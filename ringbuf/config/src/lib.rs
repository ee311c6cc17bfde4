//! phantom-config: what the feeder and the signer share about reading their config file:
//! the error type (every refusal names the dotted path of the offending key) and TOML
//! parsing into a typed view with that path attached (`pools[2].vaults[1]: ...`).
//! Each executable validates its own tables on top.
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
