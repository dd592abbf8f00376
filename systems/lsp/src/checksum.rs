//! The Data checksum, bit-exact with the original `checksum.go` (SPEC.md §3).
//!
//! Each header field is truncated to 32 bits and its two 16-bit halves are added with a
//! 16-bit add whose carry is *dropped* (the quirk that makes this differ from an Internet
//! checksum); the payload is summed as little-endian 16-bit words; the 32-bit total is
//! folded to 16 bits and complemented.

/// `CalculateChecksum(connID, seqNum, size, payload)` of the original.
pub fn checksum(conn_id: i64, seq_num: i64, size: i64, payload: &[u8]) -> u16 {
    let mut sum: u32 = 0;
    for field in [conn_id, seq_num, size] {
        let v = field as u32; // Go's uint32(int): keep the low 32 bits.
        let halves = ((v & 0xFFFF) as u16).wrapping_add((v >> 16) as u16);
        sum = sum.wrapping_add(halves as u32);
    }
    let mut words = payload.chunks_exact(2);
    for w in &mut words {
        sum = sum.wrapping_add(u16::from_le_bytes([w[0], w[1]]) as u32);
    }
    if let [last] = words.remainder() {
        sum = sum.wrapping_add(*last as u32);
    }
    while sum > 0xFFFF {
        sum = (sum >> 16) + (sum & 0xFFFF);
    }
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::checksum;

    #[test]
    fn spec_vectors() {
        assert_eq!(checksum(1, 1, 5, b"hello"), 11701);
        assert_eq!(checksum(0, 0, 0, b""), 65535);
        assert_eq!(checksum(3, 101, 6, b"123000"), 27901);
        assert_eq!(checksum(70000, 65535, 1, b"\xff"), 60814);
    }

    #[test]
    fn header_carry_is_dropped_not_folded() {
        // 0x1FFFF: lo 0xFFFF + hi 0x0001 wraps to 0 in 16 bits. With the carry folded
        // back in (Internet-style) it would be 1 and the checksum 0xFFFE.
        assert_eq!(checksum(0x1FFFF, 0, 0, b""), 0xFFFF);
    }

    #[test]
    fn negative_fields_use_their_low_32_bits() {
        assert_eq!(checksum(-1, 0, 0, b""), checksum(0xFFFF_FFFF, 0, 0, b""));
    }
}
