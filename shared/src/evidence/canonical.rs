//! The canonical JSON form and its SHA-256 seal.
//!
//! Canonical form: UTF-8 JSON with no whitespace between tokens; object keys
//! sorted by their UTF-8 bytes at every depth; strings escaped as serde_json
//! escapes them (`"` `\` and control characters only, everything else as
//! UTF-8); integers in plain decimal. The digest is SHA-256 over the canonical
//! form of the bundle WITHOUT its `digest` member, written as lowercase hex.
//! Keys are sorted here rather than relying on serde_json's map type, which a
//! cargo feature elsewhere (`preserve_order`) could silently change.

use serde_json::Value;
use sha2::{Digest as _, Sha256};

use super::Bundle;

pub const DIGEST_ALGORITHM: &str = "sha256";

/// A bundle with its canonical text and digest.
#[derive(Debug, Clone)]
pub struct Sealed {
    pub bundle: Bundle,
    /// Lowercase hex SHA-256 of the canonical bundle without `digest`.
    pub digest: String,
    /// The canonical bundle with `digest` — what the API and the CLI write.
    pub json: String,
}

impl Sealed {
    pub fn new(bundle: Bundle) -> Self {
        // A struct of strings, integers and JSON values always serializes.
        let mut value = serde_json::to_value(&bundle).unwrap_or(Value::Null);
        let digest = digest_of(&value);
        if let Value::Object(map) = &mut value {
            map.insert(
                "digest".to_owned(),
                serde_json::json!({"algorithm": DIGEST_ALGORITHM, "value": digest}),
            );
        }
        let json = canonical(&value);
        Self {
            bundle,
            digest,
            json,
        }
    }
}

/// SHA-256 of `value`'s canonical form, lowercase hex.
pub fn digest_of(value: &Value) -> String {
    hex::encode(Sha256::digest(canonical(value).as_bytes()))
}

/// Whether a saved bundle still matches its own digest: any change to its
/// content (not to insignificant whitespace) makes this false.
pub fn verify(saved: &str) -> bool {
    let Ok(Value::Object(mut map)) = serde_json::from_str::<Value>(saved) else {
        return false;
    };
    let Some(seal) = map.remove("digest") else {
        return false;
    };
    seal.get("algorithm").and_then(Value::as_str) == Some(DIGEST_ALGORITHM)
        && seal.get("value").and_then(Value::as_str)
            == Some(digest_of(&Value::Object(map)).as_str())
}

pub fn canonical(value: &Value) -> String {
    let mut out = String::new();
    write(value, &mut out);
    out
}

fn write(value: &Value, out: &mut String) {
    match value {
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            let mut entries: Vec<(&String, &Value)> = map.iter().collect();
            entries.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
            out.push('{');
            for (i, (key, item)) in entries.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                write(item, out);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn canonical_form_sorts_keys_at_every_depth_without_whitespace() {
        let v = json!({"b": 1, "a": {"z": [true, null, "é\"\n"], "y": -2}});
        assert_eq!(
            canonical(&v),
            r#"{"a":{"y":-2,"z":[true,null,"é\"\n"]},"b":1}"#
        );
    }

    #[test]
    fn verify_accepts_the_seal_and_rejects_a_changed_byte() {
        let value = json!({"order": {"reference": "ORD-1"}, "timeline": []});
        let d = digest_of(&value);
        let sealed = json!({"order": {"reference": "ORD-1"}, "timeline": [],
            "digest": {"algorithm": "sha256", "value": d}});
        let text = canonical(&sealed);
        assert!(verify(&text));
        // Pretty-printing is insignificant; content is not.
        assert!(verify(&serde_json::to_string_pretty(&sealed).unwrap()));
        assert!(!verify(&text.replace("ORD-1", "ORD-2")));
        assert!(!verify("not json"));
    }
}
