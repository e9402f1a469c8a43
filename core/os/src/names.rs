//! Names made safe for file systems.

use sha2::{Digest, Sha256};

/// A name usable as one path component: letters, digits and `._=,+-` kept,
/// anything else as `_`; long names shortened with a hash to stay unique.
pub fn safe_name(name: &str) -> String {
    let mut out: String =
        name.chars().map(|c| if c.is_alphanumeric() || "._=,+-".contains(c) { c } else { '_' }).collect();
    if out.is_empty() || out == "." || out == ".." {
        out = format!("_{out}");
    }
    if out.len() > 100 {
        // The hash of the name as a JSON string: what `expman_schema::config_hash`
        // gives for it, so run directories keep the names they always had.
        let json = serde_json::Value::String(name.to_string()).to_string();
        let hash: String = Sha256::digest(json.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
        let mut cut = 80;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out = format!("{}-{}", &out[..cut], &hash[..12]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_names() {
        assert_eq!(safe_name("Trial 1"), "Trial_1");
        assert_eq!(safe_name("lr_sweep[training.lr=0.01,model.l2=0.0]"), "lr_sweep_training.lr=0.01,model.l2=0.0_");
        assert_eq!(safe_name(".."), "_..");
        assert!(safe_name(&"x".repeat(300)).len() < 100);
    }
}
