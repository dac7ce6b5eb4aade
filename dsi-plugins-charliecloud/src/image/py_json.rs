//! Python's `json.dumps(value, sort_keys=True)` with default settings
//! (separators `", "` and `": "`, `ensure_ascii=True`), byte for byte.
//!
//! Charliecloud's build-cache State ID is an MD5 over this serialisation of
//! the image manifest (`pull.py`: `json.dumps(manifest, sort_keys=True)`), so
//! verifying it needs the exact bytes.

use serde_json::Value;

/// Serialises like Python's `json.dumps(value, sort_keys=True)`.
pub(crate) fn dumps_sorted(v: &Value) -> String {
    let mut out = String::new();
    write(v, &mut out);
    out
}

fn write(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => write_str(s, out),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(x, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_str(k, out);
                out.push_str(": ");
                write(&m[*k], out);
            }
            out.push('}');
        }
    }
}

fn write_str(s: &str, out: &mut String) {
    crate::runfile::push_python_json_string(out, s, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_python_defaults() {
        // python3 -c 'import json; print(json.dumps({"b": [1, "é\n"], "a": {"z": None, "y": True}}, sort_keys=True))'
        let v = serde_json::json!({"b": [1, "é\n"], "a": {"z": null, "y": true}});
        assert_eq!(
            dumps_sorted(&v),
            r#"{"a": {"y": true, "z": null}, "b": [1, "\u00e9\n"]}"#
        );
        assert_eq!(
            dumps_sorted(&serde_json::json!("😀\u{7f}")),
            r#""\ud83d\ude00\u007f""#
        );
    }
}
