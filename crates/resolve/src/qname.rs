//! The name a query asks, as its labels on the wire, lowercased (names are equal whatever their
//! case): written into the query as it is, and the cache's key, hashed and compared as plain
//! bytes. Plain names (letters, digits and inner hyphens, as nearly every host name is) are
//! written here; any other goes through hickory's parser (IDNA, escapes, underscores).

use std::sync::Arc;

use hickory_proto::rr::Name;

/// A fully qualified name on the wire, root label included.
pub(crate) type QName = Arc<[u8]>;

/// The longest wire form of a name, in bytes.
const MAX: usize = 255;

/// `name` (absolute, without its final dot: `www.example.com`, `""` for the root), or `None`
/// if it is not a valid name.
pub(crate) fn parse(name: &str) -> Option<QName> {
    plain(name).or_else(|| Name::from_utf8(format!("{name}.")).ok().map(|n| of(&n)))
}

/// The wire form of a parsed name (made fully qualified).
pub(crate) fn of(name: &Name) -> QName {
    let mut bytes = Vec::with_capacity(name.len() + 2);
    for label in name.iter() {
        bytes.push(label.len() as u8);
        bytes.extend(label.iter().map(u8::to_ascii_lowercase));
    }
    bytes.push(0);
    bytes.into()
}

/// A name of plain labels only, written without hickory's parse (its IDNA mapping, which a
/// plain name does not need, is the costliest step of a lookup's own work); `None` for any
/// other, valid or not.
fn plain(name: &str) -> Option<QName> {
    // Written on the stack, then copied once into the shared bytes.
    let mut bytes = [0u8; MAX];
    let mut len = 0;
    for label in name.split('.') {
        let b = label.as_bytes();
        let ok = (1..=63).contains(&b.len())
            && b[0].is_ascii_alphanumeric()
            && b.iter().all(|&c| c.is_ascii_alphanumeric() || c == b'-')
            // Punycode, which IDNA checks.
            && !(b.len() >= 4 && b[..4].eq_ignore_ascii_case(b"xn--"));
        // Room for this label and the root label after it.
        if !ok || len + 1 + b.len() + 1 > MAX {
            return None;
        }
        bytes[len] = b.len() as u8;
        for (to, from) in bytes[len + 1..].iter_mut().zip(b) {
            *to = from.to_ascii_lowercase();
        }
        len += 1 + b.len();
    }
    // The root label is the zero already there.
    Some(bytes[..len + 1].into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// What hickory makes of `name`, on the wire.
    fn hickory(name: &str) -> Option<QName> {
        Name::from_utf8(format!("{name}.")).ok().map(|n| of(&n))
    }

    #[test]
    fn case_does_not_matter_but_labels_do() {
        assert_eq!(parse("Www.Example.COM"), parse("www.example.com"));
        assert_ne!(parse("ab.c"), parse("a.bc"));
        assert_eq!(
            parse("h1.test").as_deref(),
            Some(&b"\x02h1\x04test\x00"[..])
        );
        assert_eq!(parse("").as_deref(), Some(&[0u8][..]), "the root");
        for bad in [
            "a..b",
            ".a",
            "a.",
            &"x".repeat(64),
            &vec!["y".repeat(63); 4].join("."),
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
        // Not plain, so hickory's: IDNA, an underscore label.
        assert_eq!(parse("bücher.example"), hickory("xn--bcher-kva.example"));
        assert_eq!(parse("_sip._tcp.example"), hickory("_sip._tcp.example"));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1500))]

        /// Every name is what hickory's parser makes of it, or invalid for both.
        #[test]
        fn names_are_read_as_hickory_reads_them(
            name in "([a-zA-Z0-9_-]{0,4}|xn--[a-z0-9-]{0,6}|[a-zA-Z0-9-]{60,66})(\\.([a-zA-Z0-9_-]{0,12}|[a-z]{62,64})){0,6}"
        ) {
            prop_assert_eq!(parse(&name), hickory(&name));
        }
    }
}
