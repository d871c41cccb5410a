//! A minimal reader for the protobuf wire format: keys, varints, fixed-width and length-delimited values.

use crate::error::DecodeError;

/// One field value as it appears on the wire, before any schema is applied.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum WireValue<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl WireValue<'_> {
    /// The wire type number, for error messages.
    pub(crate) fn wire_type(&self) -> u8 {
        match self {
            WireValue::Varint(_) => 0,
            WireValue::Fixed64(_) => 1,
            WireValue::Bytes(_) => 2,
            WireValue::Fixed32(_) => 5,
        }
    }
}

/// Walks the fields of one serialized message.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// The next (field number, value), or None at the end of the message.
    pub(crate) fn next_field(&mut self) -> Result<Option<(u32, WireValue<'a>)>, DecodeError> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key_at = self.pos;
        let key = self.varint()?;
        let number = key >> 3;
        if number == 0 || number > u64::from(u32::MAX >> 3) {
            return Err(DecodeError::malformed(format!("invalid field number {number} at byte {key_at}")));
        }
        let value = match key & 7 {
            0 => WireValue::Varint(self.varint()?),
            1 => WireValue::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().expect("took 8 bytes"))),
            2 => {
                let len = self.varint()?;
                let left = self.buf.len() - self.pos;
                if len > left as u64 {
                    return Err(DecodeError::malformed(format!(
                        "field {number} claims {len} bytes but only {left} remain"
                    )));
                }
                WireValue::Bytes(self.take(len as usize)?)
            }
            5 => WireValue::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().expect("took 4 bytes"))),
            // Groups (3, 4) were never used by Kubernetes; 6 and 7 do not exist.
            other => {
                return Err(DecodeError::malformed(format!("field {number} has unsupported wire type {other}")));
            }
        };
        Ok(Some((number as u32, value)))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        let end = self.pos.checked_add(n).filter(|&end| end <= self.buf.len());
        let end = end.ok_or_else(|| DecodeError::malformed(format!("truncated: needed {n} more bytes at byte {}", self.pos)))?;
        let bytes = &self.buf[self.pos..end];
        self.pos = end;
        Ok(bytes)
    }

    fn varint(&mut self) -> Result<u64, DecodeError> {
        let start = self.pos;
        let mut value = 0u64;
        for shift in (0..70).step_by(7) {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(DecodeError::malformed(format!("truncated varint at byte {start}")));
            };
            self.pos += 1;
            // The tenth byte may only carry the single remaining bit.
            if shift == 63 && byte > 1 {
                return Err(DecodeError::malformed(format!("varint at byte {start} overflows 64 bits")));
            }
            value |= u64::from(byte & 0x7f) << shift;
            if byte & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(DecodeError::malformed(format!("varint at byte {start} overflows 64 bits")))
    }

    /// Reads every varint of a packed repeated field.
    pub(crate) fn packed_varints(buf: &'a [u8]) -> Result<Vec<u64>, DecodeError> {
        let mut reader = Reader::new(buf);
        let mut values = Vec::new();
        while reader.pos < buf.len() {
            values.push(reader.varint()?);
        }
        Ok(values)
    }

    /// Reads every 8-byte value of a packed repeated field.
    pub(crate) fn packed_fixed64(buf: &'a [u8]) -> Result<Vec<u64>, DecodeError> {
        if !buf.len().is_multiple_of(8) {
            return Err(DecodeError::malformed(format!("packed 64-bit values take {} bytes, not a multiple of 8", buf.len())));
        }
        Ok(buf.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("chunk of 8"))).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all_fields(buf: &[u8]) -> Result<Vec<(u32, WireValue<'_>)>, DecodeError> {
        let mut reader = Reader::new(buf);
        let mut out = Vec::new();
        while let Some(field) = reader.next_field()? {
            out.push(field);
        }
        Ok(out)
    }

    /// (bytes, the fields read from them)
    type Case<'a> = (&'a [u8], Vec<(u32, WireValue<'a>)>);

    #[test]
    fn reads_each_wire_type() {
        let cases: &[Case] = &[
            (&[], vec![]),
            (&[0x08, 0x96, 0x01], vec![(1, WireValue::Varint(150))]),
            (&[0x12, 0x02, b'h', b'i'], vec![(2, WireValue::Bytes(b"hi"))]),
            (&[0x19, 1, 0, 0, 0, 0, 0, 0, 0], vec![(3, WireValue::Fixed64(1))]),
            (&[0x25, 2, 0, 0, 0], vec![(4, WireValue::Fixed32(2))]),
            (&[0x8a, 0x01, 0x00, 0x08, 0x00], vec![(17, WireValue::Bytes(b"")), (1, WireValue::Varint(0))]),
            (
                &[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
                vec![(1, WireValue::Varint(u64::MAX))],
            ),
        ];
        for (buf, want) in cases {
            assert_eq!(&all_fields(buf).unwrap(), want, "{buf:02x?}");
        }
    }

    #[test]
    fn rejects_malformed_input() {
        let cases: &[(&[u8], &str)] = &[
            (&[0x08], "truncated varint at byte 1"),
            (&[0x08, 0x80], "truncated varint at byte 1"),
            (&[0x12, 0x05, b'a'], "field 2 claims 5 bytes but only 1 remain"),
            (&[0x19, 1, 2], "truncated: needed 8 more bytes at byte 1"),
            (&[0x0b], "field 1 has unsupported wire type 3"),
            (&[0x00, 0x00], "invalid field number 0 at byte 0"),
            (&[0x08, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02], "varint at byte 1 overflows 64 bits"),
        ];
        for (buf, want) in cases {
            let err = all_fields(buf).unwrap_err();
            assert_eq!(err, DecodeError::malformed(*want), "{buf:02x?}");
        }
    }

    #[test]
    fn reads_packed_values() {
        assert_eq!(Reader::packed_varints(&[0x01, 0x96, 0x01]).unwrap(), vec![1, 150]);
        assert!(Reader::packed_varints(&[0x96]).is_err());
        assert_eq!(Reader::packed_fixed64(&[1, 0, 0, 0, 0, 0, 0, 0]).unwrap(), vec![1]);
        assert!(Reader::packed_fixed64(&[1, 0]).is_err());
    }
}
