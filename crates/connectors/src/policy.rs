//! The outbound policy: timeouts, size and redirect limits, and which addresses may be reached.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

/// How the guarded client may talk to the outside world.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboundPolicy {
    /// Bound on name resolution + TCP connect + TLS handshake.
    pub connect_timeout: Duration,
    /// Bound on the whole exchange, from connecting to the last byte of the body.
    pub total_timeout: Duration,
    /// The largest response body read; a larger one is a `protocol` error.
    pub max_body_bytes: usize,
    /// How many redirects (all within the request's origin) are followed.
    pub max_redirects: usize,
    /// Also refuse loopback and private addresses (127/8, ::1, 10/8, 172.16/12, 192.168/16,
    /// 100.64/10, fc00::/7). The server maps `SWITCHBOARD_OUTBOUND_DENY_PRIVATE=true` to it.
    /// Link-local and cloud metadata addresses are refused whatever this says.
    pub deny_private: bool,
    /// When not empty, only these hosts may be reached: exact host names or IP literals, or
    /// `*.example.com` for any name below a domain (compared ignoring case). The server maps
    /// `SWITCHBOARD_OUTBOUND_ALLOWED_HOSTS` to it. The address checks apply as well.
    pub allowed_hosts: Vec<String>,
    /// Certificate authorities trusted besides the system's (a tool behind a private CA). The
    /// server maps `SWITCHBOARD_OUTBOUND_CA_FILE` to it.
    pub extra_roots: TrustedRoots,
}

impl Default for OutboundPolicy {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(5),
            total_timeout: Duration::from_secs(30),
            max_body_bytes: 16 * 1024 * 1024,
            max_redirects: 5,
            deny_private: false,
            allowed_hosts: Vec::new(),
            extra_roots: TrustedRoots::default(),
        }
    }
}

impl OutboundPolicy {
    /// Whether `host` (a URL's host as written: a name, an IPv4 literal or a bracketed IPv6
    /// literal) is one the allow list lets through; always when the list is empty.
    pub fn host_allowed(&self, host: &str) -> bool {
        if self.allowed_hosts.is_empty() {
            return true;
        }
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        self.allowed_hosts.iter().any(|allowed| {
            let allowed = allowed
                .trim_start_matches('[')
                .trim_end_matches(']')
                .to_ascii_lowercase();
            match allowed.strip_prefix("*.") {
                Some(domain) => host
                    .strip_suffix(domain)
                    .is_some_and(|rest| rest.ends_with('.') && rest.len() > 1),
                None => host == allowed,
            }
        })
    }
}

/// CA certificates trusted in addition to the system's, parsed from a PEM bundle.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TrustedRoots {
    /// Each certificate's DER encoding.
    certificates: Vec<Vec<u8>>,
}

/// A PEM bundle that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TrustedRootsError {
    #[error("it holds no PEM certificate (-----BEGIN CERTIFICATE-----)")]
    NoCertificate,
    #[error("a certificate in it cannot be read: {0}")]
    Unreadable(String),
}

impl TrustedRoots {
    /// Parses a PEM bundle: one or more `CERTIFICATE` blocks; other blocks (a key, a CRL) and
    /// text between blocks are ignored.
    pub fn parse(pem: &[u8]) -> Result<Self, TrustedRootsError> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject;

        let certificates = CertificateDer::pem_slice_iter(pem)
            .map(|certificate| {
                certificate
                    .map(|der| der.to_vec())
                    .map_err(|error| TrustedRootsError::Unreadable(error.to_string()))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if certificates.is_empty() {
            return Err(TrustedRootsError::NoCertificate);
        }
        Ok(Self { certificates })
    }

    /// How many certificates the bundle holds.
    pub fn len(&self) -> usize {
        self.certificates.len()
    }

    /// Whether no extra certificate is trusted.
    pub fn is_empty(&self) -> bool {
        self.certificates.is_empty()
    }

    pub(crate) fn to_reqwest(&self) -> Result<Vec<reqwest::Certificate>, reqwest::Error> {
        self.certificates
            .iter()
            .map(|der| reqwest::Certificate::from_der(der))
            .collect()
    }
}

impl fmt::Debug for TrustedRoots {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TrustedRoots({} certificates)", self.len())
    }
}

/// What an address is, as far as the outbound policy cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AddressClass {
    /// A cloud provider's instance metadata service (169.254.169.254, fd00:ec2::254,
    /// 100.100.100.200). Always refused.
    CloudMetadata,
    /// Link-local (169.254.0.0/16, fe80::/10). Always refused.
    LinkLocal,
    /// Not a unicast destination: unspecified (0.0.0.0/8, ::, which Linux routes to the
    /// host itself), broadcast, multicast, reserved (240/4). Always refused.
    NotUnicast,
    /// Loopback (127/8, ::1). Refused when `deny_private`.
    Loopback,
    /// Private networks (10/8, 172.16/12, 192.168/16, 100.64/10 shared address space,
    /// fc00::/7 unique local, fec0::/10 site local). Refused when `deny_private`.
    Private,
    /// Anything else.
    Public,
}

impl AddressClass {
    /// Classifies an address. An IPv6 address that carries an IPv4 address (mapped,
    /// compatible, NAT64, 6to4, Teredo: [`carried_v4`]) is classified by what it carries.
    pub fn of(ip: IpAddr) -> Self {
        match ip {
            IpAddr::V4(v4) => Self::of_v4(v4),
            IpAddr::V6(v6) => Self::of_v6(v6),
        }
    }

    fn of_v4(ip: Ipv4Addr) -> Self {
        let [a, b, _, _] = ip.octets();
        if ip == Ipv4Addr::new(169, 254, 169, 254) || ip == Ipv4Addr::new(100, 100, 100, 200) {
            AddressClass::CloudMetadata
        } else if ip.is_link_local() {
            AddressClass::LinkLocal
        } else if a == 0 || ip.is_broadcast() || ip.is_multicast() || a >= 240 {
            AddressClass::NotUnicast
        } else if ip.is_loopback() {
            AddressClass::Loopback
        } else if ip.is_private() || (a == 100 && (b & 0xc0) == 64) {
            AddressClass::Private
        } else {
            AddressClass::Public
        }
    }

    fn of_v6(ip: Ipv6Addr) -> Self {
        if ip.is_unspecified() {
            return AddressClass::NotUnicast;
        }
        if ip.is_loopback() {
            return AddressClass::Loopback;
        }
        // An address that carries an IPv4 address reaches that address (through a
        // translator or a tunnel): it is judged by it, and by the strictest when it carries two.
        let carried = carried_v4(ip);
        if let Some(strictest) = carried
            .iter()
            .map(|v4| Self::of_v4(*v4))
            .max_by_key(|class| class.strictness())
        {
            return strictest;
        }
        let segments = ip.segments();
        if ip == Ipv6Addr::new(0xfd00, 0x0ec2, 0, 0, 0, 0, 0, 0x0254) {
            AddressClass::CloudMetadata
        } else if (segments[0] & 0xffc0) == 0xfe80 {
            AddressClass::LinkLocal
        } else if ip.is_unspecified() || ip.is_multicast() {
            AddressClass::NotUnicast
        } else if ip.is_loopback() {
            AddressClass::Loopback
        } else if (segments[0] & 0xfe00) == 0xfc00 || (segments[0] & 0xffc0) == 0xfec0 {
            AddressClass::Private
        } else {
            AddressClass::Public
        }
    }

    /// How strictly the class is refused: the stricter of two classes wins.
    fn strictness(self) -> u8 {
        match self {
            AddressClass::Public => 0,
            AddressClass::Private => 1,
            AddressClass::Loopback => 2,
            AddressClass::NotUnicast => 3,
            AddressClass::LinkLocal => 4,
            AddressClass::CloudMetadata => 5,
        }
    }

    /// Refused whatever the policy says.
    pub fn always_denied(self) -> bool {
        matches!(
            self,
            AddressClass::CloudMetadata | AddressClass::LinkLocal | AddressClass::NotUnicast
        )
    }

    /// "a cloud metadata address", ... (for messages).
    pub fn describe(self) -> &'static str {
        match self {
            AddressClass::CloudMetadata => "a cloud metadata service address",
            AddressClass::LinkLocal => "a link-local address",
            AddressClass::NotUnicast => "not a unicast address",
            AddressClass::Loopback => "a loopback address",
            AddressClass::Private => "a private-network address",
            AddressClass::Public => "a public address",
        }
    }
}

/// The IPv4 addresses an IPv6 address carries: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`, deprecated but still routed by some stacks), NAT64
/// (`64:ff9b::/96` and the local-use `64:ff9b:1::/48`, RFC 6052 and 8215), 6to4
/// (`2002:aabb:ccdd::/48`, RFC 3056) and Teredo (`2001:0::/32`: the server's address, and
/// the client's, stored inverted; RFC 4380).
fn carried_v4(ip: Ipv6Addr) -> Vec<Ipv4Addr> {
    let segments = ip.segments();
    let o = ip.octets();
    let last32 = Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if let Some(v4) = ip.to_ipv4_mapped() {
        return vec![v4];
    }
    if segments[..6] == [0, 0, 0, 0, 0, 0] {
        return vec![last32];
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] || segments[..3] == [0x64, 0xff9b, 1] {
        return vec![last32];
    }
    if segments[0] == 0x2002 {
        return vec![Ipv4Addr::new(o[2], o[3], o[4], o[5])];
    }
    if segments[..2] == [0x2001, 0] {
        let server = Ipv4Addr::new(o[4], o[5], o[6], o[7]);
        let client = Ipv4Addr::new(!o[12], !o[13], !o[14], !o[15]);
        return vec![server, client];
    }
    Vec::new()
}

/// An address the policy refuses, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub struct AddressDenied {
    /// The refused address.
    pub ip: IpAddr,
    /// Its class.
    pub class: AddressClass,
}

impl fmt::Display for AddressDenied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} is {}", self.ip, self.class.describe())
    }
}

impl OutboundPolicy {
    /// Whether the client may connect to `ip`.
    pub fn check_address(&self, ip: IpAddr) -> Result<(), AddressDenied> {
        let class = AddressClass::of(ip);
        let denied = class.always_denied()
            || (self.deny_private
                && matches!(class, AddressClass::Loopback | AddressClass::Private));
        if denied {
            Err(AddressDenied { ip, class })
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_allow_list_lets_only_its_hosts_through() {
        let open = OutboundPolicy::default();
        assert!(open.host_allowed("ci.example.com"));
        let listed = OutboundPolicy {
            allowed_hosts: vec!["127.0.0.1".into(), "*.corp.example".into(), "[::1]".into()],
            ..OutboundPolicy::default()
        };
        assert!(listed.host_allowed("127.0.0.1"));
        assert!(listed.host_allowed("[::1]"));
        assert!(listed.host_allowed("Jenkins.CORP.example"));
        assert!(listed.host_allowed("a.b.corp.example."));
        assert!(!listed.host_allowed("corp.example"));
        assert!(!listed.host_allowed("evilcorp.example"));
        assert!(!listed.host_allowed("127.0.0.2"));
        assert!(!listed.host_allowed("example.com"));
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn allowing() -> OutboundPolicy {
        OutboundPolicy::default()
    }

    fn denying() -> OutboundPolicy {
        OutboundPolicy {
            deny_private: true,
            ..OutboundPolicy::default()
        }
    }

    #[test]
    fn classifies_addresses() {
        let cases = [
            ("169.254.169.254", AddressClass::CloudMetadata),
            ("100.100.100.200", AddressClass::CloudMetadata),
            ("fd00:ec2::254", AddressClass::CloudMetadata),
            ("::ffff:169.254.169.254", AddressClass::CloudMetadata),
            ("64:ff9b::a9fe:a9fe", AddressClass::CloudMetadata),
            ("169.254.0.1", AddressClass::LinkLocal),
            ("169.254.170.2", AddressClass::LinkLocal),
            ("fe80::1", AddressClass::LinkLocal),
            ("febf::1", AddressClass::LinkLocal),
            ("0.0.0.0", AddressClass::NotUnicast),
            ("0.1.2.3", AddressClass::NotUnicast),
            ("::", AddressClass::NotUnicast),
            ("255.255.255.255", AddressClass::NotUnicast),
            ("224.0.0.1", AddressClass::NotUnicast),
            ("ff02::1", AddressClass::NotUnicast),
            ("127.0.0.1", AddressClass::Loopback),
            ("127.255.0.9", AddressClass::Loopback),
            ("::1", AddressClass::Loopback),
            ("::ffff:127.0.0.1", AddressClass::Loopback),
            ("10.1.2.3", AddressClass::Private),
            ("172.16.0.1", AddressClass::Private),
            ("172.31.255.255", AddressClass::Private),
            ("192.168.1.1", AddressClass::Private),
            ("100.64.0.1", AddressClass::Private),
            ("100.127.255.255", AddressClass::Private),
            ("fc00::1", AddressClass::Private),
            ("fd12:3456::1", AddressClass::Private),
            ("172.32.0.1", AddressClass::Public),
            ("100.128.0.1", AddressClass::Public),
            ("8.8.8.8", AddressClass::Public),
            ("2001:4860:4860::8888", AddressClass::Public),
            ("64:ff9b::808:808", AddressClass::Public),
            // Every spelling that carries 169.254.169.254 is the metadata service.
            ("::169.254.169.254", AddressClass::CloudMetadata),
            ("::a9fe:a9fe", AddressClass::CloudMetadata),
            ("64:ff9b::169.254.169.254", AddressClass::CloudMetadata),
            ("64:ff9b:1::a9fe:a9fe", AddressClass::CloudMetadata),
            ("2002:a9fe:a9fe::1", AddressClass::CloudMetadata),
            ("2002:a9fe:a9fe:1234:5678::9", AddressClass::CloudMetadata),
            ("2001:0:a9fe:a9fe::1", AddressClass::CloudMetadata),
            ("2001:0:808:808::5601:5601", AddressClass::CloudMetadata),
            ("::ffff:a9fe:a9fe", AddressClass::CloudMetadata),
            ("::127.0.0.1", AddressClass::Loopback),
            ("2002:7f00:1::1", AddressClass::Loopback),
            ("2002:a00:1::1", AddressClass::Private),
            ("2002:808:808::1", AddressClass::Public),
            ("::0.0.0.2", AddressClass::NotUnicast),
            ("2002:a9fe:1::", AddressClass::LinkLocal),
        ];
        for (address, class) in cases {
            assert_eq!(AddressClass::of(ip(address)), class, "{address}");
        }
    }

    #[test]
    fn metadata_is_denied_under_both_policies() {
        for address in ["169.254.169.254", "fd00:ec2::254", "100.100.100.200"] {
            for policy in [allowing(), denying()] {
                let denied = policy.check_address(ip(address)).expect_err(address);
                assert_eq!(denied.class, AddressClass::CloudMetadata);
            }
        }
    }

    #[test]
    fn link_local_is_denied_under_both_policies() {
        for address in ["169.254.1.1", "fe80::1234"] {
            for policy in [allowing(), denying()] {
                let denied = policy.check_address(ip(address)).expect_err(address);
                assert_eq!(denied.class, AddressClass::LinkLocal);
            }
        }
    }

    #[test]
    fn unspecified_is_denied_under_both_policies() {
        for address in ["0.0.0.0", "::"] {
            for policy in [allowing(), denying()] {
                assert!(policy.check_address(ip(address)).is_err(), "{address}");
            }
        }
    }

    #[test]
    fn loopback_and_private_are_allowed_by_default_and_denied_on_request() {
        for address in [
            "127.0.0.1",
            "::1",
            "10.0.0.5",
            "172.20.1.1",
            "192.168.0.10",
            "100.64.1.1",
            "fd00::5",
        ] {
            assert_eq!(allowing().check_address(ip(address)), Ok(()), "{address}");
            let denied = denying().check_address(ip(address)).expect_err(address);
            assert!(
                matches!(denied.class, AddressClass::Loopback | AddressClass::Private),
                "{address}"
            );
        }
    }

    #[test]
    fn public_is_allowed_under_both_policies() {
        for address in ["93.184.215.14", "2606:2800:21f:cb07:6820:80da:af6b:8b2c"] {
            assert_eq!(allowing().check_address(ip(address)), Ok(()), "{address}");
            assert_eq!(denying().check_address(ip(address)), Ok(()), "{address}");
        }
    }

    #[test]
    fn denial_says_what_the_address_is() {
        let denied = allowing()
            .check_address(ip("169.254.169.254"))
            .expect_err("metadata");
        assert_eq!(
            denied.to_string(),
            "169.254.169.254 is a cloud metadata service address"
        );
    }
}
