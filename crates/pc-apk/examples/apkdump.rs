//! Debug helper: `cargo run -p pc-apk --example apkdump -- file.apk [entry.xml]` prints the zip
//! anomalies, the manifest as XML and the extracted facts as JSON.
use pc_apk::{axml, manifest, zip::Archive};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let Some(path) = args.get(1) else {
        eprintln!("usage: apkdump FILE.apk [ENTRY.xml]");
        std::process::exit(2);
    };
    let data = std::fs::read(path).expect("read");
    let a = Archive::parse(&data).expect("zip");
    println!(
        "entries: {} anomalies: {:?}",
        a.entries().len(),
        a.anomalies()
    );
    if let Some(entry) = args.get(2) {
        let bytes = a
            .read_by_name(entry, 64 << 20)
            .expect("entry")
            .expect("read");
        println!(
            "{}",
            axml::to_xml_string(&axml::parse(&bytes).expect("axml"))
        );
        return;
    }
    match manifest::from_archive(&a) {
        Ok(m) => {
            println!("{}", axml::to_xml_string(&m.document));
            println!(
                "{}",
                serde_json::to_string_pretty(&m.manifest).expect("json")
            );
            println!("nsc: {:?}", m.network_security_config);
            if std::env::var_os("APKDUMP_DEBUG").is_some() {
                println!("{:#?}", m.document.root);
            }
        }
        Err(e) => println!("manifest error: {e}"),
    }
}
