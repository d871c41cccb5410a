//! The `metav1.Status` JSON sent on the error channel when the runtime gave none.

/// What the runtime's v4 server writes on success, and what an empty error stream means.
pub const SUCCESS: &str = r#"{"metadata":{},"status":"Success"}"#;

/// A Failure status for a session that could not be set up; kubectl prints `message`.
pub fn internal_error(message: &str) -> String {
    serde_json::json!({
        "metadata": {},
        "status": "Failure",
        "message": format!("Internal error occurred: {message}"),
        "reason": "InternalError",
        "code": 500,
    })
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failure_status_escapes_its_message() {
        let status: serde_json::Value =
            serde_json::from_str(&internal_error("no \"stream\"\n")).unwrap();
        assert_eq!(status["status"], "Failure");
        assert_eq!(
            status["message"],
            "Internal error occurred: no \"stream\"\n"
        );
        assert_eq!(status["code"], 500);
    }
}
