//! The exposition as plain data: metric families and their samples.
//!
//! One collection becomes one [`Exposition`]; every scrape that shares that
//! collection encodes the same value in the format it asked for (Prometheus
//! text or OpenMetrics), so building and encoding stay separate and the
//! builder is tested on data, not on text.

/// What kind of metric a family is, as both text formats know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Kind {
    Gauge,
    /// Exposed name ends in `_total`.
    Counter,
    /// Exposed name ends in `_info`; every sample has the value 1.
    Info,
}

/// A sample's value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Value {
    Int(u64),
    Float(f64),
}

/// Label names and values of one sample, in exposition order.
pub(super) type Labels = Vec<(&'static str, String)>;

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Sample {
    pub labels: Labels,
    pub value: Value,
}

/// One metric family: name as exposed (with `_total`, `_info`, `_seconds`).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct Family {
    pub name: &'static str,
    pub help: &'static str,
    pub kind: Kind,
    pub samples: Vec<Sample>,
}

impl Family {
    pub(super) fn new(name: &'static str, kind: Kind, help: &'static str) -> Family {
        Family { name, help, kind, samples: Vec::new() }
    }

    pub(super) fn push(&mut self, labels: Labels, value: Value) {
        self.samples.push(Sample { labels, value });
    }

    pub(super) fn int(&mut self, labels: Labels, value: u64) {
        self.push(labels, Value::Int(value));
    }
}

/// Every family of one collection, in exposition order.
#[derive(Clone, Debug, Default, PartialEq)]
pub(super) struct Exposition {
    pub families: Vec<Family>,
}

impl Exposition {
    /// Appends `family` if it has samples (an empty family says nothing).
    pub(super) fn add(&mut self, family: Family) {
        if !family.samples.is_empty() {
            self.families.push(family);
        }
    }

    #[cfg(test)]
    pub(super) fn family(&self, name: &str) -> Option<&Family> {
        self.families.iter().find(|f| f.name == name)
    }
}
