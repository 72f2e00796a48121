//! Update masks: which fields an update changes.

use crm_kit::validate::Violations;
use prost_types::FieldMask;

/// The paths of `mask`, each one of `allowed`, without repeats. An empty or
/// missing mask, or an unknown path, is recorded against `update_mask`.
pub fn parse(v: &mut Violations, mask: Option<&FieldMask>, allowed: &[&'static str]) -> Vec<&'static str> {
    let paths = mask.map(|m| m.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        v.add(
            "update_mask",
            format!("must name the fields to change, any of: {}", allowed.join(", ")),
        );
        return Vec::new();
    }
    let mut found = Vec::new();
    for path in paths {
        match allowed.iter().find(|a| **a == path.as_str()) {
            Some(known) if !found.contains(known) => found.push(*known),
            Some(_) => {}
            // Checked against the tenant's definitions (crm_fields::values::Edit).
            None if crm_fields::values::is_custom_path(path) => {}
            None => v.add(
                "update_mask",
                format!("`{path}` cannot be changed; allowed: {}", allowed.join(", ")),
            ),
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALLOWED: &[&str] = &["name", "domain"];

    fn mask(paths: &[&str]) -> FieldMask {
        FieldMask {
            paths: paths.iter().map(|p| (*p).to_owned()).collect(),
        }
    }

    #[test]
    fn a_missing_mask_is_rejected() {
        let mut v = Violations::new();
        parse(&mut v, None, ALLOWED);
        assert!(!v.is_empty());
    }

    #[test]
    fn an_unknown_path_is_rejected() {
        let mut v = Violations::new();
        parse(&mut v, Some(&mask(&["name", "id"])), ALLOWED);
        assert!(!v.is_empty());
    }

    #[test]
    fn repeated_paths_are_counted_once() {
        let mut v = Violations::new();
        let paths = parse(&mut v, Some(&mask(&["name", "name", "domain"])), ALLOWED);
        assert!(v.is_empty());
        assert_eq!(paths, ["name", "domain"]);
    }
}
