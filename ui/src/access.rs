//! Who may ask: the token, the Host check, the Origin check, and the
//! headers every answer carries.
//!
//! - The server always has a token (given with `--token`, else 24 random
//!   bytes in hex). It is *required* on every `/api/` request when the
//!   server listens beyond loopback, or when the user chose one; on
//!   loopback without `--token`, reads need none.
//! - A token is presented as `Authorization: token T` (or `Bearer T`), as
//!   `?token=T` (the printed URL; the answer then sets an HttpOnly,
//!   SameSite=Strict cookie and the page drops it from the address bar),
//!   or as that cookie.
//! - Without a valid token, the `Host` header must name loopback
//!   (`localhost`, `127.0.0.1`, `[::1]`): a page elsewhere cannot reach
//!   the server by pointing its own name at 127.0.0.1 (DNS rebinding).
//! - Anything but GET/HEAD (stopping a run) needs the token or an `Origin`
//!   equal to the server's own: another site's page cannot stop runs, even
//!   on loopback. There are no CORS headers at all, so browsers never let
//!   another origin read an answer.
//! - Every answer: `X-Content-Type-Options: nosniff`, `X-Frame-Options:
//!   DENY`, `Referrer-Policy: no-referrer` (the token may be in the URL) and
//!   a Content-Security-Policy that allows only this origin's script.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The server's access rules and token.
#[derive(Debug)]
pub struct Access {
    token: String,
    required: bool,
    cookie: String,
}

/// What a request is allowed, or why not.
#[derive(Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Served; `set_cookie` when the token came in the URL.
    Allowed {
        set_cookie: bool,
    },
    Refused {
        status: StatusCode,
        message: String,
    },
}

impl Access {
    /// The rules for a server listening at `address`.
    pub fn new(address: SocketAddr, token: Option<String>) -> Access {
        let required = !address.ip().is_loopback() || token.is_some();
        let token = token.unwrap_or_else(generate_token);
        Access { token, required, cookie: format!("expman-ui-token-{}", address.port()) }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    /// Whether `/api/` requests need the token.
    pub fn token_required(&self) -> bool {
        self.required
    }

    /// The `Set-Cookie` value that carries the token.
    pub fn cookie(&self) -> String {
        format!("{}={}; Path=/; HttpOnly; SameSite=Strict", self.cookie, self.token)
    }

    /// Whether `candidate` is the token (compared in constant time).
    pub fn is_token(&self, candidate: &str) -> bool {
        let (a, b) = (candidate.as_bytes(), self.token.as_bytes());
        a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
    }

    /// The token the request presents, and whether it came in the URL.
    fn presented(&self, query: Option<&str>, headers: &HeaderMap) -> Option<(String, bool)> {
        if let Some(value) = headers.get(header::AUTHORIZATION).and_then(|v| v.to_str().ok()) {
            let value = value.trim();
            for scheme in ["token ", "Token ", "Bearer ", "bearer "] {
                if let Some(token) = value.strip_prefix(scheme) {
                    return Some((token.trim().to_string(), false));
                }
            }
        }
        if let Some(token) = query.into_iter().flat_map(|q| q.split('&')).find_map(|pair| pair.strip_prefix("token=")) {
            return Some((token.to_string(), true));
        }
        let cookies = headers.get_all(header::COOKIE).into_iter().filter_map(|v| v.to_str().ok());
        cookies.flat_map(|v| v.split(';')).find_map(|pair| {
            let (name, value) = pair.trim().split_once('=')?;
            (name == self.cookie).then(|| (value.to_string(), false))
        })
    }

    /// The verdict on a request.
    pub fn judge(&self, method: &Method, path: &str, query: Option<&str>, headers: &HeaderMap) -> Verdict {
        let presented = self.presented(query, headers);
        let valid = presented.as_ref().is_some_and(|(token, _)| self.is_token(token));
        let from_url = valid && presented.as_ref().is_some_and(|(_, url)| *url);
        if presented.is_some() && !valid {
            return refused(StatusCode::UNAUTHORIZED, "wrong token: use the one `expman ui` printed");
        }
        let api = path.starts_with("/api/") && path != "/api/login";
        if !valid {
            if self.required && api {
                return refused(
                    StatusCode::UNAUTHORIZED,
                    "this server needs its token: open the URL `expman ui` printed (it ends in ?token=...), or send `Authorization: token ...`",
                );
            }
            if !self.required
                && let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok())
                && !is_loopback_name(host)
            {
                return refused(
                    StatusCode::FORBIDDEN,
                    &format!(
                        "Host `{host}` refused: without the token this server answers to 127.0.0.1, [::1] and localhost only"
                    ),
                );
            }
        }
        if !matches!(*method, Method::GET | Method::HEAD) {
            let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
            let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
            let same_origin = match (origin, host) {
                (Some(origin), Some(host)) => origin == format!("http://{host}"),
                _ => false,
            };
            if !same_origin && !valid {
                let message = match origin {
                    Some(origin) => format!(
                        "cross-origin request from {origin} refused: only this server's own page, or a client with the token, may change anything"
                    ),
                    None => "a request that changes anything needs the token (`Authorization: token ...`) or this server's own page".into(),
                };
                return refused(StatusCode::FORBIDDEN, &message);
            }
        }
        Verdict::Allowed { set_cookie: from_url }
    }
}

fn refused(status: StatusCode, message: &str) -> Verdict {
    Verdict::Refused { status, message: message.to_string() }
}

/// Whether a Host header (`name[:port]`) names loopback.
fn is_loopback_name(host: &str) -> bool {
    let name = if let Some(rest) = host.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host.rsplit_once(':')
            .map_or(host, |(name, port)| if port.chars().all(|c| c.is_ascii_digit()) { name } else { host })
    };
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    name == "localhost"
        || name.ends_with(".localhost")
        || name.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// 24 random bytes, hex.
fn generate_token() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 24];
    if ring::rand::SystemRandom::new().fill(&mut bytes).is_err() {
        // The system's generator failing is not something to serve through.
        panic!("the system's random number generator failed: cannot make a token");
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The middleware: judges each request and adds the security headers.
pub async fn guard(State(access): State<Arc<Access>>, request: Request, next: Next) -> Response {
    let verdict = access.judge(request.method(), request.uri().path(), request.uri().query(), request.headers());
    let mut response = match verdict {
        Verdict::Refused { status, message } => {
            tracing::info!(%status, path = request.uri().path(), "refused: {message}");
            (status, axum::Json(serde_json::json!({ "error": message }))).into_response()
        }
        Verdict::Allowed { set_cookie } => {
            let page = request.method() == Method::GET && request.uri().path() == "/";
            let mut response = if set_cookie && page {
                // Drop the token from the address bar (and from history).
                (StatusCode::SEE_OTHER, [(header::LOCATION, "/")]).into_response()
            } else {
                next.run(request).await
            };
            if set_cookie && let Ok(cookie) = HeaderValue::from_str(&access.cookie()) {
                response.headers_mut().append(header::SET_COOKIE, cookie);
            }
            response
        }
    };
    let headers = response.headers_mut();
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    headers.entry(header::CONTENT_SECURITY_POLICY).or_insert(HeaderValue::from_static(
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
    ));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn loopback() -> Access {
        Access::new("127.0.0.1:8787".parse().unwrap(), None)
    }

    fn public() -> Access {
        Access::new("0.0.0.0:8787".parse().unwrap(), Some("s3cret".into()))
    }

    fn allowed(v: &Verdict) -> bool {
        matches!(v, Verdict::Allowed { .. })
    }

    #[test]
    fn loopback_reads_need_no_token_but_a_loopback_host() {
        let a = loopback();
        assert!(!a.token_required());
        assert_eq!(a.token().len(), 48);
        let get = Method::GET;
        assert!(allowed(&a.judge(&get, "/api/runs", None, &headers(&[("host", "127.0.0.1:8787")]))));
        assert!(allowed(&a.judge(&get, "/api/runs", None, &headers(&[("host", "localhost:8787")]))));
        assert!(allowed(&a.judge(&get, "/api/runs", None, &headers(&[("host", "[::1]:8787")]))));
        let rebound = a.judge(&get, "/api/runs", None, &headers(&[("host", "evil.example:8787")]));
        assert!(matches!(rebound, Verdict::Refused { status: StatusCode::FORBIDDEN, .. }), "{rebound:?}");
        // With the token, any Host.
        let auth = format!("token {}", a.token());
        assert!(allowed(&a.judge(
            &get,
            "/api/runs",
            None,
            &headers(&[("host", "evil.example"), ("authorization", &auth)])
        )));
    }

    #[test]
    fn changes_need_the_same_origin_or_the_token() {
        let a = loopback();
        let post = Method::POST;
        let same = headers(&[("host", "127.0.0.1:8787"), ("origin", "http://127.0.0.1:8787")]);
        assert!(allowed(&a.judge(&post, "/api/runs/x/stop", None, &same)));
        let other = headers(&[("host", "127.0.0.1:8787"), ("origin", "http://evil.example")]);
        let refused = a.judge(&post, "/api/runs/x/stop", None, &other);
        assert!(
            matches!(&refused, Verdict::Refused { status: StatusCode::FORBIDDEN, message } if message.contains("evil.example"))
        );
        let bare = headers(&[("host", "127.0.0.1:8787")]);
        assert!(!allowed(&a.judge(&post, "/api/runs/x/stop", None, &bare)));
        let auth = format!("token {}", a.token());
        let with_token = headers(&[("host", "127.0.0.1:8787"), ("authorization", &auth)]);
        assert!(allowed(&a.judge(&post, "/api/runs/x/stop", None, &with_token)));
    }

    #[test]
    fn beyond_loopback_every_api_request_needs_the_token() {
        let a = public();
        assert!(a.token_required());
        let get = Method::GET;
        let host = headers(&[("host", "10.0.0.5:8787")]);
        assert!(matches!(
            a.judge(&get, "/api/runs", None, &host),
            Verdict::Refused { status: StatusCode::UNAUTHORIZED, .. }
        ));
        // The page's shell loads (it asks for the token), its data does not.
        assert!(allowed(&a.judge(&get, "/", None, &host)));
        assert_eq!(a.judge(&get, "/", Some("token=s3cret"), &host), Verdict::Allowed { set_cookie: true });
        let wrong = a.judge(&get, "/api/runs", Some("token=guess"), &host);
        assert!(matches!(wrong, Verdict::Refused { status: StatusCode::UNAUTHORIZED, .. }));
        let cookie = headers(&[("host", "10.0.0.5:8787"), ("cookie", "a=b; expman-ui-token-8787=s3cret")]);
        assert_eq!(a.judge(&get, "/api/runs", None, &cookie), Verdict::Allowed { set_cookie: false });
        let bearer = headers(&[("host", "10.0.0.5:8787"), ("authorization", "Bearer s3cret")]);
        assert!(allowed(&a.judge(&get, "/api/runs", None, &bearer)));
    }

    #[test]
    fn loopback_names() {
        for host in ["localhost", "localhost:1", "127.0.0.1", "127.1.2.3:80", "[::1]:8787", "app.localhost:3"] {
            assert!(is_loopback_name(host), "{host}");
        }
        for host in ["example.com", "10.0.0.1:80", "localhost.evil.com", "[::2]:1", "127.0.0.1.nip.io"] {
            assert!(!is_loopback_name(host), "{host}");
        }
    }
}
