//! The API's pure core: what resources exist, how objects are checked and changed, and how
//! failures become `metav1.Status`. Nothing here opens a socket or touches a disk.

pub mod decode;
pub mod defaults;
pub mod error;
pub mod meta;
pub mod patch;
pub mod qos;
pub mod quote;
pub mod kinds;
pub mod table;
pub mod selector;
pub mod sorted;
pub mod validation;

pub use error::{ApiError, Cause};
pub use kinds::ResourceDef;
