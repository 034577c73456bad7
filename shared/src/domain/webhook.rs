//! Webhooks to merchants, as pure rules: signing secrets and Standard Webhooks signatures,
//! the event types, the retry schedule, and which receiver URLs and addresses are allowed.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::fmt;
use std::net::IpAddr;
use std::time::Duration;
use url::{Host, Url};

const SECRET_PREFIX: &str = "whsec_";
const SECRET_BYTES: usize = 32;

/// A signing secret (`whsec_` + base64 of 32 random bytes). `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct WebhookSecret(Vec<u8>);

impl fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("WebhookSecret(***)")
    }
}

impl WebhookSecret {
    pub fn generate() -> Self {
        let mut key = vec![0u8; SECRET_BYTES];
        rand::thread_rng().fill_bytes(&mut key);
        WebhookSecret(key)
    }

    /// The raw key, as stored (encrypted) at rest.
    pub fn from_bytes(key: Vec<u8>) -> Option<Self> {
        (key.len() == SECRET_BYTES).then_some(WebhookSecret(key))
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The form shown to the merchant, once.
    pub fn expose(&self) -> String {
        format!("{SECRET_PREFIX}{}", B64.encode(&self.0))
    }

    /// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, as Standard Webhooks defines.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(&self.0).expect("HMAC takes any key length");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
    }
}

/// The `webhook-signature` header: one signature per live secret, space-separated (during a
/// rotation both the new and the previous secret sign).
pub fn signature_header(secrets: &[WebhookSecret], msg_id: &str, timestamp: i64, body: &[u8]) -> String {
    secrets.iter().map(|s| s.sign(msg_id, timestamp, body)).collect::<Vec<_>>().join(" ")
}

/// What a merchant can subscribe to: the events' names (`EventKind`). Each is written to
/// the outbox in the same transaction as the change it reports.
pub fn event_types() -> impl Iterator<Item = &'static str> {
    super::event::EventKind::ALL.into_iter().map(super::event::EventKind::as_str)
}

pub fn is_event_type(s: &str) -> bool {
    super::event::EventKind::parse(s).is_some()
}

/// When to try again after a failed attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPolicy {
    /// The wait before attempt 2, 3, ...: the first attempt is immediate.
    pub delays: Vec<Duration>,
    /// Each wait is spread by up to this fraction either way, so that receivers coming back
    /// from an outage are not hit by every retry at once.
    pub jitter: f64,
}

impl Default for RetryPolicy {
    /// Now, then 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 14 h, 20 h and 24 h later: ten attempts
    /// over about 3 days.
    fn default() -> Self {
        let s = Duration::from_secs;
        let h = |n: u64| s(n * 3600);
        RetryPolicy { delays: vec![s(5), s(300), s(1800), h(2), h(5), h(10), h(14), h(20), h(24)], jitter: 0.1 }
    }
}

/// The longest `Retry-After` we honour: beyond it the schedule decides.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(24 * 3600);

impl RetryPolicy {
    /// Parses `WEBHOOK_RETRY_DELAYS`: comma-separated seconds (decimals allowed).
    pub fn parse(s: &str) -> Option<Self> {
        let delays = s
            .split(',')
            .map(|d| d.trim().parse::<f64>().ok().filter(|x| x.is_finite() && *x >= 0.0 && *x <= 7.0 * 86400.0))
            .map(|d| d.map(Duration::from_secs_f64))
            .collect::<Option<Vec<_>>>()?;
        Some(RetryPolicy { delays, jitter: 0.1 })
    }

    pub fn max_attempts(&self) -> u32 {
        self.delays.len() as u32 + 1
    }

    /// The wait after `attempts` failed attempts, or None when they were the last.
    /// A `Retry-After` from the receiver is honoured when it asks for longer (up to a day).
    pub fn next_delay(&self, attempts: u32, retry_after: Option<Duration>, unit: f64) -> Option<Duration> {
        let base = *self.delays.get(attempts.checked_sub(1)? as usize)?;
        let spread = (unit.clamp(0.0, 1.0) * 2.0 - 1.0) * self.jitter;
        let jittered = base.mul_f64((1.0 + spread).max(0.0));
        Some(match retry_after {
            Some(ra) => jittered.max(ra.min(MAX_RETRY_AFTER)),
            None => jittered,
        })
    }
}

/// Why a receiver URL is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRejection {
    /// Does not parse as an absolute URL, or has no host.
    #[error("is not an absolute URL")]
    Malformed,
    /// Any scheme but https; with `allow_local`, plain http to a loopback host passes too.
    #[error("must use https")]
    NotHttps,
    /// Carries a user name or password (`https://user:pw@host/`).
    #[error("must not carry a user name or password")]
    Credentials,
    /// The host is not public: a non-public IP, `localhost`, a `.local` or `.internal` name, or a
    /// single label. Loopback passes with `allow_local`.
    #[error("must point at a public address")]
    PrivateAddress,
    /// Has a `#fragment`, which is never sent to the receiver.
    #[error("must not have a fragment")]
    Fragment,
    /// Longer than [`MAX_URL_LEN`] once written out (each non-ASCII character takes up to
    /// twelve as percent-escapes).
    #[error("must have at most 2048 characters once percent-encoded")]
    TooLong,
}

/// The longest receiver URL stored, as written out after parsing.
pub const MAX_URL_LEN: usize = 2048;

/// Which receivers are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReceiverRules {
    /// DEV ONLY: also `http://` and loopback addresses (127.0.0.1, ::1, localhost).
    pub allow_local: bool,
}

impl ReceiverRules {
    /// Checks a receiver URL as registered. Host names are checked again when resolved, at
    /// each delivery, so a name that later points inside the network is still refused.
    pub fn check_url(&self, raw: &str) -> Result<Url, UrlRejection> {
        let url = Url::parse(raw.trim()).map_err(|_| UrlRejection::Malformed)?;
        if url.as_str().len() > MAX_URL_LEN {
            return Err(UrlRejection::TooLong);
        }
        if !url.username().is_empty() || url.password().is_some() {
            return Err(UrlRejection::Credentials);
        }
        if url.fragment().is_some() {
            return Err(UrlRejection::Fragment);
        }
        let local = match url.host() {
            None => return Err(UrlRejection::Malformed),
            Some(Host::Ipv4(ip)) => self.check_ip(IpAddr::V4(ip))?,
            Some(Host::Ipv6(ip)) => self.check_ip(IpAddr::V6(ip))?,
            Some(Host::Domain(d)) => {
                let d = d.trim_end_matches('.').to_ascii_lowercase();
                let is_local = d == "localhost" || d.ends_with(".localhost");
                if is_local && !self.allow_local {
                    return Err(UrlRejection::PrivateAddress);
                }
                if d.ends_with(".local") || d.ends_with(".internal") || !d.contains('.') && !is_local {
                    return Err(UrlRejection::PrivateAddress);
                }
                is_local
            }
        };
        match url.scheme() {
            "https" => Ok(url),
            "http" if self.allow_local && local => Ok(url),
            _ => Err(UrlRejection::NotHttps),
        }
    }

    /// Whether a resolved address may be called; `Ok(true)` for an allowed loopback one.
    pub fn check_ip(&self, ip: IpAddr) -> Result<bool, UrlRejection> {
        if is_public(ip) {
            Ok(false)
        } else if self.allow_local && ip.is_loopback() {
            Ok(true)
        } else {
            Err(UrlRejection::PrivateAddress)
        }
    }
}

/// Whether an address is on the public Internet: not loopback, private, link-local,
/// shared (CGNAT), documentation, benchmarking, multicast, reserved or unspecified — the
/// ranges an attacker would use to reach our own network through a webhook.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            !(v4.is_unspecified()
                || v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_broadcast()
                || v4.is_documentation()
                || v4.is_multicast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
                || (a == 192 && b == 0 && c == 0)
                || (a == 198 && (b == 18 || b == 19))
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            // Addresses carrying an IPv4 one are judged by it: mapped (::ffff:a.b.c.d),
            // compatible (::a.b.c.d, also :: and ::1), SIIT (::ffff:0:a.b.c.d), 6to4.
            let v4 = |hi: u16, lo: u16| {
                let ([a, b], [c, d]) = (hi.to_be_bytes(), lo.to_be_bytes());
                IpAddr::V4(std::net::Ipv4Addr::new(a, b, c, d))
            };
            if s[..5] == [0; 5] && (s[5] == 0xffff || s[5] == 0) || s[..4] == [0; 4] && s[4] == 0xffff && s[5] == 0 {
                return is_public(v4(s[6], s[7]));
            }
            if s[0] == 0x2002 {
                return is_public(v4(s[1], s[2]));
            }
            !(v6.is_unspecified()
                || (s[0] & 0xffc0) == 0xfec0
                || v6.is_loopback()
                || v6.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || (s[0] == 0x2001 && s[1] == 0x0db8)
                || (s[0] == 0x0064 && s[1] == 0xff9b)
                || s[0] == 0x0100 && s[1] == 0 && s[2] == 0 && s[3] == 0)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_shown_as_whsec_base64_and_signs_id_timestamp_and_body() {
        let secret = WebhookSecret::from_bytes(vec![7; 32]).unwrap();
        assert!(secret.expose().starts_with("whsec_"));
        assert_eq!(B64.decode(&secret.expose()[6..]).unwrap(), vec![7; 32]);
        let sig = secret.sign("msg_1", 1_700_000_000, b"{}");
        assert!(sig.starts_with("v1,"));
        assert_ne!(sig, secret.sign("msg_2", 1_700_000_000, b"{}"));
        assert_ne!(sig, secret.sign("msg_1", 1_700_000_001, b"{}"));
        assert_ne!(sig, secret.sign("msg_1", 1_700_000_000, b"{ }"));
        assert_eq!(format!("{secret:?}"), "WebhookSecret(***)");
    }

    #[test]
    fn during_a_rotation_both_secrets_sign() {
        let (a, b) = (WebhookSecret::generate(), WebhookSecret::generate());
        let header = signature_header(&[a.clone(), b.clone()], "m", 1, b"x");
        assert_eq!(header, format!("{} {}", a.sign("m", 1, b"x"), b.sign("m", 1, b"x")));
    }

    #[test]
    fn the_default_schedule_makes_ten_attempts_over_about_three_days() {
        let p = RetryPolicy::default();
        assert_eq!(p.max_attempts(), 10);
        let total: Duration = (1..10).map(|n| p.next_delay(n, None, 0.5).unwrap()).sum();
        assert_eq!(total.as_secs() / 3600, 75, "75 h 35 min");
        assert_eq!(p.next_delay(10, None, 0.5), None);
        assert_eq!(p.next_delay(0, None, 0.5), None);
    }

    #[test]
    fn jitter_spreads_waits_and_retry_after_can_only_lengthen_them() {
        let p = RetryPolicy::default();
        assert_eq!(p.next_delay(2, None, 0.0), Some(Duration::from_secs(270)));
        assert_eq!(p.next_delay(2, None, 1.0), Some(Duration::from_secs(330)));
        assert_eq!(p.next_delay(1, Some(Duration::from_secs(60)), 0.5), Some(Duration::from_secs(60)));
        assert_eq!(p.next_delay(2, Some(Duration::from_secs(1)), 0.5), Some(Duration::from_secs(300)));
        assert_eq!(p.next_delay(1, Some(Duration::from_secs(9_999_999)), 0.5), Some(MAX_RETRY_AFTER));
    }

    #[test]
    fn schedules_parse_from_seconds() {
        let p = RetryPolicy::parse("0.1, 2,0").unwrap();
        assert_eq!(p.delays, [Duration::from_millis(100), Duration::from_secs(2), Duration::ZERO]);
        assert_eq!(RetryPolicy::parse("1,x"), None);
        assert_eq!(RetryPolicy::parse("-1"), None);
    }

    #[test]
    fn production_receivers_are_https_on_public_hosts() {
        let prod = ReceiverRules::default();
        assert!(prod.check_url("https://loja.example.com/webhooks").is_ok());
        assert!(prod.check_url("https://203.0.113.9.nip.io/x").is_ok());
        // 1,020 characters as sent, about 6,000 once each "é" is percent-encoded.
        let long = format!("https://loja.example.com/{}", "é".repeat(1000));
        for (url, why) in [
            ("http://loja.example.com/x", UrlRejection::NotHttps),
            ("ftp://loja.example.com/x", UrlRejection::NotHttps),
            ("https://user:pw@loja.example.com/x", UrlRejection::Credentials),
            ("https://127.0.0.1/x", UrlRejection::PrivateAddress),
            ("https://localhost/x", UrlRejection::PrivateAddress),
            ("https://10.0.0.8/x", UrlRejection::PrivateAddress),
            ("https://169.254.169.254/latest/meta-data", UrlRejection::PrivateAddress),
            ("https://[::1]/x", UrlRejection::PrivateAddress),
            ("https://[fd00::1]/x", UrlRejection::PrivateAddress),
            ("https://[::ffff:10.0.0.1]/x", UrlRejection::PrivateAddress),
            ("https://100.64.0.1/x", UrlRejection::PrivateAddress),
            ("https://0.0.0.0/x", UrlRejection::PrivateAddress),
            ("https://2130706433/x", UrlRejection::PrivateAddress),
            ("https://intranet/x", UrlRejection::PrivateAddress),
            ("https://printer.local/x", UrlRejection::PrivateAddress),
            ("https://a.example.com/x#frag", UrlRejection::Fragment),
            ("not a url", UrlRejection::Malformed),
            (&long, UrlRejection::TooLong),
        ] {
            assert_eq!(prod.check_url(url).err(), Some(why), "{url}");
        }
    }

    #[test]
    fn the_dev_flag_allows_http_to_loopback_only() {
        let dev = ReceiverRules { allow_local: true };
        assert!(dev.check_url("http://127.0.0.1:8080/hook").is_ok());
        assert!(dev.check_url("http://localhost:8080/hook").is_ok());
        assert!(dev.check_url("http://[::1]:8080/hook").is_ok());
        assert_eq!(dev.check_url("http://10.0.0.8/x").err(), Some(UrlRejection::PrivateAddress));
        assert_eq!(dev.check_url("http://loja.example.com/x").err(), Some(UrlRejection::NotHttps));
    }

    #[test]
    fn public_addresses_are_told_from_internal_ones() {
        for ip in ["8.8.8.8", "200.160.2.3", "2804:14c::1"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.1.1", "::", "fe80::1", "224.0.0.1"] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        // IPv6 spellings of internal IPv4 addresses, NAT64 and site-local.
        for ip in [
            "::1",
            "::ffff:10.0.0.1",
            "::10.0.0.1",
            "::ffff:0:169.254.169.254",
            "2002:a00:1::",
            "64:ff9b::a00:1",
            "64:ff9b:1::1",
            "fec0::1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        assert!(is_public("::ffff:8.8.8.8".parse().unwrap()) && is_public("2002:808:808::1".parse().unwrap()));
    }
}
