//! events.k8s.io/v1: a second API over the core Events' storage.

pub mod event;
