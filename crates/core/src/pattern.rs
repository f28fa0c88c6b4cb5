//! Shell-style patterns with `*` (any run of characters, including none), as
//! operators write them for finding types (`CryptoCurrency:EC2/*`) and
//! protected principals (`arn:aws:iam::*:role/BreakGlass*`).

use std::fmt;

/// A pattern where `*` matches any run of characters. Matching is exact and
/// case-sensitive otherwise, as IAM names and finding types are.
#[derive(Clone, PartialEq, Eq)]
pub struct Pattern(String);

impl Pattern {
    pub fn new(text: impl Into<String>) -> Self {
        Pattern(text.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `text` matches the whole pattern.
    pub fn matches(&self, text: &str) -> bool {
        let mut parts = self.0.split('*');
        // `split` always yields at least one item.
        let first = parts.next().unwrap_or_default();
        let Some(mut rest) = text.strip_prefix(first) else {
            return false;
        };
        let parts: Vec<&str> = parts.collect();
        let Some((last, middle)) = parts.split_last() else {
            // No `*` at all: the prefix must have been the whole text.
            return rest.is_empty();
        };
        for part in middle {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
        rest.len() >= last.len() && rest.ends_with(last)
    }
}

impl fmt::Debug for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    #[test]
    fn literal_patterns_match_only_themselves() {
        let p = Pattern::new("Backdoor:EC2/Spambot");
        assert!(p.matches("Backdoor:EC2/Spambot"));
        assert!(!p.matches("Backdoor:EC2/Spambot2"));
        assert!(!p.matches("Backdoor:EC2/Spambo"));
    }

    #[test]
    fn stars_match_runs_including_empty() {
        let p = Pattern::new("CryptoCurrency:EC2/*");
        assert!(p.matches("CryptoCurrency:EC2/BitcoinTool.B!DNS"));
        assert!(p.matches("CryptoCurrency:EC2/"));
        assert!(!p.matches("CryptoCurrency:Runtime/BitcoinTool.B"));
        let p = Pattern::new("arn:aws:iam::*:role/Break*Glass");
        assert!(p.matches("arn:aws:iam::123456789012:role/BreakGlass"));
        assert!(p.matches("arn:aws:iam::123456789012:role/Break-the-Glass"));
        assert!(!p.matches("arn:aws:iam::123456789012:role/BreakGlassX"));
        assert!(Pattern::new("*").matches(""));
        assert!(Pattern::new("a*a").matches("aa"));
        assert!(!Pattern::new("a*a").matches("a"));
    }
}
