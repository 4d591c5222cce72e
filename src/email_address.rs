//! Email address normalisation for routing and identity: addresses compare
//! case-insensitively, and `local+tag@domain` delivers like `local@domain`.

/// Trims, strips angle brackets and lower-cases an address; `None` when it
/// is not of the form `local@domain`.
pub fn normalize(address: &str) -> Option<String> {
    let trimmed = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, domain) = trimmed.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() || domain.contains(char::is_whitespace) {
        return None;
    }
    Some(format!(
        "{}@{}",
        local.to_lowercase(),
        domain.to_ascii_lowercase()
    ))
}

/// The address without a `+tag` in its local part.
pub fn without_tag(normalized: &str) -> String {
    match normalized.rsplit_once('@') {
        Some((local, domain)) => match local.split_once('+') {
            Some((base, _tag)) if !base.is_empty() => format!("{base}@{domain}"),
            _ => normalized.to_string(),
        },
        None => normalized.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_brackets() {
        assert_eq!(
            normalize(" <Support@Example.COM> ").as_deref(),
            Some("support@example.com")
        );
        assert_eq!(normalize("no-at-sign"), None);
        assert_eq!(normalize("@example.com"), None);
    }

    #[test]
    fn strips_plus_tags() {
        assert_eq!(
            without_tag("support+billing@example.com"),
            "support@example.com"
        );
        assert_eq!(without_tag("support@example.com"), "support@example.com");
        assert_eq!(without_tag("+x@example.com"), "+x@example.com");
    }
}
