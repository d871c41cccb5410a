//! The outcome of running a plugin: a code plus human-readable reasons.

use std::borrow::Cow;

/// Upstream's status codes (the subset the pure core produces).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Code {
    Success,
    /// The pod does not fit now; preemption may help.
    Unschedulable,
    /// The pod does not fit and preempting pods on this node cannot change that.
    UnschedulableAndUnresolvable,
    /// An internal error (a bug or bad input), not a scheduling verdict.
    Error,
    /// The plugin has nothing to do for this pod; its later hooks are skipped.
    Skip,
}

/// A plugin's verdict. Constant reasons are borrowed, so a failing node costs one small Vec.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    pub code: Code,
    pub reasons: Vec<Cow<'static, str>>,
    /// The plugin that produced the status, when it failed.
    pub plugin: &'static str,
}

impl Status {
    pub const fn success() -> Status {
        Status { code: Code::Success, reasons: Vec::new(), plugin: "" }
    }

    pub const fn skip() -> Status {
        Status { code: Code::Skip, reasons: Vec::new(), plugin: "" }
    }

    pub fn new(code: Code, reason: impl Into<Cow<'static, str>>) -> Status {
        Status { code, reasons: vec![reason.into()], plugin: "" }
    }

    pub fn unschedulable(reason: impl Into<Cow<'static, str>>) -> Status {
        Status::new(Code::Unschedulable, reason)
    }

    pub fn unresolvable(reason: impl Into<Cow<'static, str>>) -> Status {
        Status::new(Code::UnschedulableAndUnresolvable, reason)
    }

    pub fn error(reason: impl Into<Cow<'static, str>>) -> Status {
        Status::new(Code::Error, reason)
    }

    pub fn with_plugin(mut self, plugin: &'static str) -> Status {
        self.plugin = plugin;
        self
    }

    pub fn is_success(&self) -> bool {
        self.code == Code::Success
    }

    /// Success or Skip: the cycle may go on.
    pub fn is_ok(&self) -> bool {
        matches!(self.code, Code::Success | Code::Skip)
    }

    pub fn is_rejected(&self) -> bool {
        matches!(self.code, Code::Unschedulable | Code::UnschedulableAndUnresolvable)
    }

    /// The reasons joined with ", ", as upstream's `Status.Message()`.
    pub fn message(&self) -> String {
        self.reasons.join(", ")
    }
}
