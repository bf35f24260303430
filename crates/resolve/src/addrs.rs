//! A lookup's result, both families, and the address order for Happy Eyeballs (RFC 8305).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

/// Which address families a resolver answers with (curl's `-4`/`-6`): a name is asked only
/// the DNS types of these families, and addresses of the other family (in the hosts file, a
/// pin or an IP literal) are left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum Family {
    /// IPv4 and IPv6 (A and AAAA): the default.
    #[default]
    Any,
    /// IPv4 only (A).
    V4,
    /// IPv6 only (AAAA).
    V6,
}

impl Family {
    /// Whether `ip` is of this family.
    ///
    /// ```
    /// use tulip_resolve::Family;
    /// let v6: std::net::IpAddr = "::1".parse().unwrap();
    /// assert!(Family::Any.allows(v6) && Family::V6.allows(v6) && !Family::V4.allows(v6));
    /// ```
    pub fn allows(self, ip: IpAddr) -> bool {
        match self {
            Family::Any => true,
            Family::V4 => ip.is_ipv4(),
            Family::V6 => ip.is_ipv6(),
        }
    }
}

/// The addresses of a name: IPv6 and IPv4 apart, each in the order the source gave them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Addrs {
    v6: Vec<Ipv6Addr>,
    v4: Vec<Ipv4Addr>,
}

impl Addrs {
    /// Splits `ips` by family, keeping the order within each and dropping repeats.
    pub fn from_ips(ips: impl IntoIterator<Item = IpAddr>) -> Addrs {
        let mut addrs = Addrs::default();
        for ip in ips {
            match ip {
                IpAddr::V6(ip) if !addrs.v6.contains(&ip) => addrs.v6.push(ip),
                IpAddr::V4(ip) if !addrs.v4.contains(&ip) => addrs.v4.push(ip),
                _ => {}
            }
        }
        addrs
    }

    /// The IPv4 addresses.
    pub fn ipv4(&self) -> &[Ipv4Addr] {
        &self.v4
    }

    /// The IPv6 addresses.
    pub fn ipv6(&self) -> &[Ipv6Addr] {
        &self.v6
    }

    /// Whether there is no address at all.
    pub fn is_empty(&self) -> bool {
        self.v4.is_empty() && self.v6.is_empty()
    }

    /// Every address, in the order to try them: IPv6 first (the default policy of RFC 6724
    /// prefers it over IPv4), then alternating families, as RFC 8305 section 4 asks.
    pub fn interleaved(&self) -> Vec<IpAddr> {
        self.in_order().collect()
    }

    /// [`Addrs::interleaved`] with `port`, ready to connect to.
    pub fn with_port(&self, port: u16) -> Vec<SocketAddr> {
        self.in_order()
            .map(|ip| SocketAddr::new(ip, port))
            .collect()
    }

    /// The order of [`Addrs::interleaved`], as [`interleave`] makes it of IPv6 then IPv4, but
    /// without collecting anything on the way (a lookup per connection goes through here).
    fn in_order(&self) -> impl Iterator<Item = IpAddr> + '_ {
        let (mut v6, mut v4) = (self.v6.iter(), self.v4.iter());
        let mut next_v6 = true;
        std::iter::from_fn(move || {
            let ip = if next_v6 {
                v6.next().map(|&ip| IpAddr::V6(ip))
            } else {
                v4.next().map(|&ip| IpAddr::V4(ip))
            };
            next_v6 = !next_v6;
            ip.or_else(|| {
                // One family is spent: the rest of the other.
                v6.next()
                    .map(|&ip| IpAddr::V6(ip))
                    .or_else(|| v4.next().map(|&ip| IpAddr::V4(ip)))
            })
        })
    }
}

/// `addrs` (in order of preference) reordered to alternate address families, starting with the
/// family of the first one, each family keeping its own order (RFC 8305 section 4, with a
/// "first address family count" of one).
///
/// ```
/// use std::net::IpAddr;
/// let ip = |s: &str| s.parse::<IpAddr>().unwrap();
/// let order = tulip_resolve::interleave(&[ip("::1"), ip("::2"), ip("10.0.0.1"), ip("10.0.0.2"), ip("::3")]);
/// assert_eq!(order, [ip("::1"), ip("10.0.0.1"), ip("::2"), ip("10.0.0.2"), ip("::3")]);
/// ```
pub fn interleave(addrs: &[IpAddr]) -> Vec<IpAddr> {
    let Some(first) = addrs.first() else {
        return Vec::new();
    };
    let (mut lead, mut other): (Vec<IpAddr>, Vec<IpAddr>) =
        addrs.iter().partition(|ip| ip.is_ipv6() == first.is_ipv6());
    lead.reverse();
    other.reverse();
    let mut out = Vec::with_capacity(addrs.len());
    while !lead.is_empty() || !other.is_empty() {
        out.extend(lead.pop());
        out.extend(other.pop());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The order a lookup's addresses are tried in is `interleave`'s of IPv6 then IPv4.
        #[test]
        fn in_order_is_interleave(v6 in prop::collection::vec(any::<u16>(), 0..5), v4 in prop::collection::vec(any::<u8>(), 0..5)) {
            let ips: Vec<IpAddr> = v6.iter().map(|&n| IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, n)))
                .chain(v4.iter().map(|&n| IpAddr::V4(Ipv4Addr::new(10, 0, 0, n))))
                .collect();
            let addrs = Addrs::from_ips(ips);
            let mut unique: Vec<IpAddr> = addrs.ipv6().iter().map(|&ip| IpAddr::V6(ip)).collect();
            unique.extend(addrs.ipv4().iter().map(|&ip| IpAddr::V4(ip)));
            prop_assert_eq!(addrs.interleaved(), interleave(&unique));
            let ports: Vec<SocketAddr> = interleave(&unique).into_iter().map(|ip| SocketAddr::new(ip, 80)).collect();
            prop_assert_eq!(addrs.with_port(80), ports);
        }
    }
}
