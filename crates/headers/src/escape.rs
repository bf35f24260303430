//! Turning received bytes into printable text: printable ASCII is kept, every other byte (control
//! characters, bytes outside ASCII) becomes `\xNN`, so a hostile server cannot move the cursor,
//! ring the bell or break a terminal, and the text still shows exactly which bytes arrived.

/// Escapes `bytes` to printable ASCII: bytes 0x20-0x7E are kept, others become `\xNN`. Every
/// message of this crate quotes received bytes this way; a program that shows other untrusted
/// input (its arguments) can use it to quote them the same way.
///
/// ```
/// use tulip_headers::escape::escape_bytes;
/// assert_eq!(escape_bytes(b"caf\xc3\xa9\t\x1b[2J"), r"caf\xc3\xa9\x09\x1b[2J");
/// ```
pub fn escape_bytes(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len());
    push_escaped(&mut out, bytes);
    out
}

/// Appends the escaped form of `bytes` to `out` (see [`escape_bytes`]).
pub(crate) fn push_escaped(out: &mut String, bytes: &[u8]) {
    // Copy printable runs in one go: the common case is a line with nothing to escape.
    let mut start = 0;
    for (i, &b) in bytes.iter().enumerate() {
        if !(0x20..0x7f).contains(&b) {
            // The run is printable ASCII, hence valid UTF-8.
            out.push_str(std::str::from_utf8(&bytes[start..i]).unwrap_or_default());
            out.push_str(&format!("\\x{b:02x}"));
            start = i + 1;
        }
    }
    out.push_str(std::str::from_utf8(&bytes[start..]).unwrap_or_default());
}

/// Escapes user input for an error message: control characters as `\r`, `\n`, `\t`, `\0` or
/// `\xNN`; everything else (including non-ASCII letters) unchanged.
pub(crate) fn escape_str(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\r' => out.push_str(r"\r"),
            '\n' => out.push_str(r"\n"),
            '\t' => out.push_str(r"\t"),
            '\0' => out.push_str(r"\0"),
            '"' => out.push_str("\\\""),
            c if c.is_control() => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_bytes_outside_printable_ascii() {
        assert_eq!(escape_bytes(b"plain text: 1"), "plain text: 1");
        assert_eq!(escape_bytes(b"\x00\x7f\xff"), r"\x00\x7f\xff");
        assert_eq!(escape_bytes(b"a\r\nb"), r"a\x0d\x0ab");
        assert_eq!(escape_bytes(b""), "");
    }

    #[test]
    fn escapes_user_input_for_messages() {
        assert_eq!(escape_str("a\r\n\t\0\x1b\"é"), r#"a\r\n\t\0\x1b\"é"#);
    }
}
