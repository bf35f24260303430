//! A reply read straight from its bytes, for only what a lookup needs of it: whether it answers
//! our query, its code, the addresses of the type asked with their smallest TTL, and the SOA's
//! TTL for a negative answer. hickory's `Message` would build a vector per section and a name
//! per record of every reply; here only the addresses are allocated. The tests check that both
//! read every reply alike.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::wire::{Answer, Timed};

const TYPE_A: u16 = 1;
const TYPE_SOA: u16 = 6;
const TYPE_AAAA: u16 = 28;
const TYPE_OPT: u16 = 41;
const HEADER: usize = 12;

/// What a reply to our query says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Reply {
    /// The TC bit: the answer did not fit and must be asked again over TCP.
    pub(crate) truncated: bool,
    pub(crate) said: Said,
}

/// The reply's verdict on the question.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Said {
    Answer(Timed),
    /// REFUSED: the server's policy, which asking it again will not change.
    Refused,
    /// SERVFAIL or any other error code.
    ServerFailure,
}

/// Reads `reply` as the answer to `query` (a message `wire::encode` wrote, with its ID): `None`
/// if it is no response to it (another ID, another question, not a response) or is malformed.
pub(crate) fn read(reply: &[u8], query: &[u8]) -> Option<Reply> {
    let mut r = Reader {
        bytes: reply,
        at: 0,
    };
    let header = r.take(HEADER)?;
    let count = |i: usize| u16::from_be_bytes([header[i], header[i + 1]]);
    // Our ID, the QR bit (a response), one question.
    if header[..2] != query[..2] || header[2] & 0x80 == 0 || count(4) != 1 {
        return None;
    }
    // The question is never compressed (there is no earlier name to point to), so it is ours
    // byte for byte, but for the case of the name's letters (label lengths are below 64, no
    // letter); type and class exactly.
    let ours = query.get(HEADER..)?;
    let (name, kind) = ours.split_at(ours.len().checked_sub(4)?);
    let theirs = r.take(ours.len())?;
    if !theirs[..name.len()].eq_ignore_ascii_case(name) || theirs[name.len()..] != *kind {
        return None;
    }
    let rtype = u16::from_be_bytes([kind[0], kind[1]]);
    let truncated = header[2] & 0x02 != 0;
    let mut rcode = u16::from(header[3] & 0x0f);

    let mut addrs = Vec::new();
    let mut ttl = u32::MAX;
    for _ in 0..count(6) {
        let record = r.record()?;
        // The TTL of the whole chain counts: a CNAME that expires first ends the answer too.
        ttl = ttl.min(record.ttl);
        if let Some(ip) = record.address()?
            && record.rtype == rtype
        {
            addrs.push(ip);
        }
    }
    let mut negative = None;
    for _ in 0..count(8) {
        let record = r.record()?;
        record.address()?;
        if record.rtype == TYPE_SOA {
            let minimum = soa_minimum(record.data)?;
            // The first SOA's: RFC 2308, the smaller of its TTL and its minimum.
            negative.get_or_insert(record.ttl.min(minimum));
        }
    }
    for _ in 0..count(10) {
        let record = r.record()?;
        record.address()?;
        if record.rtype == TYPE_OPT {
            // EDNS: the upper eight bits of a twelve-bit code, in the TTL's top byte.
            rcode |= ((record.ttl >> 24) as u16) << 4;
        }
    }

    let said = match rcode {
        0 if addrs.is_empty() => Said::Answer((Answer::NoData, negative)),
        0 => Said::Answer((Answer::Addrs(addrs), Some(ttl))),
        3 => Said::Answer((Answer::NxDomain, negative)),
        5 => Said::Refused,
        _ => Said::ServerFailure,
    };
    Some(Reply { truncated, said })
}

/// An SOA's minimum, its last field, after two names (each may end in a pointer).
fn soa_minimum(data: &[u8]) -> Option<u32> {
    let mut r = Reader { bytes: data, at: 0 };
    r.skip_name()?;
    r.skip_name()?;
    let fields = r.take(20)?;
    (r.at == data.len()).then(|| u32::from_be_bytes(fields[16..20].try_into().unwrap()))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

struct Record<'a> {
    rtype: u16,
    ttl: u32,
    data: &'a [u8],
}

impl Record<'_> {
    /// The address of an A or AAAA record (`Some(None)` for other types), `None` if its data
    /// is not one address long.
    fn address(&self) -> Option<Option<IpAddr>> {
        match self.rtype {
            TYPE_A => Some(Some(
                Ipv4Addr::from(<[u8; 4]>::try_from(self.data).ok()?).into(),
            )),
            TYPE_AAAA => Some(Some(
                Ipv6Addr::from(<[u8; 16]>::try_from(self.data).ok()?).into(),
            )),
            _ => Some(None),
        }
    }
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let bytes = self.bytes.get(self.at..self.at.checked_add(n)?)?;
        self.at += n;
        Some(bytes)
    }

    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes(self.take(2)?.try_into().ok()?))
    }

    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes(self.take(4)?.try_into().ok()?))
    }

    /// Steps over a name: labels up to the root label, or up to a compression pointer, which
    /// ends a name (where it points is never needed here).
    fn skip_name(&mut self) -> Option<()> {
        loop {
            let len = self.take(1)?[0];
            match len >> 6 {
                0 if len == 0 => return Some(()),
                0 => {
                    self.take(len.into())?;
                }
                0b11 => {
                    self.take(1)?;
                    return Some(());
                }
                // The extended label types (RFC 6891 retired them): malformed.
                _ => return None,
            }
        }
    }

    fn record(&mut self) -> Option<Record<'a>> {
        self.skip_name()?;
        let rtype = self.u16()?;
        let _class = self.u16()?;
        let ttl = self.u32()?;
        let len = self.u16()?;
        let data = self.take(len.into())?;
        Some(Record { rtype, ttl, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
    use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, SOA, TXT};
    use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};
    use proptest::prelude::*;

    /// A reply as hickory reads it: its whole message, then its question, code and records.
    fn reference(bytes: &[u8], id: u16, name: &Name, rtype: RecordType) -> Option<Reply> {
        let reply = Message::from_vec(bytes).ok()?;
        let meta = &reply.metadata;
        let [question] = reply.queries.as_slice() else {
            return None;
        };
        let ours = meta.message_type == MessageType::Response
            && meta.id == id
            && question.name == *name
            && question.query_type == rtype
            && question.query_class == DNSClass::IN;
        if !ours {
            return None;
        }
        let negative = reply.authorities.iter().find_map(|r| match &r.data {
            RData::SOA(soa) => Some(r.ttl.min(soa.minimum)),
            _ => None,
        });
        let said = match meta.response_code {
            ResponseCode::NoError => {
                let mut addrs = Vec::new();
                let mut ttl = u32::MAX;
                for record in &reply.answers {
                    ttl = ttl.min(record.ttl);
                    match (&record.data, rtype) {
                        (RData::A(a), RecordType::A) => addrs.push(IpAddr::V4(a.0)),
                        (RData::AAAA(a), RecordType::AAAA) => addrs.push(IpAddr::V6(a.0)),
                        _ => {}
                    }
                }
                if addrs.is_empty() {
                    Said::Answer((Answer::NoData, negative))
                } else {
                    Said::Answer((Answer::Addrs(addrs), Some(ttl)))
                }
            }
            ResponseCode::NXDomain => Said::Answer((Answer::NxDomain, negative)),
            ResponseCode::Refused => Said::Refused,
            _ => Said::ServerFailure,
        };
        Some(Reply {
            truncated: meta.truncation,
            said,
        })
    }

    fn name(s: &str) -> Name {
        Name::from_ascii(s).unwrap()
    }

    fn query(id: u16, name: &Name, rtype: RecordType) -> Vec<u8> {
        let mut q = crate::wire::encode(&crate::qname::of(name), rtype);
        q[..2].copy_from_slice(&id.to_be_bytes());
        q
    }

    /// The names a reply may carry: the question's (in another case too), one under it, and
    /// others, so that compression points into the question and into earlier records.
    fn names() -> impl Strategy<Value = Name> {
        prop_oneof![
            Just(name("h1.test.")),
            Just(name("H1.TeSt.")),
            Just(name("www.h1.test.")),
            Just(name("other.example.")),
            Just(name("ns.other.example.")),
            Just(Name::root()),
        ]
    }

    fn record() -> impl Strategy<Value = Record> {
        let data = prop_oneof![
            any::<[u8; 4]>().prop_map(|ip| RData::A(A(ip.into()))),
            any::<[u8; 16]>().prop_map(|ip| RData::AAAA(AAAA(ip.into()))),
            names().prop_map(|n| RData::CNAME(CNAME(n))),
            names().prop_map(|n| RData::NS(NS(n))),
            "[a-z]{0,8}".prop_map(|t| RData::TXT(TXT::new(vec![t]))),
            (names(), names(), any::<u32>(), any::<u32>()).prop_map(|(m, r, serial, min)| {
                RData::SOA(SOA::new(m, r, serial, 3600, 600, 86400, min))
            }),
        ];
        (names(), any::<u32>(), data).prop_map(|(n, ttl, d)| Record::from_rdata(n, ttl, d))
    }

    /// Authority records: mostly SOAs, several at times, whose TTLs and minimums differ.
    fn authority() -> impl Strategy<Value = Record> {
        let soa = (names(), any::<u32>(), any::<u32>()).prop_map(|(n, ttl, min)| {
            let data = SOA::new(name("ns.x."), name("h.x."), 1, 3600, 600, 86400, min);
            Record::from_rdata(n, ttl, RData::SOA(data))
        });
        prop_oneof![2 => soa, 1 => record()]
    }

    prop_compose! {
        fn reply()(
            id in prop_oneof![Just(0x1234u16), any::<u16>()],
            response in prop::bool::weighted(0.9),
            truncated in any::<bool>(),
            questions in prop_oneof![
                8 => (names(), prop_oneof![Just(RecordType::A), Just(RecordType::AAAA), Just(RecordType::MX)])
                    .prop_map(|(n, t)| vec![Query::query(n, t)]),
                1 => Just(Vec::new()),
                1 => Just(vec![Query::query(name("h1.test."), RecordType::A); 2]),
            ],
            code in prop_oneof![Just(0u16), Just(1), Just(2), Just(3), Just(4), Just(5), Just(16), Just(19)],
            answers in prop::collection::vec(record(), 0..5),
            authorities in prop::collection::vec(authority(), 0..4),
            additionals in prop::collection::vec(record(), 0..2),
            edns in any::<bool>(),
        ) -> Vec<u8> {
            let kind = if response { MessageType::Response } else { MessageType::Query };
            let mut m = Message::new(id, kind, OpCode::Query);
            m.metadata.truncation = truncated;
            m.metadata.response_code = <ResponseCode as From<u16>>::from(code);
            for q in questions {
                m.add_query(q);
            }
            m.add_answers(answers);
            m.add_authorities(authorities);
            m.add_additionals(additionals);
            // A code above 15 needs EDNS to carry its upper bits.
            if edns || code > 15 {
                m.set_edns(Edns::new());
            }
            m.to_vec().unwrap()
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// Every reply hickory writes, compression included, is read as hickory reads it.
        #[test]
        fn reads_replies_as_hickory_does(bytes in reply(), rtype in prop_oneof![Just(RecordType::A), Just(RecordType::AAAA)]) {
            let asked = name("h1.test.");
            let q = query(0x1234, &asked, rtype);
            prop_assert_eq!(read(&bytes, &q), reference(&bytes, 0x1234, &asked, rtype));
        }

        /// Damaged replies never panic, and whatever hickory still reads is read alike.
        #[test]
        fn damaged_replies_are_read_alike_or_refused(
            bytes in reply(),
            damage in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4),
            cut in any::<prop::sample::Index>(),
            shorten in any::<bool>(),
        ) {
            let mut bytes = bytes;
            for (at, byte) in damage {
                let i = at.index(bytes.len());
                bytes[i] = byte;
            }
            if shorten {
                bytes.truncate(cut.index(bytes.len() + 1));
            }
            let asked = name("h1.test.");
            let q = query(0x1234, &asked, RecordType::A);
            let ours = read(&bytes, &q);
            if let Some(theirs) = reference(&bytes, 0x1234, &asked, RecordType::A) {
                prop_assert_eq!(ours, Some(theirs));
            }
        }
    }

    #[test]
    fn the_question_must_be_ours() {
        let asked = name("h1.test.");
        let q = query(7, &asked, RecordType::A);
        let mut m = Message::new(7, MessageType::Response, OpCode::Query);
        m.add_query(Query::query(name("H1.TEST."), RecordType::A));
        m.add_answer(Record::from_rdata(
            asked.clone(),
            30,
            RData::A(A([10, 0, 0, 1].into())),
        ));
        let bytes = m.to_vec().unwrap();
        let expect = Reply {
            truncated: false,
            said: Said::Answer((Answer::Addrs(vec![[10, 0, 0, 1].into()]), Some(30))),
        };
        assert_eq!(
            read(&bytes, &q),
            Some(expect),
            "the name's case does not matter"
        );
        assert_eq!(
            read(&bytes, &query(8, &asked, RecordType::A)),
            None,
            "another ID"
        );
        assert_eq!(
            read(&bytes, &query(7, &asked, RecordType::AAAA)),
            None,
            "another type"
        );
        assert_eq!(
            read(&bytes, &query(7, &name("h2.test."), RecordType::A)),
            None
        );
        assert_eq!(read(&bytes[..bytes.len() - 1], &q), None, "cut short");
    }
}
