//! The protobuf wire format: varints, tags, length-delimited slices, skipping unknown fields.
//!
//! Every read is checked against the bytes that remain, so no input makes it read past its slice.

use super::Error;

/// Wire types.
pub(super) const VARINT: u8 = 0;
pub(super) const FIXED64: u8 = 1;
pub(super) const LEN: u8 = 2;
pub(super) const START_GROUP: u8 = 3;
pub(super) const END_GROUP: u8 = 4;
pub(super) const FIXED32: u8 = 5;

/// The largest field number protobuf allows.
const MAX_FIELD: u64 = (1 << 29) - 1;

/// A cursor over one message's bytes; `base` is the absolute offset of `buf[0]` in the request body.
pub(super) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

/// One field's value as it was on the wire.
#[derive(Debug, Clone, Copy)]
pub(super) enum Raw<'a> {
    Varint(u64),
    Fixed64(u64),
    Fixed32(u32),
    /// Length-delimited bytes and the absolute offset of their first byte.
    Bytes(&'a [u8], usize),
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        Reader { buf, pos: 0, base }
    }

    pub fn at_end(&self) -> bool {
        self.pos >= self.buf.len()
    }

    /// The absolute offset of the next byte.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub fn varint(&mut self) -> Result<u64, Error> {
        let start = self.offset();
        let mut value = 0u64;
        // As Go's generated decoders: at most ten bytes, bits past the 64th dropped.
        for shift in (0..64).step_by(7) {
            let Some(&b) = self.buf.get(self.pos) else {
                return Err(Error::Truncated {
                    offset: start,
                    what: "varint",
                });
            };
            self.pos += 1;
            value |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(value);
            }
        }
        Err(Error::VarintOverflow { offset: start })
    }

    /// The next field's number and wire type; the offset of its tag.
    pub fn tag(&mut self) -> Result<(u32, u8, usize), Error> {
        let offset = self.offset();
        let tag = self.varint()?;
        let number = tag >> 3;
        // Masked to three bits, so the cast cannot truncate.
        #[allow(clippy::cast_possible_truncation)]
        let wire = (tag & 7) as u8;
        if wire == END_GROUP {
            return Err(Error::UnexpectedEndGroup { offset });
        }
        if number == 0 || number > MAX_FIELD {
            return Err(Error::IllegalTag { offset, tag });
        }
        // At most MAX_FIELD (< 2^29).
        #[allow(clippy::cast_possible_truncation)]
        Ok((number as u32, wire, offset))
    }

    fn take(&mut self, n: u64, what: &'static str, offset: usize) -> Result<&'a [u8], Error> {
        let remaining = self.buf.len() - self.pos;
        match usize::try_from(n) {
            Ok(n) if n <= remaining => {
                let s = &self.buf[self.pos..self.pos + n];
                self.pos += n;
                Ok(s)
            }
            _ => Err(Error::Truncated { offset, what }),
        }
    }

    /// The value of a field whose tag was just read.
    pub fn value(&mut self, wire: u8, tag_offset: usize) -> Result<Raw<'a>, Error> {
        match wire {
            VARINT => self.varint().map(Raw::Varint),
            FIXED64 => {
                let b = self.take(8, "fixed64", tag_offset)?;
                let mut a = [0u8; 8];
                a.copy_from_slice(b);
                Ok(Raw::Fixed64(u64::from_le_bytes(a)))
            }
            FIXED32 => {
                let b = self.take(4, "fixed32", tag_offset)?;
                let mut a = [0u8; 4];
                a.copy_from_slice(b);
                Ok(Raw::Fixed32(u32::from_le_bytes(a)))
            }
            LEN => {
                let n = self.varint()?;
                let start = self.offset();
                let b = self.take(n, "length-delimited field", tag_offset)?;
                Ok(Raw::Bytes(b, start))
            }
            START_GROUP => {
                self.skip_group(tag_offset)?;
                Ok(Raw::Bytes(&[], self.offset()))
            }
            _ => Err(Error::IllegalWireType {
                offset: tag_offset,
                wire_type: wire,
            }),
        }
    }

    /// Skips a group's fields up to and including its end tag (as Go's generated `skip` functions do).
    fn skip_group(&mut self, start: usize) -> Result<(), Error> {
        let mut depth = 1usize;
        while depth > 0 {
            if self.at_end() {
                return Err(Error::Truncated {
                    offset: start,
                    what: "group",
                });
            }
            let offset = self.offset();
            let tag = self.varint()?;
            #[allow(clippy::cast_possible_truncation)]
            let wire = (tag & 7) as u8;
            match wire {
                START_GROUP => depth += 1,
                END_GROUP => depth -= 1,
                _ => {
                    self.value(wire, offset)?;
                }
            }
        }
        Ok(())
    }
}
