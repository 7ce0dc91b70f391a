//! What a file added to a case is, judged by its bytes: the media type sniffed from
//! its magic bytes, and whether `[attachments]` admits it (size, then type).

use crate::settings::AttachmentSettings;

/// Magic bytes and the media type they announce.
const MAGIC: &[(&[u8], &str)] = &[
    (b"\xFF\xD8\xFF", "image/jpeg"),
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"%PDF-", "application/pdf"),
    (b"ID3", "audio/mpeg"),
    (b"\xFF\xFB", "audio/mpeg"),
    (b"\xFF\xF3", "audio/mpeg"),
    (b"\xFF\xF2", "audio/mpeg"),
    (b"OggS", "audio/ogg"),
];

/// The media type the bytes announce, if one is known.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    if bytes.len() >= 12 && &bytes[..4] == b"RIFF" {
        return match &bytes[8..12] {
            b"WAVE" => Some("audio/wav"),
            b"WEBP" => Some("image/webp"),
            _ => None,
        };
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" {
        return Some(match &bytes[8..12] {
            b"M4A " => "audio/mp4",
            b"heic" | b"heix" | b"mif1" => "image/heic",
            _ => "video/mp4",
        });
    }
    MAGIC
        .iter()
        .find(|(magic, _)| bytes.starts_with(magic))
        .map(|(_, media_type)| *media_type)
}

/// Why a file is refused: too large (413) or of a type not admitted (415).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("file: {size} bytes is more than the {max} bytes allowed")]
    TooLarge { size: u64, max: u64 },
    #[error("file: {0} is not an accepted type (accepted: {1})")]
    Type(String, String),
}

impl Refused {
    /// The HTTP status of the problem.
    pub fn status(&self) -> u16 {
        match self {
            Self::TooLarge { .. } => 413,
            Self::Type(..) => 415,
        }
    }
}

impl AttachmentSettings {
    /// The sniffed media type of an admitted file.
    pub fn admit(&self, bytes: &[u8]) -> Result<&'static str, Refused> {
        let size = bytes.len() as u64;
        if size > self.max_bytes {
            return Err(Refused::TooLarge {
                size,
                max: self.max_bytes,
            });
        }
        let accepted = || self.types.join(", ");
        match sniff(bytes) {
            Some(t) if self.types.iter().any(|a| a == t) => Ok(t),
            Some(t) => Err(Refused::Type(t.to_owned(), accepted())),
            None => Err(Refused::Type("an unknown type".to_owned(), accepted())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";

    #[test]
    fn the_bytes_decide_the_type_not_the_name() {
        assert_eq!(sniff(PNG), Some("image/png"));
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0\0\x10JFIF"), Some("image/jpeg"));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff(b"ID3\x04\0"), Some("audio/mpeg"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), Some("audio/wav"));
        assert_eq!(sniff(b"<html><script>"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn size_then_type_are_refused_with_their_status() {
        let s = AttachmentSettings {
            max_bytes: 16,
            types: vec!["image/png".into()],
        };
        assert_eq!(s.admit(PNG), Ok("image/png"));
        let big = [PNG, &[0u8; 16][..]].concat();
        assert_eq!(s.admit(&big).unwrap_err().status(), 413);
        let pdf = s.admit(b"%PDF-1.7").unwrap_err();
        assert_eq!(pdf.status(), 415);
        assert!(pdf.to_string().contains("application/pdf"), "{pdf}");
        assert_eq!(s.admit(b"hello").unwrap_err().status(), 415);
    }
}
