//! Email address normalisation for routing and identity: addresses compare
//! case-insensitively, and `local+tag@domain` delivers like `local@domain`.
//!
//! Every address the daemon stores or sends to is one valid mailbox
//! (RFC 5322 `addr-spec`, checked by lettre's address parser, which also
//! takes UTF-8 local parts and internationalised domains): no spaces outside
//! quotes, exactly one unquoted `@`, a domain of valid labels or an address
//! literal.

/// Trims, strips angle brackets and lower-cases an address; `None` when it
/// is not one valid mailbox.
pub fn normalize(address: &str) -> Option<String> {
    let trimmed = address.trim().trim_start_matches('<').trim_end_matches('>');
    let (local, domain) = trimmed.rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    let normalized = format!("{}@{}", local.to_lowercase(), domain.to_lowercase());
    normalized
        .parse::<lettre::Address>()
        .ok()
        .map(|_| normalized)
}

/// The first valid mailbox among the words of a header value that did not
/// parse as an address list (`tim@a.example concierge@a.example`,
/// `Big Bug bb@bug.com`), normalised: what mail clients show as the sender.
pub fn first_valid_mailbox(header: &str) -> Option<String> {
    header
        .split(|c: char| c.is_whitespace() || ",;<>()\"'".contains(c))
        .filter(|word| word.contains('@'))
        .find_map(normalize)
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
    fn refuses_what_is_not_one_mailbox() {
        for bad in [
            "tim@a.example concierge@a.example",
            "big bug bb@bug.com",
            "a@b@c.example",
            "a@b..example",
            "a.@b.example",
            "a@",
            "a b@c.example",
            "a@exa mple.com",
        ] {
            assert_eq!(normalize(bad), None, "{bad}");
        }
        for good in [
            "support@localhost",
            "o'brien@example.ie",
            "x@[127.0.0.1]",
            "józef@przykład.pl",
            "\"a b\"@example.com",
        ] {
            assert!(normalize(good).is_some(), "{good}");
        }
    }

    #[test]
    fn finds_the_first_valid_mailbox_in_a_broken_header() {
        assert_eq!(
            first_valid_mailbox("tim@a.example concierge@a.example").as_deref(),
            Some("tim@a.example")
        );
        assert_eq!(
            first_valid_mailbox("Big Bug bb@bug.com").as_deref(),
            Some("bb@bug.com")
        );
        assert_eq!(
            first_valid_mailbox("\"Big Bug\" <BB@bug.com").as_deref(),
            Some("bb@bug.com")
        );
        assert_eq!(first_valid_mailbox("a@b@c.example"), None);
        assert_eq!(first_valid_mailbox("undisclosed recipients"), None);
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
