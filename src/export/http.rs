//! The little HTTP/1.1 the exporter speaks: parsing a request head from
//! bytes (with `httparse`) and writing a response, both pure.
//!
//! Every response closes its connection, so a connection costs the server
//! one request and never an idle keep-alive slot. Request heads are bounded
//! ([`MAX_HEAD`] bytes, [`MAX_HEADERS`] headers); anything else is 400.

/// Largest request head accepted; beyond it, 431.
pub(super) const MAX_HEAD: usize = 8 * 1024;
/// Most header lines accepted; beyond it, 431.
pub(super) const MAX_HEADERS: usize = 64;

/// What the exporter needs from a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct RequestHead {
    pub method: String,
    /// The path without its query string.
    pub path: String,
    /// Every `Accept` header, joined with commas.
    pub accept: Option<String>,
}

impl RequestHead {
    pub(super) fn is_head(&self) -> bool {
        self.method == "HEAD"
    }
}

/// Why a request head was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum HeadError {
    /// Not HTTP/1.x, or not a request we can parse: 400.
    Malformed,
    /// Longer than [`MAX_HEAD`] or more than [`MAX_HEADERS`] headers: 431.
    TooLarge,
}

/// Parses the bytes received so far: `Ok(None)` while the head is incomplete.
pub(super) fn parse_head(buf: &[u8]) -> Result<Option<RequestHead>, HeadError> {
    let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut headers);
    match request.parse(buf) {
        Ok(httparse::Status::Complete(_)) => head_of(&request).map(Some),
        Ok(httparse::Status::Partial) if buf.len() >= MAX_HEAD => Err(HeadError::TooLarge),
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooLarge),
        Err(_) => Err(HeadError::Malformed),
    }
}

fn head_of(request: &httparse::Request) -> Result<RequestHead, HeadError> {
    let method = request.method.ok_or(HeadError::Malformed)?.to_string();
    let path = path_of(request.path.ok_or(HeadError::Malformed)?)?;
    let accept: Vec<String> = request
        .headers
        .iter()
        .filter(|h| h.name.eq_ignore_ascii_case("accept"))
        .map(|h| String::from_utf8_lossy(h.value).into_owned())
        .collect();
    Ok(RequestHead { method, path, accept: (!accept.is_empty()).then(|| accept.join(",")) })
}

/// The path of an origin-form (`/metrics?x`) or absolute-form
/// (`http://host/metrics`) request target.
fn path_of(target: &str) -> Result<String, HeadError> {
    let target = target.split(['?', '#']).next().unwrap_or("");
    if target.starts_with('/') {
        return Ok(target.to_string());
    }
    let rest = ["http://", "https://"]
        .iter()
        .find_map(|scheme| {
            target.get(..scheme.len()).filter(|p| p.eq_ignore_ascii_case(scheme)).map(|p| &target[p.len()..])
        })
        .ok_or(HeadError::Malformed)?;
    Ok(rest.find('/').map_or("/".to_string(), |at| rest[at..].to_string()))
}

/// A complete response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
    /// Extra header lines, each without CRLF.
    pub headers: Vec<&'static str>,
}

impl Response {
    pub(super) fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response { status, content_type, body: body.into(), headers: Vec::new() }
    }

    /// A plain-text response: the message and a newline.
    pub(super) fn text(status: u16, message: &str) -> Response {
        Response::new(status, "text/plain; charset=utf-8", format!("{message}\n"))
    }

    pub(super) fn with_header(mut self, line: &'static str) -> Response {
        self.headers.push(line);
        self
    }

    /// The bytes on the wire; a HEAD response carries the headers only.
    pub(super) fn to_bytes(&self, head_only: bool) -> Vec<u8> {
        let mut out = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\nCache-Control: no-store\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len()
        )
        .into_bytes();
        for line in &self.headers {
            out.extend_from_slice(line.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        out
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Option<RequestHead>, HeadError> {
        parse_head(text.as_bytes())
    }

    #[test]
    fn parses_a_prometheus_scrape() {
        let head = parse(
            "GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: application/openmetrics-text;version=1.0.0\r\n\
             Accept: text/plain;q=0.5\r\nX-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n",
        )
        .unwrap()
        .unwrap();
        assert_eq!(head.method, "GET");
        assert_eq!(head.path, "/metrics");
        assert_eq!(
            head.accept.as_deref(),
            Some("application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
        );
    }

    #[test]
    fn an_incomplete_head_asks_for_more() {
        assert_eq!(parse("GET /metrics HTTP/1.1\r\nHost: x\r\n"), Ok(None));
        assert_eq!(parse(""), Ok(None));
    }

    #[test]
    fn query_strings_and_absolute_targets_reduce_to_the_path() {
        assert_eq!(parse("GET /metrics?x=1 HTTP/1.0\r\n\r\n").unwrap().unwrap().path, "/metrics");
        assert_eq!(parse("GET http://h:1/metrics HTTP/1.1\r\n\r\n").unwrap().unwrap().path, "/metrics");
        assert_eq!(parse("GET HTTP://h HTTP/1.1\r\n\r\n").unwrap().unwrap().path, "/");
    }

    #[test]
    fn garbage_is_malformed() {
        let bad: [&[u8]; 7] = [
            b"GARBAGE\r\n\r\n",
            b"GET /metrics\r\n\r\n",
            b"GET /metrics HTTP/2.0\r\n\r\n",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
            b"GET metrics HTTP/1.1\r\n\r\n",
            b"GET /metrics HTTP/1.1\r\nNo colon here\r\n\r\n",
            b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",
        ];
        for bytes in bad {
            assert_eq!(parse_head(bytes), Err(HeadError::Malformed), "{:?}", String::from_utf8_lossy(bytes));
        }
    }

    #[test]
    fn oversized_heads_are_refused() {
        let long = format!("GET /metrics HTTP/1.1\r\nX: {}\r\n", "a".repeat(MAX_HEAD));
        assert_eq!(parse(&long), Err(HeadError::TooLarge));
        let many: String = (0..=MAX_HEADERS).map(|i| format!("X-{i}: y\r\n")).collect();
        assert_eq!(parse(&format!("GET / HTTP/1.1\r\n{many}\r\n")), Err(HeadError::TooLarge));
    }

    #[test]
    fn head_responses_keep_the_length_and_drop_the_body() {
        let r = Response::text(404, "not found");
        let full = String::from_utf8(r.to_bytes(false)).unwrap();
        assert!(full.starts_with("HTTP/1.1 404 Not Found\r\n"), "{full}");
        assert!(full.contains("Content-Length: 10\r\n") && full.ends_with("\r\n\r\nnot found\n"), "{full}");
        let head = String::from_utf8(r.to_bytes(true)).unwrap();
        assert!(head.contains("Content-Length: 10\r\n") && head.ends_with("\r\n\r\n"), "{head}");
    }
}
