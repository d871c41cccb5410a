//! Per-cycle scratch data written by PreFilter/PreScore and read by Filter/Score.

use std::any::Any;

/// Data a plugin keeps in the cycle state; cloned when preemption tries a node.
pub trait StateData: Any + Send + Sync {
    fn clone_box(&self) -> Box<dyn StateData>;
    fn as_any(&self) -> &dyn Any;
    fn as_any_mut(&mut self) -> &mut dyn Any;
}

impl<T: Any + Clone + Send + Sync> StateData for T {
    fn clone_box(&self) -> Box<dyn StateData> {
        Box::new(self.clone())
    }
    fn as_any(&self) -> &dyn Any {
        self
    }
    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }
}

/// A few entries keyed by plugin-chosen static names; a Vec beats a map at this size.
#[derive(Default)]
pub struct CycleState {
    data: Vec<(&'static str, Box<dyn StateData>)>,
    /// Plugins whose PreFilter returned Skip: their Filter is not run.
    pub(crate) skip_filter: Vec<&'static str>,
    /// Plugins whose PreScore returned Skip: their Score is not run.
    pub(crate) skip_score: Vec<&'static str>,
}

impl Clone for CycleState {
    fn clone(&self) -> CycleState {
        CycleState {
            data: self.data.iter().map(|(k, v)| (*k, (**v).clone_box())).collect(),
            skip_filter: self.skip_filter.clone(),
            skip_score: self.skip_score.clone(),
        }
    }
}

impl CycleState {
    pub fn new() -> CycleState {
        CycleState::default()
    }

    pub fn write<T: StateData>(&mut self, key: &'static str, value: T) {
        match self.data.iter_mut().find(|(k, _)| *k == key) {
            Some(slot) => slot.1 = Box::new(value),
            None => self.data.push((key, Box::new(value))),
        }
    }

    pub fn read<T: 'static>(&self, key: &'static str) -> Option<&T> {
        self.data.iter().find(|(k, _)| *k == key).and_then(|(_, v)| v.as_ref().as_any().downcast_ref())
    }

    pub fn read_mut<T: 'static>(&mut self, key: &'static str) -> Option<&mut T> {
        self.data.iter_mut().find(|(k, _)| *k == key).and_then(|(_, v)| v.as_mut().as_any_mut().downcast_mut())
    }
}
