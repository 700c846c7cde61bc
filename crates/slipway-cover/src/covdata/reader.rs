//! Bounds-checked little-endian reads over a file's bytes: every failure names the file, the byte
//! offset and the field being read, and no read can index past the end or allocate from a length field.

use super::Error;

/// A cursor over one file's bytes (or a part of them, with `base` giving the part's file offset).
pub(crate) struct Reader<'a> {
    file: &'a str,
    bytes: &'a [u8],
    base: usize,
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(file: &'a str, bytes: &'a [u8], base: usize) -> Self {
        Reader {
            file,
            bytes,
            base,
            pos: 0,
        }
    }

    /// The file named in errors.
    pub(crate) fn file(&self) -> &'a str {
        self.file
    }

    /// The file offset of the first byte.
    pub(crate) fn base_offset(&self) -> usize {
        self.base
    }

    /// The file offset of the next byte.
    pub(crate) fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.bytes.len() - self.pos
    }

    pub(crate) fn seek(&mut self, pos: usize, field: &'static str) -> Result<(), Error> {
        if pos > self.bytes.len() {
            return Err(Error::Malformed {
                file: self.file.to_owned(),
                offset: self.base + pos.min(self.bytes.len()),
                field,
                message: format!("offset {pos} is past the end ({} bytes)", self.bytes.len()),
            });
        }
        self.pos = pos;
        Ok(())
    }

    pub(crate) fn truncated(&self, field: &'static str, need: usize) -> Error {
        Error::Truncated {
            file: self.file.to_owned(),
            offset: self.offset(),
            field,
            need,
            have: self.remaining(),
        }
    }

    pub(crate) fn malformed(&self, offset: usize, field: &'static str, message: String) -> Error {
        Error::Malformed {
            file: self.file.to_owned(),
            offset,
            field,
            message,
        }
    }

    pub(crate) fn bytes(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], Error> {
        if self.remaining() < n {
            return Err(self.truncated(field, n));
        }
        let out = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(out)
    }

    pub(crate) fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], Error> {
        let mut out = [0; N];
        out.copy_from_slice(self.bytes(N, field)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, Error> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, Error> {
        Ok(u32::from_le_bytes(self.array(field)?))
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, Error> {
        Ok(u64::from_le_bytes(self.array(field)?))
    }

    /// An unsigned LEB128 number. Like Go's reader, bits past the 64th are dropped rather than
    /// rejected, but the encoding must end before the data does.
    pub(crate) fn uleb128(&mut self, field: &'static str) -> Result<u64, Error> {
        let mut value = 0u64;
        let mut shift = 0u32;
        loop {
            let Some(&b) = self.bytes.get(self.pos) else {
                return Err(self.truncated(field, 1));
            };
            self.pos += 1;
            if shift < 64 {
                value |= u64::from(b & 0x7f) << shift;
            }
            if b & 0x80 == 0 {
                return Ok(value);
            }
            shift = shift.saturating_add(7);
        }
    }

    /// A ULEB128 number truncated to 32 bits, as Go's decoders store them.
    pub(crate) fn uleb128_u32(&mut self, field: &'static str) -> Result<u32, Error> {
        // Truncation is what Go's `uint32(r.ReadULEB128())` does.
        #[allow(clippy::cast_possible_truncation)]
        Ok(self.uleb128(field)? as u32)
    }

    /// A string table: a ULEB128 count, then for each string its ULEB128 length and bytes. The count
    /// only reserves as much room as the remaining bytes could hold.
    pub(crate) fn string_table(&mut self, field: &'static str) -> Result<Vec<String>, Error> {
        let at = self.offset();
        let count = self.uleb128(field)?;
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        if count > self.remaining() {
            return Err(self.malformed(
                at,
                field,
                format!(
                    "{count} strings cannot fit in the {} bytes left",
                    self.remaining()
                ),
            ));
        }
        let mut strings = Vec::with_capacity(count);
        for _ in 0..count {
            let len = self.uleb128(field)?;
            let len = usize::try_from(len).unwrap_or(usize::MAX);
            let raw = self.bytes(len, field)?;
            // Go strings are bytes; names that are not UTF-8 are kept readable rather than rejected.
            strings.push(match std::str::from_utf8(raw) {
                Ok(s) => s.to_owned(),
                Err(_) => String::from_utf8_lossy(raw).into_owned(),
            });
        }
        Ok(strings)
    }
}
