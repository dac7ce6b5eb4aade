//! Reading JSON that `dsi --json`, criterion and the suites' own logs print:
//! `serde_json` values, with [`parse`] adding context to errors and
//! [`Items`] reading a missing or non-array value as no items.

pub(crate) use serde_json::Value as Json;

/// Parses one JSON document.
pub(crate) fn parse(text: &str) -> anyhow::Result<Json> {
    serde_json::from_str(text).map_err(|e| {
        let start: String = text.chars().take(80).collect();
        anyhow::anyhow!("not JSON ({e}): {start:?}")
    })
}

/// The elements of an array value, none for anything else (as indexing a
/// [`Json`] by a missing key gives `null`).
pub(crate) trait Items {
    /// The elements, or an empty slice.
    fn items(&self) -> &[Json];
}

impl Items for Json {
    fn items(&self) -> &[Json] {
        self.as_array().map_or(&[], Vec::as_slice)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_keys_read_as_null_and_no_items() {
        let v = parse(r#"[{"store": {"tables": [{"name": "runs", "rows": 3}]}}]"#).unwrap();
        let t = &v.items()[0]["store"]["tables"].items()[0];
        assert_eq!(t["name"].as_str(), Some("runs"));
        assert_eq!(t["rows"].as_u64(), Some(3));
        assert!(v.items()[0]["store"]["blobs"].as_u64().is_none());
        assert!(v["nothing"].items().is_empty());
        assert!(parse("{").unwrap_err().to_string().starts_with("not JSON"));
    }
}
