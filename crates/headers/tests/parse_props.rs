//! Property tests of the head parser: the answer does not depend on how the bytes were split
//! across reads, and no input makes it panic.

use proptest::prelude::*;
use tulip_headers::{HeadParser, Limits, parse_head};

/// Feeds `bytes` to an incremental parser in the chunks that `cuts` describe and returns the
/// first answer that is not "need more", or "need more" if none was.
fn incremental(
    bytes: &[u8],
    cuts: &[usize],
    limits: &Limits,
) -> Result<Option<tulip_headers::Parsed>, tulip_headers::HeadError> {
    let mut parser = HeadParser::new(*limits);
    let mut ends: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    ends.push(bytes.len());
    ends.sort_unstable();
    for end in ends {
        match parser.parse(&bytes[..end]) {
            Ok(None) => {}
            done => return done,
        }
    }
    Ok(None)
}

/// Lines a real or sloppy server might send.
fn line() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"Server: nginx".to_vec()),
        Just(b"Content-Length: 0".to_vec()),
        Just(b"  folded continuation".to_vec()),
        Just(b"X-Bytes: caf\xc3\xa9 \xff".to_vec()),
        Just(b"Bad Header".to_vec()),
        Just(b"".to_vec()),
        Just(b"HTTP/1.1 200 OK".to_vec()),
        Just(b"HTTP/1.1 100 Continue".to_vec()),
        Just(b"HTTP/1.0 302".to_vec()),
        "[a-zA-Z-]{1,12}: [ -~]{0,20}".prop_map(String::into_bytes),
        proptest::collection::vec(any::<u8>(), 0..12),
    ]
}

/// A head-like byte string: a status line, lines with CRLF or bare LF ends, maybe a body.
fn head_like() -> impl Strategy<Value = Vec<u8>> {
    (
        prop_oneof![
            Just(b"HTTP/1.1 200 OK".to_vec()),
            Just(b"HTTP/1.1 100 Continue".to_vec()),
            Just(b"HTTP/1.0 404 Not Found".to_vec()),
            line()
        ],
        proptest::collection::vec((line(), any::<bool>()), 0..12),
        proptest::collection::vec(any::<u8>(), 0..16),
    )
        .prop_map(|(status, lines, body)| {
            let mut out = status;
            out.extend_from_slice(b"\r\n");
            for (line, crlf) in lines {
                out.extend_from_slice(&line);
                out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
            }
            out.extend_from_slice(&body);
            out
        })
}

fn limits() -> impl Strategy<Value = Limits> {
    prop_oneof![
        Just(Limits::default()),
        (8usize..200, 0usize..6).prop_map(|(max_head_size, max_headers)| Limits {
            max_head_size,
            max_headers
        }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn any_split_gives_the_same_answer(
        bytes in head_like(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        limits in limits(),
    ) {
        let whole = parse_head(&bytes, &limits);
        prop_assert_eq!(incremental(&bytes, &cuts, &limits), whole.clone());
        // One byte at a time, the slowest drip.
        let every: Vec<usize> = (0..bytes.len()).collect();
        prop_assert_eq!(incremental(&bytes, &every, &limits), whole.clone());
        // What follows the head does not change it.
        if let Ok(Some(parsed)) = whole {
            prop_assert_eq!(parse_head(&bytes[..parsed.len], &limits), Ok(Some(parsed)));
        }
    }

    #[test]
    fn leading_empty_lines_split_the_same(
        blanks in proptest::collection::vec(
            prop_oneof![Just(b"\n".as_slice()), Just(b"\r\n".as_slice()), Just(b"\r".as_slice())],
            0..40,
        ),
        head in head_like(),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        limits in limits(),
    ) {
        // The empty lines before a head are skipped once, not tried as its end: the answer
        // must still not depend on the split, and clean ones must not change the head.
        let bytes = [blanks.concat(), head.clone()].concat();
        let whole = parse_head(&bytes, &limits);
        prop_assert_eq!(incremental(&bytes, &cuts, &limits), whole.clone());
        let every: Vec<usize> = (0..bytes.len()).collect();
        prop_assert_eq!(incremental(&bytes, &every, &limits), whole.clone());
        let clean = !blanks.iter().any(|b| *b == b"\r");
        if let (true, Ok(Some(with)), Ok(Some(without))) = (clean, whole, parse_head(&head, &limits)) {
            prop_assert_eq!(with.head, without.head);
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic_and_split_the_same(
        bytes in proptest::collection::vec(any::<u8>(), 0..300),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
        limits in limits(),
    ) {
        let whole = parse_head(&bytes, &limits);
        prop_assert_eq!(incremental(&bytes, &cuts, &limits), whole);
    }

    #[test]
    fn http_prefixed_bytes_never_panic_and_split_the_same(
        tail in proptest::collection::vec(any::<u8>(), 0..300),
        cuts in proptest::collection::vec(any::<usize>(), 0..8),
    ) {
        let bytes = [b"HTTP/1.1 ".as_slice(), &tail].concat();
        let limits = Limits::default();
        let whole = parse_head(&bytes, &limits);
        prop_assert_eq!(incremental(&bytes, &cuts, &limits), whole);
    }
}
