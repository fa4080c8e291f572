//! The CSV dialect that neo4j-admin reads, at the byte level: quoting a value, splitting a
//! record into raw field spans, and unescaping a raw field.
//!
//! Reading whole files (headers, validation, error positions) goes through the `csv` crate in
//! [`super::header`] and [`crate::baseline`]; this module exists because the generator needs two things that crate does
//! not offer: telling an absent property (empty unquoted field) from an empty string (`""`), and
//! copying a base record's fields verbatim, still escaped, into its copies without a
//! decode/encode round trip per row.

use std::borrow::Cow;
use std::ops::Range;

/// The field delimiter.
pub const DELIMITER: u8 = b',';
/// The array element delimiter of `[]` columns.
pub const ARRAY_DELIMITER: u8 = b';';
/// The quote character; inner quotes are doubled.
pub const QUOTE: u8 = b'"';

/// Whether `value` must be quoted to survive neo4j-admin's reader unchanged.
///
/// Besides the RFC 4180 characters, `;` is quoted so that a plain string never looks like an
/// array to a human reader, and leading or trailing blanks are quoted so that a later
/// `--trim-strings` cannot change them. The empty string is quoted because an empty unquoted
/// field means "no property".
#[inline]
pub fn needs_quotes(value: &[u8]) -> bool {
    match (value.first(), value.last()) {
        (None, _) => true,
        (Some(&f), Some(&l)) if is_blank(f) || is_blank(l) => true,
        _ => value
            .iter()
            .any(|&b| matches!(b, b',' | b'"' | b';' | b'\r' | b'\n')),
    }
}

#[inline]
fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// Appends `value` as one field (quoted when needed).
#[inline]
pub fn push_field(out: &mut Vec<u8>, value: &[u8]) {
    if needs_quotes(value) {
        push_quoted(out, value);
    } else {
        out.extend_from_slice(value);
    }
}

/// Appends `value` always quoted, doubling inner quotes.
pub fn push_quoted(out: &mut Vec<u8>, value: &[u8]) {
    out.push(QUOTE);
    let mut rest = value;
    while let Some(i) = memchr::memchr(QUOTE, rest) {
        out.extend_from_slice(&rest[..=i]);
        out.push(QUOTE);
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
    out.push(QUOTE);
}

/// Whether a value holds a raw line break (the import then needs `--multiline-fields=true`).
#[inline]
pub fn has_line_break(value: &[u8]) -> bool {
    memchr::memchr2(b'\n', b'\r', value).is_some()
}

/// Splits the record that starts at `start` into raw field spans (quotes included) and returns
/// the offset just past its line end. The caller must know a record starts there; the baseline
/// reader guarantees it by storing offsets the `csv` crate reported.
pub fn split_record(buf: &[u8], start: usize, fields: &mut Vec<Range<usize>>) -> usize {
    fields.clear();
    let mut pos = start;
    let mut field_start = start;
    let mut in_quotes = false;
    while pos < buf.len() {
        let b = buf[pos];
        if in_quotes {
            if b == QUOTE {
                if buf.get(pos + 1) == Some(&QUOTE) {
                    pos += 2;
                    continue;
                }
                in_quotes = false;
            }
            pos += 1;
            continue;
        }
        match b {
            QUOTE if pos == field_start => in_quotes = true,
            DELIMITER => {
                fields.push(field_start..pos);
                field_start = pos + 1;
            }
            b'\n' => {
                let end = if pos > field_start && buf[pos - 1] == b'\r' {
                    pos - 1
                } else {
                    pos
                };
                fields.push(field_start..end);
                return pos + 1;
            }
            _ => {}
        }
        pos += 1;
    }
    fields.push(field_start..buf.len());
    buf.len()
}

/// Decodes a raw field: strips the quotes and undoubles inner quotes. `None` for an absent value
/// (an empty unquoted field).
pub fn unescape(raw: &[u8]) -> Option<Cow<'_, [u8]>> {
    if raw.is_empty() {
        return None;
    }
    if raw.first() != Some(&QUOTE) {
        return Some(Cow::Borrowed(raw));
    }
    let inner = &raw[1..raw.len().saturating_sub(1).max(1)];
    if memchr::memchr(QUOTE, inner).is_none() {
        return Some(Cow::Borrowed(inner));
    }
    let mut out = Vec::with_capacity(inner.len());
    let mut i = 0;
    while i < inner.len() {
        out.push(inner[i]);
        if inner[i] == QUOTE && inner.get(i + 1) == Some(&QUOTE) {
            i += 1;
        }
        i += 1;
    }
    Some(Cow::Owned(out))
}

/// Writes `v` as exactly 16 lowercase hex digits.
#[inline]
pub fn push_hex16(out: &mut Vec<u8>, v: u64) {
    push_hex(out, v, 16);
}

/// Writes the low `digits` nibbles of `v` as lowercase hex.
#[inline]
pub fn push_hex(out: &mut Vec<u8>, v: u64, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        out.push(HEX[((v >> (i * 4)) & 0xf) as usize]);
    }
}

/// Writes a decimal integer without allocating.
#[inline]
pub fn push_u64(out: &mut Vec<u8>, v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    let mut n = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(v: &str) -> String {
        let mut out = Vec::new();
        push_field(&mut out, v.as_bytes());
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn quotes_only_what_needs_it() {
        assert_eq!(field("vnet-01"), "vnet-01");
        assert_eq!(field(""), "\"\"");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("a;b"), "\"a;b\"");
        assert_eq!(field("line\nbreak"), "\"line\nbreak\"");
        assert_eq!(field(" padded"), "\" padded\"");
        assert_eq!(field("C:\\Temp\\"), "C:\\Temp\\");
        assert_eq!(field("Zürich 東京"), "Zürich 東京");
    }

    #[test]
    fn split_and_unescape_round_trip() {
        let values = [
            "plain",
            "",
            "a,b",
            "q\"uote",
            "multi\nline\r\nx",
            "tail\\",
            "ü",
        ];
        let mut line = Vec::new();
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                line.push(b',');
            }
            push_field(&mut line, v.as_bytes());
        }
        line.extend_from_slice(b",\n");
        let mut spans = Vec::new();
        let end = split_record(&line, 0, &mut spans);
        assert_eq!(end, line.len());
        assert_eq!(spans.len(), values.len() + 1);
        for (span, v) in spans.iter().zip(values) {
            let got = unescape(&line[span.clone()]).unwrap();
            assert_eq!(&*got, v.as_bytes());
        }
        assert!(unescape(&line[spans[values.len()].clone()]).is_none());
    }

    #[test]
    fn split_handles_crlf_and_last_line_without_newline() {
        let buf = b"a,b\r\nc,\"d\"";
        let mut spans = Vec::new();
        let next = split_record(buf, 0, &mut spans);
        assert_eq!(spans, vec![0..1, 2..3]);
        let end = split_record(buf, next, &mut spans);
        assert_eq!(end, buf.len());
        assert_eq!(&buf[spans[1].clone()], b"\"d\"");
    }

    #[test]
    fn numbers_and_hex() {
        let mut out = Vec::new();
        push_u64(&mut out, 0);
        out.push(b' ');
        push_u64(&mut out, 18_446_744_073_709_551_615);
        out.push(b' ');
        push_hex16(&mut out, 0xabc);
        out.push(b' ');
        push_hex(&mut out, 0xdead_beef_1234, 8);
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "0 18446744073709551615 0000000000000abc beef1234"
        );
    }
}
