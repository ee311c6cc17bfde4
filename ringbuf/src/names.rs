//! Segment names of an instance: `phantom-<instance>-<role>` (DESIGN §3).

use crate::segment::{Result, SegmentError};

/// The roles of an instance's segments, in creation order.
pub const ROLES: [&str; 5] = ["control", "pools", "market", "intents", "reports"];

/// Prefix shared by every segment of the project.
pub const PREFIX: &str = "phantom-";

/// Name of `role`'s segment for `instance`.
pub fn segment_name(instance: &str, role: &str) -> String {
    format!("{PREFIX}{instance}-{role}")
}

/// Check an instance name: 1-47 characters of `[A-Za-z0-9_.]`, plus `-` not at the start.
pub fn validate_instance(instance: &str) -> Result<()> {
    let ok = !instance.is_empty()
        && instance.len() <= 47
        && !instance.starts_with('-')
        && !instance.starts_with('.')
        && instance
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.');
    if ok {
        Ok(())
    } else {
        Err(SegmentError::Invalid {
            segment: segment_name(instance, "*"),
            what: "instance name",
            why: format!(
                "{instance:?}: use 1-47 characters of [A-Za-z0-9._-], not starting with '-' or '.'"
            ),
        })
    }
}
