//! A finding's evidence as `key=value` text, for the dump, watch lines and
//! the dashboard.
//!
//! The keys and values are exactly those of the JSON `evidence` object, in
//! the same order, so the text and the JSON never drift apart: the evidence
//! is serialized once and read back as ordered pairs (a `serde_json::Map`
//! would sort the keys).

use std::fmt;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::Value;

use super::escape;
use crate::analyze::Evidence;

/// The evidence's fields in schema order, `null` where a value is unknown.
pub(crate) fn pairs(evidence: &Evidence) -> Vec<(String, Value)> {
    let read_back = serde_json::to_string(evidence).and_then(|json| serde_json::from_str::<Pairs>(&json));
    read_back.map_or_else(|_| Vec::new(), |p| p.0)
}

/// The evidence as `key=value` pairs, unknown values left out, strings escaped.
pub(crate) fn text(evidence: &Evidence) -> String {
    pairs(evidence)
        .iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| format!("{k}={}", value_text(v)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn value_text(v: &Value) -> String {
    match v {
        Value::String(s) => escape::text(s).into_owned(),
        Value::Array(items) => items.iter().map(value_text).collect::<Vec<_>>().join(","),
        Value::Object(o) => object_text(o),
        other => other.to_string(),
    }
}

/// The objects evidence holds, compactly: a peer `10.0.0.2(12)`, a stalled
/// owner `api(77):stopped`, a listener `0.0.0.0:8080(5/4)`.
fn object_text(o: &serde_json::Map<String, Value>) -> String {
    let field = |k: &str| o.get(k).map(value_text);
    if let (Some(r), Some(c)) = (field("remote"), field("count")) {
        return format!("{r}({c})");
    }
    if let (Some(comm), Some(pid), Some(stall)) = (field("comm"), field("pid"), field("stall")) {
        return format!("{comm}({pid}):{stall}");
    }
    if let (Some(local), Some(q), Some(b)) = (field("local"), field("accept_queue"), field("backlog")) {
        return format!("{local}({q}/{b})");
    }
    escape::text(&Value::Object(o.clone()).to_string()).into_owned()
}

/// A JSON object's entries in document order.
struct Pairs(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for Pairs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Pairs, D::Error> {
        d.deserialize_map(PairsVisitor)
    }
}

struct PairsVisitor;

impl<'de> Visitor<'de> for PairsVisitor {
    type Value = Pairs;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an evidence object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Pairs, A::Error> {
        let mut out = Vec::new();
        while let Some(entry) = map.next_entry::<String, Value>()? {
            out.push(entry);
        }
        Ok(Pairs(out))
    }
}
