//! Rooms only the invited can enter (issue 28): signed tokens, checked
//! before a WebSocket is upgraded.
//!
//! With `--token-key FILE` every socket needs a JSON Web Token (`token=`
//! in its URL: a browser cannot set headers on a WebSocket) whose claims
//! name the room it may enter (`room`: exact, or a prefix ending in `*`)
//! and when that right ends (`exp`, required). The key fixes the
//! algorithm: a file holding an Ed25519 public key (PEM) means EdDSA, any
//! other file is an HMAC secret (HS256, at least 32 bytes). Only that one
//! algorithm is accepted, so a token cannot pick its own (no `none`, no
//! HMAC signed with the public key). `jsonwebtoken` checks the signature
//! and the shape; the times are checked here against a `now` the caller
//! gives, so the rules are unit-tested without a clock.

use std::path::Path;
use std::time::Duration;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Longest token accepted: a few claims signed take a few hundred bytes.
pub const MAX_TOKEN_BYTES: usize = 4096;
/// Shortest HMAC secret accepted: HS256's own key size.
pub const MIN_SECRET_BYTES: usize = 32;
/// Clock skew tolerated between the token's issuer and this server.
pub const LEEWAY_SECS: u64 = 5;

/// The claims this server reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The room, or a prefix of rooms ending in `*`.
    pub room: String,
    /// Unix seconds after which the token (and a socket opened with it)
    /// is over.
    pub exp: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iat: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// Who it was issued to (the issuer's own user id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sub: Option<String>,
    /// A display name vouched for by the issuer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl Claims {
    /// Whether these claims let their holder into `room`.
    pub fn allows(&self, room: &str) -> bool {
        match self.room.strip_suffix('*') {
            Some(prefix) => room.starts_with(prefix),
            None => self.room == room,
        }
    }
}

/// Why a token was refused; each is its own status, reason and metric.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    #[error("this server needs a token: add token=... to the WebSocket URL")]
    Missing,
    #[error("the token is larger than {MAX_TOKEN_BYTES} bytes")]
    TooLarge,
    #[error("the token is malformed: {0}")]
    Malformed(String),
    #[error("the token's signature does not match this server's key")]
    BadSignature,
    #[error("the token expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token is for room {granted:?}, not {asked:?}")]
    WrongRoom { granted: String, asked: String },
}

/// Why a key file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the token key {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("the token key is not a usable Ed25519 key: {0}")]
    Ed25519(jsonwebtoken::errors::Error),
    #[error("the HMAC secret has {0} bytes; at least {MIN_SECRET_BYTES} are needed")]
    ShortSecret(usize),
    #[error("this key cannot sign: an Ed25519 public key only verifies (give the private key)")]
    CannotSign,
    #[error("signing failed: {0}")]
    Signing(jsonwebtoken::errors::Error),
}

/// The key tokens are verified with, which also fixes their algorithm.
#[derive(Clone)]
pub struct TokenKey {
    algorithm: Algorithm,
    /// Present for an HMAC secret or an Ed25519 public key.
    decoding: Option<DecodingKey>,
    /// Present for an HMAC secret or an Ed25519 private key.
    encoding: Option<EncodingKey>,
}

impl std::fmt::Debug for TokenKey {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the secret itself.
        write!(formatter, "TokenKey({:?})", self.algorithm)
    }
}

const PUBLIC_PEM: &str = "-----BEGIN PUBLIC KEY-----";
const PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----";

impl TokenKey {
    /// Reads a key file: an Ed25519 public key (verifies), an Ed25519
    /// private key (signs, for `cursors-server token`), or an HMAC secret.
    pub fn from_file(path: &Path) -> Result<Self, KeyError> {
        let bytes = std::fs::read(path).map_err(|source| KeyError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_bytes(&bytes)
    }

    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyError> {
        let text = String::from_utf8_lossy(bytes);
        let text = text.trim_start();
        if text.starts_with(PUBLIC_PEM) {
            let decoding = DecodingKey::from_ed_pem(bytes).map_err(KeyError::Ed25519)?;
            return Ok(Self {
                algorithm: Algorithm::EdDSA,
                decoding: Some(decoding),
                encoding: None,
            });
        }
        if text.starts_with(PRIVATE_PEM) {
            let encoding = EncodingKey::from_ed_pem(bytes).map_err(KeyError::Ed25519)?;
            return Ok(Self {
                algorithm: Algorithm::EdDSA,
                decoding: None,
                encoding: Some(encoding),
            });
        }
        // A secret written by `echo` or an editor ends in a newline that
        // is not meant to be part of it.
        let secret = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        let secret = secret.strip_suffix(b"\r").unwrap_or(secret);
        if secret.len() < MIN_SECRET_BYTES {
            return Err(KeyError::ShortSecret(secret.len()));
        }
        Ok(Self {
            algorithm: Algorithm::HS256,
            decoding: Some(DecodingKey::from_secret(secret)),
            encoding: Some(EncodingKey::from_secret(secret)),
        })
    }

    /// Whether this key can verify tokens (an Ed25519 private key only
    /// signs: the server is given the public one).
    pub fn verifies(&self) -> bool {
        self.decoding.is_some()
    }

    /// The algorithm every token must be signed with.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    // ANCHOR: verify
    /// Checks `token` for `room` at `now` (Unix seconds) and returns its
    /// claims.
    pub fn verify(&self, token: Option<&str>, room: &str, now: u64) -> Result<Claims, TokenError> {
        let Some(decoding) = &self.decoding else {
            return Err(TokenError::BadSignature);
        };
        let token = token.ok_or(TokenError::Missing)?;
        if token.is_empty() {
            return Err(TokenError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(TokenError::TooLarge);
        }
        let mut validation = Validation::new(self.algorithm);
        // Times are checked below, against the `now` given.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.validate_aud = false;
        validation.set_required_spec_claims(&["exp"]);
        let claims = jsonwebtoken::decode::<Claims>(token, decoding, &validation)
            .map_err(|error| match error.kind() {
                ErrorKind::InvalidSignature => TokenError::BadSignature,
                // The header names another algorithm than the key's.
                ErrorKind::InvalidAlgorithm => {
                    TokenError::Malformed(format!("it must be signed with {:?}", self.algorithm))
                }
                ErrorKind::MissingRequiredClaim(claim) => {
                    TokenError::Malformed(format!("the claim {claim:?} is required"))
                }
                _ => TokenError::Malformed(error.to_string()),
            })?
            .claims;
        if now > claims.exp.saturating_add(LEEWAY_SECS) {
            return Err(TokenError::Expired);
        }
        let starts = claims.nbf.into_iter().chain(claims.iat).max();
        if starts.is_some_and(|starts| starts > now.saturating_add(LEEWAY_SECS)) {
            return Err(TokenError::NotYetValid);
        }
        if !claims.allows(room) {
            return Err(TokenError::WrongRoom {
                granted: claims.room,
                asked: room.to_owned(),
            });
        }
        Ok(claims)
    }
    // ANCHOR_END: verify

    /// Signs `claims` (for demos and tests: `cursors-server token`).
    pub fn sign(&self, claims: &Claims) -> Result<String, KeyError> {
        let encoding = self.encoding.as_ref().ok_or(KeyError::CannotSign)?;
        jsonwebtoken::encode(&Header::new(self.algorithm), claims, encoding)
            .map_err(KeyError::Signing)
    }
}

/// Signs the token `request` asks for, valid from `now` (Unix seconds).
pub fn issue(request: &crate::config::TokenRequest, now: u64) -> Result<String, KeyError> {
    let key = TokenKey::from_file(&request.key)?;
    key.sign(&Claims {
        room: request.room.clone(),
        exp: now.saturating_add(request.ttl.as_secs()),
        iat: Some(now),
        nbf: None,
        sub: request.sub.clone(),
        name: request.name.clone(),
    })
}

/// Parses a lifetime such as `90s`, `15m`, `1h` or `2d` (for `--ttl`).
pub fn parse_lifetime(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|character: char| !character.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("{text:?} is not a lifetime such as 90s, 15m, 1h or 2d"))?;
    let seconds = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(format!(
                "unknown unit {unit:?} in {text:?}: use s, m, h or d"
            ));
        }
    };
    Ok(Duration::from_secs(number.saturating_mul(seconds)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a secret of at least thirty-two bytes!!\n";
    /// An Ed25519 key pair made for these tests (`openssl genpkey -algorithm
    /// ed25519`, then `openssl pkey -pubout`).
    const PRIVATE: &str = "-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIIJtnu/SlWRRfDRiDemXkz3Tn2AUaFF+bBdU5IBbtZFI\n-----END PRIVATE KEY-----\n";
    const PUBLIC: &str = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAoGrXGrvyArlziU952ROrzvMjfwW0Hxhbo7QFxc29R7U=\n-----END PUBLIC KEY-----\n";
    const NOW: u64 = 1_800_000_000;

    fn claims(room: &str) -> Claims {
        Claims {
            room: room.to_owned(),
            exp: NOW + 3600,
            iat: Some(NOW),
            nbf: None,
            sub: Some("user-1".to_owned()),
            name: Some("Ada".to_owned()),
        }
    }

    fn hmac() -> TokenKey {
        TokenKey::from_bytes(SECRET).expect("a long enough secret")
    }

    #[test]
    fn a_signed_token_opens_its_room_and_prefixes_open_theirs() {
        let key = hmac();
        let token = key.sign(&claims("lobby")).expect("signs");
        assert_eq!(key.verify(Some(&token), "lobby", NOW), Ok(claims("lobby")));
        let prefixed = key.sign(&claims("docs/*")).expect("signs");
        assert!(key.verify(Some(&prefixed), "docs/intro", NOW).is_ok());
        assert_eq!(
            key.verify(Some(&prefixed), "lobby", NOW),
            Err(TokenError::WrongRoom {
                granted: "docs/*".into(),
                asked: "lobby".into()
            })
        );
        assert!(matches!(
            key.verify(Some(&token), "lobby2", NOW),
            Err(TokenError::WrongRoom { .. })
        ));
    }

    #[test]
    fn every_refusal_has_its_reason() {
        let key = hmac();
        assert_eq!(key.verify(None, "lobby", NOW), Err(TokenError::Missing));
        assert_eq!(key.verify(Some(""), "lobby", NOW), Err(TokenError::Missing));
        let huge = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert_eq!(
            key.verify(Some(&huge), "lobby", NOW),
            Err(TokenError::TooLarge)
        );
        assert!(matches!(
            key.verify(Some("not.a.token"), "lobby", NOW),
            Err(TokenError::Malformed(_))
        ));
        let token = key.sign(&claims("lobby")).expect("signs");
        // Flip one character of the signature.
        let mut tampered = token.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
        let tampered = String::from_utf8(tampered).expect("ascii");
        assert_eq!(
            key.verify(Some(&tampered), "lobby", NOW),
            Err(TokenError::BadSignature)
        );
        let other = TokenKey::from_bytes(&[b'x'; 40]).expect("long enough");
        assert_eq!(
            other.verify(Some(&token), "lobby", NOW),
            Err(TokenError::BadSignature)
        );
        assert_eq!(
            key.verify(Some(&token), "lobby", NOW + 3600 + LEEWAY_SECS + 1),
            Err(TokenError::Expired)
        );
        assert!(
            key.verify(Some(&token), "lobby", NOW + 3600 + LEEWAY_SECS)
                .is_ok()
        );
        assert_eq!(
            key.verify(Some(&token), "lobby", NOW - LEEWAY_SECS - 1),
            Err(TokenError::NotYetValid),
            "issued in the future"
        );
        let later = Claims {
            nbf: Some(NOW + 60),
            ..claims("lobby")
        };
        let later = key.sign(&later).expect("signs");
        assert_eq!(
            key.verify(Some(&later), "lobby", NOW),
            Err(TokenError::NotYetValid)
        );
        assert!(key.verify(Some(&later), "lobby", NOW + 60).is_ok());
    }

    #[test]
    fn exp_is_required() {
        let key = hmac();
        let header = Header::new(Algorithm::HS256);
        let no_exp = serde_json::json!({ "room": "lobby" });
        let encoding = EncodingKey::from_secret(&SECRET[..SECRET.len() - 1]);
        let token = jsonwebtoken::encode(&header, &no_exp, &encoding).expect("signs");
        assert!(
            matches!(key.verify(Some(&token), "lobby", NOW), Err(TokenError::Malformed(message)) if message.contains("exp"))
        );
    }

    #[test]
    fn the_key_fixes_the_algorithm() {
        // `alg: none`, unsigned.
        let none = format!(
            "{}.{}.",
            base64_url(br#"{"alg":"none","typ":"JWT"}"#),
            base64_url(
                serde_json::to_string(&claims("lobby"))
                    .expect("json")
                    .as_bytes()
            )
        );
        let key = hmac();
        assert!(matches!(
            key.verify(Some(&none), "lobby", NOW),
            Err(TokenError::Malformed(_))
        ));
        // An Ed25519 server handed an HS256 token signed with its public
        // key as the HMAC secret: the classic confusion.
        let signing = TokenKey::from_bytes(PRIVATE.as_bytes()).expect("an Ed25519 private key");
        let verifying = TokenKey::from_bytes(PUBLIC.as_bytes()).expect("an Ed25519 public key");
        assert!(!signing.verifies() && verifying.verifies());
        assert_eq!(verifying.algorithm(), Algorithm::EdDSA);
        let confused = jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims("lobby"),
            &EncodingKey::from_secret(PUBLIC.as_bytes()),
        )
        .expect("signs");
        assert!(matches!(
            verifying.verify(Some(&confused), "lobby", NOW),
            Err(TokenError::Malformed(_))
        ));
        // And the real EdDSA token passes; the public key cannot sign.
        let token = signing.sign(&claims("lobby")).expect("signs");
        assert_eq!(
            verifying.verify(Some(&token), "lobby", NOW),
            Ok(claims("lobby"))
        );
        assert!(matches!(
            verifying.sign(&claims("lobby")),
            Err(KeyError::CannotSign)
        ));
    }

    #[test]
    fn short_secrets_are_refused_and_a_trailing_newline_is_not_part_of_one() {
        assert!(matches!(
            TokenKey::from_bytes(b"short\n"),
            Err(KeyError::ShortSecret(5))
        ));
        let with_newline = hmac();
        let without = TokenKey::from_bytes(&SECRET[..SECRET.len() - 1]).expect("long enough");
        let token = with_newline.sign(&claims("lobby")).expect("signs");
        assert!(without.verify(Some(&token), "lobby", NOW).is_ok());
    }

    #[test]
    fn lifetimes_read_as_people_write_them() {
        assert_eq!(parse_lifetime("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_lifetime("15m"), Ok(Duration::from_secs(900)));
        assert_eq!(parse_lifetime("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_lifetime("2d"), Ok(Duration::from_secs(172_800)));
        assert_eq!(parse_lifetime("30"), Ok(Duration::from_secs(30)));
        assert!(parse_lifetime("1w").is_err());
        assert!(parse_lifetime("soon").is_err());
    }

    fn base64_url(bytes: &[u8]) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    }
}
