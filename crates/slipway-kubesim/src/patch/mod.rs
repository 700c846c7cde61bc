//! Patches (JSON patch, merge patch, strategic merge patch). Interim: merge patch only, until the patch
//! work lands; the other kinds answer an error rather than a wrong object.

use serde_json::Value;

/// A patch that cannot be applied.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// This kind of patch is not supported yet.
    #[error("{kind} patches are not supported yet")]
    Unsupported {
        /// The patch kind.
        kind: &'static str,
    },
}

impl Error {
    /// The HTTP status the apiserver answers this with.
    pub fn http_code(&self) -> u16 {
        415
    }
}

/// RFC 6902 JSON patch.
pub fn json_patch(_doc: &Value, _patch: &Value) -> Result<Value, Error> {
    Err(Error::Unsupported { kind: "JSON" })
}

/// RFC 7386 merge patch.
pub fn merge_patch(doc: &Value, patch: &Value) -> Result<Value, Error> {
    let Value::Object(p) = patch else {
        return Ok(patch.clone());
    };
    let mut out = match doc {
        Value::Object(d) => d.clone(),
        _ => serde_json::Map::new(),
    };
    for (k, v) in p {
        if v.is_null() {
            out.remove(k);
        } else {
            let merged = merge_patch(out.get(k).unwrap_or(&Value::Null), v)?;
            out.insert(k.clone(), merged);
        }
    }
    Ok(Value::Object(out))
}

/// Strategic merge patch.
pub fn strategic_merge_patch(
    _doc: &Value,
    _patch: &Value,
    _schema: &crate::schema::Schema,
) -> Result<Value, Error> {
    Err(Error::Unsupported {
        kind: "strategic merge",
    })
}
