//! The shapes of the generated schema table (types.rs) and lookups in it.

use super::types::{KINDS, MESSAGES};

/// A field's protobuf type (for maps: the value's type).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Ty {
    Bool,
    Int32,
    Int64,
    String,
    Bytes,
    /// An index into `MESSAGES`.
    Message(u16),
}

/// How the Go field holds the value, which decides what JSON shows when it is absent or zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Shape {
    /// A plain value: absent means the zero value.
    Value,
    /// A pointer: absent means nil.
    Pointer,
    /// A slice: absent means nil.
    Repeated,
    /// A map with keys of this type: absent means nil.
    Map(Ty),
}

/// Messages whose JSON is not an object of their fields (custom `MarshalJSON` in Go).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Special {
    None,
    /// `metav1.Time`: RFC 3339 in whole seconds, `null` when zero.
    Time,
    /// `metav1.MicroTime`: RFC 3339 with microseconds, `null` when zero.
    MicroTime,
    /// `metav1.Duration`: Go's `time.Duration` text (`1h2m3.5s`).
    Duration,
    /// `runtime.RawExtension`, `metav1.FieldsV1`: field 1 holds JSON text, `null` when absent.
    RawJson,
    /// `resource.Quantity`: field 1 holds the quantity's text.
    Quantity,
    /// `intstr.IntOrString`: an integer or a string, by field 1.
    IntOrString,
}

/// The field's JSON tag has `omitempty`.
pub(super) const OMITEMPTY: u8 = 1;
/// The field's JSON tag has `,inline`: its fields belong to the enclosing object.
pub(super) const INLINE: u8 = 2;

/// One field of a message.
#[derive(Debug)]
pub(super) struct Field {
    pub number: u32,
    pub json: &'static str,
    pub ty: Ty,
    pub shape: Shape,
    pub flags: u8,
}

impl Field {
    pub fn omitempty(&self) -> bool {
        self.flags & OMITEMPTY != 0
    }

    pub fn inline(&self) -> bool {
        self.flags & INLINE != 0
    }
}

/// Shortens the generated table's rows.
pub(super) const fn f(number: u32, json: &'static str, ty: Ty, shape: Shape, flags: u8) -> Field {
    Field {
        number,
        json,
        ty,
        shape,
        flags,
    }
}

/// One message: its fields sorted by number.
#[derive(Debug)]
pub(super) struct Message {
    pub name: &'static str,
    pub special: Special,
    pub fields: &'static [Field],
}

impl Message {
    /// The message name without its package (`Container`).
    pub fn short_name(&self) -> &'static str {
        self.name.rsplit('.').next().unwrap_or(self.name)
    }
}

/// The message at `index` in the table.
pub(super) fn message(index: u16) -> &'static Message {
    // The generator writes only indices into MESSAGES (tested in `every_index_resolves`).
    &MESSAGES[usize::from(index)]
}

/// The message of the object an envelope names.
pub(super) fn kind(api_version: &str, kind: &str) -> Option<&'static Message> {
    KINDS
        .iter()
        .find(|(v, k, _)| *k == kind && (v.is_empty() || *v == api_version))
        .map(|&(_, _, i)| message(i))
}

/// The kinds a body may carry, as `(apiVersion, kind)` (`""` = any group-version).
pub(super) fn kinds() -> impl Iterator<Item = (&'static str, &'static str)> {
    KINDS.iter().map(|&(v, k, _)| (v, k))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_index_resolves() {
        for m in MESSAGES {
            assert!(
                m.fields.windows(2).all(|w| w[0].number < w[1].number),
                "{}",
                m.name
            );
            for f in m.fields {
                if let Ty::Message(i) = f.ty {
                    assert!(usize::from(i) < MESSAGES.len(), "{}.{}", m.name, f.json);
                }
            }
        }
        for (_, _, i) in KINDS {
            assert!(usize::from(*i) < MESSAGES.len());
        }
    }
}
