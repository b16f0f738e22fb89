//! AS_PATH values (RFC 4271 §4.3 type 2, §6.3; RFC 6793 for the element width).

use super::error::update_subcode::MALFORMED_AS_PATH;
use super::reader::Reader;
use super::{AsSegment, DecodeError, ErrorCode, AS_TRANS};

/// Segment type AS_SET.
const AS_SET: u8 = 1;
/// Segment type AS_SEQUENCE (2: writing 1 here is the bug zettabgp has).
const AS_SEQUENCE: u8 = 2;
/// Segment type AS_CONFED_SEQUENCE (RFC 5065 §3).
const AS_CONFED_SEQUENCE: u8 = 3;
/// Segment type AS_CONFED_SET (RFC 5065 §3).
const AS_CONFED_SET: u8 = 4;
/// Most ASNs one segment can hold (its count is one octet).
const MAX_SEGMENT_LEN: usize = 255;

fn malformed(reason: &'static str) -> DecodeError {
    DecodeError::new(
        ErrorCode::UpdateMessage,
        MALFORMED_AS_PATH,
        Vec::new(),
        reason,
    )
}

/// Decodes the segments of an AS_PATH value; ASNs are 4 octets when `four_octet` (RFC 6793 §4).
///
/// Malformed (3/11): an unknown segment type, a segment that overruns the value, a partial
/// segment header, and a segment with a zero count (RFC 7606 §7.2).
pub(crate) fn decode_as_path(
    value: &[u8],
    four_octet: bool,
) -> Result<Vec<AsSegment>, DecodeError> {
    let mut r = Reader::new(value);
    let mut segments = Vec::new();
    while !r.is_empty() {
        let seg_type = r
            .u8()
            .map_err(|_| malformed("AS_PATH segment header truncated"))?;
        let count = r
            .u8()
            .map_err(|_| malformed("AS_PATH segment header truncated"))?;
        if count == 0 {
            return Err(malformed("AS_PATH segment with no ASNs"));
        }
        let mut asns = Vec::with_capacity(usize::from(count));
        for _ in 0..count {
            let asn = if four_octet {
                r.u32()
            } else {
                r.u16().map(u32::from)
            };
            asns.push(asn.map_err(|_| malformed("AS_PATH segment overruns the attribute"))?);
        }
        segments.push(match seg_type {
            AS_SET => AsSegment::Set(asns),
            AS_SEQUENCE => AsSegment::Sequence(asns),
            AS_CONFED_SEQUENCE => AsSegment::ConfedSequence(asns),
            AS_CONFED_SET => AsSegment::ConfedSet(asns),
            _ => return Err(malformed("unknown AS_PATH segment type")),
        });
    }
    Ok(segments)
}

/// Appends an AS_PATH value. Segments longer than 255 ASNs are split into several of the same
/// type and empty ones are left out. Without 4-octet ASNs, an ASN above 65535 is written as
/// AS_TRANS (RFC 6793 §4.2.2); the encoder then adds AS4_PATH with the real path.
pub(crate) fn encode_as_path(out: &mut Vec<u8>, segments: &[AsSegment], four_octet: bool) {
    for segment in segments {
        let (seg_type, asns) = match segment {
            AsSegment::Set(asns) => (AS_SET, asns),
            AsSegment::Sequence(asns) => (AS_SEQUENCE, asns),
            AsSegment::ConfedSequence(asns) => (AS_CONFED_SEQUENCE, asns),
            AsSegment::ConfedSet(asns) => (AS_CONFED_SET, asns),
        };
        for chunk in asns.chunks(MAX_SEGMENT_LEN) {
            let count = u8::try_from(chunk.len()).unwrap_or(u8::MAX);
            out.extend_from_slice(&[seg_type, count]);
            for &asn in chunk {
                if four_octet {
                    out.extend_from_slice(&asn.to_be_bytes());
                } else {
                    let asn = u16::try_from(asn).unwrap_or(AS_TRANS);
                    out.extend_from_slice(&asn.to_be_bytes());
                }
            }
        }
    }
}

/// Whether any ASN of the path needs 4 octets (so a 2-octet peer must also get AS4_PATH).
pub(crate) fn needs_four_octets(segments: &[AsSegment]) -> bool {
    segments
        .iter()
        .any(|s| s.asns().iter().any(|&a| a > u32::from(u16::MAX)))
}

/// RFC 6793 §4.2.3: rebuild the real path from a 2-octet speaker's AS_PATH and AS4_PATH.
/// AS4_PATH is ignored when it is longer than AS_PATH; otherwise it replaces the tail of AS_PATH.
pub(crate) fn merge_as4_path(as_path: &[AsSegment], as4_path: &[AsSegment]) -> Vec<AsSegment> {
    let len = |p: &[AsSegment]| p.iter().map(AsSegment::path_len).sum::<usize>();
    let (n, n4) = (len(as_path), len(as4_path));
    if n < n4 {
        return as_path.to_vec();
    }
    let mut keep = n.saturating_sub(n4);
    let mut merged = Vec::new();
    for seg in as_path {
        if keep == 0 {
            break;
        }
        let seg_len = seg.path_len();
        if seg_len <= keep {
            merged.push(seg.clone());
            keep = keep.saturating_sub(seg_len);
        } else {
            // Only a sequence can be cut (a set counts as one).
            let asns: Vec<u32> = seg.asns().iter().copied().take(keep).collect();
            merged.push(AsSegment::Sequence(asns));
            keep = 0;
        }
    }
    merged.extend(as4_path.iter().cloned());
    merged
}

impl AsSegment {
    /// The segment's ASNs.
    pub fn asns(&self) -> &[u32] {
        match self {
            AsSegment::Set(v)
            | AsSegment::Sequence(v)
            | AsSegment::ConfedSequence(v)
            | AsSegment::ConfedSet(v) => v,
        }
    }

    /// Its contribution to the path length (RFC 4271 §9.1.2.2: a set counts one; RFC 5065 §5.3:
    /// confederation segments count nothing).
    pub fn path_len(&self) -> usize {
        match self {
            AsSegment::Sequence(v) => v.len(),
            AsSegment::Set(_) => 1,
            AsSegment::ConfedSequence(_) | AsSegment::ConfedSet(_) => 0,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::indexing_slicing)]
mod tests {
    use super::*;

    #[test]
    fn sequence_is_type_2_and_long_segments_split() {
        let mut out = Vec::new();
        encode_as_path(&mut out, &[AsSegment::Sequence(vec![65001, 70000])], false);
        // AS_SEQUENCE, 2 ASNs, 65001, AS_TRANS.
        assert_eq!(out, vec![2, 2, 0xfd, 0xe9, 0x5b, 0xa0]);

        let long: Vec<u32> = (1..=300).collect();
        let mut out = Vec::new();
        encode_as_path(
            &mut out,
            &[AsSegment::Sequence(long.clone()), AsSegment::Set(vec![])],
            true,
        );
        let back = decode_as_path(&out, true).unwrap();
        assert_eq!(
            back,
            vec![
                AsSegment::Sequence(long.iter().copied().take(255).collect()),
                AsSegment::Sequence(long.iter().copied().skip(255).collect()),
            ]
        );
    }

    #[test]
    fn malformed_paths_are_3_11() {
        for bad in [
            &[2u8, 0][..],
            &[2, 0, 7],
            &[5, 1, 0, 1],
            &[2, 2, 0, 1],
            &[2],
            &[2, 1, 0, 1, 2],
        ] {
            let e = decode_as_path(bad, false).unwrap_err();
            assert_eq!(
                (e.code, e.subcode),
                (ErrorCode::UpdateMessage, 11),
                "{bad:?}"
            );
        }
        assert_eq!(decode_as_path(&[], false).unwrap(), vec![]);
    }

    #[test]
    fn as4_path_replaces_the_tail_and_is_ignored_when_longer() {
        let seq = |v: &[u32]| AsSegment::Sequence(v.to_vec());
        let as_path = [seq(&[65001, 23456, 23456])];
        let as4 = [seq(&[4_200_000_001, 4_200_000_002])];
        assert_eq!(
            merge_as4_path(&as_path, &as4),
            vec![seq(&[65001]), seq(&[4_200_000_001, 4_200_000_002])]
        );
        let longer = [seq(&[1, 2, 3, 4])];
        assert_eq!(merge_as4_path(&as_path, &longer), as_path.to_vec());
        assert!(needs_four_octets(&as4));
        assert!(!needs_four_octets(&as_path));
    }
}
