//! Label and field selectors as the list and watch query parameters and `metav1.LabelSelector` use them.
//!
//! Pure parsing and matching following upstream apimachinery (`pkg/labels`, `pkg/fields`),
//! including its error wording, which callers return as the body of a 400 BadRequest.

mod field;
mod label;

pub use field::{escape_value as escape_field_value, FieldOperator, FieldRequirement, FieldSelector};
pub use label::{LabelSelector, Operator, Requirement};
pub use label::set::{LabelSet, Labels};
