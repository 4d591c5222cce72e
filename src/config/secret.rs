//! Secrets (app secrets, access tokens): read from a file or an environment
//! variable named in the config, never written inline, never printed.

use std::fmt;
use std::path::Path;

/// A secret value; `Debug` and `Display` never show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for signing and authenticating only.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Loads the secret named by `file` or `env` (exactly one must be given);
/// problems are reported against `path.key_file` / `path.key_env`.
pub(super) fn load(
    file: Option<&str>,
    env: Option<&str>,
    base: &Path,
    path: &str,
    key: &str,
    problems: &mut Vec<(String, String)>,
) -> Option<Secret> {
    match (file, env) {
        (Some(_), Some(_)) => {
            problems.push((
                format!("{path}.{key}_env"),
                format!("give {key}_file or {key}_env, not both"),
            ));
            None
        }
        (None, None) => {
            problems.push((
                format!("{path}.{key}_file"),
                format!("missing: give {key}_file or {key}_env"),
            ));
            None
        }
        (Some(file), None) => {
            let full = base.join(file);
            match std::fs::read_to_string(&full) {
                Ok(text) => {
                    let value = text.trim().to_string();
                    if value.is_empty() {
                        problems.push((
                            format!("{path}.{key}_file"),
                            format!("{} is empty", full.display()),
                        ));
                        None
                    } else {
                        Some(Secret(value))
                    }
                }
                Err(error) => {
                    problems.push((
                        format!("{path}.{key}_file"),
                        format!("cannot read {}: {error}", full.display()),
                    ));
                    None
                }
            }
        }
        (None, Some(name)) => match std::env::var(name) {
            Ok(value) if !value.trim().is_empty() => Some(Secret(value.trim().to_string())),
            _ => {
                problems.push((
                    format!("{path}.{key}_env"),
                    format!("environment variable {name} is not set"),
                ));
                None
            }
        },
    }
}
