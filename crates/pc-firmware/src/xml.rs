//! A tiny, tolerant XML tokenizer for the text permission files of a firmware
//! (`etc/permissions/*.xml`, `etc/default-permissions/*.xml`).
//!
//! It yields start and end tags with their attributes and skips everything else (text,
//! comments, processing instructions, DOCTYPE, CDATA). Malformed input never panics: a broken
//! tag ends tokenization with an error carrying its byte offset, and everything tokenized
//! before it stays usable, the way Android's `XmlPullParser` loop stops at the first error.

/// Bounds applied while tokenizing.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Most tags returned.
    pub max_tags: usize,
    /// Most attributes kept per tag.
    pub max_attrs: usize,
    /// Longest tag or attribute name / value kept (longer ones are truncated).
    pub max_text: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_tags: 200_000,
            max_attrs: 64,
            max_text: 4096,
        }
    }
}

/// Tokenizer errors.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum XmlError {
    /// A construct is not closed before the end of the input.
    #[error("unterminated {what} at {at}")]
    Unterminated {
        /// Offset where it started.
        at: u64,
        /// What was open.
        what: &'static str,
    },
    /// A tag is malformed.
    #[error("malformed tag at {at}: {what}")]
    Malformed {
        /// Offset of the tag.
        at: u64,
        /// What is wrong.
        what: &'static str,
    },
    /// A limit was hit.
    #[error("limit exceeded at {at}: {what}")]
    Limit {
        /// Offset where it was hit.
        at: u64,
        /// Which limit.
        what: &'static str,
    },
}

/// One tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Tag {
    /// `<name a="v">` or `<name a="v"/>` (then `self_closing`).
    Start {
        /// Tag name.
        name: String,
        /// Attributes in document order, entities decoded.
        attrs: Vec<(String, String)>,
        /// Ends with `/>`.
        self_closing: bool,
        /// Byte offset of `<`.
        at: u64,
    },
    /// `</name>`.
    End {
        /// Tag name.
        name: String,
        /// Byte offset of `<`.
        at: u64,
    },
}

/// Result of tokenizing: the tags read, and the error that stopped reading, if any.
#[derive(Debug, Clone, Default)]
pub struct Tokens {
    /// Tags in document order.
    pub tags: Vec<Tag>,
    /// The first error; tags before it are kept.
    pub error: Option<XmlError>,
}

fn find(hay: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    let rest = hay.get(from..)?;
    memchr::memmem::find(rest, needle).map(|p| p + from)
}

/// Decodes the five predefined entities and numeric character references; unknown entities
/// are kept as written.
pub fn decode_entities(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len().min(max));
    let mut rest = s;
    while let Some(p) = rest.find('&') {
        out.push_str(&rest[..p]);
        let tail = &rest[p..];
        let end = tail.find(';').filter(|&e| e <= 12);
        let decoded = end.and_then(|e| {
            let ent = &tail[1..e];
            let c = match ent {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let n = if let Some(h) = ent.strip_prefix("#x").or(ent.strip_prefix("#X")) {
                        u32::from_str_radix(h, 16).ok()
                    } else if let Some(d) = ent.strip_prefix('#') {
                        d.parse().ok()
                    } else {
                        None
                    };
                    n.and_then(char::from_u32)
                }
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &tail[e + 1..];
            }
            None => {
                out.push('&');
                rest = &tail[1..];
            }
        }
        if out.len() >= max {
            break;
        }
    }
    out.push_str(rest);
    truncate(out, max)
}

fn truncate(mut s: String, max: usize) -> String {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

fn is_name_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b':') || b >= 0x80
}

/// Tokenizes `data` (UTF-8; invalid sequences are replaced).
pub fn tokenize(data: &[u8], limits: &Limits) -> Tokens {
    let mut out = Tokens::default();
    let mut pos = 0usize;
    while let Some(lt) = memchr::memchr(b'<', data.get(pos..).unwrap_or(&[])).map(|p| p + pos) {
        let at = lt as u64;
        let rest = &data[lt..];
        let skip = |open: &'static str, close: &[u8]| -> Result<usize, XmlError> {
            find(data, lt + open.len(), close)
                .map(|e| e + close.len())
                .ok_or(XmlError::Unterminated { at, what: open })
        };
        let next = if rest.starts_with(b"<!--") {
            skip("<!--", b"-->")
        } else if rest.starts_with(b"<![CDATA[") {
            skip("<![CDATA[", b"]]>")
        } else if rest.starts_with(b"<?") {
            skip("<?", b"?>")
        } else if rest.starts_with(b"<!") {
            // DOCTYPE (an internal subset with '>' inside is not supported; permission files
            // have none).
            skip("<!", b">")
        } else {
            if out.tags.len() >= limits.max_tags {
                out.error = Some(XmlError::Limit {
                    at,
                    what: "too many tags",
                });
                return out;
            }
            match tag(data, lt, limits) {
                Ok((t, end)) => {
                    out.tags.push(t);
                    Ok(end)
                }
                Err(e) => Err(e),
            }
        };
        match next {
            Ok(n) => pos = n,
            Err(e) => {
                out.error = Some(e);
                return out;
            }
        }
    }
    out
}

/// Parses one start or end tag at `lt`; returns it and the offset after `>`.
fn tag(data: &[u8], lt: usize, limits: &Limits) -> Result<(Tag, usize), XmlError> {
    let at = lt as u64;
    let mut p = lt + 1;
    let closing = data.get(p) == Some(&b'/');
    if closing {
        p += 1;
    }
    let name_start = p;
    while data.get(p).copied().is_some_and(is_name_byte) {
        p += 1;
    }
    if p == name_start {
        return Err(XmlError::Malformed {
            at,
            what: "missing tag name",
        });
    }
    let name = truncate(
        String::from_utf8_lossy(&data[name_start..p]).into_owned(),
        limits.max_text,
    );
    let mut attrs = Vec::new();
    loop {
        while data.get(p).is_some_and(u8::is_ascii_whitespace) {
            p += 1;
        }
        match data.get(p) {
            None => {
                return Err(XmlError::Unterminated { at, what: "tag" });
            }
            Some(b'>') => {
                let t = if closing {
                    Tag::End { name, at }
                } else {
                    Tag::Start {
                        name,
                        attrs,
                        self_closing: false,
                        at,
                    }
                };
                return Ok((t, p + 1));
            }
            Some(b'/') if data.get(p + 1) == Some(&b'>') && !closing => {
                return Ok((
                    Tag::Start {
                        name,
                        attrs,
                        self_closing: true,
                        at,
                    },
                    p + 2,
                ));
            }
            Some(&b) if is_name_byte(b) && !closing => {
                let a0 = p;
                while data.get(p).copied().is_some_and(is_name_byte) {
                    p += 1;
                }
                let aname = String::from_utf8_lossy(&data[a0..p]).into_owned();
                while data.get(p).is_some_and(u8::is_ascii_whitespace) {
                    p += 1;
                }
                if data.get(p) != Some(&b'=') {
                    return Err(XmlError::Malformed {
                        at: p as u64,
                        what: "attribute without value",
                    });
                }
                p += 1;
                while data.get(p).is_some_and(u8::is_ascii_whitespace) {
                    p += 1;
                }
                let q = match data.get(p) {
                    Some(&q @ (b'"' | b'\'')) => q,
                    _ => {
                        return Err(XmlError::Malformed {
                            at: p as u64,
                            what: "unquoted attribute value",
                        });
                    }
                };
                let v0 = p + 1;
                let v1 = memchr::memchr(q, data.get(v0..).unwrap_or(&[]))
                    .map(|e| e + v0)
                    .ok_or(XmlError::Unterminated {
                        at: p as u64,
                        what: "attribute value",
                    })?;
                let raw = String::from_utf8_lossy(&data[v0..v1]);
                if attrs.len() < limits.max_attrs {
                    attrs.push((
                        truncate(aname, limits.max_text),
                        decode_entities(&raw, limits.max_text),
                    ));
                }
                p = v1 + 1;
            }
            Some(_) => {
                return Err(XmlError::Malformed {
                    at: p as u64,
                    what: "unexpected character in tag",
                });
            }
        }
    }
}

impl Tag {
    /// Value of attribute `name` on a start tag.
    pub fn attr(&self, name: &str) -> Option<&str> {
        match self {
            Tag::Start { attrs, .. } => attrs
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.as_str()),
            Tag::End { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokenizes_permission_file() {
        let x = br#"<?xml version="1.0" encoding="utf-8"?>
<!-- comment with <tags> -->
<permissions>
  <privapp-permissions package="com.a&amp;b">
    <permission name="android.permission.X"/>
    <deny-permission name='android.permission.Y' />
  </privapp-permissions>
</permissions>"#;
        let t = tokenize(x, &Limits::default());
        assert!(t.error.is_none(), "{:?}", t.error);
        assert_eq!(t.tags.len(), 6);
        assert_eq!(t.tags[1].attr("package"), Some("com.a&b"));
        assert_eq!(t.tags[3].attr("name"), Some("android.permission.Y"));
    }

    #[test]
    fn malformed_inputs_stop_with_errors() {
        let good = br#"<a x="1"><b y='2'/></a>"#;
        for n in 0..good.len() {
            let _ = tokenize(&good[..n], &Limits::default());
        }
        for bad in [
            &b"<a x=1>"[..],
            b"<a x>",
            b"<!-- x",
            b"<>",
            b"<a x=\"1",
            b"<a \x01>",
        ] {
            assert!(tokenize(bad, &Limits::default()).error.is_some(), "{bad:?}");
        }
        assert_eq!(decode_entities("&#x41;&#66;&bogus;&", 100), "AB&bogus;&");
        let many = "<a/>".repeat(20);
        let l = Limits {
            max_tags: 5,
            ..Limits::default()
        };
        let t = tokenize(many.as_bytes(), &l);
        assert_eq!(t.tags.len(), 5);
        assert!(matches!(t.error, Some(XmlError::Limit { .. })));
    }
}
