//! The rules a Space name must follow, each checked on its own so the UI can show every rule's state.

use serde::Serialize;
use ts_rs::TS;

use super::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub enum NameRule {
    /// 3 to 63 characters.
    Length,
    /// Lowercase letters, digits and dashes only.
    Characters,
    /// Starts and ends with a letter or digit.
    Ends,
    /// No dots: they break the HTTPS certificate of the Space's origin URL.
    NoDots,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, TS)]
#[serde(rename_all = "camelCase")]
#[ts(export)]
pub struct RuleCheck {
    pub rule: NameRule,
    pub ok: bool,
    /// The rule in words, as shown next to its state.
    pub text: String,
}

/// Every rule with its state for `name`.
pub fn check(name: &str) -> Vec<RuleCheck> {
    let len = name.chars().count();
    let chars_ok = name
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.');
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    vec![
        RuleCheck {
            rule: NameRule::Length,
            ok: (3..=63).contains(&len),
            text: format!("3 to 63 characters ({len} now)"),
        },
        RuleCheck {
            rule: NameRule::Characters,
            ok: !name.is_empty() && chars_ok,
            text: "Lowercase letters, digits and dashes only".into(),
        },
        RuleCheck {
            rule: NameRule::Ends,
            ok: edge(name.chars().next()) && edge(name.chars().last()),
            text: "Starts and ends with a letter or digit".into(),
        },
        RuleCheck {
            rule: NameRule::NoDots,
            ok: !name.contains('.'),
            text: "No dots: they break the HTTPS certificate of the Space's URL".into(),
        },
    ]
}

/// Ok when every rule holds; otherwise the first broken rule, as a sentence. Run before any request.
pub fn validate(name: &str) -> Result<()> {
    match check(name).into_iter().find(|r| !r.ok) {
        None => Ok(()),
        Some(broken) => Err(Error::InvalidInput(format!(
            "“{name}” can't be a Space name: {}.",
            match broken.rule {
                NameRule::Length => "it must be 3 to 63 characters long".to_string(),
                NameRule::Characters => "use only lowercase letters, digits and dashes".to_string(),
                NameRule::Ends => "it must start and end with a letter or digit".to_string(),
                NameRule::NoDots =>
                    "dots break the HTTPS certificate of the Space's URL".to_string(),
            }
        ))),
    }
}

/// Checks the name of a Space to open (not to create). The rules above are DigitalOcean's for
/// new Spaces; buckets of other S3 services, and old ones, may have dots, capitals or `_`.
pub fn validate_existing(name: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::InvalidInput(format!(
            "“{name}” can't be a Space's name: {why}."
        )))
    };
    if name.is_empty() {
        return bad("it is empty");
    }
    if name.len() > 255 {
        return bad("it is longer than 255 characters");
    }
    if name
        .chars()
        .any(|c| c == '/' || c.is_whitespace() || c.is_control())
    {
        return bad("it holds “/”, a space or a control character");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn broken(name: &str) -> Vec<NameRule> {
        check(name)
            .into_iter()
            .filter(|r| !r.ok)
            .map(|r| r.rule)
            .collect()
    }

    #[test]
    fn good_names_pass_every_rule() {
        for name in ["abc", "my-space-01", "0a0", &"a".repeat(63)] {
            assert!(broken(name).is_empty(), "{name}: {:?}", broken(name));
            assert!(validate(name).is_ok());
        }
    }

    #[test]
    fn each_rule_fails_on_its_own() {
        assert_eq!(broken("ab"), [NameRule::Length]);
        assert_eq!(broken(&"a".repeat(64)), [NameRule::Length]);
        assert_eq!(broken("My-Space"), [NameRule::Characters, NameRule::Ends]);
        assert_eq!(broken("has_underscore"), [NameRule::Characters]);
        assert_eq!(broken("-abc"), [NameRule::Ends]);
        assert_eq!(broken("abc-"), [NameRule::Ends]);
        assert_eq!(broken("my.space"), [NameRule::NoDots]);
        assert_eq!(broken("späce"), [NameRule::Characters]);
        assert_eq!(
            broken(""),
            [NameRule::Length, NameRule::Characters, NameRule::Ends]
        );
    }

    #[test]
    fn validation_explains_the_first_broken_rule() {
        let err = validate("my.space").expect_err("dots");
        assert!(err.to_string().contains("HTTPS certificate"), "{err}");
        assert!(validate("AB").is_err());
    }

    #[test]
    fn existing_buckets_of_other_services_can_be_opened() {
        for ok in ["my.bucket.v2", "Legacy_Bucket", "ab", "a-space"] {
            assert!(validate_existing(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a/b", "a b", "a\u{7}"] {
            assert_eq!(
                validate_existing(bad).map_err(|e| e.kind()),
                Err(crate::error::ErrorKind::InvalidInput),
                "{bad:?}"
            );
        }
        assert!(
            validate("Legacy_Bucket").is_err(),
            "creating keeps DigitalOcean's rules"
        );
    }
}
