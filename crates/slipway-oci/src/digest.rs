//! Content digests (`sha256:<64 hex>`, `sha512:<128 hex>`) and a streaming digester.
//!
//! Only the two algorithms registered by the OCI image spec are accepted, and only in their canonical
//! lowercase-hex form: a digest is a content address, so two spellings of one digest would be two addresses.

use std::fmt;
use std::io::{self, Read, Write};
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256, Sha512};

/// Why a digest string was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// There is no `:` separating the algorithm from the encoded hash.
    #[error("digest {} has no `algorithm:` prefix", crate::quote::quoted(input))]
    MissingAlgorithm {
        /// The rejected text.
        input: String,
    },
    /// The algorithm is not `sha256` or `sha512`.
    #[error(
        "digest {} uses unsupported algorithm {} (expected sha256 or sha512)",
        crate::quote::quoted(input),
        crate::quote::quoted(algorithm)
    )]
    UnsupportedAlgorithm {
        /// The rejected text.
        input: String,
        /// The algorithm part.
        algorithm: String,
    },
    /// The encoded part has the wrong length for its algorithm.
    #[error(
        "digest {}: {algorithm} needs {expected} hex characters, found {found}",
        crate::quote::quoted(input)
    )]
    WrongLength {
        /// The rejected text.
        input: String,
        /// The algorithm named.
        algorithm: Algorithm,
        /// How many hex characters the algorithm needs.
        expected: usize,
        /// How many characters were given.
        found: usize,
    },
    /// The encoded part holds a character that is not lowercase hex.
    #[error(
        "digest {}: character {character:?} at column {column} is not lowercase hex",
        crate::quote::quoted(input)
    )]
    NotHex {
        /// The rejected text.
        input: String,
        /// The offending character.
        character: char,
        /// 1-based column of the character in `input`.
        column: usize,
    },
}

/// A digest algorithm registered by the OCI image spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, the default everywhere.
    Sha256,
    /// SHA-512.
    Sha512,
}

impl Algorithm {
    /// The name used in digest strings and in `blobs/<name>/` directories.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// The number of hex characters in an encoded hash.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }

    fn from_name(name: &str) -> Option<Self> {
        match name {
            "sha256" => Some(Algorithm::Sha256),
            "sha512" => Some(Algorithm::Sha512),
            _ => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A validated content digest such as `sha256:e3b0…b855`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    // The whole canonical string; `colon` splits it. Kept whole so `as_str` is free.
    text: String,
    algorithm: Algorithm,
}

impl Digest {
    /// Parses and validates `algorithm:hex`.
    pub fn parse(input: &str) -> Result<Self, Error> {
        let Some((algorithm, encoded)) = input.split_once(':') else {
            return Err(Error::MissingAlgorithm {
                input: input.to_owned(),
            });
        };
        let Some(alg) = Algorithm::from_name(algorithm) else {
            return Err(Error::UnsupportedAlgorithm {
                input: input.to_owned(),
                algorithm: algorithm.to_owned(),
            });
        };
        if let Some((offset, character)) = encoded
            .char_indices()
            .find(|&(_, c)| !matches!(c, '0'..='9' | 'a'..='f'))
        {
            return Err(Error::NotHex {
                input: input.to_owned(),
                character,
                column: algorithm.len() + 1 + offset + 1,
            });
        }
        if encoded.len() != alg.hex_len() {
            return Err(Error::WrongLength {
                input: input.to_owned(),
                algorithm: alg,
                expected: alg.hex_len(),
                found: encoded.len(),
            });
        }
        Ok(Digest {
            text: input.to_owned(),
            algorithm: alg,
        })
    }

    /// The SHA-256 digest of `data`.
    pub fn sha256(data: &[u8]) -> Self {
        let mut digester = Digester::new(Algorithm::Sha256);
        digester.update(data);
        digester.finish()
    }

    /// Digests `data` with `algorithm`.
    pub fn of(algorithm: Algorithm, data: &[u8]) -> Self {
        let mut digester = Digester::new(algorithm);
        digester.update(data);
        digester.finish()
    }

    /// The algorithm.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex part after the `:`.
    pub fn encoded(&self) -> &str {
        &self.text[self.algorithm.name().len() + 1..]
    }

    /// The whole digest string.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether `data` hashes to this digest.
    pub fn matches(&self, data: &[u8]) -> bool {
        Digest::of(self.algorithm, data) == *self
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({})", self.text)
    }
}

impl FromStr for Digest {
    type Err = Error;
    fn from_str(s: &str) -> Result<Self, Error> {
        Digest::parse(s)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        Digest::parse(&text).map_err(serde::de::Error::custom)
    }
}

enum State {
    Sha256(Sha256),
    Sha512(Sha512),
}

/// Hashes a stream incrementally; also a [`Write`] sink so it can sit behind `io::copy` or a tee.
pub struct Digester {
    state: State,
    len: u64,
}

impl Digester {
    /// A digester for `algorithm`.
    pub fn new(algorithm: Algorithm) -> Self {
        let state = match algorithm {
            Algorithm::Sha256 => State::Sha256(Sha256::new()),
            Algorithm::Sha512 => State::Sha512(Sha512::new()),
        };
        Digester { state, len: 0 }
    }

    /// Feeds bytes.
    pub fn update(&mut self, data: &[u8]) {
        self.len += data.len() as u64;
        match &mut self.state {
            State::Sha256(h) => h.update(data),
            State::Sha512(h) => h.update(data),
        }
    }

    /// How many bytes have been fed so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing has been fed yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The digest of everything fed.
    pub fn finish(self) -> Digest {
        let (algorithm, hex) = match self.state {
            State::Sha256(h) => (Algorithm::Sha256, hex::encode(h.finalize())),
            State::Sha512(h) => (Algorithm::Sha512, hex::encode(h.finalize())),
        };
        Digest {
            text: format!("{algorithm}:{hex}"),
            algorithm,
        }
    }
}

impl Write for Digester {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.update(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A reader that digests everything read through it.
pub struct DigestingReader<R> {
    inner: R,
    digester: Digester,
}

impl<R: Read> DigestingReader<R> {
    /// Wraps `inner`, hashing with `algorithm`.
    pub fn new(inner: R, algorithm: Algorithm) -> Self {
        DigestingReader {
            inner,
            digester: Digester::new(algorithm),
        }
    }

    /// Bytes read so far.
    pub fn len(&self) -> u64 {
        self.digester.len()
    }

    /// Whether nothing has been read yet.
    pub fn is_empty(&self) -> bool {
        self.digester.is_empty()
    }

    /// The digest and size of everything read.
    pub fn finish(self) -> (Digest, u64) {
        let len = self.digester.len();
        (self.digester.finish(), len)
    }
}

impl<R: Read> Read for DigestingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.digester.update(&buf[..n]);
        Ok(n)
    }
}

/// Digests a whole stream, returning the digest and the byte count.
pub fn digest_reader(algorithm: Algorithm, reader: &mut dyn Read) -> io::Result<(Digest, u64)> {
    let mut digester = Digester::new(algorithm);
    // 256 KiB: large enough that the hash, not the syscalls, sets the pace.
    let mut buf = vec![0u8; 256 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        digester.update(&buf[..n]);
    }
    let len = digester.len();
    Ok((digester.finish(), len))
}

#[cfg(test)]
mod tests {
    use super::*;

    const EMPTY: &str = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

    #[test]
    fn empty_sha256_is_the_well_known_value() {
        assert_eq!(Digest::sha256(b"").as_str(), EMPTY);
        assert_eq!(Digest::parse(EMPTY).unwrap().encoded().len(), 64);
    }

    #[test]
    fn sha512_round_trips() {
        let d = Digest::of(Algorithm::Sha512, b"abc");
        assert!(d.as_str().starts_with("sha512:ddaf35a193617aba"));
        assert_eq!(Digest::parse(d.as_str()).unwrap(), d);
    }

    #[test]
    fn errors_name_the_problem() {
        assert!(matches!(
            Digest::parse("e3b0"),
            Err(Error::MissingAlgorithm { .. })
        ));
        assert!(matches!(
            Digest::parse("md5:abcd"),
            Err(Error::UnsupportedAlgorithm { .. })
        ));
        let err = Digest::parse("sha256:abc").unwrap_err();
        assert_eq!(
            err.to_string(),
            "digest \"sha256:abc\": sha256 needs 64 hex characters, found 3"
        );
        let upper = EMPTY.replace('e', "E");
        let err = Digest::parse(&upper).unwrap_err();
        assert!(
            matches!(
                err,
                Error::NotHex {
                    character: 'E',
                    column: 8,
                    ..
                }
            ),
            "{err:?}"
        );
    }

    #[test]
    fn reader_and_writer_agree() {
        let data = vec![7u8; 1_000_003];
        let mut r = DigestingReader::new(&data[..], Algorithm::Sha256);
        std::io::copy(&mut r, &mut std::io::sink()).unwrap();
        let (d, n) = r.finish();
        assert_eq!(n, 1_000_003);
        assert_eq!(d, Digest::sha256(&data));
        let (d2, _) = digest_reader(Algorithm::Sha256, &mut &data[..]).unwrap();
        assert_eq!(d, d2);
    }
}
