#![no_main]
use libfuzzer_sys::fuzz_target;
// First two bytes: split point; the rest goes through both parsers in two pushes.
fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (head, rest) = data.split_at(2);
    let cut = usize::from(u16::from_le_bytes([head[0], head[1]])) % (rest.len() + 1);
    let (a, b) = rest.split_at(cut);
    let mut out = Vec::new();
    for mut p in [
        pc_proto::http1::Parser::requests(),
        pc_proto::http1::Parser::responses(),
    ] {
        p.expect_response_to("GET");
        let _ = p.push(a, &mut out);
        let _ = p.push(b, &mut out);
        p.finish(&mut out);
    }
});
