//! Certificates with chosen contents, for showing what a client reads from them: a
//! [`CertSpec`] says the names, the subject and the validity dates (absolute, or relative to
//! now: "expires in 10 days"), [`TestCa::issue_spec`] issues it, and an [`IntermediateCa`]
//! issues it under an intermediate, so that the server presents a chain of two.

use std::io;
use std::time::{Duration, SystemTime};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

use super::{Identity, TestCa, rcgen_error};

/// A day, for relative validity periods.
const DAY: Duration = Duration::from_secs(86_400);

/// What a server certificate says: its names (the SANs, DNS names or IP addresses), its
/// subject, and when it is valid. [`CertSpec::new`] makes one valid from a day ago until 90
/// and a half days from now.
///
/// ```
/// use std::time::Duration;
/// use tulip_stub::{CertSpec, TestCa};
///
/// let ca = TestCa::new("tulip test CA").unwrap();
/// // Expires in 10 days and an hour: "10 days left" however long the test takes.
/// let soon = CertSpec::new(&["127.0.0.1"])
///     .organization("Example")
///     .expires_in(Duration::from_secs(86_400 * 10 + 3_600));
/// let identity = ca.issue_spec(&soon).unwrap();
/// assert!(identity.cert_pem().starts_with("-----BEGIN CERTIFICATE-----"));
///
/// // The same, one level down: the server presents the leaf and the intermediate.
/// let intermediate = ca.intermediate("tulip intermediate CA").unwrap();
/// let chained = intermediate.issue(&soon).unwrap();
/// assert_eq!(format!("{chained:?}"), "Identity { certificates: 2, foreign_key: false, .. }");
/// ```
#[derive(Debug, Clone)]
pub struct CertSpec {
    names: Vec<String>,
    common_name: Option<String>,
    organization: Option<String>,
    not_before: SystemTime,
    not_after: SystemTime,
}

impl CertSpec {
    /// A certificate for `names`, with the first as its common name, valid from a day ago until
    /// 90 and a half days from now: a client sees `90 days left` for the next twelve hours.
    pub fn new(names: &[&str]) -> CertSpec {
        let now = SystemTime::now();
        CertSpec {
            names: names.iter().map(|n| n.to_string()).collect(),
            common_name: None,
            organization: None,
            not_before: now - DAY,
            not_after: now + 90 * DAY + DAY / 2,
        }
    }

    /// The subject's common name (by default the first name).
    pub fn common_name(mut self, name: &str) -> CertSpec {
        self.common_name = Some(name.to_owned());
        self
    }

    /// The subject's organization (by default none).
    pub fn organization(mut self, name: &str) -> CertSpec {
        self.organization = Some(name.to_owned());
        self
    }

    /// Valid from `not_before` to `not_after` (to the second).
    pub fn valid(mut self, not_before: SystemTime, not_after: SystemTime) -> CertSpec {
        self.not_before = not_before;
        self.not_after = not_after;
        self
    }

    /// Valid from a day ago until `left` from now.
    pub fn expires_in(mut self, left: Duration) -> CertSpec {
        let now = SystemTime::now();
        self.not_before = now - DAY;
        self.not_after = now + left;
        self
    }

    /// Valid from `ago + 90 days` ago until `ago` ago: expired.
    pub fn expired_since(mut self, ago: Duration) -> CertSpec {
        let now = SystemTime::now();
        self.not_before = now - ago - 90 * DAY;
        self.not_after = now - ago;
        self
    }

    /// The certificate's parameters; signed by the caller.
    fn params(&self) -> io::Result<CertificateParams> {
        let mut params = CertificateParams::new(self.names.clone()).map_err(rcgen_error)?;
        let common_name = self.common_name.clone().or(self.names.first().cloned());
        params
            .distinguished_name
            .push(DnType::CommonName, common_name.unwrap_or_default());
        if let Some(organization) = &self.organization {
            params
                .distinguished_name
                .push(DnType::OrganizationName, organization.as_str());
        }
        params.not_before = utc(self.not_before)?;
        params.not_after = utc(self.not_after)?;
        Ok(params)
    }
}

/// A time for rcgen, to the second (what a certificate holds).
fn utc(time: SystemTime) -> io::Result<OffsetDateTime> {
    let unix = match time.duration_since(SystemTime::UNIX_EPOCH) {
        Ok(after) => after.as_secs() as i64,
        Err(before) => -(before.duration().as_secs() as i64),
    };
    OffsetDateTime::from_unix_timestamp(unix).map_err(io::Error::other)
}

impl TestCa {
    /// A server identity as `spec` says, issued by this CA.
    pub fn issue_spec(&self, spec: &CertSpec) -> io::Result<Identity> {
        sign(spec, &self.issuer, Vec::new())
    }

    /// An intermediate CA under this one, named `name`: what it issues comes with its
    /// certificate in the chain, and a client trusting this CA accepts it.
    pub fn intermediate(&self, name: &str) -> io::Result<IntermediateCa> {
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(rcgen_error)?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let key = KeyPair::generate().map_err(rcgen_error)?;
        let cert = params.signed_by(&key, &self.issuer).map_err(rcgen_error)?;
        Ok(IntermediateCa {
            cert: cert.der().clone(),
            issuer: Issuer::new(params, key),
        })
    }
}

/// An intermediate certificate authority ([`TestCa::intermediate`]): its identities present
/// the chain leaf, intermediate.
pub struct IntermediateCa {
    cert: CertificateDer<'static>,
    issuer: Issuer<'static, KeyPair>,
}

impl std::fmt::Debug for IntermediateCa {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntermediateCa").finish_non_exhaustive()
    }
}

impl IntermediateCa {
    /// A server identity as `spec` says, issued by this intermediate, with its certificate
    /// after the leaf in the chain.
    pub fn issue(&self, spec: &CertSpec) -> io::Result<Identity> {
        sign(spec, &self.issuer, vec![self.cert.clone()])
    }

    /// The intermediate's certificate, DER-encoded.
    pub fn der(&self) -> &CertificateDer<'static> {
        &self.cert
    }
}

/// Signs `spec` with `issuer`; the chain is the leaf, then `above`.
fn sign(
    spec: &CertSpec,
    issuer: &Issuer<'static, KeyPair>,
    above: Vec<CertificateDer<'static>>,
) -> io::Result<Identity> {
    let key = KeyPair::generate().map_err(rcgen_error)?;
    let cert = spec
        .params()?
        .signed_by(&key, issuer)
        .map_err(rcgen_error)?;
    let mut chain = vec![cert.der().clone()];
    chain.extend(above);
    Ok(Identity {
        chain,
        key: key.serialize_der(),
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        foreign_key: false,
    })
}

impl Identity {
    /// The leaf certificate, DER-encoded (to compare a client's fingerprint with).
    pub fn leaf_der(&self) -> &CertificateDer<'static> {
        &self.chain[0]
    }
}
