//! The signer's key: a Solana keypair JSON file (`solana-keygen` format, a JSON array of 64
//! integers: the 32-byte secret seed then the 32-byte public key).
//!
//! The file is refused if group or others may read it (or write it), so a key readable by
//! another account is never used. Neither errors, `Debug` nor `Display` ever contain key bytes:
//! parse errors say where, not what. Every heap or stack copy made while loading is zeroized,
//! and the key itself is zeroized when the [`Keypair`] drops.

use ed25519_dalek::SigningKey;
use solana_address::Address;
use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use zeroize::{Zeroize, Zeroizing};

/// Largest keypair file read; a real one is about 230 bytes.
const MAX_FILE_BYTES: u64 = 4096;

/// Why a keypair could not be loaded. Never holds key material.
#[derive(Debug, thiserror::Error)]
pub enum KeypairError {
    /// The file could not be opened or read.
    #[error("keypair file {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Group or others have access to the file.
    #[error(
        "keypair file {path} has mode {mode:04o}: group/others must have no access \
         (run: chmod 600 {path})"
    )]
    Permissions {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Not a regular file.
    #[error("keypair file {path} is not a regular file")]
    NotAFile {
        /// The path.
        path: PathBuf,
    },
    /// The contents are not a keypair.
    #[error("keypair file {path}: {problem}")]
    Malformed {
        /// The file.
        path: PathBuf,
        /// What is wrong (never the bytes themselves).
        problem: &'static str,
    },
}

/// An ed25519 keypair. The secret is zeroized on drop (by `SigningKey`'s own `Drop`).
pub struct Keypair {
    key: SigningKey,
}

impl Keypair {
    /// Loads `path` after checking its permissions.
    pub fn load(path: &Path) -> Result<Self, KeypairError> {
        let io = |source| KeypairError::Io {
            path: path.to_owned(),
            source,
        };
        let file = std::fs::File::open(path).map_err(io)?;
        let meta = file.metadata().map_err(io)?;
        if !meta.is_file() {
            return Err(KeypairError::NotAFile {
                path: path.to_owned(),
            });
        }
        check_mode(path, &meta)?;
        let mut text = Zeroizing::new(String::with_capacity(512));
        file.take(MAX_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(io)?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(KeypairError::Malformed {
                path: path.to_owned(),
                problem: "file too large for a keypair",
            });
        }
        Self::from_json(&text).map_err(|problem| KeypairError::Malformed {
            path: path.to_owned(),
            problem,
        })
    }

    /// Parses the JSON array form. The error says what is wrong, never which bytes.
    pub fn from_json(text: &str) -> Result<Self, &'static str> {
        const SHAPE: &str = "expected a JSON array of 64 integers 0..=255";
        // Parsed by hand into a fixed array: serde_json's errors would quote the offending
        // value, which may be a key byte, and its Vec would leave copies behind on growth.
        let mut bytes = Zeroizing::new([0u8; 64]);
        let body = text
            .trim()
            .strip_prefix('[')
            .and_then(|s| s.strip_suffix(']'))
            .ok_or(SHAPE)?;
        let mut count = 0usize;
        for item in body.split(',') {
            let item = item.trim();
            if count >= 64 {
                return Err("more than 64 numbers: not a keypair");
            }
            if item.is_empty() || item.len() > 3 || !item.bytes().all(|b| b.is_ascii_digit()) {
                return Err(SHAPE);
            }
            let mut value = 0u16;
            for digit in item.bytes() {
                value = value * 10 + u16::from(digit - b'0');
            }
            bytes[count] = u8::try_from(value).map_err(|_| SHAPE)?;
            value.zeroize();
            count += 1;
        }
        if count != 64 {
            return Err("fewer than 64 numbers: not a keypair");
        }
        let key = SigningKey::from_keypair_bytes(&bytes)
            .map_err(|_| "the public half does not match the secret half")?;
        Ok(Keypair { key })
    }

    /// A throwaway key from the OS CSPRNG (dry-run without a key file).
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut seed = Zeroizing::new([0u8; 32]);
        getrandom::fill(seed.as_mut())?;
        Ok(Keypair {
            key: SigningKey::from_bytes(&seed),
        })
    }

    /// Writes the keypair to a new file at `path` in the JSON array form, with mode 0600 from
    /// its creation on (never readable by others, not even briefly). An existing file is never
    /// overwritten: that could destroy a funded key. The text is zeroized after writing.
    pub fn write_new(&self, path: &Path) -> Result<(), KeypairError> {
        use std::io::Write;
        let io = |source| KeypairError::Io {
            path: path.to_owned(),
            source,
        };
        let bytes = Zeroizing::new(self.key.to_keypair_bytes());
        let mut text = Zeroizing::new(String::with_capacity(64 * 4 + 2));
        text.push('[');
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            // Digits by hand: `format!` would leave an unzeroized temporary String.
            let (h, t, o) = (b / 100, (b / 10) % 10, b % 10);
            if h > 0 {
                text.push(char::from(b'0' + h));
            }
            if h > 0 || t > 0 {
                text.push(char::from(b'0' + t));
            }
            text.push(char::from(b'0' + o));
        }
        text.push(']');
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)
    }

    /// The public key: the fee payer's address.
    pub fn pubkey(&self) -> Address {
        Address::new_from_array(self.key.verifying_key().to_bytes())
    }

    /// A copy of the signing key for a [`crate::signing::Signer`] (zeroized on its drop too).
    pub fn signing_key(&self) -> SigningKey {
        self.key.clone()
    }
}

#[cfg(unix)]
fn check_mode(path: &Path, meta: &std::fs::Metadata) -> Result<(), KeypairError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        return Err(KeypairError::Permissions {
            path: path.to_owned(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_mode(_path: &Path, _meta: &std::fs::Metadata) -> Result<(), KeypairError> {
    Ok(())
}

impl fmt::Debug for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keypair")
            .field("pubkey", &self.pubkey())
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl fmt::Display for Keypair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "keypair {}", self.pubkey())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    /// A keypair whose every secret byte is 0xA7 (167), easy to look for in text.
    fn keypair_json() -> (String, [u8; 64]) {
        let key = SigningKey::from_bytes(&[0xA7; 32]);
        let bytes = key.to_keypair_bytes();
        let items: Vec<String> = bytes.iter().map(u8::to_string).collect();
        (format!("[{}]", items.join(",")), bytes)
    }

    fn temp_file(name: &str, contents: &str, mode: u32) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("phantom-signer-keypair-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join(name);
        std::fs::write(&path, contents).expect("write");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        path
    }

    /// No rendering of anything may contain the secret, in any usual spelling.
    fn assert_no_key_bytes(text: &str, bytes: &[u8; 64]) {
        let secret = &bytes[..32];
        let decimal: Vec<String> = secret.iter().map(u8::to_string).collect();
        let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
        assert!(!text.contains(&decimal[..4].join(",")), "{text}");
        assert!(!text.contains(&decimal[..4].join(", ")), "{text}");
        assert!(!text.to_lowercase().contains(&hex[..16]), "{text}");
    }

    #[test]
    fn loads_a_private_keypair_file() {
        let (json, bytes) = keypair_json();
        let path = temp_file("ok.json", &json, 0o600);
        let kp = Keypair::load(&path).expect("loads");
        assert_eq!(kp.pubkey().to_bytes(), bytes[32..]);
        assert_eq!(kp.signing_key().to_bytes(), bytes[..32]);
    }

    #[test]
    fn refuses_group_or_world_readable_files_naming_path_and_mode() {
        let (json, bytes) = keypair_json();
        for mode in [0o640, 0o604, 0o644, 0o660, 0o610] {
            let path = temp_file(&format!("open{mode:o}.json"), &json, mode);
            let e = Keypair::load(&path).expect_err("refused");
            let s = e.to_string();
            assert!(matches!(e, KeypairError::Permissions { .. }), "{s}");
            assert!(s.contains(&path.display().to_string()), "{s}");
            assert!(s.contains(&format!("{mode:04o}")), "{s}");
            assert_no_key_bytes(&s, &bytes);
            assert_no_key_bytes(&format!("{e:?}"), &bytes);
        }
    }

    #[test]
    fn malformed_files_are_refused_without_quoting_them() {
        let (json, bytes) = keypair_json();
        let cases = [
            json.replacen('[', "{", 1),
            json.replace(",167,", ",1670,"),
            json.replace(",167,", ",-5,"),
            json.replace(",167,", ",1.5,"),
            json.replacen("167,", "", 1),
            json.replacen("167,", "167,167,", 1),
            // A valid shape whose public half is wrong.
            {
                let mut b = bytes;
                b[40] ^= 1;
                format!(
                    "[{}]",
                    b.iter().map(u8::to_string).collect::<Vec<_>>().join(",")
                )
            },
        ];
        for (i, text) in cases.iter().enumerate() {
            let path = temp_file(&format!("bad{i}.json"), text, 0o600);
            let e = Keypair::load(&path).expect_err("refused");
            assert!(matches!(e, KeypairError::Malformed { .. }), "case {i}: {e}");
            assert_no_key_bytes(&e.to_string(), &bytes);
            assert_no_key_bytes(&format!("{e:?}"), &bytes);
        }
    }

    #[test]
    fn debug_and_display_show_only_the_public_key() {
        let (json, bytes) = keypair_json();
        let kp = Keypair::from_json(&json).expect("parses");
        for text in [format!("{kp:?}"), format!("{kp:#?}"), kp.to_string()] {
            assert_no_key_bytes(&text, &bytes);
            assert!(text.contains(&kp.pubkey().to_string()), "{text}");
        }
    }

    #[test]
    fn missing_file_and_directory_are_refused() {
        let e = Keypair::load(Path::new("/nonexistent/phantom/key.json")).expect_err("missing");
        assert!(matches!(e, KeypairError::Io { .. }));
        let dir = std::env::temp_dir();
        let e = Keypair::load(&dir).expect_err("dir");
        assert!(
            matches!(
                e,
                KeypairError::NotAFile { .. } | KeypairError::Permissions { .. }
            ),
            "{e}"
        );
    }

    #[test]
    fn generated_keys_differ() {
        let a = Keypair::generate().expect("rng");
        let b = Keypair::generate().expect("rng");
        assert_ne!(a.pubkey(), b.pubkey());
    }

    #[test]
    fn write_new_round_trips_with_mode_0600_and_never_overwrites() {
        let dir =
            std::env::temp_dir().join(format!("phantom-signer-keypair-w-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let path = dir.join("new.json");
        let _ = std::fs::remove_file(&path);
        let (_, bytes) = keypair_json();
        let kp = Keypair::from_json(&keypair_json().0).expect("parse");
        kp.write_new(&path).expect("write");
        let mode = std::fs::metadata(&path).expect("meta").permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let text = std::fs::read_to_string(&path).expect("read");
        let expected: Vec<String> = bytes.iter().map(u8::to_string).collect();
        assert_eq!(text, format!("[{}]", expected.join(",")));
        let back = Keypair::load(&path).expect("load");
        assert_eq!(back.pubkey(), kp.pubkey());
        let e = kp.write_new(&path).expect_err("exists");
        assert!(e.to_string().contains("exists"), "{e}");
        assert_no_key_bytes(&e.to_string(), &bytes);
        std::fs::remove_dir_all(&dir).expect("cleanup");
    }
}
