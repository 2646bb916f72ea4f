//! `build.prop` / `prop.default` files: `key=value` lines, `#` comments, `import` lines
//! ignored. Bounded: at most 100 000 lines, keys and values cut at 4 KiB.

/// Properties in file order (a key may repeat; Android's init keeps the last one).
pub fn parse(data: &[u8]) -> Vec<(String, String)> {
    let text = String::from_utf8_lossy(data);
    let mut out = Vec::new();
    for line in text.lines().take(100_000) {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with("import ") {
            continue;
        }
        if let Some((k, v)) = line.split_once('=') {
            let cut = |s: &str| s.chars().take(4096).collect::<String>();
            out.push((cut(k.trim()), cut(v.trim())));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn lines() {
        let p = super::parse(b"# c\nro.a=1\n import /x\nro.b = two = 2\nbad\n\nro.a=3\n");
        assert_eq!(
            p,
            vec![
                ("ro.a".into(), "1".into()),
                ("ro.b".into(), "two = 2".into()),
                ("ro.a".into(), "3".into())
            ]
        );
    }
}
