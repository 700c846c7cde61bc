//! Kubernetes protobuf request bodies (`application/vnd.kubernetes.protobuf`) read into the JSON object
//! the apiserver would have decoded.
//!
//! kubectl's typed clients (`kubectl create deployment`, `kubectl run`, ...) send their objects in
//! protobuf and do not fall back to JSON when refused. A body is the magic `k8s\0` followed by a
//! `runtime.Unknown` envelope whose `typeMeta` names the object's apiVersion and kind and whose `raw`
//! holds the object's own message. [`decode`] turns that into the object's JSON encoding: the field
//! names, `omitempty` behaviour and special types (`metav1.Time`, `resource.Quantity`,
//! `intstr.IntOrString`, `runtime.RawExtension`, base64 for bytes) of the Go types, from a table
//! generated from Kubernetes 1.32's `generated.proto` files and struct tags by
//! `scripts/gen-kubesim-proto.sh`.
//!
//! ```
//! // kubectl create namespace team-a, as kubectl sends it.
//! let mut body = b"k8s\0".to_vec();
//! let object = [&[0x0a, 0x08][..], &[0x0a, 0x06], b"team-a"].concat(); // Namespace.metadata.name
//! let type_meta = [&[0x0a, 0x02][..], b"v1", &[0x12, 0x09], b"Namespace"].concat();
//! body.extend([0x0a, type_meta.len() as u8]);
//! body.extend(&type_meta);
//! body.extend([0x12, object.len() as u8]);
//! body.extend(&object);
//!
//! let json = slipway_kubesim::protobuf::decode(&body)?;
//! assert_eq!(json, serde_json::json!({
//!     "apiVersion": "v1",
//!     "kind": "Namespace",
//!     "metadata": {"name": "team-a", "creationTimestamp": null},
//!     "spec": {},
//!     "status": {},
//! }));
//! Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! Limits: nesting deeper than [`Limits::max_depth`] messages and output of more than
//! [`Limits::max_values`] JSON values are refused, so a small body cannot make a large object. A
//! `resource.Quantity` is passed through as sent (clients send its canonical form; the apiserver would
//! canonicalize any other).

mod decode;
mod schema;
// Generated; kept one field per line so the table stays compact and diffs stay small.
#[rustfmt::skip]
mod types;
mod wire;

use serde_json::Value;

/// The four bytes every Kubernetes protobuf body starts with.
pub const MAGIC: &[u8; 4] = b"k8s\0";

/// The media type of Kubernetes protobuf bodies.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// Why a protobuf body could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The body does not start with [`MAGIC`].
    #[error("the body does not start with the Kubernetes protobuf magic \"k8s\\0\"")]
    Magic,
    /// A value runs past the end of the message that holds it.
    #[error("the {what} at byte {offset} runs past the end of its message")]
    Truncated {
        /// The absolute offset in the body of the value (or of the tag of the field holding it).
        offset: usize,
        /// What was being read.
        what: &'static str,
    },
    /// A varint longer than ten bytes.
    #[error("the varint at byte {offset} is longer than ten bytes")]
    VarintOverflow {
        /// Where it starts.
        offset: usize,
    },
    /// A field tag with number 0 or above protobuf's largest field number.
    #[error("illegal field tag {tag} at byte {offset}")]
    IllegalTag {
        /// Where the tag starts.
        offset: usize,
        /// The tag's value.
        tag: u64,
    },
    /// An end-group tag where no group was open.
    #[error("an end-group tag at byte {offset} closes no group")]
    UnexpectedEndGroup {
        /// Where the tag starts.
        offset: usize,
    },
    /// Wire type 6 or 7.
    #[error("illegal wire type {wire_type} at byte {offset}")]
    IllegalWireType {
        /// Where the field's tag starts.
        offset: usize,
        /// The wire type.
        wire_type: u8,
    },
    /// A known field with a wire type its type cannot have.
    #[error("field {field} at byte {offset} has wire type {wire_type}, not {expected}")]
    WrongWireType {
        /// Where the field's tag starts.
        offset: usize,
        /// `Message.jsonName` of the field.
        field: String,
        /// The wire type found.
        wire_type: u8,
        /// The wire type its type has.
        expected: u8,
    },
    /// Messages nested deeper than the limit.
    #[error("the message at byte {offset} is nested deeper than {limit} messages")]
    TooDeep {
        /// Where the too-deep message starts.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// The object would have more JSON values than the limit.
    #[error("the object has more than {limit} JSON values (at byte {offset})")]
    TooLarge {
        /// Where the value past the limit was read.
        offset: usize,
        /// The limit.
        limit: usize,
    },
    /// The envelope's `typeMeta` lacks the apiVersion or kind.
    #[error("the envelope names no {missing}")]
    MissingTypeMeta {
        /// `apiVersion` or `kind`.
        missing: &'static str,
    },
    /// The envelope names a kind kubesim has no protobuf schema for.
    #[error("no protobuf schema for kind {kind} of {api_version}")]
    UnknownKind {
        /// The envelope's apiVersion.
        api_version: String,
        /// The envelope's kind.
        kind: String,
    },
    /// The envelope's object is encoded (`contentEncoding`) or typed (`contentType`) in a way kubesim
    /// does not read.
    #[error("the envelope's {field} is {value:?}")]
    Envelope {
        /// `contentEncoding` or `contentType`.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// A value that the field's Go type cannot hold or render as JSON.
    #[error("field {field} at byte {offset}: {problem}")]
    Value {
        /// Where the value starts.
        offset: usize,
        /// `Message.jsonName` of the field.
        field: String,
        /// What is wrong (an `IntOrString` type other than 0 and 1, a time outside years 0-9999, an
        /// empty quantity, text in a `RawExtension` that is not JSON).
        problem: String,
    },
}

/// Bounds on what one body may make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// How deep messages may nest (the served kinds need about 12).
    pub max_depth: usize,
    /// How many JSON values (objects, arrays, strings, numbers, ...) the object may have.
    pub max_values: usize,
}

impl Default for Limits {
    /// 64 levels; one million values (far above any object that fits a 3 MiB request, whose values
    /// each take at least a byte or two on the wire, but a bound on defaults expanding from nothing).
    fn default() -> Self {
        Limits {
            max_depth: 64,
            max_values: 1_000_000,
        }
    }
}

impl Limits {
    /// Sets [`Limits::max_depth`].
    #[must_use]
    pub fn max_depth(mut self, n: usize) -> Self {
        self.max_depth = n;
        self
    }

    /// Sets [`Limits::max_values`].
    #[must_use]
    pub fn max_values(mut self, n: usize) -> Self {
        self.max_values = n;
        self
    }
}

/// Reads a Kubernetes protobuf body into the object's JSON, within [`Limits::default`].
pub fn decode(body: &[u8]) -> Result<Value, Error> {
    decode_with(body, Limits::default())
}

/// Reads a Kubernetes protobuf body into the object's JSON, within `limits`.
pub fn decode_with(body: &[u8], limits: Limits) -> Result<Value, Error> {
    let rest = body.strip_prefix(MAGIC).ok_or(Error::Magic)?;
    decode::object(rest, MAGIC.len(), limits)
}

/// The `(apiVersion, kind)` pairs [`decode`] reads; apiVersion `""` stands for any group-version (for
/// `DeleteOptions`, which every group registers).
pub fn kinds() -> impl Iterator<Item = (&'static str, &'static str)> {
    schema::kinds()
}
