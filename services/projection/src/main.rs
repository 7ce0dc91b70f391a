//! `casegrid-projection`: the projection service as its own process.

fn main() -> std::process::ExitCode {
    casegrid_runtime::service_main("casegrid-projection", |settings, shutdown| async move {
        casegrid_projection::serve(&settings, shutdown).await
    })
}
