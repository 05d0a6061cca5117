//! JSON encoding helpers shared by the dump document and watch events.

use serde::Serializer;

use crate::model::Endpoint;

/// Serializes an endpoint as the text `ss -n` would print, or `null` when unnamed.
pub fn endpoint<S: Serializer>(e: &Endpoint, s: S) -> Result<S::Ok, S::Error> {
    match e {
        Endpoint::Unnamed => s.serialize_none(),
        other => s.collect_str(&super::escape::endpoint_text(other)),
    }
}
