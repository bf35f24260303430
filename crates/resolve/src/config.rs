//! The files a resolver reads: resolv.conf (servers, search list, options) and hosts, and the
//! `HOST:PORT:ADDR` pins of curl's `--resolve`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;
use std::time::Duration;

use crate::error::PinError;

/// What a resolv.conf says, with glibc's defaults for what it leaves out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvConf {
    /// `nameserver` lines, port 53, at most three (glibc's limit); link-local addresses with a
    /// zone (`fe80::1%eth0`) are skipped.
    pub nameservers: Vec<SocketAddr>,
    /// The `search` list (or the `domain`), whichever comes last; at most six.
    pub search: Vec<String>,
    /// `options ndots:N`: a name with at least this many dots is tried as given first. Default 1.
    pub ndots: u8,
    /// `options timeout:N`: how long to wait for one server. Default 5 s.
    pub timeout: Duration,
    /// `options attempts:N`: rounds over the servers. Default 2.
    pub attempts: u32,
}

impl Default for ResolvConf {
    fn default() -> Self {
        ResolvConf {
            nameservers: Vec::new(),
            search: Vec::new(),
            ndots: 1,
            timeout: Duration::from_secs(5),
            attempts: 2,
        }
    }
}

impl ResolvConf {
    /// Parses resolv.conf text. Unknown keywords and options are ignored, as glibc does; a
    /// `nameserver` that is no IP address or an option with a bad number is an error, with the
    /// line number (from 1).
    pub fn parse(text: &str) -> Result<ResolvConf, (usize, String)> {
        let mut conf = ResolvConf::default();
        for (index, line) in text.lines().enumerate() {
            let line_no = index + 1;
            let line = line.split(['#', ';']).next().unwrap_or("");
            let mut words = line.split_whitespace();
            let Some(keyword) = words.next() else {
                continue;
            };
            match keyword {
                "nameserver" => {
                    let Some(addr) = words.next() else {
                        return Err((line_no, "nameserver without an address".into()));
                    };
                    if addr.contains('%') {
                        continue;
                    }
                    let ip: IpAddr = addr
                        .parse()
                        .map_err(|_| (line_no, format!("invalid nameserver {addr:?}")))?;
                    if conf.nameservers.len() < 3 {
                        conf.nameservers.push(SocketAddr::new(ip, 53));
                    }
                }
                "search" | "domain" => {
                    conf.search = words
                        .map(|d| d.trim_end_matches('.').to_ascii_lowercase())
                        .filter(|d| !d.is_empty())
                        .take(6)
                        .collect();
                }
                "options" => {
                    for option in words {
                        let Some((name, value)) = option.split_once(':') else {
                            continue;
                        };
                        let number = || {
                            value
                                .parse::<u32>()
                                .map_err(|_| (line_no, format!("invalid option {option:?}")))
                        };
                        match name {
                            "ndots" => conf.ndots = number()?.min(15) as u8,
                            "timeout" => {
                                conf.timeout = Duration::from_secs(number()?.clamp(1, 30).into())
                            }
                            "attempts" => conf.attempts = number()?.clamp(1, 5),
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(conf)
    }
}

/// A hosts file: each name (lowercase, without a final dot) and its addresses in file order.
pub(crate) fn parse_hosts(text: &str) -> HashMap<String, Vec<IpAddr>> {
    let mut hosts: HashMap<String, Vec<IpAddr>> = HashMap::new();
    for line in text.lines() {
        let line = line.split('#').next().unwrap_or("");
        let mut words = line.split_whitespace();
        // A line whose address does not parse is skipped, as the C library does.
        let Some(Ok(ip)) = words.next().map(IpAddr::from_str) else {
            continue;
        };
        for name in words {
            let addrs = hosts.entry(normalize(name)).or_default();
            if !addrs.contains(&ip) {
                addrs.push(ip);
            }
        }
    }
    hosts
}

/// A name as the resolver's tables key it: lowercase, without a final dot.
pub(crate) fn normalize(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A name pinned to addresses for one port, as curl's `--resolve HOST:PORT:ADDR[,ADDR...]`.
///
/// ```
/// let pin: tulip_resolve::Pin = "example.com:443:[::1],127.0.0.1".parse().unwrap();
/// assert_eq!(pin.host, "example.com");
/// assert_eq!(pin.port, 443);
/// assert_eq!(pin.addrs, ["::1".parse::<std::net::IpAddr>().unwrap(), [127, 0, 0, 1].into()]);
/// assert!("example.com:https:127.0.0.1".parse::<tulip_resolve::Pin>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pin {
    /// The name (lowercase, without a final dot).
    pub host: String,
    /// The port the pin applies to.
    pub port: u16,
    /// The addresses, in the given order.
    pub addrs: Vec<IpAddr>,
}

impl FromStr for Pin {
    type Err = PinError;

    fn from_str(input: &str) -> Result<Pin, PinError> {
        let shape = || PinError::new(input, "expected HOST:PORT:ADDR[,ADDR...]");
        let (host, rest) = input.split_once(':').ok_or_else(shape)?;
        let (port, addrs) = rest.split_once(':').ok_or_else(shape)?;
        if host.is_empty() {
            return Err(PinError::new(input, "empty host"));
        }
        let port = port
            .parse::<u16>()
            .map_err(|_| PinError::new(input, "invalid port"))?;
        let addrs = addrs
            .split(',')
            .map(|a| {
                let a = a
                    .strip_prefix('[')
                    .and_then(|a| a.strip_suffix(']'))
                    .unwrap_or(a);
                a.parse::<IpAddr>()
                    .map_err(|_| PinError::new(input, "invalid address"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Pin {
            host: normalize(host),
            port,
            addrs,
        })
    }
}
