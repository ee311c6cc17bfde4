//! Segment names of an instance: `phantom-<instance>-<role>` (DESIGN §3).

use crate::segment::{Result, SegmentError};

/// The roles of an instance's segments, in creation order: the four control segments (one
/// per writer, [`crate::control`]), the pools table and the three rings.
pub const ROLES: [&str; 8] = [
    "control", "feeder", "signer", "strategy", "pools", "market", "intents", "reports",
];

/// Prefix shared by every segment of the project.
pub const PREFIX: &str = "phantom-";

/// Name of `role`'s segment for `instance`.
pub fn segment_name(instance: &str, role: &str) -> String {
    format!("{PREFIX}{instance}-{role}")
}

/// The `(instance, role)` of segment name `name` (`phantom-<instance>-<role>`). Roles (the
/// eight of [`ROLES`], and the private ones of tests and tools) hold no `-`, so the role is
/// what follows the last one: `phantom-a-b-control` is instance `a-b`'s, never `a`'s.
pub fn parse_segment_name(name: &str) -> Option<(&str, &str)> {
    let rest = name.strip_prefix(PREFIX)?;
    let (instance, role) = rest.rsplit_once('-')?;
    (!instance.is_empty() && !role.is_empty()).then_some((instance, role))
}

/// Whether segment `name` belongs to instance `instance` exactly (not to one whose name
/// merely starts with it).
pub fn belongs_to(name: &str, instance: &str) -> bool {
    parse_segment_name(name).is_some_and(|(i, _)| i == instance)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_names_match_exactly() {
        assert_eq!(
            parse_segment_name("phantom-a-b-control"),
            Some(("a-b", "control"))
        );
        assert!(belongs_to("phantom-a-market", "a"));
        assert!(!belongs_to("phantom-a-b-market", "a"));
        assert!(belongs_to("phantom-a-b-market", "a-b"));
        assert!(belongs_to("phantom-a-probe", "a"));
        assert!(!belongs_to("phantom-a-", "a"));
        assert!(!belongs_to("phantom--market", ""));
        assert!(!belongs_to("other-a-market", "a"));
        for role in ROLES {
            assert_eq!(
                parse_segment_name(&segment_name("x.y-z", role)),
                Some(("x.y-z", role))
            );
        }
    }
}
