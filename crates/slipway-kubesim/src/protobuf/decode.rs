//! Messages to JSON, by the schema table, as Go's generated unmarshalers followed by `encoding/json`
//! would render them.

use std::fmt::Write as _;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::schema::{self, Field, Message, Shape, Special, Ty};
use super::wire::{self, Raw, Reader};
use super::{Error, Limits};

/// The body after the magic: a `runtime.Unknown` envelope (field numbers checked by the generator).
pub(super) fn object(envelope: &[u8], base: usize, limits: Limits) -> Result<Value, Error> {
    let mut api_version = String::new();
    let mut kind = String::new();
    let mut raw: (&[u8], usize) = (&[], base + envelope.len());
    let mut content_encoding = String::new();
    let mut content_type = String::new();
    let mut reader = Reader::new(envelope, base);
    while !reader.at_end() {
        let (number, wire_type, offset) = reader.tag()?;
        let value = reader.value(wire_type, offset)?;
        let expect_len = |name: &str| match value {
            Raw::Bytes(bytes, at) => Ok((bytes, at)),
            _ => Err(wrong_wire(
                offset,
                format!("Unknown.{name}"),
                wire_type,
                wire::LEN,
            )),
        };
        match number {
            1 => {
                // Generated unmarshalers merge repeated occurrences of a message field.
                let (type_meta, at) = expect_len("typeMeta")?;
                let mut inner = Reader::new(type_meta, at);
                while !inner.at_end() {
                    let (field, wire, tag_at) = inner.tag()?;
                    let raw_field = inner.value(wire, tag_at)?;
                    let (target, name) = match field {
                        1 => (&mut api_version, "apiVersion"),
                        2 => (&mut kind, "kind"),
                        _ => continue,
                    };
                    let Raw::Bytes(text, _) = raw_field else {
                        let field = format!("TypeMeta.{name}");
                        return Err(wrong_wire(tag_at, field, wire, wire::LEN));
                    };
                    *target = go_string(text);
                }
            }
            2 => raw = expect_len("raw")?,
            3 => content_encoding = go_string(expect_len("contentEncoding")?.0),
            4 => content_type = go_string(expect_len("contentType")?.0),
            _ => {}
        }
    }
    if !content_encoding.is_empty() {
        return Err(Error::Envelope {
            field: "contentEncoding",
            value: content_encoding,
        });
    }
    if !content_type.is_empty() && content_type != super::MEDIA_TYPE {
        return Err(Error::Envelope {
            field: "contentType",
            value: content_type,
        });
    }
    if api_version.is_empty() {
        return Err(Error::MissingTypeMeta {
            missing: "apiVersion",
        });
    }
    if kind.is_empty() {
        return Err(Error::MissingTypeMeta { missing: "kind" });
    }
    let Some(message) = schema::kind(&api_version, &kind) else {
        return Err(Error::UnknownKind { api_version, kind });
    };
    let mut decoder = Decoder {
        limits,
        values_left: limits.max_values,
    };
    // The object itself, its apiVersion and its kind.
    for _ in 0..3 {
        decoder.count(raw.1)?;
    }
    let mut out = decoder.message_object(message, &[raw], 1)?;
    out.insert("apiVersion".to_owned(), Value::String(api_version));
    out.insert("kind".to_owned(), Value::String(kind));
    Ok(Value::Object(out))
}

fn wrong_wire(offset: usize, field: String, wire_type: u8, expected: u8) -> Error {
    Error::WrongWireType {
        offset,
        field,
        wire_type,
        expected,
    }
}

fn field_name(message: &Message, field: &Field) -> String {
    if field.json.is_empty() {
        format!("{}.{}", message.short_name(), field.number)
    } else {
        format!("{}.{}", message.short_name(), field.json)
    }
}

/// Go strings hold any bytes; `encoding/json` writes each byte that does not start a valid UTF-8
/// sequence as U+FFFD.
fn go_string(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    let mut rest = bytes;
    loop {
        match std::str::from_utf8(rest) {
            Ok(s) => {
                out.push_str(s);
                return out;
            }
            Err(e) => {
                let (valid, after) = rest.split_at(e.valid_up_to());
                out.push_str(std::str::from_utf8(valid).unwrap_or_default());
                out.push('\u{fffd}');
                rest = after.get(1..).unwrap_or_default();
            }
        }
    }
}

/// The occurrences of one field in a message (several for repeated fields, maps, and scalars sent
/// twice, where the last wins).
type Occurrences<'a> = Vec<(Raw<'a>, usize)>;

struct Decoder {
    limits: Limits,
    values_left: usize,
}

impl Decoder {
    /// Counts one JSON value against the limit.
    fn count(&mut self, offset: usize) -> Result<(), Error> {
        match self.values_left.checked_sub(1) {
            Some(n) => {
                self.values_left = n;
                Ok(())
            }
            None => Err(Error::TooLarge {
                offset,
                limit: self.limits.max_values,
            }),
        }
    }

    /// The occurrences of each field of `message` in `chunks` (the message's bytes, possibly sent as
    /// several occurrences of its field, which Go's generated unmarshalers merge as if concatenated).
    fn collect<'a>(
        message: &'static Message,
        chunks: &[(&'a [u8], usize)],
    ) -> Result<Vec<Occurrences<'a>>, Error> {
        let mut slots: Vec<Occurrences<'a>> = vec![Vec::new(); message.fields.len()];
        for &(bytes, base) in chunks {
            let mut r = Reader::new(bytes, base);
            while !r.at_end() {
                let (number, wire_type, offset) = r.tag()?;
                let value = r.value(wire_type, offset)?;
                let Ok(index) = message.fields.binary_search_by_key(&number, |f| f.number) else {
                    continue; // unknown fields are skipped, as Go does
                };
                let field = &message.fields[index];
                let expected = expected_wire(field);
                let packed = wire_type == wire::LEN
                    && field.shape == Shape::Repeated
                    && expected != wire::LEN;
                if wire_type != expected && !packed {
                    return Err(wrong_wire(
                        offset,
                        field_name(message, field),
                        wire_type,
                        expected,
                    ));
                }
                if let (true, Raw::Bytes(b, at)) = (packed, value) {
                    let mut p = Reader::new(b, at);
                    while !p.at_end() {
                        let o = p.offset();
                        let v = p.value(expected, o)?;
                        slots[index].push((v, o));
                    }
                } else {
                    slots[index].push((value, offset));
                }
            }
        }
        Ok(slots)
    }

    /// A message's fields as a JSON object (the message is not special).
    fn message_object(
        &mut self,
        message: &'static Message,
        chunks: &[(&[u8], usize)],
        depth: usize,
    ) -> Result<Map<String, Value>, Error> {
        let at = chunks.first().map_or(0, |c| c.1);
        if depth > self.limits.max_depth {
            return Err(Error::TooDeep {
                offset: at,
                limit: self.limits.max_depth,
            });
        }
        let slots = Self::collect(message, chunks)?;
        let mut out = Map::new();
        for (field, occ) in message.fields.iter().zip(&slots) {
            if field.inline() {
                let Ty::Message(m) = field.ty else {
                    continue; // the generator allows only embedded structs inline
                };
                let inner =
                    self.message_object(schema::message(m), &bytes_of(occ, at), depth + 1)?;
                out.extend(inner);
                continue;
            }
            if let Some(v) = self.field_value(message, field, occ, at, depth)? {
                self.count(occ.last().map_or(at, |o| o.1))?;
                out.insert(field.json.to_owned(), v);
            }
        }
        Ok(out)
    }

    /// A field's JSON, or `None` when `encoding/json` would leave it out.
    fn field_value(
        &mut self,
        message: &'static Message,
        field: &'static Field,
        occ: &Occurrences<'_>,
        at: usize,
        depth: usize,
    ) -> Result<Option<Value>, Error> {
        let absent = || {
            if field.omitempty() {
                None
            } else {
                Some(Value::Null)
            }
        };
        match field.shape {
            Shape::Repeated => {
                if occ.is_empty() {
                    return Ok(absent());
                }
                let mut items = Vec::with_capacity(occ.len());
                for &(raw, offset) in occ {
                    self.count(offset)?;
                    let item = match field.ty {
                        Ty::Message(m) => {
                            let Raw::Bytes(b, start) = raw else {
                                return Ok(None); // collect() checked the wire type
                            };
                            self.message_value(
                                schema::message(m),
                                &[(b, start)],
                                depth + 1,
                                message,
                                field,
                            )?
                        }
                        ty => scalar(ty, raw, offset, message, field)?,
                    };
                    items.push(item);
                }
                Ok(Some(Value::Array(items)))
            }
            Shape::Map(key_ty) => {
                if occ.is_empty() {
                    return Ok(absent());
                }
                let mut map = Map::new();
                for &(raw, offset) in occ {
                    let Raw::Bytes(b, start) = raw else {
                        return Ok(None);
                    };
                    let (k, v) = self.map_entry(key_ty, b, start, depth, message, field)?;
                    self.count(offset)?;
                    map.insert(k, v);
                }
                Ok(Some(Value::Object(map)))
            }
            Shape::Pointer | Shape::Value => {
                let pointer = field.shape == Shape::Pointer;
                match field.ty {
                    Ty::Message(m) => {
                        if occ.is_empty() && pointer {
                            return Ok(absent());
                        }
                        let chunks = bytes_of(occ, at);
                        let v = self.message_value(
                            schema::message(m),
                            &chunks,
                            depth + 1,
                            message,
                            field,
                        )?;
                        Ok(Some(v))
                    }
                    Ty::Bytes if !pointer => match occ.last() {
                        // A []byte: nil when absent, omitted when empty under omitempty.
                        None => Ok(absent()),
                        Some(&(raw, offset)) => {
                            let v = scalar(Ty::Bytes, raw, offset, message, field)?;
                            if field.omitempty() && v.as_str().is_some_and(str::is_empty) {
                                return Ok(None);
                            }
                            Ok(Some(v))
                        }
                    },
                    ty => match occ.last() {
                        None if pointer => Ok(absent()),
                        None => {
                            if field.omitempty() {
                                return Ok(None);
                            }
                            Ok(Some(zero(ty)))
                        }
                        Some(&(raw, offset)) => {
                            let v = scalar(ty, raw, offset, message, field)?;
                            if !pointer && field.omitempty() && is_zero(&v) {
                                return Ok(None);
                            }
                            Ok(Some(v))
                        }
                    },
                }
            }
        }
    }

    /// One `map<K, V>` entry: key field 1, value field 2, absent ones zero (the Go unmarshalers start a
    /// message value fresh at each occurrence of field 2).
    fn map_entry(
        &mut self,
        key_ty: Ty,
        bytes: &[u8],
        base: usize,
        depth: usize,
        message: &'static Message,
        field: &'static Field,
    ) -> Result<(String, Value), Error> {
        let mut key: Option<(Raw<'_>, usize)> = None;
        let mut value: Option<(Raw<'_>, usize)> = None;
        let mut r = Reader::new(bytes, base);
        while !r.at_end() {
            let (number, wire_type, offset) = r.tag()?;
            let v = r.value(wire_type, offset)?;
            let (slot, ty) = match number {
                1 => (&mut key, key_ty),
                2 => (&mut value, field.ty),
                _ => continue,
            };
            let expected = wire_of(ty);
            if wire_type != expected {
                return Err(wrong_wire(
                    offset,
                    field_name(message, field),
                    wire_type,
                    expected,
                ));
            }
            *slot = Some((v, offset));
        }
        let key = match key {
            None => String::new(),
            Some((raw, offset)) => match scalar(key_ty, raw, offset, message, field)? {
                Value::String(s) => s,
                other => other.to_string(),
            },
        };
        let value = match (field.ty, value) {
            (Ty::Message(m), v) => {
                let chunks: Vec<(&[u8], usize)> = match v {
                    Some((Raw::Bytes(b, at), _)) => vec![(b, at)],
                    _ => Vec::new(),
                };
                self.message_value(schema::message(m), &chunks, depth + 1, message, field)?
            }
            // Go's map unmarshalers start a bytes value as []byte{}, which JSON shows as "".
            (ty, None) => zero(ty),
            (ty, Some((raw, offset))) => scalar(ty, raw, offset, message, field)?,
        };
        Ok((key, value))
    }

    /// A message as JSON: an object of its fields, or a special type's own rendering.
    fn message_value(
        &mut self,
        m: &'static Message,
        chunks: &[(&[u8], usize)],
        depth: usize,
        parent: &'static Message,
        field: &'static Field,
    ) -> Result<Value, Error> {
        let at = chunks.first().map_or(0, |c| c.1);
        if depth > self.limits.max_depth {
            return Err(Error::TooDeep {
                offset: at,
                limit: self.limits.max_depth,
            });
        }
        let problem = |offset: usize, problem: String| Error::Value {
            offset,
            field: field_name(parent, field),
            problem,
        };
        match m.special {
            Special::Time | Special::MicroTime => {
                // metav1.Time's unmarshaler reads each occurrence afresh: the last one wins, and an
                // empty one is the zero time.
                let last: &[(&[u8], usize)] =
                    chunks.last().map(std::slice::from_ref).unwrap_or_default();
                if last.iter().all(|(b, _)| b.is_empty()) {
                    return Ok(Value::Null);
                }
                let f = special_fields(m, last, 2)?;
                let seconds = f[0].map_or(0, |(raw, _)| varint_of(raw).cast_signed());
                let nanos = f[1].map_or(0, |(raw, _)| truncate_i32(varint_of(raw)));
                let micro = m.special == Special::MicroTime;
                format_time(seconds, nanos, micro).map_err(|p| problem(at, p))
            }
            Special::Duration => {
                let f = special_fields(m, chunks, 1)?;
                Ok(Value::String(go_duration(
                    f[0].map_or(0, |(raw, _)| varint_of(raw).cast_signed()),
                )))
            }
            Special::Quantity => {
                let f = special_fields(m, chunks, 1)?;
                match f[0] {
                    None => Ok(Value::String("0".to_owned())),
                    Some((Raw::Bytes(b, _), offset)) => {
                        if b.is_empty() {
                            return Err(problem(offset, "an empty quantity".to_owned()));
                        }
                        Ok(Value::String(go_string(b)))
                    }
                    Some((_, offset)) => {
                        Err(problem(offset, "a quantity that is not text".to_owned()))
                    }
                }
            }
            Special::IntOrString => {
                let f = special_fields(m, chunks, 3)?;
                let ty = f[0].map_or(0, |(raw, _)| varint_of(raw));
                match ty {
                    0 => Ok(Value::from(
                        f[1].map_or(0, |(raw, _)| truncate_i32(varint_of(raw))),
                    )),
                    1 => Ok(Value::String(match f[2] {
                        Some((Raw::Bytes(b, _), _)) => go_string(b),
                        _ => String::new(),
                    })),
                    other => Err(problem(
                        at,
                        format!("IntOrString type {other} is neither 0 (int) nor 1 (string)"),
                    )),
                }
            }
            Special::RawJson => {
                let f = special_fields(m, chunks, 1)?;
                match f[0] {
                    None => Ok(Value::Null),
                    Some((Raw::Bytes(b, _), offset)) => {
                        // Its values count against the limit as well.
                        let v: Value = serde_json::from_slice(b)
                            .map_err(|e| problem(offset, format!("not JSON: {e}")))?;
                        self.count_json(&v, offset)?;
                        Ok(v)
                    }
                    Some((_, offset)) => {
                        Err(problem(offset, "raw JSON that is not bytes".to_owned()))
                    }
                }
            }
            Special::None => self.message_object(m, chunks, depth).map(Value::Object),
        }
    }

    fn count_json(&mut self, v: &Value, offset: usize) -> Result<(), Error> {
        self.count(offset)?;
        match v {
            Value::Array(a) => a.iter().try_for_each(|x| self.count_json(x, offset)),
            Value::Object(o) => o.values().try_for_each(|x| self.count_json(x, offset)),
            _ => Ok(()),
        }
    }
}

/// The fields `1..=count` of a special message (`Timestamp`, `Duration`, `Quantity`, `IntOrString`,
/// `RawExtension`): the last occurrence of each, wire types checked (varint, except bytes for the text
/// fields).
fn special_fields<'a>(
    message: &'static Message,
    chunks: &[(&'a [u8], usize)],
    count: usize,
) -> Result<Vec<Option<(Raw<'a>, usize)>>, Error> {
    let mut out = vec![None; count];
    let text_field = match message.special {
        Special::Quantity | Special::RawJson => Some(1),
        Special::IntOrString => Some(3),
        _ => None,
    };
    for &(bytes, base) in chunks {
        let mut reader = Reader::new(bytes, base);
        while !reader.at_end() {
            let (number, wire_type, offset) = reader.tag()?;
            let raw = reader.value(wire_type, offset)?;
            let Some(slot) = (number as usize)
                .checked_sub(1)
                .and_then(|i| out.get_mut(i))
            else {
                continue;
            };
            let expected = if text_field == Some(number) {
                wire::LEN
            } else {
                wire::VARINT
            };
            if wire_type != expected {
                let field = format!("{}.{number}", message.short_name());
                return Err(wrong_wire(offset, field, wire_type, expected));
            }
            *slot = Some((raw, offset));
        }
    }
    Ok(out)
}

fn bytes_of<'a>(occ: &Occurrences<'a>, at: usize) -> Vec<(&'a [u8], usize)> {
    let chunks: Vec<_> = occ
        .iter()
        .filter_map(|&(raw, _)| match raw {
            Raw::Bytes(b, start) => Some((b, start)),
            _ => None,
        })
        .collect();
    if chunks.is_empty() {
        vec![(&[][..], at)]
    } else {
        chunks
    }
}

fn varint_of(raw: Raw<'_>) -> u64 {
    match raw {
        Raw::Varint(v) | Raw::Fixed64(v) => v,
        Raw::Fixed32(v) => u64::from(v),
        Raw::Bytes(..) => 0,
    }
}

/// Go's generated decoders keep the low 32 bits of an int32's varint.
fn truncate_i32(v: u64) -> i32 {
    #[allow(clippy::cast_possible_truncation)]
    let low = v as u32;
    low.cast_signed()
}

fn wire_of(ty: Ty) -> u8 {
    match ty {
        Ty::Bool | Ty::Int32 | Ty::Int64 => wire::VARINT,
        Ty::String | Ty::Bytes | Ty::Message(_) => wire::LEN,
    }
}

fn expected_wire(field: &Field) -> u8 {
    match field.shape {
        Shape::Map(_) => wire::LEN,
        _ => wire_of(field.ty),
    }
}

fn zero(ty: Ty) -> Value {
    match ty {
        Ty::Bool => Value::Bool(false),
        Ty::Int32 | Ty::Int64 => Value::from(0),
        Ty::String | Ty::Bytes => Value::String(String::new()),
        Ty::Message(_) => Value::Null,
    }
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
        Value::Null => true,
        _ => false,
    }
}

fn scalar(
    ty: Ty,
    raw: Raw<'_>,
    offset: usize,
    message: &'static Message,
    field: &'static Field,
) -> Result<Value, Error> {
    Ok(match (ty, raw) {
        (Ty::Bool, Raw::Varint(v)) => Value::Bool(v != 0),
        (Ty::Int32, Raw::Varint(v)) => Value::from(truncate_i32(v)),
        (Ty::Int64, Raw::Varint(v)) => Value::from(v.cast_signed()),
        (Ty::String, Raw::Bytes(b, _)) => Value::String(go_string(b)),
        (Ty::Bytes, Raw::Bytes(b, _)) => {
            Value::String(base64::engine::general_purpose::STANDARD.encode(b))
        }
        (_, raw) => {
            return Err(wrong_wire(
                offset,
                field_name(message, field),
                match raw {
                    Raw::Varint(_) => wire::VARINT,
                    Raw::Fixed64(_) => wire::FIXED64,
                    Raw::Fixed32(_) => wire::FIXED32,
                    Raw::Bytes(..) => wire::LEN,
                },
                wire_of(ty),
            ));
        }
    })
}

/// Seconds from 0001-01-01T00:00:00Z to the Unix epoch: Go's zero `time.Time`.
const ZERO_TIME_UNIX: i64 = -62_135_596_800;

/// `metav1.Time` (whole seconds; the unmarshaler drops nanos) or `metav1.MicroTime` (microseconds) as
/// JSON; the zero time is `null`.
fn format_time(seconds: i64, nanos: i32, micro: bool) -> Result<Value, String> {
    let (seconds, nanos) = if micro {
        // time.Unix(seconds, nanos truncated to microseconds) normalizes nanos into [0, 1e9).
        let truncated = i64::from(nanos) - i64::from(nanos) % 1000;
        (
            seconds.checked_add(truncated.div_euclid(1_000_000_000)),
            truncated.rem_euclid(1_000_000_000),
        )
    } else {
        (Some(seconds), 0)
    };
    let Some(seconds) = seconds else {
        return Err("a time outside years 0-9999".to_owned());
    };
    if seconds == ZERO_TIME_UNIX && nanos == 0 {
        return Ok(Value::Null);
    }
    // RFC 3339 (and jiff) cover years 0 to 9999; Go would print others in forms no client parses.
    let ts = k8s_openapi::jiff::Timestamp::from_second(seconds)
        .ok()
        .filter(|t| (0..=9999).contains(&t.to_zoned(k8s_openapi::jiff::tz::TimeZone::UTC).year()))
        .ok_or_else(|| {
            format!("the time {seconds}s from the Unix epoch is outside years 0-9999")
        })?;
    let whole = crate::clock::format(ts);
    if micro {
        let base = whole.trim_end_matches('Z');
        return Ok(Value::String(format!("{base}.{:06}Z", nanos / 1000)));
    }
    Ok(Value::String(whole))
}

/// Go's `time.Duration.String()`: `1h2m3.5s`, `1.5ms`, `0s`.
fn go_duration(nanos: i64) -> String {
    if nanos == 0 {
        return "0s".to_owned();
    }
    let neg = nanos < 0;
    let u = nanos.unsigned_abs();
    let mut out = String::new();
    if u < 1_000_000_000 {
        // Below a second: the largest unit that keeps the integer part non-zero.
        let (unit, div) = if u < 1_000 {
            ("ns", 1)
        } else if u < 1_000_000 {
            ("µs", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        out.push_str(&fraction(u, div));
        out.push_str(unit);
    } else {
        let hours = u / 3_600_000_000_000;
        let minutes = (u / 60_000_000_000) % 60;
        let secs = u % 60_000_000_000;
        if hours > 0 {
            let _ = write!(out, "{hours}h");
        }
        if hours > 0 || minutes > 0 {
            let _ = write!(out, "{minutes}m");
        }
        out.push_str(&fraction(secs, 1_000_000_000));
        out.push('s');
    }
    if neg {
        out.insert(0, '-');
    }
    out
}

/// `v / div` with the fraction's trailing zeros (and a bare dot) dropped.
fn fraction(v: u64, div: u64) -> String {
    let whole = v / div;
    let rest = v % div;
    if rest == 0 {
        return whole.to_string();
    }
    let width = div.ilog10() as usize;
    let frac = format!("{rest:0width$}");
    format!("{whole}.{}", frac.trim_end_matches('0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_go_prints_them() {
        for (nanos, text) in [
            (0, "0s"),
            (1, "1ns"),
            (1_500, "1.5µs"),
            (1_500_000, "1.5ms"),
            (1_000_000_000, "1s"),
            (90_000_000_000, "1m30s"),
            (3_600_000_000_000, "1h0m0s"),
            (3_723_500_000_000, "1h2m3.5s"),
            (-2_000_000_000, "-2s"),
            (i64::MIN, "-2562047h47m16.854775808s"),
        ] {
            assert_eq!(go_duration(nanos), text, "{nanos}");
        }
    }

    #[test]
    fn times_read_as_the_apiserver_prints_them() {
        assert_eq!(format_time(ZERO_TIME_UNIX, 0, false), Ok(Value::Null));
        assert_eq!(
            format_time(1_796_408_505, 999, false),
            Ok(Value::from("2026-12-04T18:21:45Z"))
        );
        assert_eq!(
            format_time(1_796_408_505, 123_456_789, true),
            Ok(Value::from("2026-12-04T18:21:45.123456Z"))
        );
        assert_eq!(
            format_time(1_796_408_505, -1, true),
            Ok(Value::from("2026-12-04T18:21:45.000000Z"))
        );
        assert!(format_time(i64::MAX, 0, false).is_err());
        assert_eq!(
            format_time(ZERO_TIME_UNIX - 1, 0, false),
            Ok(Value::from("0000-12-31T23:59:59Z"))
        );
        assert!(format_time(-62_167_219_201, 0, false).is_err());
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters_per_byte() {
        assert_eq!(go_string(b"a\xe2\x82b"), "a\u{fffd}\u{fffd}b");
        assert_eq!(go_string("é".as_bytes()), "é");
    }
}
