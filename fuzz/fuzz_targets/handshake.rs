//! The WebSocket upgrade request, as `GET /ws` reads it before anything is
//! upgraded: the handshake's checks (server/src/ws/handshake.rs), then the
//! admission's (server/src/admission.rs: room name, `Origin` against
//! `Host`, the caps).
//!
//! The input reads like the request itself: a request line, then header
//! lines `Name: value` whose values are any bytes a header may hold (a
//! line that makes no header is skipped, as hyper would refuse it). The
//! seeds are real upgrade requests.
//!
//! Asserts, beyond not panicking: the answer is an upgrade (101, with the
//! accept value of RFC 6455 and the binary subprotocol exactly when it
//! was offered) or one of the refusals' statuses; and the extractor
//! agrees with `check` on which requests are upgrades.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use axum::extract::FromRequestParts;
use cursors_protocol::binary::BINARY_SUBPROTOCOL;
use cursors_server::fuzzing::{
    Admission, AdmissionRequest, ConnectionLimits, Handshake, OriginPolicy, check,
};
use futures_util::FutureExt;
use http::{HeaderName, HeaderValue, Method, Request, StatusCode, Version, header};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut lines = data.split(|byte| *byte == b'\n');
    let request_line = lines.next().unwrap_or_default();
    let mut words = request_line.trim_ascii().split(|byte| *byte == b' ');
    let Ok(method) = Method::from_bytes(words.next().unwrap_or_default()) else {
        return;
    };
    let target = words.next().unwrap_or_default();
    let version = match words.next().unwrap_or_default() {
        b"HTTP/1.1" => Version::HTTP_11,
        b"HTTP/1.0" => Version::HTTP_10,
        b"HTTP/2" | b"HTTP/2.0" => Version::HTTP_2,
        b"HTTP/3" => Version::HTTP_3,
        _ => Version::HTTP_09,
    };
    // The room as the query hands it on (undecoded: the room name's own
    // rules are what is fuzzed here, not serde_urlencoded).
    let room = target
        .split(|byte| *byte == b'?' || *byte == b'&')
        .find_map(|pair| pair.strip_prefix(b"room="))
        .map(String::from_utf8_lossy);

    let mut request = Request::new(());
    *request.method_mut() = method;
    *request.version_mut() = version;
    for line in lines {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        let Some(colon) = line.iter().position(|byte| *byte == b':') else {
            continue;
        };
        let (name, value) = (&line[..colon], line[colon + 1..].trim_ascii());
        if let (Ok(name), Ok(value)) =
            (HeaderName::from_bytes(name), HeaderValue::from_bytes(value))
        {
            request.headers_mut().append(name, value);
        }
    }
    // An upgrade that never comes, where hyper would put the real one.
    let on_upgrade = hyper::upgrade::on(&mut request);
    request.extensions_mut().insert(on_upgrade);
    let (mut parts, ()) = request.into_parts();

    let checked = check(&parts.method, parts.version, &parts.headers);
    let extracted = Handshake::from_request_parts(&mut parts, &())
        .now_or_never()
        .expect("the extractor does not wait");
    let handshake = match extracted {
        Ok(handshake) => handshake,
        Err(refusal) => {
            assert_eq!(Err(&refusal), checked.as_ref());
            let status = axum::response::IntoResponse::into_response(refusal).status();
            assert!(
                [StatusCode::METHOD_NOT_ALLOWED, StatusCode::BAD_REQUEST].contains(&status),
                "{status}"
            );
            return;
        }
    };
    let accept = checked.expect("the extractor upgrades only what check passes");
    // The same `Origin` rules as the server's default: its own host only,
    // plus one configured origin.
    let admission = Admission {
        origins: OriginPolicy::new(&["https://cursors.example/".to_owned()], &[]),
        tokens: None,
        limits: ConnectionLimits::new(10, 10),
    };
    let request = AdmissionRequest {
        address: IpAddr::V4(Ipv4Addr::LOCALHOST),
        headers: &parts.headers,
        room: room.as_deref(),
        token: None,
        now: 0,
    };
    if let Err(refusal) = admission.admit(request) {
        let status = axum::response::IntoResponse::into_response(refusal).status();
        assert!(
            [StatusCode::BAD_REQUEST, StatusCode::FORBIDDEN].contains(&status),
            "{status}"
        );
        return;
    }

    let offered = parts
        .headers
        .get_all(header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .flat_map(|value| value.as_bytes().split(|byte| *byte == b','))
        .any(|protocol| protocol.trim_ascii() == BINARY_SUBPROTOCOL.as_bytes());
    assert_eq!(handshake.offers(BINARY_SUBPROTOCOL), offered);
    let (response, _) = handshake.accept(offered.then_some(BINARY_SUBPROTOCOL));
    assert_eq!(response.status(), StatusCode::SWITCHING_PROTOCOLS);
    assert_eq!(response.headers()[header::SEC_WEBSOCKET_ACCEPT], accept);
    // Base64 of a SHA-1: 20 bytes, 28 characters.
    assert_eq!(accept.len(), 28);
    assert_eq!(
        response
            .headers()
            .get(header::SEC_WEBSOCKET_PROTOCOL)
            .map(HeaderValue::as_bytes),
        offered.then_some(BINARY_SUBPROTOCOL.as_bytes())
    );
});
