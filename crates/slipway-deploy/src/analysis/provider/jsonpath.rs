//! The subset of Kubernetes' `JSONPath` that Argo's web provider documents: `{$.data.ok}`, `{.data.ok}`,
//! `$.items[0].value`, `{$['key-with-dashes']}`, negative indexes; `{$}` (or `{$.}`) is the whole
//! document. Wildcards, filters and ranges are not supported and are reported as such.

use serde_json::Value;

/// Selects `path` in `doc`. The error text says which step found nothing.
pub fn select<'a>(doc: &'a Value, path: &str) -> Result<&'a Value, String> {
    let mut p = path.trim();
    if let Some(inner) = p.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
        p = inner.trim();
    }
    p = p.strip_prefix('$').unwrap_or(p);
    let mut current = doc;
    let mut rest = p;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix('.') {
            let end = after.find(['.', '[']).unwrap_or(after.len());
            let key = &after[..end];
            rest = &after[end..];
            if key.is_empty() {
                continue;
            }
            if key == "*" || key.starts_with('?') {
                return Err(format!("`{key}` is not supported in `{path}`"));
            }
            current = current
                .get(key)
                .ok_or_else(|| format!("`{key}` not found in `{path}`"))?;
        } else if let Some(after) = rest.strip_prefix('[') {
            let end = after
                .find(']')
                .ok_or_else(|| format!("unclosed `[` in `{path}`"))?;
            let inner = after[..end].trim();
            rest = &after[end + 1..];
            if let Some(key) = inner
                .strip_prefix('\'')
                .and_then(|s| s.strip_suffix('\''))
                .or_else(|| inner.strip_prefix('"').and_then(|s| s.strip_suffix('"')))
            {
                current = current
                    .get(key)
                    .ok_or_else(|| format!("`{key}` not found in `{path}`"))?;
            } else {
                let index: i64 = inner
                    .parse()
                    .map_err(|_| format!("`[{inner}]` is not supported in `{path}`"))?;
                let items = current
                    .as_array()
                    .ok_or_else(|| format!("`[{inner}]` applied to a non-array in `{path}`"))?;
                let len = i64::try_from(items.len()).unwrap_or(i64::MAX);
                let at = if index < 0 { len + index } else { index };
                current = usize::try_from(at)
                    .ok()
                    .and_then(|at| items.get(at))
                    .ok_or_else(|| format!("index {index} out of range in `{path}`"))?;
            }
        } else {
            return Err(format!("unexpected `{rest}` in `{path}`"));
        }
    }
    Ok(current)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn argo_forms() {
        let doc = json!({"data": {"ok": true, "items": [{"v": 1}, {"v": 2}], "a-b": "x"}});
        assert_eq!(select(&doc, "{$.data.ok}"), Ok(&json!(true)));
        assert_eq!(select(&doc, "{.data.ok}"), Ok(&json!(true)));
        assert_eq!(select(&doc, "$.data.items[1].v"), Ok(&json!(2)));
        assert_eq!(select(&doc, "{$.data.items[-1].v}"), Ok(&json!(2)));
        assert_eq!(select(&doc, "{$.data['a-b']}"), Ok(&json!("x")));
        assert_eq!(select(&doc, "{$}"), Ok(&doc));
        assert!(
            select(&doc, "{$.data.nope}")
                .unwrap_err()
                .contains("`nope` not found")
        );
        assert!(select(&doc, "{$.data.items[5]}").is_err());
        assert!(
            select(&doc, "{$.data.*}")
                .unwrap_err()
                .contains("not supported")
        );
        assert!(select(&doc, "{$.data.items[?(@.v>1)]}").is_err());
    }
}
