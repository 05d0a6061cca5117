//! Encoding an [`Exposition`] with `prometheus-client`, in the format the
//! scraper asked for.
//!
//! The exposition is handed to the client library as a custom
//! [`Collector`]: a fresh registry per encoding holds only it, and the
//! library's own encoders write the Prometheus text format (0.0.4) or
//! OpenMetrics 1.0 (`# UNIT` lines, `# EOF`, `info` type). Both are exact
//! about names: a counter family is described without its `_total`, an info
//! family without `_info`, and a unit is passed separately, so those
//! suffixes are split off the exposed names here.

use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, NoLabelSet};
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use super::families::{Exposition, Family, Kind, Sample, Value};

/// An exposition format.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Format {
    /// The Prometheus text format, version 0.0.4 (the default).
    Prometheus,
    /// OpenMetrics 1.0.0 text.
    OpenMetrics,
}

impl Format {
    pub(super) fn content_type(self) -> &'static str {
        match self {
            Format::Prometheus => prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
            Format::OpenMetrics => "application/openmetrics-text; version=1.0.0; charset=utf-8",
        }
    }

    /// The format an `Accept` header prefers: OpenMetrics when it is offered
    /// with a weight at least that of text/plain, the text format otherwise
    /// (also for no header, or only types we do not speak).
    pub(super) fn negotiate(accept: Option<&str>) -> Format {
        let mut openmetrics = 0.0_f64;
        let mut text = 0.0_f64;
        for range in accept.unwrap_or("").split(',') {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let mut q = 1.0;
            let mut version = None;
            for param in parts {
                let (key, value) = param.split_once('=').unwrap_or((param, ""));
                match key.trim().to_ascii_lowercase().as_str() {
                    "q" => {
                        q = value
                            .trim()
                            .parse::<f64>()
                            .ok()
                            .filter(|q| (0.0..=1.0).contains(q))
                            .unwrap_or(0.0)
                    }
                    "version" => version = Some(value.trim().trim_matches('"').to_string()),
                    _ => {}
                }
            }
            match media.as_str() {
                "application/openmetrics-text"
                    if matches!(version.as_deref(), None | Some("1.0.0" | "0.0.1")) =>
                {
                    openmetrics = openmetrics.max(q)
                }
                "text/plain" => text = text.max(q),
                _ => {}
            }
        }
        match openmetrics > 0.0 && openmetrics >= text {
            true => Format::OpenMetrics,
            false => Format::Prometheus,
        }
    }
}

/// Encodes `exposition` in `format`.
pub(super) fn encode(exposition: &Arc<Exposition>, format: Format) -> Result<String, std::fmt::Error> {
    let mut registry = Registry::default();
    registry.register_collector(Box::new(Arc::clone(exposition)));
    let mut out = String::with_capacity(16 * 1024);
    match format {
        Format::Prometheus => prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?,
        Format::OpenMetrics => prometheus_client::encoding::text::encode(&mut out, &registry)?,
    }
    Ok(out)
}

impl Collector for Exposition {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        for family in &self.families {
            let (name, unit) = descriptor(family);
            let metric_type = match family.kind {
                Kind::Gauge => MetricType::Gauge,
                Kind::Counter => MetricType::Counter,
                Kind::Info => MetricType::Info,
            };
            let mut metric = encoder.encode_descriptor(name, family.help, unit.as_ref(), metric_type)?;
            for sample in &family.samples {
                match (family.kind, sample.labels.is_empty()) {
                    (Kind::Info, _) => metric.encode_info(&sample.labels)?,
                    (_, true) => encode_value(&mut metric, family.kind, sample)?,
                    (_, false) => {
                        encode_value(&mut metric.encode_family(&sample.labels)?, family.kind, sample)?
                    }
                }
            }
        }
        Ok(())
    }
}

fn encode_value(
    metric: &mut prometheus_client::encoding::MetricEncoder,
    kind: Kind,
    sample: &Sample,
) -> Result<(), std::fmt::Error> {
    match (kind, sample.value) {
        (Kind::Counter, Value::Int(v)) => metric.encode_counter::<NoLabelSet, _, u64>(&v, None),
        (Kind::Counter, Value::Float(v)) => metric.encode_counter::<NoLabelSet, _, f64>(&v, None),
        (_, Value::Int(v)) => metric.encode_gauge(&v),
        (_, Value::Float(v)) => metric.encode_gauge(&v),
    }
}

/// The family name without the suffixes the encoders add, and its unit.
fn descriptor(family: &Family) -> (&'static str, Option<Unit>) {
    let name = match family.kind {
        Kind::Counter => family.name.strip_suffix("_total"),
        Kind::Info => family.name.strip_suffix("_info"),
        Kind::Gauge => Some(family.name),
    }
    .unwrap_or(family.name);
    match name.strip_suffix("_seconds") {
        Some(base) => (base, Some(Unit::Seconds)),
        None => (name, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prometheus_asks_for_openmetrics_first() {
        let prometheus_2 = "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(Format::negotiate(Some(prometheus_2)), Format::OpenMetrics);
    }

    #[test]
    fn text_is_the_default_and_the_fallback() {
        assert_eq!(Format::negotiate(None), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("application/json")), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("text/plain;version=0.0.4")), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("garbage;;;=,,")), Format::Prometheus);
    }

    #[test]
    fn weights_and_versions_decide() {
        let text_first = "application/openmetrics-text;q=0.3, text/plain;q=0.9";
        assert_eq!(Format::negotiate(Some(text_first)), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("application/openmetrics-text; q=0")), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("application/openmetrics-text;version=2.0.0")), Format::Prometheus);
        assert_eq!(Format::negotiate(Some("Application/OpenMetrics-Text")), Format::OpenMetrics);
    }

    fn sample_exposition() -> Arc<Exposition> {
        let mut drops = Family::new("x_drops_total", Kind::Counter, "Drops.");
        drops.int(vec![("port", "80".into())], 7);
        let mut duration = Family::new("x_duration_seconds", Kind::Gauge, "Duration.");
        duration.push(Vec::new(), Value::Float(0.25));
        let mut info = Family::new("x_build_info", Kind::Info, "Build.");
        info.int(vec![("version", "1.0".into())], 1);
        Arc::new(Exposition { families: vec![drops, duration, info] })
    }

    #[test]
    fn text_format_names_every_sample_as_exposed() {
        let text = encode(&sample_exposition(), Format::Prometheus).unwrap();
        assert!(text.contains("# TYPE x_drops_total counter\nx_drops_total{port=\"80\"} 7\n"), "{text}");
        assert!(text.contains("# TYPE x_duration_seconds gauge\nx_duration_seconds 0.25\n"), "{text}");
        assert!(text.contains("# TYPE x_build_info gauge\nx_build_info{version=\"1.0\"} 1\n"), "{text}");
        assert!(!text.contains("# EOF"));
    }

    #[test]
    fn openmetrics_describes_families_and_ends_with_eof() {
        let text = encode(&sample_exposition(), Format::OpenMetrics).unwrap();
        assert!(text.contains("# TYPE x_drops counter\nx_drops_total{port=\"80\"} 7\n"), "{text}");
        assert!(text.contains("# UNIT x_duration_seconds seconds\n"), "{text}");
        assert!(text.contains("# TYPE x_build info\nx_build_info{version=\"1.0\"} 1\n"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn label_values_are_escaped() {
        let mut f = Family::new("x", Kind::Gauge, "X.");
        f.int(vec![("process", "a\"b\\c\nd".into())], 1);
        let text = encode(&Arc::new(Exposition { families: vec![f] }), Format::Prometheus).unwrap();
        assert!(text.contains(r#"x{process="a\"b\\c\nd"} 1"#), "{text}");
    }
}
