//! Go's `%v` rendering of decoded JSON, which the apiserver's patch errors embed.

use serde_json::Value;

/// `%v` of a value decoded by the apiserver (integers kept as int64, maps printed with sorted keys).
pub(crate) fn v(value: &Value) -> String {
    let mut out = String::new();
    write_v(value, &mut out);
    out
}

fn write_v(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("<nil>"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match (n.as_i64(), n.as_u64(), n.as_f64()) {
            (Some(i), _, _) => out.push_str(&i.to_string()),
            (None, Some(u), _) => out.push_str(&u.to_string()),
            (None, None, Some(f)) => out.push_str(&float(f)),
            _ => out.push_str(&n.to_string()),
        },
        Value::String(s) => out.push_str(s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                write_v(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push_str("map[");
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(' ');
                }
                out.push_str(key);
                out.push(':');
                write_v(item, out);
            }
            out.push(']');
        }
    }
}

/// `%s` of a value: strings as they are, anything else as Go's `%!s(TYPE=VALUE)`.
pub(crate) fn s(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => "%!s(<nil>)".to_owned(),
        other => format!("%!s({}={})", type_name(other), v(other)),
    }
}

/// The Go type a decoded JSON value has (`map[string]interface {}`, `int64`, ...).
pub(crate) fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "<nil>",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "[]interface {}",
        Value::Object(_) => "map[string]interface {}",
    }
}

/// The reflect kind of a decoded JSON value (`map`, `slice`, `string`, ...).
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "invalid",
        Value::Bool(_) => "bool",
        Value::Number(n) if n.is_f64() => "float64",
        Value::Number(_) => "int64",
        Value::String(_) => "string",
        Value::Array(_) => "slice",
        Value::Object(_) => "map",
    }
}

/// `strconv.FormatFloat(f, 'g', -1, 64)`, as `%v` prints a float64: the exponent form when the
/// decimal exponent is below -4 or at least 6.
fn float(f: f64) -> String {
    if f.is_nan() {
        return "NaN".to_owned();
    }
    if f.is_infinite() {
        return if f > 0.0 { "+Inf" } else { "-Inf" }.to_owned();
    }
    // Rust's `{:e}` gives the shortest round-trip digits: "1.2345e6".
    let sci = format!("{f:e}");
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let negative = mantissa.starts_with('-');
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    if !(-4..6).contains(&exp) {
        let mut m = digits[..1].to_owned();
        if digits.len() > 1 {
            m.push('.');
            m.push_str(&digits[1..]);
        }
        let sign = if exp < 0 { '-' } else { '+' };
        return format!(
            "{}{m}e{sign}{:02}",
            if negative { "-" } else { "" },
            exp.abs()
        );
    }
    let mut text = if negative {
        "-".to_owned()
    } else {
        String::new()
    };
    let point = exp + 1;
    if point <= 0 {
        text.push_str("0.");
        for _ in 0..(-point) {
            text.push('0');
        }
        text.push_str(&digits);
    } else {
        let point = usize::try_from(point).unwrap_or(0);
        if digits.len() <= point {
            text.push_str(&digits);
            for _ in digits.len()..point {
                text.push('0');
            }
        } else {
            text.push_str(&digits[..point]);
            text.push('.');
            text.push_str(&digits[point..]);
        }
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn renders_as_go_does() {
        assert_eq!(
            v(&json!({"b": [1, "x", null], "a": {"c": true}})),
            "map[a:map[c:true] b:[1 x <nil>]]"
        );
        for (f, text) in [
            (80.0, "80"),
            (0.5, "0.5"),
            (1e6, "1e+06"),
            (123_456.0, "123456"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
        ] {
            assert_eq!(float(f), text);
        }
        assert_eq!(s(&json!(1)), "%!s(int64=1)");
    }
}
