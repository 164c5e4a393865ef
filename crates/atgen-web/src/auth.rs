//! Access control: every browser gets a session (random cookie, HttpOnly, SameSite=Strict)
//! with its own CSRF token; every state-changing request must carry that token (form field
//! `csrf` or header `x-csrf-token`). When the server listens beyond the loopback interface,
//! a session must first sign in with the admin's access token.

use crate::db::sessions::Session;
use crate::{AppState, Result, WebError};
use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};

/// The session cookie's name.
pub const COOKIE: &str = "atgen_session";

fn cookie_token(req: &Request) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v.to_string())
}

/// Compares in time independent of where the strings differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn form_field(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|kv| {
        let (k, v) = kv.split_once('=')?;
        (k == name).then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                match s.get(i + 1..i + 3).map(|h| u8::from_str_radix(h, 16)) {
                    Some(Ok(b)) => {
                        out.push(b);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Finds or creates the session, enforces sign-in and CSRF, and sets the cookie.
pub async fn middleware(State(app): State<AppState>, req: Request, next: Next) -> Response {
    match guard(app, req, next).await {
        Ok(r) => r,
        Err(e) => e.into_response(),
    }
}

async fn guard(app: AppState, req: Request, next: Next) -> Result<Response> {
    let path = req.uri().path().to_string();
    if path.starts_with("/assets/") || path == "/healthz" {
        return Ok(next.run(req).await);
    }
    let needs_token = app.config.access_token.is_some();
    let (session, fresh) = match cookie_token(&req).map(|t| app.db.session(&t)) {
        Some(Ok(Some(s))) => (s, false),
        _ => (app.db.create_session(!needs_token)?, true),
    };
    let (mut parts, body) = req.into_parts();
    let is_post = parts.method == Method::POST;
    let mut body = body;
    if is_post {
        let header_token = parts
            .headers
            .get("x-csrf-token")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let is_multipart = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|c| c.starts_with("multipart/form-data"));
        match header_token {
            Some(t) if same(&t, &session.csrf) => {}
            Some(_) => return Err(WebError::Csrf),
            // Multipart handlers check the `csrf` field themselves (see `routes::new_run`).
            None if is_multipart => {}
            None => {
                let bytes = to_bytes(body, app.config.upload_limit)
                    .await
                    .map_err(|e| WebError::invalid("body", e.to_string()))?;
                let given = form_field(&bytes, "csrf").unwrap_or_default();
                if !same(&given, &session.csrf) {
                    return Err(WebError::Csrf);
                }
                body = Body::from(bytes);
            }
        }
    }
    if !session.signed_in && path != "/login" {
        return Ok(if parts.method == Method::GET {
            with_cookie(Redirect::to("/login").into_response(), &session, fresh)
        } else {
            WebError::Unauthorized.into_response()
        });
    }
    parts.extensions.insert(session.clone());
    let mut resp = next.run(Request::from_parts(parts, body)).await;
    harden(&mut resp);
    Ok(with_cookie(resp, &session, fresh))
}

/// Headers on every page: no framing (clickjacking), no MIME sniffing, and scripts, styles
/// and connections from this origin only.
fn harden(resp: &mut Response) {
    let h = resp.headers_mut();
    for (k, v) in [
        ("x-frame-options", "DENY"),
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "same-origin"),
        (
            "content-security-policy",
            "default-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        ),
    ] {
        h.insert(k, HeaderValue::from_static(v));
    }
}

fn with_cookie(mut resp: Response, s: &Session, fresh: bool) -> Response {
    if fresh {
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{COOKIE}={}; Path=/; HttpOnly; SameSite=Strict",
            s.token
        )) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    resp
}

/// Whether binding to `host` needs an access token (anything but loopback does).
pub fn needs_token(host: &str) -> bool {
    let h = host.trim_matches(|c| c == '[' || c == ']');
    !(h == "localhost"
        || h.parse::<std::net::IpAddr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_needs_no_token_anything_else_does() {
        for h in ["127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"] {
            assert!(!needs_token(h), "{h}");
        }
        for h in ["0.0.0.0", "192.168.1.4", "::", "example.org"] {
            assert!(needs_token(h), "{h}");
        }
    }

    #[test]
    fn form_fields_decode() {
        assert_eq!(
            form_field(b"a=1&csrf=ab%2Fc+d", "csrf").as_deref(),
            Some("ab/c d")
        );
        assert_eq!(form_field(b"a=1", "csrf"), None);
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("ab", "abc"));
    }
}
