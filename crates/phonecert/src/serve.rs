//! `phonecert serve`: the lab's registry service.

use crate::EXIT_OK;
use anyhow::{Context, Result};
use clap::Args;
use std::net::SocketAddr;
use std::path::PathBuf;

/// Run the lab's registry service (early: health check and the public certificate look-up).
///
///   phonecert serve --listen 127.0.0.1:8080 --data /srv/phonecert
///
/// With no --database, an embedded SQLite database and the artifact store live under --data;
/// nothing else needs installing. `GET /healthz` answers once the database is ready.
#[derive(Args, Debug)]
#[command(verbatim_doc_comment)]
pub struct ServeArgs {
    /// Address and port to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Folder for the database (when embedded) and the uploaded artifacts.
    #[arg(long)]
    data: PathBuf,
    /// A PostgreSQL URL (postgres://…) instead of the embedded SQLite database.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
}

pub fn run(args: ServeArgs) -> Result<u8> {
    let rt = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    eprintln!(
        "phonecert: serving on http://{} (data in {})",
        args.listen,
        args.data.display()
    );
    rt.block_on(pc_registry::serve(
        args.listen,
        &args.data,
        args.database.as_deref(),
    ))?;
    Ok(EXIT_OK)
}
