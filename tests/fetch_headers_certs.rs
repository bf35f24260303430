//! fetch-headers' certificate facts and timings: the `HOST cert > ...` line and the JSON `cert`
//! for certificates with chosen names, dates and chains (one under an intermediate), also when
//! verification refused them (expired, another name); `--expires-within` on both sides of the
//! line; `timings_ms` and the summary's percentiles. Dates, fingerprints and times are redacted
//! by the fixture; the days left are fixed by making certificates relative to now.

use std::time::Duration;

use stub::{Behavior, CertSpec, Identity, Stub, TestCa};

use crate::fetch_headers::JSON;
use crate::fixture::{TempDir, cmd};

const DAY: Duration = Duration::from_secs(86_400);
const HALF_DAY: Duration = Duration::from_secs(43_200);

/// A CA whose PEM is in a file for `--cacert`, and servers with certificates it issued.
struct Fleet {
    ca: TestCa,
    dir: TempDir,
}

impl Fleet {
    fn new(name: &str) -> Fleet {
        let ca = TestCa::new("tulip test CA").unwrap();
        let dir = TempDir::new(name);
        std::fs::write(dir.path().join("ca.pem"), ca.pem()).unwrap();
        Fleet { ca, dir }
    }

    fn cacert(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }
}

fn serve(identity: &Identity) -> Stub {
    Stub::start_tls(Behavior::Ok, identity).unwrap()
}

/// `URL/NAME`: the name survives the port redaction and says which is which.
fn named(stub: &Stub, name: &str) -> String {
    format!("{}{name}", stub.url())
}

/// Four servers: a good certificate under an intermediate (30 days left), one expiring in 5
/// days, an expired one, and one for another name.
struct Servers {
    chained: Stub,
    soon: Stub,
    expired: Stub,
    other_name: Stub,
}

impl Servers {
    fn start(fleet: &Fleet) -> Servers {
        let intermediate = fleet.ca.intermediate("tulip intermediate CA").unwrap();
        let chained = CertSpec::new(&["127.0.0.1", "www.example.test"])
            .common_name("www.example.test")
            .organization("Example Org")
            .expires_in(30 * DAY + HALF_DAY);
        let soon = CertSpec::new(&["127.0.0.1"]).expires_in(5 * DAY + HALF_DAY);
        Servers {
            chained: serve(&intermediate.issue(&chained).unwrap()),
            soon: serve(&fleet.ca.issue_spec(&soon).unwrap()),
            expired: serve(&fleet.ca.issue_expired(&["127.0.0.1"]).unwrap()),
            other_name: serve(&fleet.ca.issue(&["other.example"]).unwrap()),
        }
    }

    fn targets(&self) -> [String; 4] {
        [
            named(&self.chained, "chained"),
            named(&self.soon, "soon"),
            named(&self.expired, "expired"),
            named(&self.other_name, "other-name"),
        ]
    }
}

#[test]
fn certificate_facts_in_text_and_json() {
    let fleet = Fleet::new("cert-facts");
    let servers = Servers::start(&fleet);
    snapshot!(
        "cert_text",
        cmd("fetch-headers")
            .args(["--order", "input", "--timeout", "20", "--cacert"])
            .arg(fleet.cacert())
            .args(servers.targets())
    );
    snapshot!(
        "cert_json",
        cmd("fetch-headers")
            .args(["--order", "input", "--timeout", "20", "--json", "--cacert"])
            .arg(fleet.cacert())
            .args(servers.targets()),
        JSON
    );
}

/// The certificate expiring in 5 days and a half is outside a 5-day line and inside a 6-day
/// one; the run exits 1 exactly when one is inside.
#[test]
fn expires_within_on_both_sides_of_the_line() {
    let fleet = Fleet::new("expires-within");
    let servers = Servers::start(&fleet);
    let fleet_of = |days: &str| {
        let mut c = cmd("fetch-headers");
        c.args([
            "--order",
            "input",
            "--timeout",
            "20",
            "--expires-within",
            days,
        ])
        .arg("--cacert")
        .arg(fleet.cacert())
        .args([
            named(&servers.chained, "chained"),
            named(&servers.soon, "soon"),
        ]);
        c
    };
    snapshot!("expires_within_5", fleet_of("5"));
    snapshot!("expires_within_6", fleet_of("6"));
    snapshot!("expires_within_31", fleet_of("31"));
    // Without verification an expired certificate is inside any line, with its own message.
    snapshot!(
        "expires_within_insecure_expired",
        cmd("fetch-headers").args([
            "-k",
            "--expires-within",
            "0",
            &named(&servers.expired, "expired"),
        ])
    );
}

#[test]
fn bad_expires_within_is_a_usage_error() {
    snapshot!(
        "expires_within_negative",
        cmd("fetch-headers").args(["--expires-within", "-1", "https://127.0.0.1/"])
    );
    snapshot!(
        "expires_within_not_a_number",
        cmd("fetch-headers").args(["--expires-within", "soon", "https://127.0.0.1/"])
    );
}
