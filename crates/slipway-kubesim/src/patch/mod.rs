//! The apiserver's three patch formats, applied to objects as JSON values.
//!
//! - [`json_patch`]: RFC 6902 (`application/json-patch+json`),
//! - [`merge_patch`]: RFC 7386 (`application/merge-patch+json`),
//! - [`strategic_merge_patch`]: Kubernetes' strategic merge patch
//!   (`application/strategic-merge-patch+json`), for built-in kinds, driven by their schema.
//!
//! Results and error texts follow the apiserver's libraries (`evanphx/json-patch` v4 and apimachinery's
//! `strategicpatch`); the differential tests hold them to `kubectl patch --local`, which runs the same code.
//!
//! ```
//! use serde_json::json;
//! use slipway_kubesim::{patch, schema::Schema};
//!
//! let pod = json!({"spec": {"containers": [{"name": "app", "image": "app:1"}, {"name": "proxy", "image": "envoy"}]}});
//! let schema = Schema::for_kind("", "v1", "Pod").expect("built-in");
//! let patched = patch::strategic_merge_patch(&pod, &json!({"spec": {"containers": [{"name": "app", "image": "app:2"}]}}), schema)?;
//! assert_eq!(patched["spec"]["containers"][0]["image"], "app:2");
//! assert_eq!(patched["spec"]["containers"][1]["name"], "proxy");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod gofmt;
mod json;
mod strategic;

pub use json::{MAX_JSON_PATCH_OPERATIONS, json_patch, merge_patch};
pub use strategic::strategic_merge_patch;

/// How the apiserver answers a strategic-merge failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum StrategicClass {
    /// A malformed directive (`$retainKeys`, `$setElementOrder`, `$deleteFromPrimitiveList`): 400.
    BadFormat,
    /// Something the format cannot express (lists of lists): 422.
    Unprocessable,
    /// Anything else the merge rejects: 500, as the apiserver passes these through unwrapped.
    Other,
}

/// Why a patch could not be applied. Messages are the apiserver's.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The JSON patch is not a list of operation objects.
    #[error("{message}")]
    JsonPatchDecode {
        /// The decoder's text (`json: cannot unmarshal object into Go value of type jsonpatch.Patch`).
        message: String,
    },
    /// The JSON patch has more operations than the apiserver accepts.
    #[error("The allowed maximum operations in a JSON patch is {limit}, got {count}")]
    TooManyOperations {
        /// Operations in the patch.
        count: usize,
        /// [`MAX_JSON_PATCH_OPERATIONS`].
        limit: usize,
    },
    /// A JSON patch operation does not apply.
    #[error("{message}")]
    JsonPatch {
        /// Position of the operation in the patch.
        index: usize,
        /// Its `path`.
        path: String,
        /// The library's text (`add operation does not apply: doc is missing path: "/a/b": missing value`).
        message: String,
    },
    /// The merge patch is not a JSON object (nor a list).
    #[error("Invalid JSON Patch")]
    MergePatchNotObject,
    /// The document to merge into is `null`.
    #[error("Invalid JSON Document")]
    MergePatchDocument,
    /// The document or the strategic merge patch is not a JSON object.
    #[error("invalid JSON document")]
    StrategicMergeDocument,
    /// The strategic merge patch does not apply.
    #[error("{message}")]
    StrategicMerge {
        /// Dotted path of the object where it failed (`spec.template.spec.containers`; empty at the root).
        path: String,
        /// The library's text (`map: map[image:x] does not contain declared merge key: name`).
        message: String,
        /// How the apiserver classes it.
        class: StrategicClass,
    },
}

impl Error {
    /// The HTTP status the apiserver answers this failure with (400, 413, 422 or 500).
    pub fn http_status(&self) -> u16 {
        match self {
            Error::JsonPatchDecode { .. }
            | Error::MergePatchNotObject
            | Error::StrategicMergeDocument => 400,
            Error::TooManyOperations { .. } => 413,
            Error::JsonPatch { .. } => 422,
            Error::StrategicMerge { class, .. } => match class {
                StrategicClass::BadFormat => 400,
                StrategicClass::Unprocessable => 422,
                StrategicClass::Other => 500,
            },
            Error::MergePatchDocument => 500,
        }
    }
}
