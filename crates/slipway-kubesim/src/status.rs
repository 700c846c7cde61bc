//! Errors as the apiserver reports them: `Status` objects with its reasons, codes and message texts, so
//! kubectl prints what it prints against a real cluster.

use serde_json::{Value, json};

use crate::resource::ResourceType;

/// A failed API call, rendered as a `metav1.Status`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `NotFound`, `AlreadyExists`, `Conflict`, `Invalid`, ...
    pub reason: &'static str,
    /// The human-readable message.
    pub message: String,
    /// `details`, when the apiserver sends them.
    pub details: Option<Value>,
}

/// One `details.causes` entry of an `Invalid` error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueRequired`, `FieldValueInvalid`, `FieldValueNotSupported`, ...
    pub reason: &'static str,
    /// `Required value`, `Invalid value: ...`.
    pub message: String,
    /// `spec.template.spec.containers[0].image`.
    pub field: String,
}

impl Cause {
    /// `field: Required value`.
    pub fn required(field: impl Into<String>) -> Self {
        Cause {
            reason: "FieldValueRequired",
            message: "Required value".to_owned(),
            field: field.into(),
        }
    }

    /// `field: Invalid value: VALUE: detail`.
    pub fn invalid(field: impl Into<String>, value: &Value, detail: &str) -> Self {
        let shown = match value {
            Value::String(s) => format!("{s:?}"),
            other => other.to_string(),
        };
        Cause {
            reason: "FieldValueInvalid",
            message: format!("Invalid value: {shown}: {detail}"),
            field: field.into(),
        }
    }

    /// `field: Forbidden: detail`.
    pub fn forbidden(field: impl Into<String>, detail: &str) -> Self {
        Cause {
            reason: "FieldValueForbidden",
            message: format!("Forbidden: {detail}"),
            field: field.into(),
        }
    }

    /// `field: Unsupported value: VALUE: supported values: ...`.
    pub fn not_supported(field: impl Into<String>, value: &str, supported: &[&str]) -> Self {
        let list = supported
            .iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ");
        Cause {
            reason: "FieldValueNotSupported",
            message: format!("Unsupported value: {value:?}: supported values: {list}"),
            field: field.into(),
        }
    }
}

fn details(t: &ResourceType, name: &str) -> Value {
    let mut d = json!({"name": name, "kind": t.plural});
    if !t.group.is_empty() {
        d["group"] = json!(t.group);
    }
    d
}

impl ApiError {
    /// 404 `deployments.apps "web" not found`.
    pub fn not_found(t: &ResourceType, name: &str) -> Self {
        ApiError {
            code: 404,
            reason: "NotFound",
            message: format!("{} \"{name}\" not found", t.qualified()),
            details: Some(details(t, name)),
        }
    }

    /// 404 for a kind or path the server does not serve.
    pub fn no_route() -> Self {
        ApiError {
            code: 404,
            reason: "NotFound",
            message: "the server could not find the requested resource".to_owned(),
            details: Some(json!({})),
        }
    }

    /// 409 `deployments.apps "web" already exists`.
    pub fn already_exists(t: &ResourceType, name: &str) -> Self {
        ApiError {
            code: 409,
            reason: "AlreadyExists",
            message: format!("{} \"{name}\" already exists", t.qualified()),
            details: Some(details(t, name)),
        }
    }

    /// 409 optimistic-concurrency conflict.
    pub fn conflict(t: &ResourceType, name: &str) -> Self {
        ApiError {
            code: 409,
            reason: "Conflict",
            message: format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                t.qualified()
            ),
            details: Some(details(t, name)),
        }
    }

    /// 409 with a message of its own (e.g. server-side apply conflicts, UID preconditions).
    pub fn conflict_with(
        t: &ResourceType,
        name: &str,
        message: String,
        causes: Option<Value>,
    ) -> Self {
        let mut d = details(t, name);
        if let Some(causes) = causes {
            d["causes"] = causes;
        }
        ApiError {
            code: 409,
            reason: "Conflict",
            message,
            details: Some(d),
        }
    }

    /// 422 `Deployment.apps "web" is invalid: [field: reason, ...]`.
    pub fn invalid(t: &ResourceType, name: &str, causes: &[Cause]) -> Self {
        let kind = if t.group.is_empty() {
            t.kind.clone()
        } else {
            format!("{}.{}", t.kind, t.group)
        };
        let listed: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        let joined = if listed.len() == 1 {
            listed[0].clone()
        } else {
            format!("[{}]", listed.join(", "))
        };
        let mut d = json!({"name": name, "kind": t.kind});
        if !t.group.is_empty() {
            d["group"] = json!(t.group);
        }
        d["causes"] = causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        ApiError {
            code: 422,
            reason: "Invalid",
            message: format!("{kind} \"{name}\" is invalid: {joined}"),
            details: Some(d),
        }
    }

    /// 400 `BadRequest`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError {
            code: 400,
            reason: "BadRequest",
            message: message.into(),
            details: None,
        }
    }

    /// 405 `MethodNotAllowed`.
    pub fn method_not_allowed(message: impl Into<String>) -> Self {
        ApiError {
            code: 405,
            reason: "MethodNotAllowed",
            message: message.into(),
            details: None,
        }
    }

    /// 415 `UnsupportedMediaType`.
    pub fn unsupported_media_type(message: impl Into<String>) -> Self {
        ApiError {
            code: 415,
            reason: "UnsupportedMediaType",
            message: message.into(),
            details: None,
        }
    }

    /// 406 `NotAcceptable`.
    pub fn not_acceptable(message: impl Into<String>) -> Self {
        ApiError {
            code: 406,
            reason: "NotAcceptable",
            message: message.into(),
            details: None,
        }
    }

    /// 410 `Expired` for a watch or continue token older than the history kept.
    pub fn gone(message: impl Into<String>) -> Self {
        ApiError {
            code: 410,
            reason: "Expired",
            message: message.into(),
            details: None,
        }
    }

    /// 413 `RequestEntityTooLarge`.
    pub fn too_large(limit: usize) -> Self {
        ApiError {
            code: 413,
            reason: "RequestEntityTooLarge",
            message: format!("the request body is larger than {limit} bytes"),
            details: None,
        }
    }

    /// 500 `InternalError`.
    pub fn internal(message: impl Into<String>) -> Self {
        ApiError {
            code: 500,
            reason: "InternalError",
            message: format!("Internal error occurred: {}", message.into()),
            details: None,
        }
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut status = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(details) = &self.details {
            status["details"] = details.clone();
        }
        status
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} ({})", self.message, self.reason)
    }
}

impl std::error::Error for ApiError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resource::Registry;

    #[test]
    fn messages_match_the_apiserver() {
        let r = Registry::default();
        let d = r.get("apps", "v1", "deployments").expect("deployments");
        let e = ApiError::not_found(&d, "web").to_status();
        assert_eq!(
            e,
            json!({"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",
                "message":"deployments.apps \"web\" not found","reason":"NotFound",
                "details":{"name":"web","group":"apps","kind":"deployments"},"code":404})
        );
        let p = r.get("", "v1", "pods").expect("pods");
        assert_eq!(
            ApiError::already_exists(&p, "x").message,
            "pods \"x\" already exists"
        );
        let inv = ApiError::invalid(&d, "web", &[Cause::required("spec.selector")]);
        assert_eq!(
            inv.message,
            "Deployment.apps \"web\" is invalid: spec.selector: Required value"
        );
    }
}
