//! Evidence snippets with the identifier masked.

/// Bytes of context shown on each side of a span.
pub const CONTEXT: usize = 40;

/// Clamp a possibly bogus span to `len`, ordered.
pub(crate) fn clamp_span(len: usize, start: usize, end: usize) -> (usize, usize) {
    let (s, e) = (start.min(len), end.min(len));
    if s <= e { (s, e) } else { (e, s) }
}

/// The context window around a clamped span.
pub(crate) fn window(len: usize, start: usize, end: usize) -> (usize, usize) {
    (
        start.saturating_sub(CONTEXT),
        end.saturating_add(CONTEXT).min(len),
    )
}

fn escape_into(out: &mut String, b: u8) {
    match b {
        b'\\' => out.push_str("\\\\"),
        b'\n' => out.push_str("\\n"),
        b'\r' => out.push_str("\\r"),
        b'\t' => out.push_str("\\t"),
        0x20..=0x7E => out.push(char::from(b)),
        _ => out.push_str(&format!("\\x{b:02x}")),
    }
}

/// Render the window around `[start, end)`; unless `reveal`, every span in `masks` (and the
/// span itself) is replaced by `[REDACTED:<len>]`.
pub(crate) fn render(
    data: &[u8],
    start: usize,
    end: usize,
    masks: &[(usize, usize)],
    reveal: bool,
) -> String {
    let (start, end) = clamp_span(data.len(), start, end);
    let (ws, we) = window(data.len(), start, end);
    let mut m: Vec<(usize, usize)> = if reveal {
        Vec::new()
    } else {
        masks
            .iter()
            .chain(std::iter::once(&(start, end)))
            .map(|&(s, e)| clamp_span(data.len(), s, e))
            .filter(|(s, e)| e > s)
            .collect()
    };
    m.sort_unstable();
    // Merge overlapping masks so each redaction marker stands for one contiguous region.
    let mut merged: Vec<(usize, usize)> = Vec::with_capacity(m.len());
    for (s, e) in m {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    let mut out = String::with_capacity((we - ws) * 2 + 8);
    if ws > 0 {
        out.push_str("...");
    }
    let mut i = ws;
    let mut mi = merged.iter().peekable();
    while i < we {
        while mi.peek().is_some_and(|&&(_, e)| e <= i) {
            mi.next();
        }
        if let Some(&&(s, e)) = mi.peek()
            && s <= i
        {
            out.push_str(&format!("[REDACTED:{}]", e - s));
            i = e;
            continue;
        }
        escape_into(&mut out, data[i]);
        i += 1;
    }
    if we < data.len() {
        out.push_str("...");
    }
    out
}

/// About [`CONTEXT`] bytes of context on each side of `data[start..end]`, non-printable bytes
/// escaped (`\xNN`, `\n`, …), the span itself replaced by `[REDACTED:<len>]` unless `reveal`.
/// "..." marks cut context. Out-of-range spans are clamped. Only this one span is masked: use
/// [`crate::Matcher::snippet`] to also mask other identifiers in the context.
pub fn snippet(data: &[u8], start: usize, end: usize, reveal: bool) -> String {
    render(data, start, end, &[], reveal)
}
