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

/// A copy of the tree with every secret value replaced by [`MASK`]: the
/// values of secret keys, and those values wherever else they were copied
/// (`command: [train.py, --key, "${openai.api_key}"]`).
pub fn mask(node: &Node) -> Node {
    mask_with(node, &secret_values(node))
}

fn mask_with(node: &Node, secrets: &[String]) -> Node {
    match &node.value {
        Value::Map(m) => {
            let mut out = Map::new();
            for (k, e) in m.iter() {
                let value = if is_secret_key(k) && !e.value.is_null() && e.value.as_map().is_none() {
                    Node::string(MASK, e.value.span)
                } else {
                    mask_with(&e.value, secrets)
                };
                out.insert(k.to_string(), e.key_span, value);
            }
            Node::new(Value::map(out), node.span)
        }
        Value::Seq(items) => Node::new(Value::seq(items.iter().map(|i| mask_with(i, secrets)).collect()), node.span),
        Value::String(text) if secrets.iter().any(|s| text.contains(s.as_str())) => {
            Node::string(mask_text(text, secrets), node.span)
        }
        _ => node.clone(),
    }
}

/// Secret values shorter than this are not looked for in free text (a
/// `password: x` must not mask every `x` of a command line).
const MIN_FREE_TEXT_SECRET: usize = 4;

/// The values of a resolved config's secret keys (non-empty scalars), to
/// mask where they end up in free text: a command line built with
/// `${openai.api_key}`, an environment variable whose name gives no hint.
pub fn secret_values(node: &Node) -> Vec<String> {
    fn walk(node: &Node, out: &mut Vec<String>) {
        match &node.value {
            Value::Map(m) => {
                for (k, e) in m.iter() {
                    if is_secret_key(k) && e.value.as_map().is_none() && e.value.as_seq().is_none() {
                        let text = match &e.value.value {
                            Value::String(s) => s.clone(),
                            Value::Null => String::new(),
                            other => crate::yaml::format_scalar(other),
                        };
                        if text.len() >= MIN_FREE_TEXT_SECRET {
                            out.push(text);
                        }
                    } else {
                        walk(&e.value, out);
                    }
                }
            }
            Value::Seq(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(node, &mut out);
    out.sort_by_key(|v| std::cmp::Reverse(v.len())); // longest first: one secret inside another
    out.dedup();
    out
}

/// `text` with every occurrence of each of `secrets` replaced by [`MASK`].
pub fn mask_text(text: &str, secrets: &[String]) -> String {
    let mut out = text.to_string();
    for secret in secrets.iter().filter(|s| s.len() >= MIN_FREE_TEXT_SECRET) {
        if out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), MASK);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_values_are_masked_in_free_text() {
        let node = crate::yaml::parse(
            "db: {password: hunter22, user: me}\napi_key: sk-123456\npin: {token: abc}\nlist: [{secret: 1234567}]\n",
            crate::FileId(0),
        )
        .docs
        .remove(0);
        let values = secret_values(&node);
        assert_eq!(values, ["sk-123456", "hunter22", "1234567"], "`abc` is too short to look for");
        let argv = r#"["train.py","--key","sk-123456","--db","postgres://me:hunter22@h/db","--user","me"]"#;
        assert_eq!(
            mask_text(argv, &values),
            r#"["train.py","--key","********","--db","postgres://me:********@h/db","--user","me"]"#
        );
        // A resolved config that copied a secret into its command line.
        let resolved = crate::yaml::parse(
            "openai: {api_key: sk-123456}\npipeline: {command: [train.py, --key, sk-123456, --url, \"https://x/?k=sk-123456\"]}\n",
            crate::FileId(0),
        )
        .docs
        .remove(0);
        let masked = crate::yaml::to_json(&mask(&resolved)).to_string();
        assert!(!masked.contains("sk-123456"), "{masked}");
        assert!(masked.contains("https://x/?k=********"), "{masked}");
    }

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
