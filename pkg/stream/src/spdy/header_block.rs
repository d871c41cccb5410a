//! SPDY/3 header blocks: the name/value layout and its zlib compression, one context per
//! direction for the whole connection, primed with the SPDY/3 dictionary.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

use super::dictionary::HEADER_DICTIONARY;

/// Name/value pairs in wire order; names are lower case.
pub type Headers = Vec<(String, String)>;

/// Why a header block from the peer could not be read; the connection's decompression
/// context is then unusable, so the session ends.
#[derive(Debug, thiserror::Error)]
pub enum HeaderBlockError {
    #[error("header block does not inflate: {0}")]
    Inflate(#[from] flate2::DecompressError),
    #[error("header block asks for zlib dictionary {0:#010x}, not the SPDY/3 one")]
    WrongDictionary(u32),
    #[error("header block ends inside its {0}")]
    Truncated(&'static str),
    #[error("header block stops inflating before its end")]
    Stalled,
    #[error("header {0} is not UTF-8")]
    NotUtf8(&'static str),
}

/// The sending side's zlib context. Every block ends with a sync flush, so the peer can
/// inflate it on its own while the context (and its history) carries on to the next block.
pub struct HeaderCompressor {
    zlib: Compress,
}

impl HeaderCompressor {
    pub fn new() -> Self {
        // Level 9 as Go's SPDY framer uses; the level is invisible to the peer.
        let mut zlib = Compress::new(Compression::best(), true);
        zlib.set_dictionary(HEADER_DICTIONARY)
            .expect("a fresh deflate stream accepts a dictionary");
        HeaderCompressor { zlib }
    }

    /// Lays out `headers` (names lower-cased) and compresses them into one block.
    pub fn compress(&mut self, headers: &[(&str, &str)]) -> Bytes {
        let plain = encode_plain(headers);
        let mut out = Vec::with_capacity(plain.len() / 2 + 64);
        let start_in = self.zlib.total_in();
        loop {
            let consumed = (self.zlib.total_in() - start_in) as usize;
            if out.capacity() - out.len() < 64 {
                out.reserve(out.capacity().max(256));
            }
            self.zlib
                .compress_vec(&plain[consumed..], &mut out, FlushCompress::Sync)
                .expect("deflate of an in-memory buffer cannot fail");
            let consumed = (self.zlib.total_in() - start_in) as usize;
            // Done once all input is in and deflate stopped short of filling the buffer,
            // which means the sync flush marker has been written out completely.
            if consumed == plain.len() && out.len() < out.capacity() {
                break;
            }
        }
        Bytes::from(out)
    }
}

impl Default for HeaderCompressor {
    fn default() -> Self {
        Self::new()
    }
}

/// The receiving side's zlib context, kept across every header block of the connection.
pub struct HeaderDecompressor {
    zlib: Decompress,
}

impl HeaderDecompressor {
    pub fn new() -> Self {
        HeaderDecompressor {
            zlib: Decompress::new(true),
        }
    }

    /// Inflates one block (the whole compressed block of one frame) and parses it.
    pub fn decompress(&mut self, block: &[u8]) -> Result<Headers, HeaderBlockError> {
        let mut plain = Vec::with_capacity(block.len() * 4 + 64);
        let start_in = self.zlib.total_in();
        loop {
            let consumed = (self.zlib.total_in() - start_in) as usize;
            if plain.capacity() - plain.len() < 64 {
                plain.reserve(plain.capacity().max(256));
            }
            let produced = plain.len();
            match self
                .zlib
                .decompress_vec(&block[consumed..], &mut plain, FlushDecompress::Sync)
            {
                // A finished zlib stream, or one that takes no input while it has room to
                // write, would loop here forever: SPDY never ends its header stream.
                Ok(Status::StreamEnd) => return Err(HeaderBlockError::Stalled),
                Ok(_)
                    if self.zlib.total_in() - start_in == consumed as u64
                        && plain.len() == produced =>
                {
                    if consumed < block.len() {
                        return Err(HeaderBlockError::Stalled);
                    }
                }
                Ok(_) => {}
                Err(error) => match error.needs_dictionary() {
                    // The first block's zlib header names the dictionary; prime and go on.
                    Some(id) if id == SPDY3_DICTIONARY_ADLER32 => {
                        self.zlib.set_dictionary(HEADER_DICTIONARY)?;
                        continue;
                    }
                    Some(id) => return Err(HeaderBlockError::WrongDictionary(id)),
                    None => return Err(error.into()),
                },
            }
            let consumed = (self.zlib.total_in() - start_in) as usize;
            if consumed == block.len() && plain.len() < plain.capacity() {
                break;
            }
        }
        decode_plain(&plain)
    }
}

impl Default for HeaderDecompressor {
    fn default() -> Self {
        Self::new()
    }
}

/// Adler-32 of [`HEADER_DICTIONARY`], as the zlib header of each direction announces it.
pub const SPDY3_DICTIONARY_ADLER32: u32 = 0xe3c6_a7c2;

/// `u32 count`, then per header `u32 len, name, u32 len, value`; names lower-cased.
fn encode_plain(headers: &[(&str, &str)]) -> Vec<u8> {
    let mut out = BytesMut::new();
    out.put_u32(headers.len() as u32);
    for (name, value) in headers {
        let name = name.to_ascii_lowercase();
        out.put_u32(name.len() as u32);
        out.put_slice(name.as_bytes());
        out.put_u32(value.len() as u32);
        out.put_slice(value.as_bytes());
    }
    out.to_vec()
}

fn decode_plain(mut plain: &[u8]) -> Result<Headers, HeaderBlockError> {
    fn take<'a>(plain: &mut &'a [u8], what: &'static str) -> Result<&'a [u8], HeaderBlockError> {
        if plain.remaining() < 4 {
            return Err(HeaderBlockError::Truncated(what));
        }
        let len = plain.get_u32() as usize;
        if plain.remaining() < len {
            return Err(HeaderBlockError::Truncated(what));
        }
        let (field, rest) = plain.split_at(len);
        *plain = rest;
        Ok(field)
    }
    if plain.remaining() < 4 {
        return Err(HeaderBlockError::Truncated("header count"));
    }
    let count = plain.get_u32() as usize;
    // The count comes from the peer: let the data, not the count, size the vector.
    let mut headers = Vec::with_capacity(count.min(64));
    for _ in 0..count {
        let name = take(&mut plain, "header name")?;
        let value = take(&mut plain, "header value")?;
        let name = std::str::from_utf8(name).map_err(|_| HeaderBlockError::NotUtf8("name"))?;
        let value = std::str::from_utf8(value).map_err(|_| HeaderBlockError::NotUtf8("value"))?;
        headers.push((name.to_ascii_lowercase(), value.to_owned()));
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adler-32 as RFC 1950 defines it, written out so the test does not trust zlib for it.
    fn adler32(data: &[u8]) -> u32 {
        let (mut a, mut b) = (1u32, 0u32);
        for &byte in data {
            a = (a + byte as u32) % 65521;
            b = (b + a) % 65521;
        }
        (b << 16) | a
    }

    fn owned(headers: &[(&str, &str)]) -> Headers {
        headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn dictionary_is_the_spdy3_one() {
        assert_eq!(HEADER_DICTIONARY.len(), 1423);
        assert_eq!(adler32(HEADER_DICTIONARY), SPDY3_DICTIONARY_ADLER32);
    }

    #[test]
    fn first_block_announces_the_dictionary() {
        let block = HeaderCompressor::new().compress(&[("streamtype", "error")]);
        // CMF 0x78, FLG with FDICT, then the dictionary's Adler-32 (the capture's prefix).
        assert_eq!(block[0], 0x78);
        assert_ne!(block[1] & 0x20, 0);
        assert_eq!(&block[2..6], &[0xe3, 0xc6, 0xa7, 0xc2]);
        // Each block ends with the sync flush marker, so it inflates without what follows.
        assert_eq!(&block[block.len() - 4..], &[0x00, 0x00, 0xff, 0xff]);
    }

    #[test]
    fn plain_layout_round_trips() {
        let plain = encode_plain(&[("StreamType", "stdin"), ("port", "")]);
        assert_eq!(&plain[..8], &[0, 0, 0, 2, 0, 0, 0, 10]);
        assert_eq!(&plain[8..18], b"streamtype");
        assert_eq!(
            decode_plain(&plain).unwrap(),
            owned(&[("streamtype", "stdin"), ("port", "")])
        );
        assert!(matches!(
            decode_plain(&plain[..plain.len() - 1]),
            Err(HeaderBlockError::Truncated(_))
        ));
    }

    #[test]
    fn blocks_share_one_context_across_frames() {
        let mut compressor = HeaderCompressor::new();
        let mut decompressor = HeaderDecompressor::new();
        let long = "abcdefgh".repeat(5000);
        let blocks: Vec<Vec<(&str, &str)>> = vec![
            vec![("streamtype", "error")],
            vec![("streamtype", "stdin")],
            vec![
                ("streamtype", "stdout"),
                ("port", "8080"),
                ("requestid", "0"),
            ],
            vec![
                ("streamtype", "stdout"),
                ("port", "8080"),
                ("requestid", "1"),
            ],
            vec![],
            vec![("x-long", &long)],
            vec![("streamtype", "data")],
        ];
        let compressed: Vec<Bytes> = blocks.iter().map(|h| compressor.compress(h)).collect();
        // Later blocks refer back to earlier ones: repeated headers shrink to a few bytes.
        assert!(compressed[3].len() < compressed[2].len());
        for (headers, block) in blocks.iter().zip(&compressed) {
            assert_eq!(decompressor.decompress(block).unwrap(), owned(headers));
        }
    }

    #[test]
    fn a_block_out_of_sequence_does_not_inflate() {
        let mut compressor = HeaderCompressor::new();
        let _first = compressor.compress(&[("streamtype", "error")]);
        let second = compressor.compress(&[("streamtype", "error")]);
        // Without the first block there is no zlib header and no history: an error, not junk.
        assert!(HeaderDecompressor::new().decompress(&second).is_err());
    }
}
