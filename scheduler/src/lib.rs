//! The scheduler: assigns pending pods to nodes. The pure core (framework, plugins, preemption)
//! does no IO; the runtime around it watches, queues and binds.

pub mod cache;
pub mod framework;
pub mod plugins;
pub mod queue;
pub mod resources;
pub mod run;
#[cfg(test)]
pub(crate) mod testing;
