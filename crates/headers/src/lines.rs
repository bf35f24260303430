//! Reading a list of targets, one a line, as users write them: blank lines and `#` comments
//! skipped, surrounding blanks and CRLF line ends ignored, a UTF-8 byte order mark accepted, and
//! a line too long or not UTF-8 an error that names its line, never a buffer that grows without
//! bound.

use std::fmt;
use std::io::{self, BufRead, Read};
use std::sync::Arc;

use crate::target::{Target, TargetError};

/// The longest line of a list, line break included.
pub const MAX_LINE: usize = 1 << 20;

/// The targets of a list, one a line, read a line at a time: an iterator of each target or the
/// reason its line is not one. After an I/O error it ends.
///
/// ```
/// use tulip_headers::TargetLines;
///
/// let list = "\u{feff}# fleet\nexample.com\r\n\n  https://[::1]:8443/health  \nftp://x\n";
/// let read: Vec<_> = TargetLines::new(list.as_bytes())
///     .map(|r| r.map(|t| t.url()).map_err(|e| e.to_string()))
///     .collect();
/// assert_eq!(read, [
///     Ok("http://example.com/".to_owned()),
///     Ok("https://[::1]:8443/health".to_owned()),
///     Err(r#"line 5: invalid target "ftp://x": unsupported scheme "ftp" (http or https)"#.to_owned()),
/// ]);
/// ```
#[derive(Debug)]
pub struct TargetLines<R> {
    reader: R,
    line: Vec<u8>,
    number: u64,
    failed: bool,
}

impl<R: BufRead> TargetLines<R> {
    /// Reads targets from `reader`.
    pub fn new(reader: R) -> TargetLines<R> {
        TargetLines {
            reader,
            line: Vec::new(),
            number: 0,
            failed: false,
        }
    }

    /// The reader lines are read from.
    pub fn get_ref(&self) -> &R {
        &self.reader
    }

    /// The number of the last line read (1-based; 0 before the first).
    pub fn line_number(&self) -> u64 {
        self.number
    }
}

impl<R: BufRead> Iterator for TargetLines<R> {
    type Item = Result<Target, LineError>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if self.failed {
                return None;
            }
            self.line.clear();
            let limit = MAX_LINE as u64 + 1;
            match (&mut self.reader)
                .take(limit)
                .read_until(b'\n', &mut self.line)
            {
                Ok(0) => return None,
                Ok(_) => {}
                Err(e) => {
                    self.failed = true;
                    let why = LineProblem::Io(Arc::new(e));
                    return Some(Err(LineError::new(self.number + 1, why)));
                }
            }
            self.number += 1;
            let error = |why| Some(Err(LineError::new(self.number, why)));
            if self.line.len() > MAX_LINE && self.line.last() != Some(&b'\n') {
                // The rest of this line is not a target either: the reader cannot resync.
                self.failed = true;
                return error(LineProblem::TooLong);
            }
            let mut bytes = &self.line[..];
            if self.number == 1 {
                bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
            }
            let Ok(text) = std::str::from_utf8(bytes) else {
                return error(LineProblem::NotUtf8);
            };
            let text = text.trim_matches([' ', '\t', '\r', '\n']);
            if text.is_empty() || text.starts_with('#') {
                continue;
            }
            return Some(
                Target::parse(text)
                    .map_err(|e| LineError::new(self.number, LineProblem::BadTarget(e))),
            );
        }
    }
}

/// Why a line of a list gave no target; the message names the line.
#[derive(Debug, Clone)]
pub struct LineError {
    line: u64,
    problem: LineProblem,
}

/// What is wrong with a line.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum LineProblem {
    /// Longer than [`MAX_LINE`] bytes (not a list of targets?); reading stops there.
    TooLong,
    /// Not UTF-8 text.
    NotUtf8,
    /// Text, but not a target.
    BadTarget(TargetError),
    /// Reading failed; reading stops there.
    Io(Arc<io::Error>),
}

impl LineError {
    fn new(line: u64, problem: LineProblem) -> LineError {
        LineError { line, problem }
    }

    /// The line's number, from 1.
    pub fn line(&self) -> u64 {
        self.line
    }

    /// What is wrong with it.
    pub fn problem(&self) -> &LineProblem {
        &self.problem
    }
}

impl fmt::Display for LineError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.problem)
    }
}

impl fmt::Display for LineProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LineProblem::TooLong => f.write_str("longer than 1 MiB (not a list of targets?)"),
            LineProblem::NotUtf8 => f.write_str("not UTF-8 text"),
            LineProblem::BadTarget(e) => e.fmt(f),
            LineProblem::Io(e) => {
                let text = e.to_string();
                f.write_str(text.split(" (os error").next().unwrap_or(&text))
            }
        }
    }
}

impl std::error::Error for LineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.problem {
            LineProblem::BadTarget(e) => Some(e),
            LineProblem::Io(e) => Some(&**e),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(bytes: &[u8]) -> Vec<Result<String, String>> {
        TargetLines::new(bytes)
            .map(|r| r.map(|t| t.input().to_owned()).map_err(|e| e.to_string()))
            .collect()
    }

    #[test]
    fn a_bad_line_names_its_number_and_the_rest_still_reads() {
        assert_eq!(
            read(b"a.test\n\xff\xfe\nb.test\n"),
            [
                Ok("a.test".to_owned()),
                Err("line 2: not UTF-8 text".to_owned()),
                Ok("b.test".to_owned()),
            ]
        );
    }

    #[test]
    fn a_line_without_end_stops_after_a_megabyte() {
        let mut zeros = std::io::repeat(0).take(10 * MAX_LINE as u64);
        let lines: Vec<_> = TargetLines::new(std::io::BufReader::new(&mut zeros)).collect();
        assert_eq!(lines.len(), 1);
        let err = lines[0].as_ref().unwrap_err();
        assert_eq!(
            (err.line(), err.to_string().as_str()),
            (1, "line 1: longer than 1 MiB (not a list of targets?)")
        );
    }

    #[test]
    fn only_the_first_line_may_start_with_a_byte_order_mark() {
        let got = read("\u{feff}a.test\n\u{feff}b.test\n".as_bytes());
        assert_eq!(got[0], Ok("a.test".to_owned()));
        assert!(got[1].is_err(), "{got:?}");
    }
}
