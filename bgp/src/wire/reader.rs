//! A bounded cursor over a byte slice: every read is checked, nothing here can panic.

use std::net::Ipv4Addr;

/// A read ran past the end of the buffer. Callers map it onto the NOTIFICATION that fits
/// where they were reading (RFC 4271 §6 names a different subcode for each place).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Truncated;

/// Reads big-endian fields from the front of a slice, shrinking it as it goes.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    /// A reader over `buf`.
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf }
    }

    /// Bytes not yet read.
    pub(crate) fn remaining(&self) -> usize {
        self.buf.len()
    }

    /// True when everything has been read.
    pub(crate) fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The unread bytes, without consuming them.
    pub(crate) fn rest(&self) -> &'a [u8] {
        self.buf
    }

    /// The next `n` bytes.
    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], Truncated> {
        let (head, tail) = self.buf.split_at_checked(n).ok_or(Truncated)?;
        self.buf = tail;
        Ok(head)
    }

    /// The next `N` bytes as an array.
    fn array<const N: usize>(&mut self) -> Result<[u8; N], Truncated> {
        let head = self.take(N)?;
        <[u8; N]>::try_from(head).map_err(|_| Truncated)
    }

    /// One octet.
    pub(crate) fn u8(&mut self) -> Result<u8, Truncated> {
        self.array::<1>().map(|[b]| b)
    }

    /// A 2-octet big-endian integer.
    pub(crate) fn u16(&mut self) -> Result<u16, Truncated> {
        self.array().map(u16::from_be_bytes)
    }

    /// A 4-octet big-endian integer.
    pub(crate) fn u32(&mut self) -> Result<u32, Truncated> {
        self.array().map(u32::from_be_bytes)
    }

    /// A 4-octet IPv4 address.
    pub(crate) fn ipv4(&mut self) -> Result<Ipv4Addr, Truncated> {
        self.array::<4>().map(Ipv4Addr::from)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn reads_fields_in_order_then_reports_truncation() {
        let mut r = Reader::new(&[1, 0, 2, 0, 0, 0, 3, 9]);
        assert_eq!(r.u8(), Ok(1));
        assert_eq!(r.u16(), Ok(2));
        assert_eq!(r.u32(), Ok(3));
        assert_eq!(r.remaining(), 1);
        assert_eq!(r.u16(), Err(Truncated));
        // A failed read consumes nothing.
        assert_eq!(r.rest(), &[9]);
        assert_eq!(r.take(2), Err(Truncated));
        assert_eq!(r.take(1), Ok(&[9][..]));
        assert!(r.is_empty());
        assert_eq!(r.u8(), Err(Truncated));
    }
}
