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

/// A cursor over a file read piece by piece (or over bytes in memory, through `io::Cursor`): the same
/// errors as [`Reader`], and no read goes past the file's length or allocates more than the caller's
/// bound, so a huge (or sparse) file costs only what is actually decoded.
pub(crate) struct Stream<'a, R> {
    file: &'a str,
    inner: R,
    len: usize,
    pos: usize,
}

impl<'a, R: std::io::Read + std::io::Seek> Stream<'a, R> {
    /// `inner` positioned at its start, `len` bytes long.
    pub(crate) fn new(file: &'a str, inner: R, len: usize) -> Self {
        Stream {
            file,
            inner,
            len,
            pos: 0,
        }
    }

    /// The file named in errors.
    pub(crate) fn file(&self) -> &'a str {
        self.file
    }

    /// The file's length.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The file offset of the next byte.
    pub(crate) fn offset(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.len - self.pos
    }

    fn io(&self, error: std::io::Error) -> Error {
        Error::Io {
            file: self.file.to_owned(),
            error,
        }
    }

    /// Moves to file offset `pos` (at most the length).
    pub(crate) fn seek(&mut self, pos: usize) -> Result<(), Error> {
        let pos = pos.min(self.len);
        self.inner
            .seek(std::io::SeekFrom::Start(pos as u64))
            .map_err(|e| self.io(e))?;
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

    fn fill(&mut self, buf: &mut [u8], field: &'static str) -> Result<(), Error> {
        if self.remaining() < buf.len() {
            return Err(self.truncated(field, buf.len()));
        }
        self.inner.read_exact(buf).map_err(|e| self.io(e))?;
        self.pos += buf.len();
        Ok(())
    }

    pub(crate) fn array<const N: usize>(&mut self, field: &'static str) -> Result<[u8; N], Error> {
        let mut out = [0; N];
        self.fill(&mut out, field)?;
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

    /// `n` bytes, refused (before allocating) when the file does not hold them or they exceed `limit`.
    pub(crate) fn bytes(
        &mut self,
        n: usize,
        limit: usize,
        at: usize,
        field: &'static str,
    ) -> Result<Vec<u8>, Error> {
        if n > limit {
            return Err(self.malformed(
                at,
                field,
                format!("{n} bytes declared, more than the limit of {limit}"),
            ));
        }
        if self.remaining() < n {
            return Err(self.truncated(field, n));
        }
        let mut out = vec![0; n];
        self.fill(&mut out, field)?;
        Ok(out)
    }

    /// Skips `n` bytes (which the file must hold).
    pub(crate) fn skip(&mut self, n: usize, field: &'static str) -> Result<(), Error> {
        if self.remaining() < n {
            return Err(self.truncated(field, n));
        }
        self.seek(self.pos + n)
    }

    /// An unsigned LEB128 number, as [`Reader::uleb128`] reads it.
    pub(crate) fn uleb128(&mut self, field: &'static str) -> Result<u64, Error> {
        let mut value = 0u64;
        let mut shift = 0u32;
        loop {
            if self.remaining() == 0 {
                return Err(self.truncated(field, 1));
            }
            let b = self.u8(field)?;
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
}
