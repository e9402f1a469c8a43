//! Secrets: values under keys that look like credentials are masked in every
//! preview and in every config expman stores.

use crate::yaml::{Map, Node, Value};

/// What replaces a secret value.
pub const MASK: &str = "********";

/// Words that make a key a secret on their own.
const SECRET_WORDS: &[&str] = &["password", "passwd", "pwd", "secret", "token", "apikey", "credential", "credentials"];
/// Word pairs that do (`api_key`, `accessKey`, `private-key`).
const SECRET_PAIRS: &[(&str, &str)] = &[("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key")];

/// Splits `MLFLOW_TRACKING_TOKEN`, `apiKey`, `db-password` into lowercase words.
fn words(key: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut prev_lower = false;
    for c in key.chars() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            prev_lower = false;
            continue;
        }
        if c.is_uppercase() && prev_lower && !current.is_empty() {
            words.push(std::mem::take(&mut current));
        }
        prev_lower = c.is_lowercase() || c.is_ascii_digit();
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether a key names a secret (`password`, `db_password`,
/// `MLFLOW_TRACKING_TOKEN`, `api_key`, `apiKey`, ...), by whole words.
pub fn is_secret_key(key: &str) -> bool {
    let words = words(key);
    words.iter().any(|w| SECRET_WORDS.contains(&w.as_str()))
        || words.windows(2).any(|pair| SECRET_PAIRS.iter().any(|(a, b)| pair[0] == *a && pair[1] == *b))
}

/// A copy of the tree with every secret value replaced by [`MASK`].
pub fn mask(node: &Node) -> Node {
    match &node.value {
        Value::Map(m) => {
            let mut out = Map::new();
            for (k, e) in m.iter() {
                let value = if is_secret_key(k) && !e.value.is_null() && e.value.as_map().is_none() {
                    Node::string(MASK, e.value.span)
                } else {
                    mask(&e.value)
                };
                out.insert(k.to_string(), e.key_span, value);
            }
            Node::new(Value::map(out), node.span)
        }
        Value::Seq(items) => Node::new(Value::seq(items.iter().map(mask).collect()), node.span),
        _ => node.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_secret_keys_at_any_depth() {
        let p = crate::yaml::parse(
            "db: {password: hunter2, user: me}\napi_key: k\ntokens_used: 3\nauthor: x\nlist: [{secret: s}]\n",
            crate::FileId(0),
        );
        let masked = mask(&p.docs[0]).to_json();
        assert_eq!(masked["db"]["password"], MASK);
        assert_eq!(masked["db"]["user"], "me");
        assert_eq!(masked["api_key"], MASK);
        assert_eq!(masked["list"][0]["secret"], MASK);
        assert_eq!(masked["tokens_used"], 3);
        assert_eq!(masked["author"], "x");
        assert!(is_secret_key("MLFLOW_TRACKING_TOKEN"));
        assert!(is_secret_key("apiKey"));
        assert!(is_secret_key("db-password"));
        assert!(!is_secret_key("keyboard"));
    }
}
